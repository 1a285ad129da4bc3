"""Secrets sealed under a passphrase: scrypt (RFC 7914) derives a 256-bit key, AES-256-GCM (NIST SP 800-38D)
encrypts and authenticates.

The sealed form is one JSON document naming every parameter, so a file written today opens with any scrypt and
AES-GCM implementation later: ``{"format", "kdf": {"name": "scrypt", "salt", "n", "r", "p"}, "cipher":
"AES-256-GCM", "nonce", "ciphertext"}`` (byte strings in base64). The caller's ``context`` is bound as GCM
associated data: a sealed file moved into another context does not open.
"""

from __future__ import annotations

import base64
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

FORMAT = "vault-sealed-secrets/1"
# scrypt cost: N=2^17, r=8 (128 MiB, about 0.3 s): the OWASP password-storage recommendation for scrypt
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1


class SealError(ValueError):
    """A sealed document cannot be opened: wrong passphrase, altered bytes, or not a sealed document."""


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def seal(plaintext: bytes, passphrase: str, context: bytes, *, n: int = SCRYPT_N) -> bytes:
    """``plaintext`` encrypted under a key derived from ``passphrase`` (fresh salt and nonce), bound to ``context``."""
    if not passphrase:
        raise SealError("an empty passphrase seals nothing")
    salt, nonce = os.urandom(16), os.urandom(12)
    ciphertext = AESGCM(_key(passphrase, salt, n, SCRYPT_R, SCRYPT_P)).encrypt(nonce, plaintext, context)
    b64 = lambda data: base64.b64encode(data).decode("ascii")  # noqa: E731
    document = {"format": FORMAT, "kdf": {"name": "scrypt", "salt": b64(salt), "n": n, "r": SCRYPT_R, "p": SCRYPT_P},
                "cipher": "AES-256-GCM", "nonce": b64(nonce), "ciphertext": b64(ciphertext)}
    return json.dumps(document, indent=1).encode()


def open_sealed(document: bytes, passphrase: str, context: bytes) -> bytes:
    """The plaintext of a :func:`seal` document; :class:`SealError` when the passphrase or bytes are wrong."""
    try:
        parsed = json.loads(document)
        kdf = parsed["kdf"]
        if parsed.get("format") != FORMAT or kdf.get("name") != "scrypt" or parsed.get("cipher") != "AES-256-GCM":
            raise SealError(f"not a {FORMAT} document")
        key = _key(passphrase, base64.b64decode(kdf["salt"]), int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
        nonce, ciphertext = base64.b64decode(parsed["nonce"]), base64.b64decode(parsed["ciphertext"])
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, SealError):
            raise
        raise SealError(f"not a {FORMAT} document ({exc.__class__.__name__})") from None
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, context)
    except InvalidTag:
        raise SealError("wrong passphrase, or the sealed bytes were altered") from None
