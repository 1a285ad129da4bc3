"""Destruction certificates: RFC 8785 canonical JSON signed with the archive's Ed25519 key (RFC 8032).

    {"certificate": {...}, "signature": {"algorithm": "Ed25519", "public_key": <base64>, "key_id": <hex>,
                                         "value": <base64 signature over the canonical bytes of "certificate">}}

The key lives in ``$VAULT_DATA_DIR/archive.key`` (PKCS#8, mode 0600); ``GET /v1/archive/key`` publishes the public
half so that a verifier can pin it instead of trusting the one the certificate carries.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding, NoEncryption, PrivateFormat, PublicFormat, load_pem_private_key,
)

from vault_verify.canonical import canonical_json
from vault_verify.report import FAILED, OK, Check, Report


def load_or_create_archive_key(data_dir: Path) -> Ed25519PrivateKey:
    path = Path(data_dir) / "archive.key"
    if path.exists():
        key = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        handle.flush()
        os.fsync(handle.fileno())
    return key


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def key_id(public_key: str) -> str:
    return hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]


def sign_certificate(certificate: dict, key: Ed25519PrivateKey) -> dict:
    public = public_key_text(key.public_key())
    return {"certificate": certificate, "signature": {
        "algorithm": "Ed25519", "public_key": public, "key_id": key_id(public),
        "value": base64.b64encode(key.sign(canonical_json(certificate))).decode("ascii")}}


@dataclass
class CertificateVerdict(Report):
    """The signature check (``ok``, ``reason`` from :class:`~vault_verify.report.Report`), the certificate when
    it could be read, and whether the key was pinned."""

    certificate: dict | None = None
    pinned: bool = False


def _refused(reason: str, certificate: dict | None = None, pinned: bool = False) -> CertificateVerdict:
    return CertificateVerdict([Check("signature", FAILED, reason)], certificate, pinned)


def verify_certificate(data: bytes, pinned_public_key: str | None = None) -> CertificateVerdict:
    """Check the signature (with ``pinned_public_key`` when given, else the key the document carries)."""
    try:
        document = json.loads(data)
        certificate, signature = document["certificate"], document["signature"]
        if signature.get("algorithm") != "Ed25519":
            return _refused(f"unsupported signature algorithm {signature.get('algorithm')!r}")
        public = pinned_public_key or signature["public_key"]
        if pinned_public_key and signature.get("public_key") != pinned_public_key:
            return _refused("signed with another key than the one pinned", certificate, True)
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
            base64.b64decode(signature["value"]), canonical_json(certificate))
    except InvalidSignature:
        return _refused("the signature does not match the certificate's content")
    except (ValueError, KeyError, TypeError) as exc:
        return _refused(f"not a destruction certificate: {exc}")
    return CertificateVerdict([Check("signature", OK, "signature valid")], certificate, bool(pinned_public_key))
