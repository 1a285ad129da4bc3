"""The blob store seam: content-addressed, streaming, durable-before-acknowledged.

Contract every implementation keeps:

- bytes are written through a :class:`BlobWriter` in chunks, never held whole in memory;
- after :meth:`BlobWriter.commit` and then :meth:`BlobStore.sync_names` the blob is durable under its SHA-256
  address, so a database row that references it may then be committed (stores may make ``commit`` durable on
  its own and ``sync_names`` a no-op); committing content that is already stored is a no-op (deduplication);
- :meth:`BlobWriter.abort` leaves no trace;
- a crash at any point leaves at worst temporary files and unreferenced blobs, which
  :meth:`BlobStore.sweep_orphans` removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Iterable, Iterator, Protocol

from vault.crypto.digests import Digests, DigestWriter


class BlobNotFound(LookupError):
    """No blob is stored under that address."""


@dataclass(frozen=True)
class StoredBlob:
    digests: Digests
    deduplicated: bool


@dataclass(frozen=True)
class SweepReport:
    temporary_removed: int
    orphans_removed: int
    kept: int


class BlobWriter(Protocol):
    def write(self, chunk: bytes) -> None:
        """Append bytes; hashing happens as they pass."""

    @property
    def size(self) -> int:
        """Bytes written so far."""

    def digests(self) -> Digests:
        """Digests of everything written so far."""

    def commit(self) -> StoredBlob:
        """Make the blob durable under its SHA-256 address and return its digests."""

    def abort(self) -> None:
        """Forget everything written; safe to call twice or after a failed commit."""


class HashingWriter:
    """What every writer shares: the digests of the bytes written so far (``self._digest``, a DigestWriter), and
    the first bytes, for format identification."""

    _digest: "DigestWriter"
    HEAD = 8192

    def _keep_head(self, chunk: bytes) -> None:
        head = self.__dict__.setdefault("_head", bytearray())
        if len(head) < self.HEAD:
            head += chunk[: self.HEAD - len(head)]

    def head(self) -> bytes:
        """The first bytes written (up to 8 KiB)."""
        return bytes(self.__dict__.get("_head", b""))

    @property
    def size(self) -> int:
        return self._digest.size

    def digests(self) -> Digests:
        """Digests of everything written so far (checked against an expected digest before commit)."""
        return self._digest.result()


class BlobStore(Protocol):
    name: str

    def writer(self) -> BlobWriter:
        """A writer for one new blob."""

    def exists(self, sha256: str) -> bool:
        ...

    def read(self, sha256: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """The blob's bytes in chunks; raises :class:`BlobNotFound`."""

    def delete(self, sha256: str) -> bool:
        """Remove a blob; True when something was removed."""

    def addresses(self) -> Iterable[str]:
        """Every stored address (for sweeps and audits)."""

    def sync_names(self) -> None:
        """Make every blob committed so far durable under its address (a barrier before the rows that name them)."""

    def sweep_orphans(self, is_referenced: Callable[[str], bool], grace: timedelta) -> SweepReport:
        """Remove temporary files and blobs no row references, both older than ``grace``."""
