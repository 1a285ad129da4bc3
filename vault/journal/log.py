"""The journal as an RFC 6962 Merkle log stored in the database.

Leaf ``seq`` is the RFC 8785 canonical JSON of entry ``seq`` (kept verbatim in ``journal_entries.entry``); the
hashes of complete subtrees are stored in ``journal_hashes`` in the same transaction as the entries, so a tree
of any committed size, its tiles and its proofs are read without re-hashing. Appends happen only in the single
database writer, which keeps the right edge of the tree in the transaction's cache.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, TextClause, func, insert, select, text, update

from vault.db.tables import JournalEntry, JournalHash
from vault_verify.canonical import canonical_json
from vault_verify.merkle import leaf_hash, new_stored_hashes, tree_hash

ENTRIES = JournalEntry.__table__
HASHES = JournalHash.__table__
ENTRY_VERSION = 1
_HASH_CACHE = "vault.journal.hashes"
_APPENDER = "vault.journal.appender"
INSERT_HASH = insert(HASHES)


def entry_time(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC."""
    return at.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def entry_document(seq: int, time: str, actor: str, role: str | None, tenant: str | None, action: str,
                   objects: list[str], outcome: str, request_id: str | None, detail: dict[str, Any]) -> dict:
    """Entry schema version 1 (docs/journal.md); ``time`` as :func:`entry_time` writes it."""
    return {"v": ENTRY_VERSION, "seq": seq, "time": time, "actor": actor, "role": role, "tenant": tenant,
            "action": action, "objects": objects, "outcome": outcome, "request_id": request_id, "detail": detail}


def entry_bytes(row: dict[str, Any]) -> bytes:
    """The canonical bytes a journal row's columns must match."""
    return canonical_json(entry_document(
        row["seq"], entry_time(row["at"]), row["actor"], row["role"], row["tenant"], row["action"],
        list(row["object_ids"]), row["outcome"], row["request_id"], row["detail"]))


class StoredHashes:
    """``hash_at(level, index)`` over ``journal_hashes``, with a per-connection cache of what it read."""

    def __init__(self, connection: Connection):
        self._connection = connection
        self._cache: dict[tuple[int, int], bytes] = connection.info.setdefault(_HASH_CACHE, {})

    def hash_at(self, level: int, index: int) -> bytes:
        key = (level, index)
        found = self._cache.get(key)
        if found is None:
            found = self._connection.execute(
                select(HASHES.c.hash).where(HASHES.c.level == level).where(HASHES.c.idx == index)).scalar_one()
            self._cache[key] = found
        return found

    def many(self, keys: list[tuple[int, int]]) -> list[bytes]:
        """The hashes at ``keys``, read in one query."""
        missing = [k for k in keys if k not in self._cache]
        if missing:
            params = {f"{name}{i}": value for i, key in enumerate(missing) for name, value in zip("li", key)}
            rows = self._connection.execute(_hashes_at(len(missing)), params)
            self._cache.update({(r.level, r.idx): bytes(r.hash) for r in rows})
        return [self._cache[k] for k in keys]


@functools.lru_cache(maxsize=64)
def _hashes_at(count: int) -> TextClause:
    """An OR of primary keys (SQLite scans the table for a row-value IN list)."""
    keys = " OR ".join(f"(level = :l{i} AND idx = :i{i})" for i in range(count))
    return text(f"SELECT level, idx, hash FROM journal_hashes WHERE {keys}")


def right_edge(size: int) -> list[tuple[int, int]]:
    """The complete subtrees whose hashes make up the right edge of a tree of ``size`` leaves (RFC 6962 §2.1's
    left-to-right decomposition into powers of two), largest first: ``(level, index)`` for each bit set."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]


class LogAppender:
    """Appends leaves in the writer's transaction, keeping the right edge of the tree in memory.

    Made once per batch (it reads the tree size and the right edge's stored hashes), then each append costs one
    leaf hash plus one node hash per subtree it completes — no query. It lives in ``connection.info`` and is
    forgotten with the batch's other caches whenever a unit rolls back (vault.db.writer).
    """

    def __init__(self, size: int = 0, edge: list[bytes] | None = None):
        self.size = size
        self._edge = list(edge or [])

    @classmethod
    def of(cls, connection: Connection) -> "LogAppender":
        """The batch's appender, resumed from the committed tree on first use."""
        appender = connection.info.get(_APPENDER)
        if appender is None:
            size = journal_size(connection)
            appender = connection.info[_APPENDER] = cls(size, StoredHashes(connection).many(right_edge(size)))
        return appender

    def append(self, entry: bytes) -> tuple[int, list[dict[str, Any]]]:
        """Leaf ``size`` for ``entry``: its index and the ``journal_hashes`` rows it completes (leaf first)."""
        index, edge = self.size, self._edge
        # each left sibling the fold asks for is the edge's lowest subtree, taken off in turn
        completed = new_stored_hashes(index, leaf_hash(entry), lambda _level, _n: edge.pop())
        edge.append(completed[-1][2])
        self.size = index + 1
        return index, [{"level": level, "idx": n, "hash": value} for level, n, value in completed]


_SIZE = select(func.coalesce(func.max(ENTRIES.c.seq), -1) + 1)


def journal_size(connection: Connection) -> int:
    return connection.execute(_SIZE).scalar_one()


def journal_root(connection: Connection, size: int) -> bytes:
    return tree_hash(size, StoredHashes(connection).hash_at)


def backfill_journal(connection: Connection) -> None:
    """Give entries written before the log existed their canonical bytes and stored hashes (migration 0003)."""
    columns = [c for c in ENTRIES.c if c.name != "entry"]
    rows = connection.execute(select(*columns).order_by(ENTRIES.c.seq)).mappings().all()
    appender = LogAppender()
    for expected, row in enumerate(rows):
        if row["seq"] != expected:
            raise RuntimeError(f"journal has a gap at {expected}: cannot build its Merkle tree")
        data = entry_bytes(dict(row))
        connection.execute(update(ENTRIES).where(ENTRIES.c.seq == row["seq"]).values(entry=data))
        connection.execute(INSERT_HASH, appender.append(data)[1])


def hash_range(connection: Connection, level: int, start: int, count: int) -> list[bytes]:
    """Stored hashes at ``level`` with indexes ``start … start+count-1`` (fewer when the tree is smaller)."""
    rows = connection.execute(
        select(HASHES.c.hash).where(HASHES.c.level == level).where(HASHES.c.idx >= start)
        .where(HASHES.c.idx < start + count).order_by(HASHES.c.idx)).all()
    return [bytes(r.hash) for r in rows]


def entry_range(connection: Connection, start: int, count: int) -> list[bytes]:
    rows = connection.execute(
        select(ENTRIES.c.entry).where(ENTRIES.c.seq >= start).where(ENTRIES.c.seq < start + count)
        .order_by(ENTRIES.c.seq)).all()
    return [bytes(r.entry) for r in rows]
