"""Signed checkpoints, and the audit of a live journal that catches direct SQL edits (``vault journal verify``)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from sqlalchemy import text

from tests.conftest import ROOT
from vault.journal.audit import audit_journal
from vault.journal.note import Verifier, open_checkpoint


@pytest.fixture
def journal(depositor, vault, admin):
    """A journal with a few dozen entries and two signed checkpoints."""
    ids = [depositor.deposit(f"audited {i}".encode(), case_ref=f"A-{i}").json()["id"] for i in range(6)]
    assert vault.checkpointer.checkpoint_now() is not None
    for object_id in ids:
        depositor.get(f"/v1/objects/{object_id}")
    assert vault.checkpointer.checkpoint_now() is not None
    assert vault.checkpointer.checkpoint_now() is None  # nothing new: no new checkpoint
    return vault


def tamper(vault, *statements: str) -> None:
    """What an attacker with database access would do: drop the triggers, then edit."""
    with vault.writer_engine.begin() as connection:
        if vault.writer_engine.dialect.name == "sqlite":
            for table in ("journal_entries", "journal_hashes", "journal_checkpoints"):
                for verb in ("update", "delete"):
                    connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
        else:
            for table in ("journal_entries", "journal_hashes", "journal_checkpoints"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
        for statement in statements:
            connection.execute(text(statement))


def audit(vault):
    return audit_journal(vault.reader, vault.checkpointer.signer.verifier)


def test_checkpoint_endpoint_and_key(journal, admin):
    note = admin.get("/journal/checkpoint")
    assert note.status_code == 200 and note.headers["content-type"].startswith("text/plain")
    vkey = admin.get("/v1/journal/key").text.strip()
    checkpoint = open_checkpoint(note.content, Verifier.parse(vkey))
    assert checkpoint.origin == "vault.local/journal" and checkpoint.size >= 12


def test_only_auditors_and_admins_read_the_journal(journal, depositor, admin):
    assert depositor.get("/journal/checkpoint").status_code == 403
    auditor = admin.as_key(admin.new_key("auditor", "*"))
    assert auditor.get("/v1/journal/key").status_code == 200


def test_an_untouched_journal_verifies(journal):
    report = audit(journal)
    assert report.ok, report.problems
    assert report.checkpoints == 2 and report.size >= 12


def test_editing_an_entry_column_is_caught_at_its_index(journal):
    tamper(journal, "UPDATE journal_entries SET actor = 'mallory' WHERE seq = 4")
    report = audit(journal)
    assert not report.ok and report.first_bad_index == 4
    assert "columns differ" in report.problems[0]


def test_entry_bytes_that_are_not_an_entry_are_caught_at_their_index(journal):
    tamper(journal, f"UPDATE journal_entries SET entry = {sql_bytes(journal, b'not json')} WHERE seq = 5",
           f"UPDATE journal_entries SET entry = {sql_bytes(journal, b'[1, 2]')} WHERE seq = 7")
    report = audit(journal)
    assert not report.ok and report.first_bad_index == 5
    assert [p.split(":")[0] for p in report.problems[:2]] == ["entry 5", "entry 7"]


def test_rewriting_entry_bytes_and_hashes_together_is_caught_by_the_signed_root(journal):
    from sqlalchemy import select

    from vault.db.tables import JournalEntry
    from vault.journal.canonical import canonical_json
    from vault.journal.merkle import leaf_hash, new_stored_hashes

    table = JournalEntry.__table__
    with journal.reader.connect() as connection:
        rows = [dict(r) for r in connection.execute(select(table).order_by(table.c.seq)).mappings()]
    rows[3]["entry"] = canonical_json({**json.loads(rows[3]["entry"]), "actor": "mallory"})
    hashes: dict = {}
    statements = ["DELETE FROM journal_hashes"]
    for row in rows:
        for level, index, value in new_stored_hashes(row["seq"], leaf_hash(row["entry"]), lambda l, n: hashes[(l, n)]):
            hashes[(level, index)] = value
    statements += [f"INSERT INTO journal_hashes (level, idx, hash) VALUES ({l}, {n}, {sql_bytes(journal, v)})"
                   for (l, n), v in hashes.items()]
    statements.append(f"UPDATE journal_entries SET actor = 'mallory', entry = {sql_bytes(journal, rows[3]['entry'])} WHERE seq = 3")
    tamper(journal, *statements)
    report = audit(journal)
    assert not report.ok
    assert "no longer hash to the signed checkpoint" in report.problems[-1]
    assert report.first_bad_index == 0  # no checkpoint older than the edit still matches: the search starts at 0


def sql_bytes(vault, value: bytes) -> str:
    return f"X'{value.hex()}'" if vault.writer_engine.dialect.name == "sqlite" else f"'\\x{value.hex()}'::bytea"


def test_deleting_the_tail_is_caught(journal):
    report_before = audit(journal)
    tamper(journal, f"DELETE FROM journal_entries WHERE seq >= {report_before.size - 3}",
           # a careful attacker also drops every stored subtree hash that covers a deleted entry
           f"DELETE FROM journal_hashes WHERE ((idx + 1) << level) > {report_before.size - 3}")
    report = audit(journal)
    assert not report.ok and report.first_bad_index == report_before.size - 3
    assert "signed checkpoint says" in " ".join(report.problems)


def test_reordering_two_entries_is_caught(journal):
    tamper(journal, "UPDATE journal_entries SET seq = -1 WHERE seq = 2",
           "UPDATE journal_entries SET seq = 2 WHERE seq = 5",
           "UPDATE journal_entries SET seq = 5 WHERE seq = -1")
    report = audit(journal)
    assert not report.ok and report.first_bad_index == 2


def test_a_forged_checkpoint_signature_is_caught(journal):
    with journal.reader.connect() as connection:
        note = connection.execute(text("SELECT note FROM journal_checkpoints ORDER BY size DESC LIMIT 1")).scalar_one()
    lines = note.split("\n")
    forged_size = int(lines[1]) + 1
    forged = "\n".join([lines[0], str(forged_size)] + lines[2:])
    tamper(journal, f"INSERT INTO journal_checkpoints (size, root, note, created_at) SELECT {forged_size}, root, "
                    f"'{forged}', created_at FROM journal_checkpoints ORDER BY size DESC LIMIT 1")
    report = audit(journal)
    assert not report.ok and "invalid signature" in report.problems[0]


def test_cli_verify_exit_codes(journal, tmp_path):
    data_dir = journal.settings.data_dir
    env = {"PATH": "/usr/bin:/bin", "VAULT_DATABASE_URL": journal.settings.effective_database_url}
    good = subprocess.run([sys.executable, "-m", "vault.cli.main", "journal", "verify", "--data-dir", str(data_dir),
                           "--json"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["ok"] is True
    tamper(journal, "UPDATE journal_entries SET action = 'list' WHERE seq = 1")
    bad = subprocess.run([sys.executable, "-m", "vault.cli.main", "journal", "verify", "--data-dir", str(data_dir)],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert bad.returncode == 1 and "FAILED at index 1" in bad.stderr


def test_tiles_proofs_and_entries(journal, admin):
    from vault.journal.merkle import leaf_hash, verify_consistency, verify_inclusion
    from vault.journal.tiles import split_tile, unbundle_entries

    checkpoint = open_checkpoint(admin.get("/journal/checkpoint").content,
                                 Verifier.parse(admin.get("/v1/journal/key").text))
    size = checkpoint.size
    tile = admin.get(f"/journal/tile/0/000.p/{size}")
    assert tile.status_code == 200
    leaves = split_tile(tile.content, size)
    bundle = unbundle_entries(admin.get(f"/journal/tile/entries/000.p/{size}").content)
    assert [leaf_hash(e) for e in bundle] == leaves
    assert admin.get("/journal/tile/0/000").status_code == 404  # no full tile yet
    assert admin.get("/journal/tile/0/nonsense").status_code == 404
    for index in (0, size - 1):
        proof = admin.get("/v1/journal/proof/inclusion", params={"index": index, "size": size}).json()
        assert base64.b64decode(proof["root"]) == checkpoint.root
        verify_inclusion(index, size, leaves[index], [base64.b64decode(p) for p in proof["proof"]], checkpoint.root)
    consistency = admin.get("/v1/journal/proof/consistency", params={"old": 3, "new": size}).json()
    verify_consistency(3, size, base64.b64decode(consistency["old_root"]), checkpoint.root,
                       [base64.b64decode(p) for p in consistency["proof"]])
    assert admin.get("/v1/journal/proof/inclusion", params={"index": size, "size": size}).status_code == 422
    listed = admin.get("/v1/journal/entries", params={"action": "metadata_read", "limit": 2}).json()
    assert [e["action"] for e in listed["entries"]] == ["metadata_read"] * 2 and listed["next_from"]
    one = listed["entries"][0]["objects"][0]
    assert {e["seq"] for e in admin.get("/v1/journal/entries", params={"object": one}).json()["entries"]} >= {
        listed["entries"][0]["seq"]}
