"""One consistent view of the database for a long read (an export package): every query sees the same commits.

On SQLite (WAL) a read transaction's snapshot is fixed by its first read and holds until it ends; writers go on
committing beside it (the writer is a separate engine) and are neither blocked by it nor visible to it. On
PostgreSQL the same is a REPEATABLE READ transaction. The snapshot is read-only by contract: nothing written through
it would be seen by anyone (it is rolled back at :meth:`close`).
"""

from __future__ import annotations

from contextlib import nullcontext

from sqlalchemy import Connection, Engine, select

from vault.db.tables import TrackerState


class Snapshot:
    """``connect()`` hands out the one connection (so a reader class written against an engine — ``Catalog``,
    ``ConsentRegistry`` — reads from the snapshot unchanged); :meth:`close` ends it."""

    def __init__(self, engine: Engine):
        connection = engine.connect()
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        self.connection: Connection = connection
        self._transaction = connection.begin()
        # the snapshot is taken at the first read (SQLite: of the database file; PostgreSQL: of any statement)
        connection.execute(select(TrackerState.__table__.c.name).limit(1)).all()
        self.dialect = connection.dialect

    def connect(self):
        return nullcontext(self.connection)

    def close(self) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self.connection.close()
