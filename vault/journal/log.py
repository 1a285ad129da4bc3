"""The journal as an RFC 6962 Merkle log stored in the database.

Leaf ``seq`` is the RFC 8785 canonical JSON of entry ``seq``, kept verbatim in ``journal_entries.entry`` beside
the columns queries select on (``seq``, ``at``, ``actor``, ``action``); everything else is read from the bytes.
``journal_hashes`` keeps, in the same transaction as the entries, the hashes of the complete subtrees at levels
8, 16, 24, … — exactly what the tlog tiles of level ≥ 1 publish (c2sp.org/tlog-tiles), one row per 256 leaves.
Any other subtree hash is folded on demand from the nearest stored level below it, or from the entries
themselves: at most one tile (256 entries or stored hashes) read and 255 hashes computed per 8 levels, so a tree
of any committed size, its tiles and its proofs are read without re-hashing the log. Appends happen only in the
single database writer, which keeps the right edge of the tree in memory between its transactions.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from hashlib import sha256 as _sha256
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, column, func, insert, select, table, update

from vault.db.tables import JournalEntry, JournalHash
from vault.db.pipeline import first_values
from vault.db.types import JSONDocument, UTCDateTime
from vault.db.writer import carried
from vault.journal.tiles import HEIGHT, WIDTH
from vault_verify.canonical import canonical_json
from vault_verify.merkle import leaf_hash, node_hash, tree_hash

ENTRIES = JournalEntry.__table__
HASHES = JournalHash.__table__
ENTRY_VERSION = 1
_APPENDER = "vault.journal.appender"
_LOCKED_SIZE = "vault.journal.locked_size"  # (transaction, committed size read under the append lock)
_LAST_SEQ = "SELECT max(seq) FROM journal_entries"
INSERT_HASH = insert(HASHES)
# journal_entries as migrations 0001-0016 made it: every field of an entry as a column (for migrations and tests)
ENTRIES_BEFORE_0017 = table(
    "journal_entries", column("seq"), column("at", UTCDateTime()), column("actor"), column("role"), column("tenant"),
    column("action"), column("object_ids", JSONDocument), column("outcome"), column("request_id"),
    column("detail", JSONDocument), column("entry"))


def entry_time(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (remembered for the last ``at``: the entries of a batch share it)."""
    global _last_time
    last = _last_time
    if last[0] is at:
        return last[1]
    text = at.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    _last_time = (at, text)
    return text


_last_time: tuple[Any, str] = (None, "")


def entry_document(seq: int, time: str, actor: str, role: str | None, tenant: str | None, action: str,
                   objects: list[str], outcome: str, request_id: str | None, detail: dict[str, Any]) -> dict:
    """Entry schema version 1 (docs/journal.md); ``time`` as :func:`entry_time` writes it."""
    return {"v": ENTRY_VERSION, "seq": seq, "time": time, "actor": actor, "role": role, "tenant": tenant,
            "action": action, "objects": objects, "outcome": outcome, "request_id": request_id, "detail": detail}


_STRICT = orjson.OPT_STRICT_INTEGER  # integers beyond 2^53 are refused, as RFC 8785 §3.2.2.3 (I-JSON) wants
_OPTIONAL = (str, type(None))


def entry_json(seq: int, time: str, actor: str, role: str | None, tenant: str | None, action: str,
               objects: list[str], outcome: str, request_id: str | None, detail: dict[str, Any]) -> bytes:
    """``canonical_json(entry_document(...))``, made in one C call for the usual entry: no detail, every field a
    plain string (or None where allowed), and nothing to escape. Its members are written in RFC 8785 §3.2.3 order
    (all ASCII names, so code-unit order is byte order); strings needing no escape are written verbatim by both,
    and any backslash in the output means one did, so that entry takes the general path — as does any other."""
    if type(detail) is dict and not detail and type(seq) is int and type(time) is str and type(actor) is str \
            and type(action) is str and type(outcome) is str and type(role) in _OPTIONAL \
            and type(tenant) in _OPTIONAL and type(request_id) in _OPTIONAL and type(objects) is list \
            and all([type(name) is str for name in objects]):
        try:
            out = orjson.dumps({"action": action, "actor": actor, "detail": {}, "objects": objects, "outcome": outcome,
                                "request_id": request_id, "role": role, "seq": seq, "tenant": tenant, "time": time,
                                "v": ENTRY_VERSION}, option=_STRICT)
        except orjson.JSONEncodeError:  # a lone surrogate, an integer out of range: the general path says which
            pass
        else:
            if b"\\" not in out:
                return out
    return canonical_json(entry_document(seq, time, actor, role, tenant, action, objects, outcome, request_id,
                                         detail))


def entry_bytes(row: dict[str, Any]) -> bytes:
    """The canonical bytes of an entry given all its fields (as rows held them before migration 0017)."""
    return canonical_json(entry_document(
        row["seq"], entry_time(row["at"]), row["actor"], row["role"], row["tenant"], row["action"],
        list(row["object_ids"]), row["outcome"], row["request_id"], row["detail"]))


