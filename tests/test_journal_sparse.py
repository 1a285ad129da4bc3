"""The journal stores the subtree hashes of levels 8, 16, … only (one row per 256 leaves); every other hash a tile,
a proof or a root needs is folded from them or from the entries — and gives the same answers."""

from __future__ import annotations

import base64
import random
from datetime import datetime, timezone

import pytest
from sqlalchemy import column, insert, select, table, text

from tests.test_journal_audit import audit, sql_bytes, tamper
from vault.db.engine import make_engine
from vault.db.migrate import downgrade, upgrade
from vault.db.tables import JournalEntry
from vault.journal.entries import AccessEvent, Action
from vault.journal.log import ENTRIES_BEFORE_0017, StoredHashes, entry_range, journal_root, journal_size
from vault.journal.merkle import (consistency_proof, inclusion_proof, leaf_hash, new_stored_hashes,
                                  root_from_leaves, verify_consistency, verify_inclusion)

ENTRIES = JournalEntry.__table__
SIZE = 1100  # four full level-0 tiles and a partial one; levels 8, 9, 10 hold complete subtrees


@pytest.fixture
def long_journal(vault):
    for start in range(0, SIZE, 250):
        vault.journal.record_many([AccessEvent(actor="k1", action=Action.LIST, request_id=f"r{n}")
                                   for n in range(start, min(start + 250, SIZE))]).result(30)
    assert vault.checkpointer.checkpoint_now() is not None
    return vault


def leaves(vault) -> list[bytes]:
    with vault.reader.connect() as connection:
        return [leaf_hash(e) for e in entry_range(connection, 0, 10 ** 6)]


def stored_rows(vault) -> list[tuple[int, int, bytes]]:
    with vault.reader.connect() as connection:
        return [(r.level, r.idx, bytes(r.hash)) for r in
                connection.execute(text("SELECT level, idx, hash FROM journal_hashes ORDER BY level, idx"))]


