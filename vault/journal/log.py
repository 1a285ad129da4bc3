"""The journal as an RFC 6962 Merkle log stored in the database.

Leaf ``seq`` is the RFC 8785 canonical JSON of entry ``seq`` (kept verbatim in ``journal_entries.entry``); the
hashes of complete subtrees are stored in ``journal_hashes`` in the same transaction as the entries, so a tree
of any committed size, its tiles and its proofs are read without re-hashing. Appends happen only in the single
database writer, which keeps the right edge of the tree in the transaction's cache.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, insert, select, tuple_, update

from vault.db.tables import JournalEntry, JournalHash
from vault.db.writer import stage
from vault_verify.canonical import canonical_json
from vault_verify.merkle import leaf_hash, new_stored_hashes, tree_hash

ENTRIES = JournalEntry.__table__
HASHES = JournalHash.__table__
ENTRY_VERSION = 1
_HASH_CACHE = "vault.journal.hashes"
_INSERT_HASH = insert(HASHES)


def entry_time(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC."""
    return at.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def entry_document(seq: int, at: datetime, *, actor: str, role: str | None, tenant: str | None, action: str,
                   object_ids: list[str], outcome: str, request_id: str | None, detail: dict[str, Any]) -> dict:
    """Entry schema version 1 (docs/journal.md)."""
    return {"v": ENTRY_VERSION, "seq": seq, "time": entry_time(at), "actor": actor, "role": role, "tenant": tenant,
            "action": action, "objects": list(object_ids), "outcome": outcome, "request_id": request_id,
            "detail": detail}


def entry_bytes(row: dict[str, Any]) -> bytes:
    """The canonical bytes a journal row's columns must match."""
    return canonical_json(entry_document(
        row["seq"], row["at"], actor=row["actor"], role=row["role"], tenant=row["tenant"], action=row["action"],
        object_ids=row["object_ids"], outcome=row["outcome"], request_id=row["request_id"], detail=row["detail"]))


class StoredHashes:
    """``hash_at(level, index)`` over ``journal_hashes``, with a per-transaction cache of what it read or added."""

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

    def prefetch(self, keys: list[tuple[int, int]]) -> None:
        missing = [k for k in keys if k not in self._cache]
        if missing:
            rows = self._connection.execute(
                select(HASHES.c.level, HASHES.c.idx, HASHES.c.hash).where(tuple_(HASHES.c.level, HASHES.c.idx).in_(missing)))
            self._cache.update({(r.level, r.idx): r.hash for r in rows})

    def append_leaf(self, index: int, entry: bytes) -> None:
        """Stage the leaf hash of entry ``index`` and every subtree hash it completes."""
        for level, n, value in new_stored_hashes(index, leaf_hash(entry), self.hash_at):
            self._cache[(level, n)] = value
            stage(self._connection, _INSERT_HASH, {"level": level, "idx": n, "hash": value})


def forget_cache(connection: Connection) -> None:
    connection.info.pop(_HASH_CACHE, None)


def frontier(size: int) -> list[tuple[int, int]]:
    """The stored hashes an append at index ``size`` will read: the left siblings on its path to the root."""
    keys, level, n = [], 0, size
    while n & 1:
        keys.append((level, n - 1))
        level, n = level + 1, n >> 1
    return keys


def journal_size(connection: Connection) -> int:
    return connection.execute(select(func.coalesce(func.max(ENTRIES.c.seq), -1) + 1)).scalar_one()


def journal_root(connection: Connection, size: int) -> bytes:
    return tree_hash(size, StoredHashes(connection).hash_at)


def backfill_journal(connection: Connection) -> None:
    """Give entries written before the log existed their canonical bytes and stored hashes (migration 0003)."""
    columns = [c for c in ENTRIES.c if c.name != "entry"]
    rows = connection.execute(select(*columns).order_by(ENTRIES.c.seq)).mappings().all()
    hashes = StoredHashes(connection)
    for expected, row in enumerate(rows):
        if row["seq"] != expected:
            raise RuntimeError(f"journal has a gap at {expected}: cannot build its Merkle tree")
        data = entry_bytes(dict(row))
        connection.execute(update(ENTRIES).where(ENTRIES.c.seq == row["seq"]).values(entry=data))
        hashes.append_leaf(row["seq"], data)
    forget_cache(connection)


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
