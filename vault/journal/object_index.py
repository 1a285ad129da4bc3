"""The journal entries that name an object, found without scanning the log.

A follower reads the journal in order from a watermark (like the case tracker) and records one row per
(object id, seq) in ``journal_object_refs``; the append path pays nothing. The index is derived data: every row can
be recomputed from the log, and what it points at is checked against the log's Merkle tree by whoever uses it.
An entry listing more than :data:`MAX_OBJECTS_INDEXED` objects (a search page) is indexed under each of them too,
up to the page limit of 500.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Engine, select

from vault.db.tables import JournalEntry, JournalObjectRef
from vault.jobs.follower import dialect_insert, follow, under_lock
from vault.journal.log import entry_objects

ENTRIES = JournalEntry.__table__
REFS = JournalObjectRef.__table__
WATERMARK = "journal_objects"
BATCH = 20_000
MAX_OBJECTS_INDEXED = 500


class JournalObjectIndex:
    def __init__(self, engine: Engine, locks=None):
        self.engine = engine
        self.locks = locks

    def catch_up(self) -> int:
        """Index every entry appended since the last pass; returns how many entries were read."""
        return under_lock(self.locks, "journal-objects", lambda: follow(
            self.engine, WATERMARK, lambda start, limit: (
                select(ENTRIES.c.seq, ENTRIES.c.entry).where(ENTRIES.c.seq >= start).order_by(ENTRIES.c.seq)
                .limit(limit)), lambda row: row.seq, self._fold, BATCH))

    @staticmethod
    def _fold(connection, rows) -> None:
        refs = {(str(object_id)[:64], row.seq) for row in rows
                for object_id in entry_objects(row.entry)[:MAX_OBJECTS_INDEXED]}
        if refs:
            connection.execute(dialect_insert(connection, REFS).on_conflict_do_nothing(),
                               [{"object_id": o, "seq": s} for o, s in sorted(refs)])

    def entries(self, object_ids: Iterable[str], limit: int = 100_000) -> list[tuple[int, bytes]]:
        """(seq, canonical entry bytes) of every indexed entry naming one of ``object_ids``, in log order."""
        self.catch_up()
        ids = sorted(set(object_ids))
        found: set[int] = set()
        with self.engine.connect() as connection:
            for i in range(0, len(ids), 500):
                found.update(connection.execute(select(REFS.c.seq).where(REFS.c.object_id.in_(ids[i:i + 500])))
                             .scalars())
            seqs = sorted(found)[:limit]
            out = []
            for i in range(0, len(seqs), 1000):
                out.extend((r.seq, bytes(r.entry)) for r in connection.execute(
                    select(ENTRIES.c.seq, ENTRIES.c.entry).where(ENTRIES.c.seq.in_(seqs[i:i + 1000]))
                    .order_by(ENTRIES.c.seq)))
        return out
