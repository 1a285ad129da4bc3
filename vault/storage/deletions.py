"""Blob deletions pause while a backup copies blobs: an ``flock(2)`` on ``<blob root>/deletions.lock``.

A deleter (disposal, the orphan sweep) holds the lock shared around each deletion; ``vault backup`` holds it
exclusive from just before its database snapshot until every blob that snapshot names is copied. A blob named by
the snapshot can only be deleted after a later commit destroys its object, and that deletion then waits for the
backup: the copy never misses a blob its database needs. flock works between processes and between open files of
one process, so the service and the ``vault backup`` command coordinate without talking.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Iterator

from vault.storage.private import FILE_MODE

LOCK_NAME = "deletions.lock"


@contextmanager
def _locked(root: Path, mode: int) -> Iterator[None]:
    fd = os.open(Path(root) / LOCK_NAME, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def deleting(root: Path) -> AbstractContextManager[None]:
    """Held (shared) around one blob deletion; waits while a backup copies blobs."""
    return _locked(root, fcntl.LOCK_SH)


def deletions_paused(root: Path) -> AbstractContextManager[None]:
    """Held (exclusive) by a backup; waits for the deletions under way to finish, then keeps new ones waiting."""
    return _locked(root, fcntl.LOCK_EX)
