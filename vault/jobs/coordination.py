"""Who runs a background job: one process at a time per job kind, coordinated by the database itself.

On PostgreSQL a job kind is a session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated connection
for the duration of one pass: API replicas and ``vault worker`` processes may all try, exactly one runs; if that
process dies (even ``kill -9``) its connection closes and PostgreSQL releases the lock, while the pass's own
transactions leave nothing half-written. On the embedded default (SQLite, one machine) an ``flock`` on a file
under the data directory does the same between processes.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, text

from vault.db.engine import is_sqlite
from vault.storage.private import FILE_MODE, make_private_dir


def lock_key(kind: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job kind."""
    return int.from_bytes(hashlib.sha256(b"vault job " + kind.encode()).digest()[:8], "big", signed=True)


class JobLocks:
    def __init__(self, engine: Engine, data_dir: Path):
        self.engine = engine
        self.directory = Path(data_dir) / "locks"
        self.postgres = not is_sqlite(str(engine.url))

    @contextmanager
    def hold(self, kind: str) -> Iterator[bool]:
        """``with locks.hold("seal") as mine:`` — ``mine`` is True when this process may run the pass now."""
        if self.postgres:
            with self.engine.connect() as connection:
                key = lock_key(kind)
                mine = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one())
                connection.commit()
                try:
                    yield mine
                finally:
                    if mine:
                        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        connection.commit()
            return
        make_private_dir(self.directory)
        fd = os.open(self.directory / f"{kind}.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                mine = True
            except BlockingIOError:
                mine = False
            try:
                yield mine
            finally:
                if mine:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
