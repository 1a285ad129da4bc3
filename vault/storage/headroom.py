"""Free space on the data filesystem: deposits stop before the disk is full, so the journal keeps room to trace reads.

The check sits on the deposit path, so ``statvfs`` is asked at most once a second (a cached answer otherwise).
"""

from __future__ import annotations

import errno
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

GIB = 1024**3
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def default_min_free(total_bytes: int) -> int:
    """1 GiB or 5 % of the filesystem, whichever is lower (issue #19)."""
    return min(GIB, total_bytes // 20)


def is_out_of_space(exc: BaseException) -> bool:
    """An OS error for a full disk or quota, or SQLite's ``database or disk is full`` (SQLITE_FULL)."""
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        return True
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "database or disk is full" in text or "no space left on device" in text


@dataclass(frozen=True)
class Space:
    free: int
    total: int
    minimum: int

    @property
    def low(self) -> bool:
        return self.free < self.minimum


class DiskHeadroom:
    """Free bytes under ``path`` against a minimum (``VAULT_MIN_FREE_BYTES``, default :func:`default_min_free`)."""

    def __init__(self, path: Path, minimum: int | None = None, *, max_age: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 statvfs: Callable[[Path], os.statvfs_result] = os.statvfs):
        self._path, self._minimum, self._max_age = Path(path), minimum, max_age
        self._monotonic, self._statvfs = monotonic, statvfs
        self._lock = threading.Lock()
        self._space: Space | None = None
        self._at = float("-inf")

    def space(self) -> Space:
        """The free space, measured at most ``max_age`` seconds ago."""
        now = self._monotonic()
        if now - self._at >= self._max_age:
            with self._lock:
                if now - self._at >= self._max_age:
                    self._space, self._at = self._measure(), now
        return self._space

    def forget(self) -> None:
        """Measure again on the next question (after a write failed for want of space)."""
        self._at = float("-inf")

    def _measure(self) -> Space:
        st = self._statvfs(self._path)
        total = st.f_blocks * st.f_frsize
        minimum = self._minimum if self._minimum is not None else default_min_free(total)
        return Space(free=st.f_bavail * st.f_frsize, total=total, minimum=minimum)

    def check(self) -> str:
        """``ok`` or a one-line reason, for ``/ready``."""
        space = self.space()
        if not space.low:
            return "ok"
        return f"failing: {space.free} bytes free on the data filesystem, below {space.minimum} (VAULT_MIN_FREE_BYTES)"