def entry_objects(entry: bytes) -> list:
    """The object ids an entry names (its ``objects``); none if its bytes are not an entry."""
    try:
        document = json.loads(bytes(entry))
    except ValueError:
        return []
    objects = document.get("objects") if isinstance(document, dict) else None
    return objects if isinstance(objects, list) else []


def columns_match(row: dict[str, Any]) -> bool:
    """Whether a ``journal_entries`` row's columns (seq, time, actor, action) say what its entry bytes say."""
    try:
        document = json.loads(bytes(row["entry"]))
    except ValueError:
        return False
    return isinstance(document, dict) and document.get("seq") == row["seq"] and \
        document.get("time") == entry_time(row["at"]) and document.get("actor") == row["actor"] and \
        document.get("action") == row["action"]


def is_stored(level: int) -> bool:
    """Whether ``journal_hashes`` keeps the complete subtrees of ``level``: 8, 16, 24, … (tile levels ≥ 1)."""
    return level >= HEIGHT and level % HEIGHT == 0


class StoredHashes:
    """``hash_at(level, index)`` of any complete subtree of the committed log: levels 8, 16, … read from
    ``journal_hashes``, leaves hashed from the entries, each a tile (256 values) per query; the levels in
    between folded from them, only as far as asked. Everything read or folded is kept for the next call."""

    def __init__(self, connection: Connection):
        self._connection = connection
        self._cache: dict[tuple[int, int], bytes] = {}

    def hash_at(self, level: int, index: int) -> bytes:
        key = (level, index)
        found = self._cache.get(key)
        if found is not None:
            return found
        if level % HEIGHT:
            found = node_hash(self.hash_at(level - 1, 2 * index), self.hash_at(level - 1, 2 * index + 1))
        else:
            self._read_tile(level, index >> HEIGHT << HEIGHT)
            found = self._cache.get(key)
            if found is None:
                raise LookupError(f"no complete subtree at level {level} index {index} in the committed log")
        self._cache[key] = found
        return found

    def many(self, keys: list[tuple[int, int]]) -> list[bytes]:
        return [self.hash_at(level, index) for level, index in keys]

    def _read_tile(self, level: int, first: int) -> None:
        """The hashes at tile ``level`` (0: the leaves, else a stored level) from index ``first``, up to 256."""
        if level == 0:
            row = [leaf_hash(entry) for entry in entry_range(self._connection, first, WIDTH)]
        else:
            row = stored_range(self._connection, level, first, WIDTH)
        self._cache.update(((level, n), value) for n, value in enumerate(row, first))


