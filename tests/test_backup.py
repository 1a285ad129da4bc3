"""``vault backup`` / ``vault restore`` of the embedded default: what a backup holds, and every way it is refused.

The round trip under live deposits is tests/test_backup_live.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from vault.backup.embedded import restore_backup, take_backup
from vault.backup.manifest import BackupError, blob_path
from vault.backup.sealed import SealError, open_sealed, seal
from vault.cli.main import main
from vault.storage.deletions import deletions_paused
from vault.storage.filesystem import FileBlobStore

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def database_url(tmp_path):
    """The embedded default only: ``vault backup`` refuses PostgreSQL (tests/test_backup_postgres.py: pg_dump)."""
    return f"sqlite:///{tmp_path / 'data' / 'vault.db'}"


@pytest.fixture
def backed_up(tmp_path, settings, vault, depositor, monkeypatch):
    """A vault on SQLite with three deposits (two sharing bytes), sealed, backed up by the CLI."""
    ids = [depositor.deposit(content).json()["id"] for content in (b"first proof", b"second proof", b"first proof")]
    vault.seal_scheduler.seal_all_pending()
    monkeypatch.setenv("VAULT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("VAULT_BACKUP_PASSPHRASE", PASSPHRASE)
    target = tmp_path / "backup"
    assert main(["backup", str(target)]) == 0
    return target, ids


def run(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_backup_holds_the_database_the_blobs_and_sealed_keys_only(backed_up, settings):
    target, ids = backed_up
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["point"]["live_objects"] == 3 and manifest["point"]["blobs"] == 2
    assert manifest["point"]["journal_size"] > 3 and manifest["point"]["schema_revision"]
    assert set(manifest["files"]) == {"vault.db", *(blob_path(hashlib.sha256(c).hexdigest())
                                                    for c in (b"first proof", b"second proof"))}
    assert {"journal.key", "journal-pseudonym.key", "archive.key", "tsa/root.key", "tsa/tsa.key"} \
        <= set(manifest["keys"]["files"])
    secrets = [(settings.data_dir / name).read_bytes() for name in manifest["keys"]["files"] if name.endswith(".key")]
    for path in target.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
        if path.is_file():
            data = path.read_bytes()
            assert not any(secret.strip() in data for secret in secrets), f"a key in clear in {path}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_verify_and_restore_rebuild_a_data_dir_that_verifies(backed_up, tmp_path, capsys, monkeypatch, settings):
    target, ids = backed_up
    code, out = run(capsys, "backup", "verify", str(target))
    assert code == 0 and "backup OK" in out and "manifest seal checked" in out
    restored = tmp_path / "restored"
    code, out = run(capsys, "restore", str(target), "--data-dir", str(restored))
    assert code == 0, out
    for name in ("journal.key", "archive.key", "tsa/tsa.key", "journal-pseudonym.key"):
        assert (restored / name).read_bytes() == (settings.data_dir / name).read_bytes()
        assert stat.S_IMODE((restored / name).stat().st_mode) == 0o600
    code, out = run(capsys, "journal", "verify", "--data-dir", str(restored))
    assert code == 0 and "journal OK" in out, out


def test_a_wrong_passphrase_is_named(backed_up, tmp_path, capsys, monkeypatch):
    target, _ = backed_up
    monkeypatch.setenv("VAULT_BACKUP_PASSPHRASE", "not the passphrase at all")
    code, out = run(capsys, "restore", str(target), "--data-dir", str(tmp_path / "restored"))
    assert code == 1 and out.count("\n") == 1
    assert "wrong passphrase" in out and "VAULT_BACKUP_PASSPHRASE" in out
    assert not (tmp_path / "restored").exists()


def test_a_tampered_or_missing_file_is_named(backed_up, tmp_path, capsys):
    target, _ = backed_up
    manifest = json.loads((target / "manifest.json").read_text())
    blob = target / next(name for name in manifest["files"] if name.startswith("blobs/"))
    original = blob.read_bytes()
    blob.write_bytes(b"X" + original[1:])
    code, out = run(capsys, "backup", "verify", str(target))
    assert code == 1 and "does not match its SHA-256 in the manifest" in out and out.count("\n") == 1
    blob.unlink()
    code, out = run(capsys, "restore", str(target), "--data-dir", str(tmp_path / "restored"))
    assert code == 1 and f"{blob.relative_to(target)} is missing" in out
    blob.write_bytes(original)
    (target / "keys.sealed").write_bytes((target / "keys.sealed").read_bytes().replace(b'"n"', b'"n" '))
    code, out = run(capsys, "backup", "verify", str(target))
    assert code == 1 and "keys.sealed does not match" in out


def test_a_manifest_rewritten_to_match_altered_files_is_caught_by_the_seal(backed_up, capsys, monkeypatch):
    target, _ = backed_up
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["point"]["journal_size"] += 1  # a consistent forgery: digests untouched, the point changed
    (target / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.delenv("VAULT_BACKUP_PASSPHRASE")
    code, out = run(capsys, "backup", "verify", str(target))
    assert code == 0 and "keys not opened" in out  # without the passphrase only the digests can be checked
    monkeypatch.setenv("VAULT_BACKUP_PASSPHRASE", PASSPHRASE)
    code, out = run(capsys, "backup", "verify", str(target))
    assert code == 1 and "manifest.json was changed after the backup was written" in out


def test_refusals_name_what_to_do(backed_up, tmp_path, capsys, monkeypatch, settings):
    target, _ = backed_up
    code, out = run(capsys, "backup", str(target))
    assert code == 1 and "not an empty directory" in out
    code, out = run(capsys, "restore", str(target), "--data-dir", str(settings.data_dir))
    assert code == 1 and "not an empty directory" in out
    monkeypatch.delenv("VAULT_BACKUP_PASSPHRASE")
    code, out = run(capsys, "backup", str(tmp_path / "other"))
    assert code == 1 and "set VAULT_BACKUP_PASSPHRASE" in out
    monkeypatch.setenv("VAULT_BACKUP_PASSPHRASE", "short")
    code, out = run(capsys, "backup", str(tmp_path / "other"))
    assert code == 1 and "VAULT_BACKUP_PASSPHRASE is 5 characters long" in out
    with pytest.raises(BackupError, match="pg_dump"):
        take_backup(settings.data_dir, "postgresql://u@h/db", tmp_path / "pg", PASSPHRASE, origin="o", now=None)
    monkeypatch.setenv("VAULT_BACKUP_PASSPHRASE", PASSPHRASE)
    code, out = run(capsys, "backup", "verify", str(tmp_path))
    assert code == 1 and "no manifest.json" in out


def test_a_blob_deletion_waits_while_a_backup_copies_blobs(tmp_path):
    store = FileBlobStore(tmp_path / "blobs")
    writer = store.writer()
    writer.write(b"disposed of during a backup")
    sha256 = writer.commit().digests.sha256
    deleted = threading.Event()
    with deletions_paused(store.root):
        worker = threading.Thread(target=lambda: (store.delete(sha256), deleted.set()))
        worker.start()
        time.sleep(0.3)
        assert not deleted.is_set() and store.exists(sha256)
    worker.join(5)
    assert deleted.is_set() and not store.exists(sha256)


def test_sealed_secrets_open_only_with_their_passphrase_and_context():
    sealed = seal(b"secret key bytes", PASSPHRASE, b"context", n=2**10)
    assert open_sealed(sealed, PASSPHRASE, b"context") == b"secret key bytes"
    assert b"secret key bytes" not in sealed
    for passphrase, context in ((PASSPHRASE + "!", b"context"), (PASSPHRASE, b"other context")):
        with pytest.raises(SealError, match="wrong passphrase"):
            open_sealed(sealed, passphrase, context)
    with pytest.raises(SealError, match="not a vault-sealed-secrets/1"):
        open_sealed(b"{}", PASSPHRASE, b"context")


def test_restore_refuses_a_file_name_that_leaves_the_data_dir(backed_up, tmp_path):
    target, _ = backed_up
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["files"]["../escape"] = manifest["files"]["vault.db"]
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="neither vault.db nor a blob"):
        restore_backup(target, tmp_path / "restored", PASSPHRASE)
    assert not (tmp_path / "escape").exists() and not os.path.exists(tmp_path / "restored")


def test_a_backup_missing_a_blob_its_database_needs_is_refused(backed_up, tmp_path):
    target, ids = backed_up
    manifest = json.loads((target / "manifest.json").read_text())
    name = next(name for name in manifest["files"] if name.startswith("blobs/"))
    del manifest["files"][name]
    (target / name).unlink()
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match=f"lacks the blob {name.rsplit('/', 1)[1]} of object"):
        restore_backup(target, tmp_path / "restored", PASSPHRASE)



def test_a_separate_keys_dir_is_backed_up_and_restored(tmp_path, database_url, capsys, monkeypatch):
    """VAULT_KEYS_DIR outside the data directory: its keys are sealed in the backup and restored to --keys-dir (or,
    without it, into the new data directory, where VAULT_KEYS_DIR unset looks)."""
    from dataclasses import replace

    from tests.conftest import make_settings
    from vault.app import Vault

    keys = tmp_path / "secret"
    settings = make_settings(tmp_path, database_url, keys_dir=keys)
    opened = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    opened.close()
    assert (keys / "journal.key").exists() and not (settings.data_dir / "journal.key").exists()
    monkeypatch.setenv("VAULT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("VAULT_KEYS_DIR", str(keys))
    monkeypatch.setenv("VAULT_BACKUP_PASSPHRASE", PASSPHRASE)
    code, out = run(capsys, "backup", str(tmp_path / "backup"))
    assert code == 0, out
    listed = json.loads((tmp_path / "backup" / "manifest.json").read_text())["keys"]["files"]
    assert {"VAULT_KEYS_DIR/journal.key", "VAULT_KEYS_DIR/archive-signing.pem"} <= set(listed)
    code, out = run(capsys, "restore", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "r1"),
                    "--keys-dir", str(tmp_path / "k1"))
    assert code == 0, out
    code, out = run(capsys, "restore", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "r2"))
    assert code == 0, out
    for name in ("journal.key", "journal-pseudonym.key", "archive.key", "archive-signing.pem"):
        assert (tmp_path / "k1" / name).read_bytes() == (keys / name).read_bytes()
        assert (tmp_path / "r2" / name).read_bytes() == (keys / name).read_bytes()
        assert stat.S_IMODE((tmp_path / "k1" / name).stat().st_mode) == 0o600
    assert not (tmp_path / "r1" / "journal.key").exists()
    reopened = Vault.open(replace(settings, data_dir=tmp_path / "r1", keys_dir=tmp_path / "k1",
                                  database_url=f"sqlite:///{tmp_path / 'r1' / 'vault.db'}"),
                          sweep_in_background=False, background_jobs=False)  # the recorded fingerprints match
    reopened.close()
    code, out = run(capsys, "restore", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "r3"),
                    "--keys-dir", str(tmp_path / "k1"))
    assert code == 1 and "k1" in out and out.count("\n") == 1
