"""Appending to the journal's Merkle tree from its right edge, and the writer's direct executemany."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.exc import IntegrityError

from tests.conftest import fresh_pg_database
from vault.db.engine import make_engine
from vault.db.migrate import upgrade
from vault.db.tables import JournalEntry
from vault.db.types import JSONDocument, SQLiteTimestamp, UTCDateTime
from vault.db.multirow import execute_many
from vault.db.writer import BatchWriter
from vault.journal.entries import AccessEvent, Action, append_entry
from vault.journal.log import LogAppender, StoredHashes, journal_root, journal_size, lock_appends, right_edge
from vault.journal.merkle import leaf_hash, new_stored_hashes, root_from_leaves, tree_hash

ENTRIES = JournalEntry.__table__


def test_the_right_edge_is_the_power_of_two_decomposition_of_the_tree():
    for size in range(0, 600):
        start = 0
        for level, index in right_edge(size):
            assert index << level == start  # consecutive complete subtrees, largest first
            start += 1 << level
        assert start == size
        assert [level for level, _ in right_edge(size)] == sorted({lvl for lvl in range(12) if size >> lvl & 1},
                                                                    reverse=True)


def test_an_appender_resumed_at_any_size_builds_the_same_tree():
    rng = random.Random(5)
    entries = [rng.randbytes(rng.randrange(1, 80)) for _ in range(800)]
    stored: dict[tuple[int, int], bytes] = {}
    reference = []
    for index, entry in enumerate(entries):
        rows = new_stored_hashes(index, leaf_hash(entry), lambda level, n: stored[(level, n)])
        stored.update({(level, n): value for level, n, value in rows})
        reference.append(rows)
    for cut in (0, 1, 2, 7, 8, 100, 255, 256, 257, 299, 511, 512, 799):
        appender = LogAppender(cut, [stored[key] for key in right_edge(cut)])
        for index in range(cut, len(entries)):
            seq, rows = appender.append(entries[index])
            assert seq == index
            # only levels 8, 16, … are stored: here the leaves 255, 511 and 767 complete one
            assert [(r["level"], r["idx"], r["hash"]) for r in rows] == [
                (level, n, value) for level, n, value in reference[index] if level == 8]
            assert bool(rows) == (index % 256 == 255)
    assert tree_hash(len(entries), lambda level, n: stored[(level, n)]) == \
        root_from_leaves([leaf_hash(e) for e in entries])


def _journal_engine(database_url, tmp_path):
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url, writer=True)
    upgrade(engine)
    return engine


def _event(n: int) -> AccessEvent:
    return AccessEvent(actor="k1", role="auditor", tenant="acme", action=Action.READ_METADATA,
                       object_ids=(f"o{n}",), request_id=f"r{n}")


def test_a_unit_that_fails_after_appending_leaves_no_gap_and_no_stray_hash(database_url, tmp_path):
    """The right edge lives in memory for a batch; a unit rolled back on the safe path must take its leaves
    with it, and the units after it must append from the tree as committed."""
    engine = _journal_engine(database_url, tmp_path)
    at = datetime(2026, 11, 29, 12, tzinfo=timezone.utc)

    def failing(connection):
        ghost = AccessEvent(actor="k1", action=Action.READ_METADATA, object_ids=("ghost",))
        append_entry(connection, ghost, at)
        append_entry(connection, ghost, at)
        raise RuntimeError("refused after appending")

    writer = BatchWriter(engine, max_batch=100)
    try:
        writer.run(lambda c: [append_entry(c, _event(n), at) for n in range(5)])  # a committed tree to resume
        gate = threading.Event()
        writer.submit(lambda c: gate.wait(5))  # holds the writer: the next units share one batch
        futures = [writer.submit(lambda c, n=n: append_entry(c, _event(n), at)) for n in (5, 6)]
        futures.append(writer.submit(failing))
        futures += [writer.submit(lambda c, n=n: append_entry(c, _event(n), at)) for n in (7, 8, 9)]
        gate.set()
        results = []
        for future in futures:
            try:
                results.append(future.result(10))
            except RuntimeError:
                results.append("failed")
        assert results == [5, 6, "failed", 7, 8, 9]
        writer.run(lambda c: [append_entry(c, _event(n), at) for n in (10, 11)])  # a later batch resumes right
    finally:
        writer.close()
    with engine.connect() as connection:
        rows = connection.execute(select(ENTRIES.c.seq, ENTRIES.c.entry).order_by(ENTRIES.c.seq)).all()
        assert [r.seq for r in rows] == list(range(12))
        assert all(b"ghost" not in bytes(r.entry) for r in rows)
        size = journal_size(connection)
        assert journal_root(connection, size) == root_from_leaves([leaf_hash(bytes(r.entry)) for r in rows])
        hashes = StoredHashes(connection)
        for level in range(size.bit_length()):  # every subtree hash is that of its leaves: nothing of the failed unit
            width = 1 << level
            for index in range(size // width):
                assert hashes.hash_at(level, index) == root_from_leaves(
                    [leaf_hash(bytes(r.entry)) for r in rows[index * width:(index + 1) * width]])
    engine.dispose()


@pytest.fixture
def pg_database_url():
    """PostgreSQL only (the advisory lock is PostgreSQL's): a fresh database, not the SQLite/PostgreSQL pair."""
    with fresh_pg_database() as url:
        yield url


@pytest.mark.postgres
def test_the_size_read_with_the_append_lock_sees_what_the_previous_holder_committed(pg_database_url, tmp_path):
    """lock_appends sends the BEGIN, the advisory lock and the size read in one round trip: the read must still
    run after the lock is granted (its own snapshot), so a second process appends after the first's entries."""
    database_url = pg_database_url
    engine = _journal_engine(database_url, tmp_path)
    other = make_engine(database_url, writer=True)
    at = datetime(2026, 11, 29, 12, tzinfo=timezone.utc)
    try:
        with engine.begin() as first:
            lock_appends(first, 7)
            assert [append_entry(first, _event(n), at) for n in range(3)] == [0, 1, 2]
            found = []
            waiting = threading.Thread(target=lambda: found.append(_second_append(other, at)))
            waiting.start()
            waiting.join(0.5)
            assert waiting.is_alive()  # blocked on the lock, its size read queued behind it
        waiting.join(10)
        assert found == [3]  # not 0: the read's snapshot was taken once the lock was held
    finally:
        other.dispose()
        engine.dispose()


def _second_append(engine, at) -> int:
    with engine.begin() as connection:
        lock_appends(connection, 7)
        return append_entry(connection, _event(3), at)


META = MetaData()
SAMPLES = Table("samples", META, Column("id", Integer, primary_key=True, autoincrement=False),
                Column("at", UTCDateTime()), Column("doc", JSONDocument), Column("blob", LargeBinary),
                Column("label", String(20)))


@pytest.mark.parametrize("count", [6, 16, 300])  # one executemany; one 16-row statement; 256 + 32 rows, then 12
def test_direct_executemany_stores_exactly_what_sqlalchemy_stores(database_url, tmp_path, count):
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url, writer=True)
    META.create_all(engine)
    at = datetime(2026, 11, 29, 8, 30, 1, 5, tzinfo=timezone(timedelta(hours=1)))
    shared = at + timedelta(days=1)  # one object for several rows, as the rows of one unit share their time
    rows = [{"id": n, "at": None if n == 3 else shared if n % 3 == 1 else at + timedelta(microseconds=n),
             "doc": {"n": n, "é": [n, None]},
             "blob": bytes(range(n % 256)), "label": None if n % 2 else f"l{n}"} for n in range(count)]
    statement = insert(SAMPLES)
    with engine.begin() as connection:
        execute_many(connection, statement, rows)
        connection.execute(statement, [{**row, "id": row["id"] + 1000} for row in rows])
    with engine.connect() as connection:
        raw = connection.execute(text("SELECT id, at, doc, blob, label FROM samples ORDER BY id")).all()
        typed = connection.execute(select(SAMPLES).order_by(SAMPLES.c.id)).mappings().all()
    direct, through_sqlalchemy = raw[:count], raw[count:]
    assert [r[0] for r in direct] == list(range(count))
    assert [tuple(r)[1:] for r in direct] == [tuple(r)[1:] for r in through_sqlalchemy]
    assert [dict(r) for r in typed[:count]] == rows  # and it reads back as written (aware UTC timestamps)
    engine.dispose()


