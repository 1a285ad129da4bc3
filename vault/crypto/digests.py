"""Streaming multi-algorithm digests: one pass over the bytes gives SHA-256 and SHA-512 (FIPS 180-4)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Digests:
    sha256: str
    sha512: str
    size: int

    def repr_digest_header(self) -> str:
        """``Repr-Digest`` field value (RFC 9530 §3): structured-field byte sequences."""
        return f"sha-256=:{_b64(self.sha256)}:, sha-512=:{_b64(self.sha512)}:"

    def legacy_digest_header(self) -> str:
        """``Digest`` field value (RFC 3230 with the RFC 5843 algorithm names), for older clients."""
        return f"SHA-256={_b64(self.sha256)}, SHA-512={_b64(self.sha512)}"


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


class DigestWriter:
    """Feed bytes with :meth:`update`; :meth:`result` gives the digests of everything fed."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._sha512 = hashlib.sha512()
        self._size = 0

    def update(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        self._sha512.update(chunk)
        self._size += len(chunk)

    @property
    def size(self) -> int:
        return self._size

    def result(self) -> Digests:
        return Digests(self._sha256.hexdigest(), self._sha512.hexdigest(), self._size)


def digest_bytes(data: bytes) -> Digests:
    writer = DigestWriter()
    writer.update(data)
    return writer.result()


def is_sha256_hex(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