def test_only_levels_8_16_are_stored_and_every_other_hash_is_folded_right(long_journal):
    hashed = leaves(long_journal)
    size = len(hashed)
    assert size >= SIZE
    assert stored_rows(long_journal) == [(8, n, root_from_leaves(hashed[n * 256:(n + 1) * 256]))
                                         for n in range(size // 256)]
    with long_journal.reader.connect() as connection:
        hashes = StoredHashes(connection)
        for level in range(size.bit_length()):
            width = 1 << level
            for index in range(size // width):
                assert hashes.hash_at(level, index) == root_from_leaves(hashed[index * width:(index + 1) * width])
        with pytest.raises(LookupError):
            hashes.hash_at(8, size // 256)  # not complete yet
        rng = random.Random(8)
        for tree in (1, 255, 256, 257, 511, 512, 1024, size):
            root = journal_root(connection, tree)
            assert root == root_from_leaves(hashed[:tree])
            for index in {0, tree - 1, rng.randrange(tree)}:
                verify_inclusion(index, tree, hashed[index], inclusion_proof(index, tree, hashes.hash_at), root)
            for old in {1, 256, rng.randrange(1, tree + 1)}:
                if old <= tree:
                    verify_consistency(old, tree, root_from_leaves(hashed[:old]), root,
                                       consistency_proof(old, tree, hashes.hash_at))


def test_tiles_of_every_level_come_from_the_folded_and_stored_hashes(long_journal, admin):
    hashed = leaves(long_journal)
    size = journal_size_of(long_journal)
    assert admin.get("/journal/tile/0/001").content == b"".join(hashed[256:512])
    level_one = admin.get(f"/journal/tile/1/000.p/{size // 256}")
    assert level_one.status_code == 200
    assert level_one.content == b"".join(root_from_leaves(hashed[n * 256:(n + 1) * 256]) for n in range(size // 256))
    proof = admin.get("/v1/journal/proof/inclusion", params={"index": 700, "size": size}).json()
    verify_inclusion(700, size, hashed[700], [base64.b64decode(p) for p in proof["proof"]],
                     root_from_leaves(hashed[:size]))


def journal_size_of(vault) -> int:
    with vault.reader.connect() as connection:
        return journal_size(connection)


def test_the_audit_catches_an_edited_a_dropped_and_an_added_stored_hash(long_journal):
    assert audit(long_journal).ok
    rows = stored_rows(long_journal)
    level, index, value = rows[2]
    forged = bytes(32)
    tamper(long_journal, f"UPDATE journal_hashes SET hash = {sql_bytes(long_journal, forged)} "
                         f"WHERE level = {level} AND idx = {index}")
    report = audit(long_journal)
    assert not report.ok and report.first_bad_index == index << level
    assert "does not match the entries" in report.problems[0]
    tamper(long_journal, f"DELETE FROM journal_hashes WHERE level = {level} AND idx = {index}")
    report = audit(long_journal)
    assert not report.ok and report.first_bad_index == index << level
    assert f"stored hash at level 8 index {index} is missing" in report.problems[0]
    tamper(long_journal, f"INSERT INTO journal_hashes (level, idx, hash) VALUES (8, {index}, "
                         f"{sql_bytes(long_journal, value)})",  # put back: the log is whole again
           f"INSERT INTO journal_hashes (level, idx, hash) VALUES (3, 40, {sql_bytes(long_journal, forged)})")
    report = audit(long_journal)
    assert not report.ok and report.first_bad_index == 40 << 3
    assert "the journal keeps none at that level" in report.problems[0]


def test_migration_0016_keeps_the_tile_levels_and_its_downgrade_restores_the_rest(database_url, tmp_path):
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0015")
        at = datetime(2026, 11, 29, 12, tzinfo=timezone.utc)
        entries = [f'{{"n":{n}}}'.encode() for n in range(600)]
        dense: dict[tuple[int, int], bytes] = {}
        for seq, entry in enumerate(entries):
            for level, index, value in new_stored_hashes(seq, leaf_hash(entry), lambda l, n: dense[(l, n)]):
                dense[(level, index)] = value
        with engine.begin() as connection:  # the journal as 0015 stored it: every complete subtree hash
            connection.execute(insert(ENTRIES_BEFORE_0017), [
                {"seq": seq, "at": at, "actor": "k1", "role": None, "tenant": None, "action": "list",
                 "object_ids": [], "outcome": "ok", "request_id": None, "detail": {}, "entry": entry}
                for seq, entry in enumerate(entries)])
            hashes = table("journal_hashes", column("level"), column("idx"), column("hash"))
            connection.execute(insert(hashes), [{"level": l, "idx": n, "hash": v} for (l, n), v in dense.items()])
        upgrade(engine)
        with engine.connect() as connection:
            kept = {(r.level, r.idx) for r in connection.execute(text("SELECT level, idx FROM journal_hashes"))}
            assert kept == {(8, 0), (8, 1)}
            assert journal_root(connection, 600) == root_from_leaves([leaf_hash(e) for e in entries])
        downgrade(engine, "0015")
        with engine.connect() as connection:
            restored = {(r.level, r.idx): bytes(r.hash) for r in
                        connection.execute(text("SELECT level, idx, hash FROM journal_hashes"))}
        assert restored == dense
    finally:
        engine.dispose()


def test_migration_0017_keeps_the_query_columns_and_its_downgrade_refills_the_others(database_url, tmp_path):
    from vault.journal.canonical import canonical_json
    from vault.journal.log import columns_match, entry_objects

    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0016")
        at = datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=timezone.utc)
        rows = [{"seq": n, "at": at, "actor": f"k{n}", "role": "auditor", "tenant": "acme", "action": "metadata_read",
                 "object_ids": [f"o{n}"], "outcome": "ok", "request_id": f"r{n}", "detail": {"n": n}} for n in range(3)]
        for row in rows:
            row["entry"] = canonical_json({"v": 1, "seq": row["seq"], "time": "2026-11-30T01:02:03.456789Z",
                                           "actor": row["actor"], "role": "auditor", "tenant": "acme",
                                           "action": "metadata_read", "objects": row["object_ids"], "outcome": "ok",
                                           "request_id": row["request_id"], "detail": row["detail"]})
        with engine.begin() as connection:
            connection.execute(insert(ENTRIES_BEFORE_0017), rows)
        upgrade(engine)
        with engine.connect() as connection:
            kept = [dict(r) for r in connection.execute(text("SELECT * FROM journal_entries ORDER BY seq")).mappings()]
            assert set(kept[0]) == {"seq", "at", "actor", "action", "entry"}
            typed = [dict(r) for r in connection.execute(select(ENTRIES).order_by(ENTRIES.c.seq)).mappings()]
        assert all(columns_match(r) for r in typed) and [entry_objects(r["entry"]) for r in typed] == [
            ["o0"], ["o1"], ["o2"]]
        downgrade(engine, "0016")
        with engine.connect() as connection:
            back = [dict(r) for r in connection.execute(select(ENTRIES_BEFORE_0017).order_by(ENTRIES_BEFORE_0017.c.seq)).mappings()]
        assert [{k: bytes(v) if k == "entry" else v for k, v in r.items()} for r in back] == rows
    finally:
        engine.dispose()