def right_edge(size: int) -> list[tuple[int, int]]:
    """The complete subtrees whose hashes make up the right edge of a tree of ``size`` leaves (RFC 6962 §2.1's
    left-to-right decomposition into powers of two), largest first: ``(level, index)`` for each bit set."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]


class LogAppender:
    """Appends leaves in a transaction, keeping the right edge of the tree in memory.

    Each append costs one leaf hash plus one node hash per subtree it completes, and no query; one append in 256
    yields a row for ``journal_hashes``. Within a transaction the same appender serves every append. The
    database writer also carries it from one committed transaction to the next (:func:`vault.db.writer.carried`),
    and each transaction takes it over only if the committed log still has its size: another process may have
    appended in between (PostgreSQL). A unit or transaction that rolls back takes it away (vault.db.writer).
    """

    def __init__(self, size: int = 0, edge: list[bytes] | None = None):
        self.size = size
        self._edge = list(edge or [])

    @classmethod
    def of(cls, connection: Connection) -> "LogAppender":
        """The transaction's appender: on first use, the writer's carried one if it matches the committed log,
        else one resumed from the committed tree."""
        transaction = connection.get_transaction()
        held = connection.info.get(_APPENDER)
        if held is not None and held[0] is transaction:
            return held[1]
        locked = connection.info.pop(_LOCKED_SIZE, None)
        size = locked[1] if locked is not None and locked[0] is transaction else journal_size(connection)
        state = carried(connection)
        appender = state.get(_APPENDER) if state is not None else None
        if appender is None or appender.size != size:
            appender = cls(size, StoredHashes(connection).many(right_edge(size)))
        connection.info[_APPENDER] = (transaction, appender)
        if state is not None:
            state[_APPENDER] = appender
        return appender

    def append(self, entry: bytes) -> tuple[int, list[dict[str, Any]]]:
        """Leaf ``size`` for ``entry``: its index and the ``journal_hashes`` rows it completes (levels 8, 16, …).

        RFC 6962 §2.1 folded from the right edge: each subtree the new leaf closes is hashed with the edge's
        lowest hash, its left sibling (what :func:`vault_verify.merkle.new_stored_hashes` does, inlined)."""
        index, edge = self.size, self._edge
        current = _sha256(b"\x00" + entry).digest()
        stored = []
        level, n = 0, index
        while n & 1:
            current = _sha256(b"\x01" + edge.pop() + current).digest()
            level, n = level + 1, n >> 1
            if level % HEIGHT == 0:
                stored.append({"level": level, "idx": n, "hash": current})
        edge.append(current)
        self.size = index + 1
        return index, stored


def journal_size(connection: Connection) -> int:
    """Entries in the committed log (the writer asks at every batch: plain SQL, no statement to compile)."""
    last = connection.exec_driver_sql(_LAST_SEQ).scalar()
    return 0 if last is None else last + 1


def lock_appends(connection: Connection, key: int) -> None:
    """PostgreSQL: serialize journal appends across processes (advisory lock ``key``, held until the transaction
    ends), and read the committed log's size after it, for this transaction's first append: the ``BEGIN``, the
    lock and the read in one round trip (vault.db.pipeline) instead of three. The read is its own statement, with
    a snapshot taken once the lock is held, so it sees every append committed before."""
    _, last = first_values(connection, [("SELECT pg_advisory_xact_lock(%s)", (key,)), (_LAST_SEQ, ())])
    connection.info[_LOCKED_SIZE] = (connection.get_transaction(), 0 if last is None else last + 1)


def action_count(connection: Connection, action: str) -> int:
    """Entries recording ``action`` (an index scan of ``ix_journal_action``: cheap for rare actions)."""
    return connection.execute(select(func.count()).select_from(ENTRIES).where(ENTRIES.c.action == action)).scalar_one()


def entries_of(connection: Connection, action: str) -> list[tuple[int, bytes]]:
    """(seq, canonical bytes) of the entries recording ``action``, oldest first (``ix_journal_action``: cheap for
    rare actions such as the journal key changes)."""
    return [(seq, bytes(entry)) for seq, entry in connection.execute(
        select(ENTRIES.c.seq, ENTRIES.c.entry).where(ENTRIES.c.action == action).order_by(ENTRIES.c.seq))]


def journal_root(connection: Connection, size: int, hashes: StoredHashes | None = None) -> bytes:
    return tree_hash(size, (hashes or StoredHashes(connection)).hash_at)


def backfill_journal(connection: Connection) -> None:
    """Give entries written before the log existed their canonical bytes and stored hashes (migration 0003)."""
    old = ENTRIES_BEFORE_0017
    rows = connection.execute(select(*[c for c in old.c if c.name != "entry"]).order_by(old.c.seq)).mappings().all()
    appender = LogAppender()
    for expected, row in enumerate(rows):
        if row["seq"] != expected:
            raise RuntimeError(f"journal has a gap at {expected}: cannot build its Merkle tree")
        data = entry_bytes(dict(row))
        connection.execute(update(old).where(old.c.seq == row["seq"]).values(entry=data))
        stored = appender.append(data)[1]
        if stored:
            connection.execute(INSERT_HASH, stored)


def stored_range(connection: Connection, level: int, start: int, count: int) -> list[bytes]:
    """``journal_hashes`` rows at stored ``level`` with indexes ``start … start+count-1``: the run without a gap
    from ``start``, shorter when the tree is smaller."""
    rows = connection.execute(_STORED_RANGE, {"level": level, "start": start, "end": start + count}).all()
    return _run_from(start, rows)


# built once: building the statement cost more than running it (SQLAlchemy then reuses its compiled form)
_STORED_RANGE = (select(HASHES.c.idx, HASHES.c.hash).where(HASHES.c.level == bindparam("level"))
                 .where(HASHES.c.idx >= bindparam("start")).where(HASHES.c.idx < bindparam("end"))
                 .order_by(HASHES.c.idx))
_ENTRY_RANGE = (select(ENTRIES.c.seq, ENTRIES.c.entry).where(ENTRIES.c.seq >= bindparam("start"))
                .where(ENTRIES.c.seq < bindparam("end")).order_by(ENTRIES.c.seq))


def _run_from(start: int, rows) -> list[bytes]:
    """The values of ``(position, value)`` rows at ``start``, ``start+1``, … up to the first missing one."""
    out = []
    for expected, (position, value) in enumerate(rows, start):
        if position != expected:
            break
        out.append(bytes(value))
    return out


def hash_range(connection: Connection, level: int, start: int, count: int) -> list[bytes]:
    """The complete subtree hashes at a tile level (0, 8, 16, …) with indexes ``start … start+count-1``, fewer
    when the tree is smaller: the leaf hashes of the entries at level 0, stored rows above."""
    if level == 0:
        return [leaf_hash(entry) for entry in entry_range(connection, start, count)]
    if not is_stored(level):
        raise ValueError(f"level {level} is not a tile level")
    return stored_range(connection, level, start, count)


def entry_range(connection: Connection, start: int, count: int) -> list[bytes]:
    """Entries ``start … start+count-1``: the run without a gap from ``start``, shorter when the log is."""
    rows = connection.execute(_ENTRY_RANGE, {"start": start, "end": start + count}).all()
    return _run_from(start, rows)
