"""The journal entries that name an object, found without scanning the log.

A follower reads the journal in order from a watermark (like the case tracker) and records one row per
(object id, seq) in ``journal_object_refs``; the append path pays nothing. The index is derived data: every row can
be recomputed from the log, and what it points at is checked against the log's Merkle tree by whoever uses it.
An entry listing more than :data:`MAX_OBJECTS_INDEXED` objects (a search page) is indexed under each of them too,
up to the page limit of 500.

Readers never fold: a fold writes, and a read path that writes takes the writer's lock (on SQLite a read transaction
that turns into a write fails with "database is locked" as soon as another writer committed since it began; issue
19 saw packages cut mid-way by it). The follower folds in the background (:meth:`start`, or ``vault worker``) on an
engine of its own whose transactions take the write lock up front; :meth:`entries` answers from what is folded plus
the tail of the log past the watermark, read in one snapshot.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, Engine, select

from vault.db.tables import JournalEntry, JournalObjectRef, TrackerState
from vault.jobs.follower import BackgroundFold, dialect_insert, follow, under_lock
from vault.journal.log import entry_objects

ENTRIES = JournalEntry.__table__
REFS = JournalObjectRef.__table__
STATE = TrackerState.__table__
WATERMARK = "journal_objects"
BATCH = 20_000
MAX_OBJECTS_INDEXED = 500


class JournalObjectIndex:
    """``engine`` reads; ``fold_engine`` (a writer-mode engine: ``BEGIN IMMEDIATE`` on SQLite) folds, and only in
    :meth:`catch_up`, which no read path calls."""

    def __init__(self, engine: Engine, locks=None, fold_engine: Engine | None = None):
        self.engine = engine
        self.locks = locks
        self.fold_engine = fold_engine or engine
        self.follower = BackgroundFold("journal-objects", self.catch_up)

    def catch_up(self) -> int:
        """Index every entry appended since the last pass; returns how many entries were read."""
        return under_lock(self.locks, "journal-objects", lambda: follow(
            self.fold_engine, WATERMARK, lambda start, limit: (
                select(ENTRIES.c.seq, ENTRIES.c.entry).where(ENTRIES.c.seq >= start).order_by(ENTRIES.c.seq)
                .limit(limit)), lambda row: row.seq, self._fold, BATCH))

    def start(self, interval: float = 1.0) -> None:
        """Fold in the background every ``interval`` seconds (the follower; readers only read)."""
        self.follower.start(interval)

    def stop(self) -> None:
        self.follower.stop()

    @staticmethod
    def _refs(rows) -> set[tuple[str, int]]:
        return {(str(object_id)[:64], row.seq) for row in rows
                for object_id in entry_objects(row.entry)[:MAX_OBJECTS_INDEXED]}

    @classmethod
    def _fold(cls, connection, rows) -> None:
        refs = cls._refs(rows)
        if refs:
            connection.execute(dialect_insert(connection, REFS).on_conflict_do_nothing(),
                               [{"object_id": o, "seq": s} for o, s in sorted(refs)])

    def entries(self, object_ids: Iterable[str], limit: int = 100_000,
                connection: Connection | None = None) -> list[tuple[int, bytes]]:
        """(seq, canonical entry bytes) of every entry naming one of ``object_ids``, in log order: the folded rows
        plus the tail past the watermark, read in ``connection``'s transaction (a package's snapshot) or in one of
        its own. Writes nothing."""
        if connection is None:
            with self.engine.begin() as own:
                return self.entries(object_ids, limit, own)
        ids = sorted(set(object_ids))
        wanted = set(ids)
        position = connection.execute(select(STATE.c.position).where(STATE.c.name == WATERMARK)).scalar() or 0
        found: set[int] = set()
        for i in range(0, len(ids), 500):
            found.update(connection.execute(select(REFS.c.seq).where(REFS.c.object_id.in_(ids[i:i + 500]))
                                            .where(REFS.c.seq < position)).scalars())
        tail = connection.execute(select(ENTRIES.c.seq, ENTRIES.c.entry).where(ENTRIES.c.seq >= position)
                                  .order_by(ENTRIES.c.seq)).all()
        out = [(row.seq, bytes(row.entry)) for row in tail
               if any(object_id in wanted for object_id, _seq in self._refs([row]))]
        seqs = sorted(found)[:limit]
        head = []
        for i in range(0, len(seqs), 1000):
            head.extend((r.seq, bytes(r.entry)) for r in connection.execute(
                select(ENTRIES.c.seq, ENTRIES.c.entry).where(ENTRIES.c.seq.in_(seqs[i:i + 1000]))
                .order_by(ENTRIES.c.seq)))
        return (head + out)[:limit]
