"""Sortable object identifiers: UUID version 7 (RFC 9562 §5.7).

48 bits of Unix milliseconds, then 74 bits that are random except for a 12-bit counter in ``rand_a``
(RFC 9562 §6.2, method 1) so that identifiers made in the same millisecond by one process still sort in
creation order.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


class _RandomPool:
    """``os.urandom`` read 4 KiB at a time: the same CSPRNG bytes (RFC 9562 §6.9) for a tenth of the system calls.

    Each system call on the event loop hands the GIL over and may wait up to a switch interval to take it back
    while the database writer is busy; two per identifier, two identifiers per deposit, showed in profiles. The
    buffer is emptied in a forked child, so that no two processes ever hand out the same bytes.
    """

    SIZE = 4096

    def __init__(self) -> None:
        self._buffer = b""
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._buffer = b""
        self._lock = threading.Lock()

    def __call__(self, count: int) -> bytes:
        with self._lock:
            if len(self._buffer) < count:
                self._buffer = os.urandom(max(self.SIZE, count))
            taken, self._buffer = self._buffer[:count], self._buffer[count:]
            return taken


random_bytes = _RandomPool()


def uuid7(now_ms: int | None = None, random_bytes=random_bytes) -> uuid.UUID:
    """A new UUIDv7; monotonic within this process even when the clock stands still or steps back."""
    global _last_ms, _counter
    with _lock:
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond (RFC 9562 §6.2)
                ms += 1
                _counter = 0
        else:
            _counter = int.from_bytes(random_bytes(2), "big") & 0x3FF  # leave head-room for increments
        _last_ms = ms
        counter = _counter
    rand_b = int.from_bytes(random_bytes(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)


def new_object_id() -> str:
    return str(uuid7())


def is_object_id(text: str) -> bool:
    try:
        parsed = uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return False
    return str(parsed) == text and parsed.version == 7
