"""Trust anchors for signature validation: the certificates an operator placed in the trust-list directory.

Verdicts come from configured anchors only (a root found inside the file being checked proves nothing). The
directory holds PEM files (any number of certificates each) or DER certificates (``.der``, ``.cer``, ``.crt``);
the archive's own TSA roots are added by the caller. Files that are not certificates are reported, not fatal.
"""

from __future__ import annotations

import functools
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
        """The anchors as ``cryptography.x509.Certificate`` objects (for code built on pyca), converted once.

        An anchor pyca cannot read (e.g. an ECDSA signature algorithm with explicit NULL parameters, which
        asn1crypto accepts) is left out of this list only: it stays an anchor for the validators built on
        asn1crypto, and is named in :meth:`unreadable_by_cryptography`.
        """
        return list(_converted(self.certificates)[0])

    def unreadable_by_cryptography(self) -> list[str]:
        return list(_converted(self.certificates)[1])


@functools.lru_cache(maxsize=8)
def _converted(certificates: tuple[x509.Certificate, ...]) -> tuple[tuple, tuple[str, ...]]:
    from cryptography.x509 import load_der_x509_certificate

    good, bad = [], []
    for cert in certificates:
        try:
            converted = load_der_x509_certificate(cert.dump())
            converted.signature_algorithm_oid, converted.subject  # parsed lazily: fail here, not in a validator
            good.append(converted)
        except ValueError as exc:
            bad.append(f"{cert.subject.human_friendly}: {exc}")
    return tuple(good), tuple(bad)


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