def test_a_failing_row_fails_its_whole_multi_row_statement(tmp_path):
    """The writer's fast path relies on it: a duplicate key anywhere raises, and the batch is replayed safely."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", writer=True)
    META.create_all(engine)
    rows = [{"id": n % 200, "blob": b"x"} for n in range(300)]  # ids 0-99 twice, inside the first 256-row statement
    with pytest.raises(IntegrityError):
        with engine.begin() as connection:
            execute_many(connection, insert(SAMPLES), rows)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM samples")).scalar() == 0
    engine.dispose()


def test_a_statement_the_driver_cannot_take_positionally_goes_through_sqlalchemy(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", writer=True)
    META.create_all(engine)
    fixed = insert(SAMPLES).values(label="fixed")  # a literal value: not one parameter per row key
    with engine.begin() as connection:
        execute_many(connection, fixed, [{"id": 1, "blob": b"a"}, {"id": 2, "blob": b"b"}])
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, label FROM samples ORDER BY id")).all() == [(1, "fixed"), (2, "fixed")]
    engine.dispose()


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)))
def test_sqlite_timestamps_are_the_text_sqlalchemy_writes_and_read_back(value):
    dialect = sqlite.dialect()
    ours = SQLiteTimestamp().bind_processor(dialect)(value)
    assert ours == DATETIME().bind_processor(dialect)(value)
    assert SQLiteTimestamp().result_processor(dialect, None)(ours) == value
    assert DATETIME().result_processor(dialect, None)(ours) == value


def test_record_many_appends_consecutive_entries_in_one_answer(vault):
    seqs = vault.journal.record_many([_event(n) for n in range(5)]).result(10)
    assert seqs == list(range(seqs[0], seqs[0] + 5))
