"""Filesystem blob store: ``<root>/sha256/ab/cd/<sha256>``, written temp → fsync → rename → fsync directory.

The rename is atomic on POSIX, so a reader sees either no blob or the whole blob; fsync of the file before the
rename and of the directory after it makes the new name survive a power cut (ext4, XFS: see rename(2) and
fsync(2)). Temporary files live in ``<root>/tmp`` on the same filesystem.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterable, Iterator

from vault.crypto.digests import Digests, DigestWriter, is_sha256_hex
from vault.ids import uuid7
from vault.storage.blobstore import BlobNotFound, StoredBlob, SweepReport


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileBlobWriter:
    def __init__(self, store: "FileBlobStore") -> None:
        self._store = store
        self._tmp = store.tmp_dir / f"{uuid7()}.part"
        self._fd: int | None = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        self._digest = DigestWriter()
        self._done = False

    @property
    def size(self) -> int:
        return self._digest.size

    def digests(self) -> Digests:
        """Digests of everything written so far (checked against an expected digest before commit)."""
        return self._digest.result()

    def write(self, chunk: bytes) -> None:
        if self._fd is None:
            raise RuntimeError("write after commit or abort")
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._digest.update(chunk)

    def commit(self) -> StoredBlob:
        if self._fd is None:
            raise RuntimeError("commit after commit or abort")
        try:
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None
        digests = self._digest.result()
        final = self._store.path_for(digests.sha256)
        if final.exists():
            os.unlink(self._tmp)
            os.utime(final)  # a fresh mtime keeps the orphan sweep's grace period away from this blob
            self._done = True
            return StoredBlob(digests, deduplicated=True)
        self._store.ensure_parent(final)
        os.rename(self._tmp, final)
        _fsync_dir(final.parent)
        self._done = True
        return StoredBlob(digests, deduplicated=False)

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not self._done:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            self._done = True


class FileBlobStore:
    """Content-addressed blobs on a local filesystem (the embedded default)."""

    def __init__(self, root: Path, name: str = "local") -> None:
        self.name = name
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.blob_dir = self.root / "sha256"
        for path in (self.root, self.tmp_dir, self.blob_dir):
            path.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if not is_sha256_hex(sha256):
            raise ValueError(f"not a lowercase SHA-256 hex digest: {sha256!r}")
        return self.blob_dir / sha256[:2] / sha256[2:4] / sha256

    def ensure_parent(self, final: Path) -> None:
        """Create the two fan-out directories, fsyncing each parent whose entries changed."""
        created = []
        for directory in (final.parent.parent, final.parent):
            try:
                directory.mkdir()
                created.append(directory)
            except FileExistsError:
                pass
        for directory in created:
            _fsync_dir(directory.parent)

    def writer(self) -> FileBlobWriter:
        return FileBlobWriter(self)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def read(self, sha256: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        try:
            handle = open(self.path_for(sha256), "rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        return _chunks(handle, chunk_size)

    def delete(self, sha256: str) -> bool:
        path = self.path_for(sha256)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def addresses(self) -> Iterable[str]:
        for path in self.blob_dir.glob("*/*/*"):
            if is_sha256_hex(path.name):
                yield path.name

    def sweep_orphans(self, is_referenced: Callable[[str], bool], grace: timedelta) -> SweepReport:
        cutoff = time.time() - grace.total_seconds()
        temporary = orphans = kept = 0
        for path in self.tmp_dir.iterdir():
            if _mtime(path) <= cutoff:
                path.unlink(missing_ok=True)
                temporary += 1
        for address in list(self.addresses()):
            path = self.path_for(address)
            if is_referenced(address) or _mtime(path) > cutoff:
                kept += 1
                continue
            path.unlink(missing_ok=True)
            orphans += 1
        return SweepReport(temporary, orphans, kept)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _chunks(handle, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while True:
            chunk = handle.read(chunk_size)
            if not chunk:
                return
            yield chunk
