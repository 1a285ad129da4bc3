"""Engines for the two supported databases.

SQLite (embedded default): WAL journal so readers never block the writer, ``synchronous=FULL`` so a commit is on
disk when it returns (SQLite docs, "Write-Ahead Logging" §2 and PRAGMA synchronous). The writer engine opens
its transactions with ``BEGIN IMMEDIATE`` so that two writers never deadlock upgrading a read lock.
PostgreSQL (scaled): psycopg 3, plain READ COMMITTED transactions.
"""

from __future__ import annotations

import os
import sqlite3
import time

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from vault.storage.private import FILE_MODE


class DatabaseError(RuntimeError):
    pass


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _wal(cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # a deleted row's bytes are overwritten with zeros, not left in a free page: an erased personal value
    # (docs/metadata-record.md, "Erasure") does not linger in the database file
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _wal(cursor, patience: float = 30.0) -> None:
    """``PRAGMA journal_mode=WAL``, retried while "database is locked": processes opening a new, empty file at the
    same moment (replicas or ``--workers`` starting together) all try to convert it, and SQLite answers SQLITE_BUSY
    at once, without its busy handler, to a connection whose lock upgrade could deadlock (sqlite3_busy_handler: "the
    busy handler is not invoked … if … a deadlock"); the way out is to try again once the other has converted it."""
    deadline = time.monotonic() + patience
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _create_private(database: str | None) -> None:
    """Create a new database file 0600 before SQLite does (it would use 0644 less the umask); its ``-wal`` and
    ``-shm`` files then take the same mode (SQLite, os_unix.c ``findCreateFileMode``)."""
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        except FileExistsError:
            pass


def _json_text(value) -> str:
    """JSON columns through orjson (several times faster than json.dumps; the same JSON for our values)."""
    return orjson.dumps(value).decode("utf-8")


def make_engine(url: str, *, writer: bool = False, pool_size: int = 8) -> Engine:
    """An engine for ``url``; ``writer=True`` makes SQLite transactions ``BEGIN IMMEDIATE``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        _create_private(parsed.database)
        engine = create_engine(
            url,
            json_serializer=_json_text,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=1 if writer else pool_size,
            max_overflow=0 if writer else pool_size,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
            _sqlite_pragmas(dbapi_connection)

        @event.listens_for(engine, "begin")
        def _on_begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_size=2 if writer else pool_size, max_overflow=pool_size, pool_pre_ping=True,
                             json_serializer=_json_text)
    raise DatabaseError(f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: use sqlite:/// or postgresql+psycopg://")


def statement_reads(engine: Engine) -> Engine:
    """``engine`` for reads that need no transaction around them: PostgreSQL in autocommit, where each statement
    is its own snapshot, as it already is within a READ COMMITTED transaction (PostgreSQL docs, "Read Committed
    Isolation Level"), without the ``BEGIN`` and ``ROLLBACK`` round trips; SQLite's engine as it is (its reads
    keep their ``BEGIN``: one snapshot for the connection's statements). Anything else that connects (a
    vault.db.snapshot.Snapshot: one REPEATABLE READ transaction) is returned as it is."""
    if not isinstance(engine, Engine) or engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")
