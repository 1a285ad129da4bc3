"""JSON documents signed with the archive's Ed25519 key as JWS (RFC 7515), algorithm EdDSA (RFC 8037).

The payload is the RFC 8785 canonical JSON of the document, so the signed bytes are the same whoever re-encodes
the document. The protected header is ``{"alg": "EdDSA", "cty": <content type>, "kid": <RFC 7638 thumbprint of
the archive's public key as an OKP JWK>, "typ": "JOSE"}``, itself in canonical JSON. Two serializations
(RFC 7515 §7): compact (``header.payload.signature``, ``application/jose``) and the flattened JSON serialization
(``{"protected", "payload", "signature"}``, ``application/jose+json``); both carry the same signature.

Verification is pinned: it needs the archive's public key (``GET /v1/archive/key``: PEM, JWK or raw base64) and
refuses any other algorithm, any ``crit`` extension, unencoded payloads and a ``kid`` that is not that key's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from vault.journal.canonical import canonical_json
from vault_verify.report import FAILED, OK, Check, Report

ALGORITHM = "EdDSA"
COMPACT_MEDIA_TYPE = "application/jose"
JSON_MEDIA_TYPE = "application/jose+json"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or any(c in text for c in "=+/ \n"):
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(public_key: Ed25519PublicKey) -> dict:
    """The key as an RFC 8037 OKP JWK (required members only)."""
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))}


def thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): the ``kid`` of every JWS the key signs."""
    return b64url(hashlib.sha256(canonical_json(public_jwk(public_key))).digest())


def sign_compact(document: dict, key: Ed25519PrivateKey, content_type: str) -> str:
    """``document`` signed as a compact JWS over its canonical JSON."""
    header = {"alg": ALGORITHM, "cty": content_type, "kid": thumbprint(key.public_key()), "typ": "JOSE"}
    signing_input = f"{b64url(canonical_json(header))}.{b64url(canonical_json(document))}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def flattened(compact: str) -> dict:
    """The same JWS in the flattened JSON serialization (RFC 7515 §7.2.2)."""
    protected, payload, signature = compact.split(".")
    return {"payload": payload, "protected": protected, "signature": signature}


@dataclass
class JwsVerdict(Report):
    """RFC 7515 §5.2 validation as checks (``ok``, ``reason`` from :class:`~vault_verify.report.Report`); the
    payload and the protected header when they could be read."""

    payload: dict | None = None
    header: dict = field(default_factory=dict)


def _refused(step: str, reason: str, header: dict | None = None) -> JwsVerdict:
    return JwsVerdict([Check(step, FAILED, reason)], header=header or {})


def _parts(data: bytes | str) -> tuple[str, str, str]:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    text = text.strip()
    if text.startswith("{"):
        document = json.loads(text)
        if "signatures" in document:  # general JSON serialization: exactly one signature is expected here
            if len(document["signatures"]) != 1:
                raise ValueError(f"expected one signature, found {len(document['signatures'])}")
            signature = document["signatures"][0]
            return signature["protected"], document["payload"], signature["signature"]
        if "header" in document:
            raise ValueError("unprotected header members are not accepted")
        return document["protected"], document["payload"], document["signature"]
    parts = text.split(".")
    if len(parts) != 3:
        raise ValueError("a compact JWS has three base64url parts separated by dots")
    return parts[0], parts[1], parts[2]


def verify(data: bytes | str, public_key: Ed25519PublicKey) -> JwsVerdict:
    """Check a compact or JSON-serialized JWS with the pinned ``public_key``; the payload when valid."""
    try:
        protected, payload, signature = _parts(data)
        header = json.loads(b64url_decode(protected))
        if not isinstance(header, dict):
            raise ValueError("the protected header is not a JSON object")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error) as exc:
        return _refused("form", f"not a JWS: {exc}")
    if header.get("alg") != ALGORITHM:
        return _refused("algorithm", f"algorithm {header.get('alg')!r} is not EdDSA", header)
    if "crit" in header or header.get("b64") is False:
        return _refused("header", "critical header extensions are not supported", header)
    expected_kid = thumbprint(public_key)
    if header.get("kid") != expected_kid:
        return _refused("key", f"signed by key {header.get('kid')!r}, not the pinned key {expected_kid}", header)
    try:
        public_key.verify(b64url_decode(signature), f"{protected}.{payload}".encode("ascii"))
    except (InvalidSignature, ValueError, binascii.Error):
        return _refused("signature", "the signature does not match the header and payload", header)
    try:
        document = json.loads(b64url_decode(payload))
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        return _refused("payload", f"the signed payload is not JSON: {exc}", header)
    return JwsVerdict([Check("signature", OK, "signature valid")], document, header)


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo), a JWK, the ``GET /v1/archive/key`` document, or the
    raw key in base64."""
    raw = text.encode() if isinstance(text, str) else text
    raw = raw.strip()
    if raw.startswith(b"-----BEGIN"):
        key = load_pem_public_key(raw)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM key is not an Ed25519 public key")
        return key
    if raw.startswith(b"{"):
        document = json.loads(raw)
        if document.get("kty") == "OKP" and document.get("crv") == "Ed25519":
            return Ed25519PublicKey.from_public_bytes(b64url_decode(document["x"]))
        if isinstance(document.get("jwk"), dict):
            return load_public_key(json.dumps(document["jwk"]))
        if "public_key" in document:
            return load_public_key(document["public_key"])
        raise ValueError("a JSON key must be an Ed25519 OKP JWK or the GET /v1/archive/key document")
    try:
        decoded = base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise ValueError("not a PEM, JWK or base64 Ed25519 public key") from None
    if len(decoded) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, this one is {len(decoded)}")
    return Ed25519PublicKey.from_public_bytes(decoded)
