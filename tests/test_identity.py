"""Replicas share one identity: the keys come from VAULT_KEYS_DIR, their fingerprints are recorded in the database at
the first start, and a replica with other keys refuses to start (vault.identity); `vault doctor` says so too."""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from tests.conftest import make_settings
from vault.app import Vault
from vault.doctor.database import check_identity
from vault.db.tables import JournalEntry
from vault.identity import IDENTITY, KEY_FILES, IdentityError, differences, load_identity
from vault.retention.certificate import load_or_create_archive_key
from vault.server import _reason

ENTRIES = JournalEntry.__table__
NOW = datetime(2026, 12, 6, tzinfo=timezone.utc)


def _open(settings) -> Vault:
    return Vault.open(settings, sweep_in_background=False, background_jobs=False)


def test_differences_names_only_keys_recorded_otherwise():
    assert differences({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == ["b"]
    assert differences({}, {"a": "1"}) == []


def test_replicas_sharing_keys_dir_open_and_one_with_other_keys_refuses(tmp_path, database_url):
    shared, base = tmp_path / "secret", make_settings(tmp_path, database_url)
    first = _open(replace(base, keys_dir=shared))  # its data dir holds the SQLite database
    try:
        assert {path.name for path in shared.iterdir()} >= set(KEY_FILES)
        assert not (tmp_path / "data" / "journal.key").exists()  # the keys live in VAULT_KEYS_DIR only
        with first.reader.connect() as connection:
            recorded = dict(connection.execute(select(IDENTITY.c.name, IDENTITY.c.fingerprint)).all())
        assert set(recorded) == {"journal-signing", "journal-pseudonym", "archive", "pdf-signing"}
        second = _open(replace(base, data_dir=tmp_path / "two", keys_dir=shared))
        second.close()
        with pytest.raises(IdentityError) as refused:
            _open(replace(base, data_dir=tmp_path / "three"))  # keys made in its data dir
        line = _reason(refused.value)
        assert line.startswith(f"VAULT_KEYS_DIR={tmp_path / 'three'}: journal.key, journal-pseudonym.key, "
                               "archive.key, archive-signing.pem differ from the keys this database recorded")
        with first.reader.connect() as connection:  # the refused replica recorded nothing
            assert dict(connection.execute(select(IDENTITY.c.name, IDENTITY.c.fingerprint)).all()) == recorded
    finally:
        first.close()


def _fingerprints_made_in(keys_dir) -> dict:
    return load_identity(keys_dir, "vault.local/journal", "vault.local", NOW).fingerprints()


def test_processes_making_the_keys_at_once_end_with_one_identity(tmp_path):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        made = pool.map(_fingerprints_made_in, [tmp_path / "keys"] * 8)
    assert all(fingerprints == made[0] for fingerprints in made)
    assert made[0] == _fingerprints_made_in(tmp_path / "keys")  # what the files hold now


def test_missing_keys_that_cannot_be_made_are_one_clear_error(tmp_path, database_url):
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    with pytest.raises(IdentityError) as refused:
        _open(make_settings(tmp_path, database_url, keys_dir=blocker / "keys"))
    assert str(refused.value).startswith(f"VAULT_KEYS_DIR={blocker / 'keys'}: the archive's keys are missing and "
                                         "cannot be made there (Not a directory): copy journal.key, ")


def test_doctor_reports_keys_differing_from_the_recorded_ones(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url, keys_dir=tmp_path / "keys")
    _open(settings).close()
    [finding] = check_identity(settings, NOW)
    assert finding.word == "ok" and "4 fingerprints" in finding.detail
    (tmp_path / "keys" / "archive.key").unlink()
    load_or_create_archive_key(tmp_path / "keys")  # a new archive key where the recorded one was
    [finding] = check_identity(settings, NOW)
    assert finding.word == "error" and "archive.key differ from the keys this database recorded" in finding.detail
    with pytest.raises(IdentityError):
        _open(settings)


def test_offline_journal_verify_reads_the_key_from_keys_dir(tmp_path, capsys, monkeypatch):
    from vault.cli.main import main

    settings = make_settings(tmp_path, keys_dir=tmp_path / "keys")
    _open(settings).close()
    monkeypatch.delenv("VAULT_KEYS_DIR", raising=False)
    assert main(["journal", "verify", "--data-dir", str(settings.data_dir)]) != 0
    assert "no journal.key here; is this a vault data directory (or is VAULT_KEYS_DIR set)?" in capsys.readouterr().err
    monkeypatch.setenv("VAULT_KEYS_DIR", str(tmp_path / "keys"))
    assert main(["journal", "verify", "--data-dir", str(settings.data_dir)]) == 0
    assert "journal OK" in capsys.readouterr().out


def test_a_deliberate_key_change_is_accepted_with_yes_and_journaled(tmp_path, database_url, capsys, monkeypatch):
    from vault.cli.main import main
    from vault.journal.checkpoints import load_or_create_signer

    keys = tmp_path / "keys"
    settings = make_settings(tmp_path, database_url, keys_dir=keys)
    _open(settings).close()
    before = _fingerprints_made_in(keys)
    (tmp_path / "old-journal.key").write_bytes((keys / "journal.key").read_bytes())
    old_vkey = load_or_create_signer(keys, settings.journal_origin).verifier.vkey()
    for name in ("journal.key", "archive.key"):
        (keys / name).unlink()
    load_or_create_signer(keys, settings.journal_origin)
    load_or_create_archive_key(keys)
    after = load_identity(keys, settings.journal_origin, "vault.local", NOW).fingerprints()
    monkeypatch.setenv("VAULT_KEYS_DIR", str(keys))
    monkeypatch.setenv("VAULT_DATABASE_URL", database_url)
    argv = ["identity", "accept", "--data-dir", str(settings.data_dir), "--reason", "yearly rotation",
            "--previous-journal-key", str(tmp_path / "old-journal.key")]

    assert main(argv) == 1  # no --yes: nothing recorded
    err = capsys.readouterr().err
    assert "journal-signing, archive" in err and "--yes" in err and err.count("\n") == 1
    with pytest.raises(IdentityError, match="vault identity accept --yes"):
        _open(settings)
    assert main([*argv, "--yes", "--json"]) == 0
    accepted = json.loads(capsys.readouterr().out)
    assert accepted["accepted"] == {name: {"old": before[name], "new": after[name]}
                                    for name in ("journal-signing", "archive")}
    vault = _open(settings)  # starts with the new keys
    try:
        with vault.reader.connect() as connection:
            assert dict(connection.execute(select(IDENTITY.c.name, IDENTITY.c.fingerprint)).all()) == after
            [entry] = connection.execute(select(ENTRIES.c.entry).where(ENTRIES.c.action == "identity_keys_accepted"))
        detail = (json.loads(entry[0]) if isinstance(entry[0], (str, bytes)) else entry[0])["detail"]
        assert detail == {"keys": accepted["accepted"], "reason": "yearly rotation", "journal_key": {
            "old": old_vkey, "new": vault.checkpointer.signer.verifier.vkey(), "cosigned": True}}
    finally:
        vault.close()
    assert main([*argv, "--yes"]) == 1 and "nothing to accept" in capsys.readouterr().err
