"""Filesystem blob store: ``<root>/sha256/abc/<sha256>``, written temp → fsync → rename → fsync directory.

The rename is atomic on POSIX, so a reader sees either no blob or the whole blob; fsync of the file before the
rename and of the directory after it makes the new name survive a power cut (ext4, XFS: see rename(2) and
fsync(2)). Temporary files live in ``<root>/tmp`` on the same filesystem.

With ``defer_name_sync`` durability is deferred to :meth:`FileBlobStore.sync_names`, which the database writer
calls once per batch *before* committing the rows that name the blobs: one ``syncfs(2)`` then makes every name
published since the last call durable, and the bytes of small blobs (≤ ``DEFER_DATA_MAX``) with them, instead
of a file fsync and a directory fsync per deposit. Large blobs are still fsynced before their rename, so one big
upload never stalls a batch. Since a crash can then leave a name whose small file lost its bytes (it was never
referenced: no row commits before the syncfs), deduplication re-reads an existing blob and replaces it when
its bytes are not the ones its name promises.

One level of 4 096 fan-out directories (the first three hex digits): only the first few thousand deposits pay for
a ``mkdir`` and its parent's fsync, and ext4 and XFS index large directories, so even 10⁸ blobs (~25 000 per
directory) stay fast.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import queue
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterable, Iterator

from vault.crypto.digests import Digests, DigestWriter, is_sha256_hex
from vault.ids import uuid7
from vault.storage.blobstore import BlobNotFound, HashingWriter, StoredBlob, SweepReport
from vault.storage.deletions import deleting
from vault.storage.private import DIR_MODE, FILE_MODE, make_private_dir, write_private


DEFER_DATA_MAX = 1 << 20
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_syncfs = getattr(_libc, "syncfs", None)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileBlobWriter(HashingWriter):
    def __init__(self, store: "FileBlobStore") -> None:
        self._store = store
        self._tmp, fd = store.take_temporary()
        self._fd: int | None = fd
        self._digest = DigestWriter()
        self._done = False

    def write(self, chunk: bytes) -> None:
        if self._fd is None:
            raise RuntimeError("write after commit or abort")
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._digest.update(chunk)
        self._keep_head(chunk)

    def commit(self) -> StoredBlob:
        if self._fd is None:
            raise RuntimeError("commit after commit or abort")
        digests = self._digest.result()
        try:
            if not self._store.defer_data_sync(digests.size):
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None
        final = self._store.path_for(digests.sha256)
        if final.exists() and _holds(final, digests):
            os.unlink(self._tmp)
            os.utime(final)  # a fresh mtime keeps the orphan sweep's grace period away from this blob
            self._done = True
            return StoredBlob(digests, deduplicated=True)
        self._store.ensure_parent(final)
        os.rename(self._tmp, final)
        self._store.name_published(final.parent)
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


SPARES = 64
SPARE_LIFETIME = 60.0


class FileBlobStore:
    """Content-addressed blobs on a local filesystem (the embedded default)."""

    def __init__(self, root: Path, name: str = "local", *, defer_name_sync: bool = False) -> None:
        self.name = name
        self.defer_name_sync = defer_name_sync
        self._dirty: set[Path] = set()
        self._dirty_lock = threading.Lock()
        self._parents: set[Path] = set()  # fan-out directories known to exist
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.spare_dir = self.root / "spare"  # ready, empty temporary files (see keep_spares)
        self.blob_dir = self.root / "sha256"
        for path in (self.root, self.tmp_dir, self.spare_dir, self.blob_dir):
            make_private_dir(path)
        self._spares: "queue.SimpleQueue[tuple[Path, int, float]]" = queue.SimpleQueue()
        self._spares_low = threading.Event()
        self._spares_thread: threading.Thread | None = None

    # Creating a file can wait behind a running syncfs (the journal commit it forces); an upload must not make the
    # event loop wait there. A helper thread keeps temporary files open and ready; a writer takes one.
    def keep_spares(self) -> None:
        """Start keeping SPARES temporary files ready (the served embedded default does; tests need not)."""
        if self._spares_thread is None:
            self._spares_thread = threading.Thread(target=self._refill, name="vault-blob-spares", daemon=True)
            self._spares_thread.start()
            self._spares_low.set()

    def _new_temporary(self, directory: Path | None = None) -> tuple[Path, int]:
        path = (directory or self.tmp_dir) / f"{uuid7()}.part"
        return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)

    def _refill(self) -> None:
        while True:
            self._spares_low.wait()
            self._spares_low.clear()
            while self._spares.qsize() < SPARES:
                path, fd = self._new_temporary(self.spare_dir)
                self._spares.put((path, fd, time.monotonic()))

    def take_temporary(self) -> tuple[Path, int]:
        """An open temporary file for a new blob: a fresh spare if one is ready, else a new one."""
        while True:
            try:
                path, fd, made = self._spares.get_nowait()
            except queue.Empty:
                return self._new_temporary()
            finally:
                if self._spares_thread is not None and self._spares.qsize() < SPARES // 2:
                    self._spares_low.set()
            if time.monotonic() - made < SPARE_LIFETIME:  # far younger than any orphan-sweep grace period
                return path, fd
            os.close(fd)
            path.unlink(missing_ok=True)

    def defer_data_sync(self, size: int) -> bool:
        """Whether a blob of ``size`` bytes may leave its data to the batch's syncfs instead of its own fsync."""
        return self.defer_name_sync and _syncfs is not None and size <= DEFER_DATA_MAX

    def name_published(self, directory: Path) -> None:
        if not self.defer_name_sync:
            _fsync_dir(directory)
            return
        with self._dirty_lock:
            self._dirty.add(directory)

    def names_pending(self) -> bool:
        """Whether a blob name was published since the last :meth:`sync_names` (its units were submitted after
        it, so a batch that starts without one names no new blob)."""
        return bool(self._dirty)

    def sync_names(self) -> None:
        """Make every blob name published so far durable (one syncfs, or one fsync per directory without it)."""
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, set()
        if not dirty:
            return
        if _syncfs is not None:
            fd = os.open(self.blob_dir, os.O_RDONLY | os.O_DIRECTORY)
            try:
                if _syncfs(fd) != 0:  # the batch must fail: small blobs' bytes rely on this call
                    error = ctypes.get_errno()
                    raise OSError(error, f"syncfs of the blob store failed: {os.strerror(error)}")
            finally:
                os.close(fd)
            return
        for directory in dirty:
            _fsync_dir(directory)

    def ensure_parent(self, final: Path) -> None:
        """Create the fan-out directory on first use; its parent's entry is made durable now or at the barrier.
        Fan-out directories are never removed, so each is checked once per process."""
        parent = final.parent
        if parent in self._parents:
            return
        if not parent.is_dir():
            parent.mkdir(mode=DIR_MODE, exist_ok=True)
            self.name_published(self.blob_dir)
        self._parents.add(parent)

    def prepare_fan_out(self) -> None:
        """Create all 4 096 fan-out directories at once (a new store's first deposits then skip the mkdir)."""
        marker = self.blob_dir / ".fan-out"
        if marker.exists():
            return
        for n in range(16 ** 3):
            (self.blob_dir / f"{n:03x}").mkdir(mode=DIR_MODE, exist_ok=True)
        _fsync_dir(self.blob_dir)
        write_private(marker, b"")

    def path_for(self, sha256: str) -> Path:
        if not is_sha256_hex(sha256):
            raise ValueError(f"not a lowercase SHA-256 hex digest: {sha256!r}")
        return self.blob_dir / sha256[:3] / sha256

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
        with deleting(self.root):  # waits while a backup copies blobs (vault.storage.deletions)
            try:
                os.unlink(path)
            except FileNotFoundError:
                return False
        _fsync_dir(path.parent)
        return True

    def addresses(self) -> Iterable[str]:
        for path in self.blob_dir.glob("*/*"):
            if is_sha256_hex(path.name):
                yield path.name

    def sweep_orphans(self, is_referenced: Callable[[str], bool], grace: timedelta) -> SweepReport:
        cutoff = time.time() - grace.total_seconds()
        temporary = orphans = kept = 0
        for path in [*self.tmp_dir.iterdir(), *self.spare_dir.iterdir()]:
            if _mtime(path) <= cutoff:  # spares live a minute at most: an old one is a dead process's
                path.unlink(missing_ok=True)
                temporary += 1
        for address in list(self.addresses()):
            path = self.path_for(address)
            if _mtime(path) > cutoff:
                kept += 1
                continue
            with deleting(self.root):  # checked and removed while no backup copies blobs
                if is_referenced(address):
                    kept += 1
                    continue
                path.unlink(missing_ok=True)
            orphans += 1
        return SweepReport(temporary, orphans, kept)


def _holds(path: Path, digests: Digests) -> bool:
    """True when the file at ``path`` has exactly the bytes ``digests`` describe (size first, then SHA-256)."""
    try:
        if path.stat().st_size != digests.size:
            return False
        check = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                check.update(chunk)
        return check.hexdigest() == digests.sha256
    except FileNotFoundError:
        return False


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
