"""A deliberate change of the journal signing key (`vault identity accept --previous-journal-key`): checkpoints
before it verify with the old key, after it with the new one, the handover checkpoint carries both, and a
checkpoint signed by a key no entry introduced is refused (vault_verify.journalkeys, docs/journal.md)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from sqlalchemy import insert, select

from tests.conftest import make_settings
from vault.app import Vault
from vault.db.tables import JournalCheckpoint
from vault.journal.checkpoints import load_or_create_signer
from vault.journal.entries import AccessEvent, Action
from vault_verify.journalkeys import Handover, KeySequence, handover_of
from vault_verify.note import Checkpoint, Note, NoteError, Signer, cosign_note, open_checkpoint, sign_note

CHECKPOINTS = JournalCheckpoint.__table__
ROOT = bytes(32)


def _note(size: int, *signers: Signer) -> bytes:
    note = sign_note(Checkpoint(signers[0].name, size, ROOT).text(), signers[0])
    for signer in signers[1:]:
        note = cosign_note(note, signer)
    return note


def test_each_key_opens_only_its_own_range_of_sizes():
    old, new, stranger = (Signer.generate("vault.test") for _ in range(3))
    keys = KeySequence.of(new.verifier, [Handover(9, old.verifier, new.verifier, True)])
    assert open_checkpoint(_note(10, old), keys).size == 10  # the handover size: either key
    assert open_checkpoint(_note(10, new, old), keys).size == 10
    assert len(Note.parse(_note(10, new, old)).verified_by([old.verifier, new.verifier])) == 2
    assert open_checkpoint(_note(4, old), keys).size == 4
    assert open_checkpoint(_note(11, new), keys).size == 11
    with pytest.raises(NoteError, match="no signature by the key valid at tree size 11"):
        open_checkpoint(_note(11, old), keys)  # the replaced key cannot extend the log
    with pytest.raises(NoteError, match="valid at tree size 4"):
        open_checkpoint(_note(4, new), keys)  # nor the new one rewrite what came before
    with pytest.raises(NoteError):
        open_checkpoint(_note(20, stranger), keys)


def test_a_sequence_must_chain_and_end_at_the_trusted_key():
    a, b, c = (Signer.generate("vault.test") for _ in range(3))
    chain = [Handover(3, a.verifier, b.verifier, True), Handover(7, b.verifier, c.verifier, False)]
    sequence = KeySequence.of(c.verifier, chain)
    assert [sequence.valid_at(n) for n in (4, 5, 8, 9)] == [[a.verifier, b.verifier], [b.verifier],
                                                             [b.verifier, c.verifier], [c.verifier]]
    with pytest.raises(NoteError, match="replaced after entry 7"):
        KeySequence.of(b.verifier, chain)
    with pytest.raises(NoteError, match="not one the journal introduced"):
        KeySequence.of(Signer.generate("vault.test").verifier, chain)
    with pytest.raises(NoteError, match="hands over from"):
        KeySequence.of(c.verifier, chain[::-1])
    entry = {"seq": 3, "action": "identity_keys_accepted",
             "detail": {"journal_key": {"old": a.verifier.vkey(), "new": b.verifier.vkey(), "cosigned": True}}}
    assert handover_of(entry) == chain[0]
    assert handover_of({"seq": 1, "action": "identity_keys_accepted", "detail": {"keys": {}}}) is None


def _grow(settings, entries: int) -> None:
    vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    try:
        for _ in range(entries):
            vault.journal.record(AccessEvent(actor="test", action=Action.LIST, tenant="*")).result(30)
            vault.checkpointer.checkpoint_now()
    finally:
        vault.close()


@pytest.mark.parametrize("give", ["private", "vkey"])
def test_rotate_accept_append_and_verify_the_whole_journal(tmp_path, database_url, capsys, monkeypatch, give):
    from vault.cli.main import main

    keys = tmp_path / "keys"
    settings = make_settings(tmp_path, database_url, keys_dir=keys)
    monkeypatch.setenv("VAULT_KEYS_DIR", str(keys))
    monkeypatch.setenv("VAULT_DATABASE_URL", database_url)
    _grow(settings, 3)
    old = load_or_create_signer(keys, settings.journal_origin)
    kept = tmp_path / "previous"
    if give == "private":
        shutil.copy(keys / "journal.key", kept)
    else:
        kept.write_text(old.verifier.vkey() + "\n")
    (keys / "journal.key").unlink()
    new = load_or_create_signer(keys, settings.journal_origin)
    verify = ["journal", "verify", "--data-dir", str(settings.data_dir), "--json"]
    argv = ["identity", "accept", "--data-dir", str(settings.data_dir), "--reason", "rotation", "--yes", "--json"]

    assert main(argv) == 1 and "--previous-journal-key" in capsys.readouterr().err
    (tmp_path / "other").write_text(Signer.generate(settings.journal_origin).verifier.vkey())
    assert main([*argv, "--previous-journal-key", str(tmp_path / "other")]) == 1
    assert "not the one this database recorded" in capsys.readouterr().err
    assert main([*argv, "--previous-journal-key", str(kept)]) == 0
    seq = json.loads(capsys.readouterr().out)["journal_index"]
    _grow(settings, 2)

    assert main(verify) == 0, capsys.readouterr()
    report = json.loads(capsys.readouterr().out)
    assert report["signed_checkpoints"] >= 6 and report["entries"] > seq + 2
    vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    try:
        with vault.reader.connect() as connection:
            notes = dict(connection.execute(select(CHECKPOINTS.c.size, CHECKPOINTS.c.note)).all())
            signers = {size: Note.parse(note.encode()).verified_by([old.verifier, new.verifier])
                       for size, note in notes.items()}
        assert all(found == [old.verifier] for size, found in signers.items() if size <= seq)
        assert signers[seq + 1] == ([old.verifier, new.verifier] if give == "private" else [new.verifier])
        assert all(found == [new.verifier] for size, found in signers.items() if size > seq + 1)
        # a checkpoint by a key no entry introduced is refused, and so is the old key past the handover
        for signer in (Signer.generate(settings.journal_origin), old):
            with vault.writer_engine.begin() as connection:
                size = max(notes) + 1
                note = sign_note(Checkpoint(signer.name, size, ROOT).text(), signer)
                connection.execute(insert(CHECKPOINTS), {"size": size, "root": ROOT, "note": note.decode(),
                                                         "created_at": vault.clock.now()})
                notes[size] = note
    finally:
        vault.close()
    assert main(verify) == 1
    report = json.loads(capsys.readouterr().out)
    assert sum("no signature by the key valid at tree size" in problem for problem in report["problems"]) == 2


def rotate(settings, keys, kept) -> tuple[Signer, Signer]:
    """Replace the journal key in ``keys`` (the old private key kept at ``kept``) and record the change with
    ``vault identity accept --previous-journal-key``, the vault closed; (old, new) signers."""
    from vault.cli.main import main

    old = load_or_create_signer(keys, settings.journal_origin)
    shutil.copy(keys / "journal.key", kept)
    (keys / "journal.key").unlink()
    new = load_or_create_signer(keys, settings.journal_origin)
    assert main(["identity", "accept", "--data-dir", str(settings.data_dir), "--reason", "rotation", "--yes",
                 "--previous-journal-key", str(kept)]) == 0
    return old, new


def _export(settings, target, tenant: str = "*"):
    from vault.auth.roles import Principal, Role
    from vault.journal.export import open_export, write_directory
    from vault.journal.visible import VaultSource

    vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    try:
        write_directory(open_export(VaultSource(vault, Principal("test", Role.AUDITOR, tenant))), target)
    finally:
        vault.close()
    return target


def test_exports_across_a_key_change_verify_offline_and_with_go(tmp_path, monkeypatch):
    """Exports before, at and after the change: each checkpoint opens with its key in Go's note package too;
    our replay of the last one accepts an earlier checkpoint by the old key as the trusted one."""
    from tests.interop.test_go_tlog import go_tlogcheck
    from vault.cli.main import main
    from vault_verify.journalcli import verify_directory

    keys = tmp_path / "keys"
    settings = make_settings(tmp_path, keys_dir=keys)
    monkeypatch.setenv("VAULT_KEYS_DIR", str(keys))
    _grow(settings, 3)
    before = _export(settings, tmp_path / "before")
    shutil.copy(keys / "journal.key", tmp_path / "previous")
    (keys / "journal.key").unlink()
    new = load_or_create_signer(keys, settings.journal_origin)
    assert main(["identity", "accept", "--data-dir", str(settings.data_dir), "--reason", "rotation", "--yes",
                 "--previous-journal-key", str(tmp_path / "previous")]) == 0
    handover = _export(settings, tmp_path / "handover")
    _grow(settings, 300)  # past a full tile
    after = _export(settings, tmp_path / "after")

    assert (after / "vkey").read_text().strip() == new.verifier.vkey()
    (tmp_path / "go").mkdir()
    checker = go_tlogcheck(tmp_path / "go")
    if checker is not None:
        for directory in (before, handover, after):
            done = subprocess.run([str(checker), str(directory)], capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
        (handover / "vkey").write_text((before / "vkey").read_text())  # the old key opens the handover too
        done = subprocess.run([str(checker), str(handover)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        (after / "vkey").write_text((before / "vkey").read_text())  # but not what the new key alone signed
        done = subprocess.run([str(checker), str(after)], capture_output=True, text=True, timeout=120)
        assert done.returncode != 0
        (after / "vkey").write_text(new.verifier.vkey() + "\n")

    report = verify_directory(after, new.verifier.vkey(), str(before / "checkpoint"))
    assert report.ok, report.failure_details
    assert any(check.name == "journal keys" for check in report.checks)
    assert any(check.name == "trusted checkpoint" and check.ok for check in report.checks)
    report = verify_directory(after, (before / "vkey").read_text())  # the old key follows its co-signed handover
    assert report.ok, report.failure_details
    assert any(check.name == "journal keys" and check.detail.startswith("followed") for check in report.checks)
