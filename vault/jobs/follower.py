"""Following a dense, ordered sequence — deposits by ``seal_seq``, journal entries by ``seq`` — from a watermark.

Derived data (case statuses, the journal's index by object) is kept by reading what was appended since the last
pass, never by adding work to the append path. Each pass reads from the stored position, folds only the dense
prefix (a row still committing in another process leaves a gap; it is read on the next pass) and moves the
watermark in the same transaction as what it folded, so a crash never skips or double-counts a row.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from sqlalchemy import Connection, Engine, Table, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from vault.db.tables import TrackerState

STATE = TrackerState.__table__
log = logging.getLogger(__name__)


def dialect_insert(connection: Connection, table: Table):
    """An INSERT that can take ON CONFLICT clauses on both databases."""
    return (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(table)


def rows_by_case(connection: Connection, table: Table, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The rows of ``table`` (keyed by ``tenant``, ``case_ref``) for ``keys``, by key; read 500 keys at a time."""
    found = {}
    for i in range(0, len(keys), 500):
        condition = or_(*(and_(table.c.tenant == t, table.c.case_ref == c) for t, c in keys[i:i + 500]))
        for row in connection.execute(select(table).where(condition)):
            found[(row.tenant, row.case_ref)] = row
    return found


def follow(engine: Engine, name: str, rows_from: Callable[[int, int], Any], position: Callable[[Any], int],
           fold: Callable[[Connection, list], None], batch: int = 20_000) -> int:
    """Fold every row appended since watermark ``name``; returns how many were read.

    ``rows_from(start, limit)`` is the SELECT of the rows at positions ≥ ``start`` in order; ``position(row)`` is a
    row's place in the sequence; ``fold(connection, rows)`` applies them in the pass's transaction.
    """
    done = 0
    while True:
        with engine.begin() as connection:
            start = connection.execute(select(STATE.c.position).where(STATE.c.name == name)).scalar() or 0
            rows = connection.execute(rows_from(start, batch)).all()
            count = next((i for i, row in enumerate(rows) if position(row) != start + i), len(rows))
            if count == 0:
                return done
            fold(connection, rows[:count])
            statement = dialect_insert(connection, STATE).values(name=name, position=start + count)
            connection.execute(statement.on_conflict_do_update(
                index_elements=[STATE.c.name], set_={"position": statement.excluded.position}))
        done += count
        if count < batch:
            return done


def under_lock(locks, kind: str, run: Callable[[], int]) -> int:
    """``run()`` when this process holds job lock ``kind`` (or no locks are configured); else 0."""
    if locks is None:
        return run()
    with locks.hold(kind) as mine:
        return run() if mine else 0


class BackgroundFold:
    """Runs ``catch_up()`` every ``interval`` seconds in a daemon thread: the one place derived data is folded, so
    that no read path writes (on SQLite a read that turns into a write fails with "database is locked" once
    another writer committed since it began; issue 19). A failed pass is logged and retried at the next tick."""

    def __init__(self, name: str, catch_up: Callable[[], int]):
        self.name = name
        self._catch_up = catch_up
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval: float = 1.0) -> None:
        self._thread = threading.Thread(target=self._run, args=(interval,), name=f"vault-{self.name}", daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self._catch_up()
            except Exception as exc:  # derived data: retried at the next tick, readers read the tail meanwhile
                log.warning("%s: fold failed, retried in %.0f s: %s", self.name, interval, exc)

    @property
    def stopping(self) -> bool:
        """Set once :meth:`stop` began: a long pass ends at its next resumable point instead of holding stop."""
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
