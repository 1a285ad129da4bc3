"""The journal as a Merkle log in the database: canonical leaves, stored hashes, append-only tables."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DatabaseError

from vault.db.engine import make_engine
from vault.db.migrate import upgrade
from vault.db.tables import JournalEntry
from vault.journal.entries import AccessEvent, Action
from vault.journal.canonical import canonical_json
from vault.journal.log import ENTRIES_BEFORE_0017, StoredHashes, columns_match, journal_root, journal_size
from vault.journal.merkle import inclusion_proof, leaf_hash, root_from_leaves, verify_inclusion

ENTRIES = JournalEntry.__table__


def rows(vault):
    with vault.reader.connect() as connection:
        return [dict(r) for r in connection.execute(select(ENTRIES).order_by(ENTRIES.c.seq)).mappings()]


def test_stored_hashes_give_the_root_of_the_canonical_leaves(depositor, vault):
    ids = [depositor.deposit(f"proof {i}".encode(), case_ref=f"J-{i}").json()["id"] for i in range(5)]
    for object_id in ids:
        depositor.get(f"/v1/objects/{object_id}")
    entries = rows(vault)
    assert len(entries) >= 11
    for row in entries:
        assert columns_match(row)  # the columns say what the leaf says
        document = json.loads(row["entry"])
        assert document["seq"] == row["seq"] and document["action"] == row["action"]
        assert row["entry"] == canonical_json(document)
    with vault.reader.connect() as connection:
        size = journal_size(connection)
        root = journal_root(connection, size)
        hashes = StoredHashes(connection)
        for index in (0, size // 2, size - 1):
            proof = inclusion_proof(index, size, hashes.hash_at)
            verify_inclusion(index, size, leaf_hash(entries[index]["entry"]), proof, root)
    assert size == len(entries)
    assert root == root_from_leaves([leaf_hash(r["entry"]) for r in entries])


@pytest.mark.parametrize("statement", [
    "UPDATE journal_entries SET actor = 'mallory' WHERE seq = 0",
    "DELETE FROM journal_entries WHERE seq = 0",
    "UPDATE journal_hashes SET idx = idx + 1000",
    "DELETE FROM journal_hashes",
])
def test_journal_tables_refuse_update_and_delete(depositor, vault, statement):
    depositor.deposit(b"something to journal")
    # enough entries for a stored hash (level 8: one per 256 leaves); SQLite's row triggers need a row to refuse
    vault.journal.record_many([AccessEvent(actor="k1", action=Action.LIST)] * 256).result(30)
    before = rows(vault), stored_hashes(vault)
    assert before[1]
    with pytest.raises(DatabaseError, match="append-only"):
        with vault.writer_engine.begin() as connection:
            connection.execute(text(statement))
    assert (rows(vault), stored_hashes(vault)) == before


def stored_hashes(vault):
    with vault.reader.connect() as connection:
        return connection.execute(text("SELECT level, idx, hash FROM journal_hashes ORDER BY level, idx")).all()


def test_migration_0003_builds_the_tree_of_older_entries(database_url, tmp_path):
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0002")
        old = ENTRIES_BEFORE_0017  # its entry column comes with 0003
        at = datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=timezone.utc)
        with engine.begin() as connection:
            for seq in range(9):
                connection.execute(insert(old).values(seq=seq, at=at, actor="k1", role="depositor", tenant="acme",
                                                      action="deposit", object_ids=[f"o{seq}"], outcome="ok",
                                                      request_id=None, detail={"n": seq}))
        upgrade(engine)
        with engine.connect() as connection:
            stored = [dict(r) for r in connection.execute(select(ENTRIES).order_by(ENTRIES.c.seq)).mappings()]
            root = journal_root(connection, 9)
        assert [json.loads(r["entry"])["detail"] for r in stored] == [{"n": n} for n in range(9)]
        assert json.loads(stored[0]["entry"])["time"] == "2026-01-02T03:04:05.678900Z"
        assert root == root_from_leaves([leaf_hash(r["entry"]) for r in stored])
    finally:
        engine.dispose()
