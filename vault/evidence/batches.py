"""Storage of seal batches: each batch's hash tree is kept level by level in chunks of :data:`CHUNK` hashes.

Sealing n objects writes one batch row and about 2n/CHUNK chunk rows, in one statement (O(batches) writes,
never a row per object); any leaf's reduced hash tree is then read back with one query touching one chunk per
level (RFC 4998 §4.2 needs only the siblings on the leaf's path).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import Connection, insert, select, tuple_

from vault.db.tables import SealBatch, SealLink, SealMember, SealTreeChunk
from vault_verify.hashtree import sibling_positions

CHUNK = 1024
BATCHES = SealBatch.__table__
CHUNKS = SealTreeChunk.__table__
LINKS = SealLink.__table__
MEMBERS = SealMember.__table__

INITIAL = "initial"
TIMESTAMP_RENEWAL = "timestamp-renewal"
HASH_TREE_RENEWAL = "hash-tree-renewal"
RECORD_SEAL = "record-seal"  # metadata record versions sealed apart from their content (vault.evidence.record_seals)
CHAIN_STARTS = (INITIAL, HASH_TREE_RENEWAL, RECORD_SEAL)  # the batches that start a chain (renewed by timestamps)


@dataclass(frozen=True)
class StoredBatch:
    id: str
    kind: str
    algorithm: str
    leaf_count: int
    first_seq: int | None
    last_seq: int | None
    root: bytes
    token: bytes
    gen_time: datetime
    tsa_url: str
    tsa_not_after: datetime
    development: bool
    closed_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row) -> "StoredBatch":
        m = row._mapping
        return cls(**{k: m[k] for k in cls.__dataclass_fields__ if k != "development"},
                   development=bool(m["development"]))


def chunk_rows(batch_id: str, levels: Sequence[Sequence[bytes]]) -> list[dict]:
    """Rows for ``seal_tree_chunks``: every level except the root, cut into chunks of CHUNK hashes."""
    rows = []
    for level, hashes in enumerate(levels[:-1] if len(levels) > 1 else levels):
        for chunk in range(0, len(hashes), CHUNK):
            rows.append({"batch_id": batch_id, "level": level, "chunk": chunk // CHUNK,
                         "hashes": b"".join(hashes[chunk:chunk + CHUNK])})
    return rows


def insert_batch(connection: Connection, batch: dict, levels: Sequence[Sequence[bytes]]) -> None:
    """Write a batch row and its tree in the caller's transaction."""
    connection.execute(insert(BATCHES), batch)
    connection.execute(insert(CHUNKS), chunk_rows(batch["id"], levels))


