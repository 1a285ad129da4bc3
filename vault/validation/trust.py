"""Trust anchors for signature validation: the certificates an operator placed in the trust-list directory.

Verdicts come from configured anchors only (a root found inside the file being checked proves nothing). The
directory holds PEM files (any number of certificates each) or DER certificates (``.der``, ``.cer``, ``.crt``);
the archive's own TSA roots are added by the caller. Files that are not certificates are reported, not fatal.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Mapping

from asn1crypto import pem, x509

SUFFIXES = {".pem", ".crt", ".cer", ".der"}


@dataclass(frozen=True)
class TrustAnchors:
    certificates: tuple[x509.Certificate, ...] = ()
    problems: tuple[str, ...] = ()  # files skipped, with why

    @classmethod
    def from_directory(cls, directory: Path | None) -> "TrustAnchors":
        if directory is None or not Path(directory).is_dir():
            return cls()
        certs, problems = [], []
        for path in sorted(Path(directory).iterdir()):
            if path.suffix.lower() not in SUFFIXES or not path.is_file():
                continue
            try:
                certs.extend(load_certificates(path.read_bytes()))
            except (ValueError, TypeError, OSError) as exc:
                problems.append(f"{path.name}: {exc}")
        return cls(tuple(_unique(certs)), tuple(problems))

    def plus(self, more: Iterable[x509.Certificate]) -> "TrustAnchors":
        return TrustAnchors(tuple(_unique([*self.certificates, *more])), self.problems)

    def fingerprints(self) -> list[str]:
        return [hashlib.sha256(c.dump()).hexdigest() for c in self.certificates]

    def contains(self, cert: x509.Certificate) -> bool:
        """Whether this exact certificate (same DER bytes) is an anchor: names alone are never enough."""
        der = cert.dump()
        return any(c.dump() == der for c in self.certificates)

    def cryptography(self) -> list:
        """The anchors as ``cryptography.x509.Certificate`` objects (for code built on pyca)."""
        from cryptography.x509 import load_der_x509_certificate

        return [load_der_x509_certificate(c.dump()) for c in self.certificates]


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in ``data`` (PEM with one or more blocks, or one DER certificate)."""
    if pem.detect(data):
        return [x509.Certificate.load(der) for kind, _headers, der in pem.unarmor(data, multiple=True)
                if kind == "CERTIFICATE"]
    cert = x509.Certificate.load(data, strict=True)
    cert.native  # parse now: a broken file fails here, not later inside a validator
    return [cert]


def _unique(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen, out = set(), []
    for cert in certs:
        der = cert.dump()
        if der not in seen:
            seen.add(der)
            out.append(cert)
    return out


@dataclass(frozen=True)
class ValidationContext:
    """What a validator may use: the anchors, the current time, and data supplied with the deposit.

    ``dkim_records`` maps a DNS name (``selector._domainkey.example.com``) to its TXT record, as captured when
    the mail was sent (DKIM keys are fetched from nowhere else: no network during validation).
    """

    anchors: TrustAnchors
    now: datetime
    dkim_records: Mapping[str, str] = field(default_factory=dict)