def path_chunks(batch: StoredBatch, index: int) -> list[tuple[int, int]]:
    """The (level, chunk) of every node on leaf ``index``'s path: the leaf and its siblings bottom-up."""
    return sorted({(level, pos // CHUNK) for level, pos in [(0, index), *sibling_positions(batch.leaf_count, index)]})


def read_chunks(connection: Connection, keys: Iterable[tuple[str, int, int]],
                chunks: dict[tuple[str, int, int], bytes]) -> None:
    """Read the tree chunks ``keys`` (batch id, level, chunk) not in ``chunks`` yet into it, in one query."""
    missing = sorted({key for key in keys if key not in chunks})  # not set - chunks.keys(): that copies the keys
    if missing:
        rows = connection.execute(
            select(CHUNKS.c.batch_id, CHUNKS.c.level, CHUNKS.c.chunk, CHUNKS.c.hashes).where(
                tuple_(CHUNKS.c.batch_id, CHUNKS.c.level, CHUNKS.c.chunk).in_(missing))
        ).all()
        chunks.update({(r.batch_id, r.level, r.chunk): r.hashes for r in rows})


def read_leaf_and_path(connection: Connection, batch: StoredBatch, index: int,
                       chunks: dict[tuple[str, int, int], bytes] | None = None) -> tuple[bytes, list[bytes]]:
    """Leaf ``index`` of ``batch`` and its siblings bottom-up (RFC 4998 §4.2), with at most one query.

    ``chunks`` keeps the chunks read, by (batch id, level, chunk), for the next leaves (a chunk never changes once
    written): the leaves of one batch share their upper chunks, and neighbours their level-0 one."""
    size = len(batch.root)
    chunks = {} if chunks is None else chunks
    read_chunks(connection, [(batch.id, level, chunk) for level, chunk in path_chunks(batch, index)], chunks)
    values = []
    for level, pos in [(0, index), *sibling_positions(batch.leaf_count, index)]:
        data = chunks.get((batch.id, level, pos // CHUNK))
        offset = (pos % CHUNK) * size
        if data is None or offset + size > len(data):
            raise LookupError(f"seal batch {batch.id}: tree node ({level}, {pos}) is missing")
        values.append(bytes(data[offset:offset + size]))
    return values[0], values[1:]


def load_batch(connection: Connection, batch_id: str) -> StoredBatch:
    row = connection.execute(select(BATCHES).where(BATCHES.c.id == batch_id)).one()
    return StoredBatch.from_row(row)


def initial_batch_of(connection: Connection, seal_seq: int) -> StoredBatch | None:
    """The initial batch covering deposit ``seal_seq``, or None while it waits to be sealed."""
    row = connection.execute(
        select(BATCHES).where(BATCHES.c.kind == INITIAL, BATCHES.c.first_seq <= seal_seq)
        .order_by(BATCHES.c.first_seq.desc()).limit(1)
    ).first()
    if row is None or row.last_seq < seal_seq:
        return None
    return StoredBatch.from_row(row)


def initial_batches_between(connection: Connection, low: int, high: int) -> list[StoredBatch]:
    """The initial batches covering any deposit from ``low`` to ``high``, in seal order (two indexed queries)."""
    first = initial_batch_of(connection, low)
    rows = connection.execute(select(BATCHES).where(
        BATCHES.c.kind == INITIAL, BATCHES.c.first_seq > low, BATCHES.c.first_seq <= high)
        .order_by(BATCHES.c.first_seq)).all()
    return ([first] if first is not None else []) + [StoredBatch.from_row(row) for row in rows]


def chain_renewals_many(connection: Connection, chain_ids: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
    """(timestamp-renewal batch id, leaf index) of every renewal of each chain of ``chain_ids``, oldest first."""
    found: dict[str, list[tuple[str, int]]] = {chain_id: [] for chain_id in chain_ids}
    for i in range(0, len(chain_ids), 500):
        for r in connection.execute(
                select(LINKS.c.chain_id, LINKS.c.renewal_id, LINKS.c.leaf_index)
                .where(LINKS.c.chain_id.in_(chain_ids[i:i + 500])).order_by(LINKS.c.chain_id, LINKS.c.renewal_id)):
            found[r.chain_id].append((r.renewal_id, r.leaf_index))
    return found


def chain_renewals(connection: Connection, chain_id: str) -> list[tuple[str, int]]:
    """(timestamp-renewal batch id, leaf index) of every renewal of chain ``chain_id``, oldest first."""
    return chain_renewals_many(connection, [chain_id])[chain_id]


def any_hash_tree_renewal(connection: Connection) -> bool:
    return connection.execute(select(BATCHES.c.id).where(BATCHES.c.kind == HASH_TREE_RENEWAL).limit(1)).first() \
        is not None


def next_hash_tree_renewal(connection: Connection, seal_seq: int, after_id: str) -> tuple[str, int] | None:
    """The first hash-tree renewal batch created after ``after_id`` that covers deposit ``seal_seq``."""
    row = connection.execute(
        select(MEMBERS.c.batch_id, MEMBERS.c.leaf_index)
        .where(MEMBERS.c.seal_seq == seal_seq, MEMBERS.c.batch_id > after_id)
        .order_by(MEMBERS.c.batch_id).limit(1)
    ).first()
    return (row.batch_id, row.leaf_index) if row else None


def member_content_hash(connection: Connection, batch_id: str, leaf_index: int) -> bytes | None:
    """The content hash a hash-tree renewal kept for leaf ``leaf_index`` renewed as a data group, or None."""
    value = connection.execute(select(MEMBERS.c.content_hash).where(
        MEMBERS.c.batch_id == batch_id, MEMBERS.c.leaf_index == leaf_index)).scalar()
    return None if value is None else bytes(value)
