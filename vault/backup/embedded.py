"""Online backup and restore of the embedded default: SQLite plus the local blob files under ``VAULT_DATA_DIR``.

Backup, while the service runs and deposits continue:

1. blob deletions pause (:mod:`vault.storage.deletions`): disposal and the orphan sweep wait, deposits do not;
2. the SQLite online backup API copies the database in one step (https://sqlite.org/backup.html): one read
   transaction, so the copy is the database at one commit — the *backup point*. WAL readers do not block the
   writer, so deposits go on committing meanwhile; they are simply after the point;
3. every blob a live object of that copy names is copied and its bytes checked against its name. Blobs are
   immutable and written (and made durable) before the row naming them commits, so each one is there; none can
   be deleted before step 4, since deletions wait;
4. deletions resume; the keys and certificates of the data directory are sealed (scrypt → AES-256-GCM) into
   ``keys.sealed``; ``manifest.json`` is written last.

Restore verifies the whole backup first (digests, passphrase, manifest seal), then writes a new data directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Callable

from sqlalchemy.engine import make_url

from vault import __version__
from vault.backup.manifest import (
    DATABASE, FORMAT, KEYS, KEYS_CONTEXT, MANIFEST, BackupError, blob_path, body_digest, keys_payload, verify_backup,
)
from vault.backup.sealed import seal
from vault.db.engine import is_sqlite
from vault.crypto.digests import file_sha256
from vault.storage.deletions import deletions_paused
from vault.storage.private import DIR_MODE, FILE_MODE, MARKER, make_private_dir, write_private

# not carried as keys: the database and the blobs (copied on their own), and what a running service re-creates
KEYS_DIR_PREFIX = "VAULT_KEYS_DIR"  # the sealed files of a separate keys directory are named under this
NOT_KEYS = {"vault.db", "vault.db-wal", "vault.db-shm", "vault.db-journal", "blobs", "locks", "spool", MARKER}


def _sqlite_path(database_url: str) -> Path:
    if not is_sqlite(database_url):
        raise BackupError("vault backup copies the embedded default (SQLite); on PostgreSQL use pg_dump or PITR and "
                          "bucket versioning (docs/operations.md, Backup and restore)")
    return Path(make_url(database_url).database or "")


def _refuse_non_empty(directory: Path, what: str) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} is not an empty directory: {what} writes only into a new or empty one")


def _private_parents(root: Path, relative: str) -> Path:
    """Create the directories between ``root`` and the file ``relative`` one by one, each 0700 (``mkdir -p``
    would leave the intermediate ones to the umask); returns the file's path."""
    current = root
    for part in Path(relative).parent.parts:
        current = current / part
        make_private_dir(current)
    return root / relative


def _copy_file(source: Path, target: Path) -> tuple[str, int]:
    """Copy ``source`` to a new 0600 file, fsynced; returns the SHA-256 and size of what was written."""
    digest, size = hashlib.sha256(), 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with open(source, "rb") as inp, os.fdopen(fd, "wb") as out:
        while chunk := inp.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def _snapshot(database: Path, target: Path) -> None:
    """The database at one commit, via the SQLite online backup API, as one self-contained file (no WAL)."""
    if not database.is_file():
        raise BackupError(f"no database at {database}: is VAULT_DATA_DIR a vault data directory?")
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    source, copy = sqlite3.connect(database, timeout=30), sqlite3.connect(target)
    try:
        source.backup(copy)  # pages=-1: the whole database in one step, under one read transaction
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        source.close()
        copy.close()


def backup_point(database: Path) -> dict:
    """What a database holds: journal size and newest signed checkpoint, anchors, objects, live blobs, schema."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        one = lambda sql: connection.execute(sql).fetchone()[0]  # noqa: E731
        checkpoint = connection.execute("SELECT size, note FROM journal_checkpoints ORDER BY size DESC LIMIT 1"
                                        ).fetchone()
        return {
            "journal_size": one("SELECT COUNT(*) FROM journal_entries"),
            "checkpoint": {"size": checkpoint[0], "note": checkpoint[1]} if checkpoint else None,
            "anchors": one("SELECT COUNT(*) FROM journal_anchors"),
            "objects": one("SELECT COUNT(*) FROM archived_objects"),
            "live_objects": one("SELECT COUNT(*) FROM archived_objects WHERE destroyed_at IS NULL"),
            "blobs": one("SELECT COUNT(DISTINCT sha256) FROM archived_objects WHERE destroyed_at IS NULL"),
            "schema_revision": one("SELECT version_num FROM alembic_version"),
        }
    finally:
        connection.close()


def _live_blobs(database: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute(
            "SELECT DISTINCT sha256 FROM archived_objects WHERE destroyed_at IS NULL ORDER BY sha256")]
    finally:
        connection.close()


def _key_files(data_dir: Path) -> dict[str, bytes]:
    """Every regular file of the data directory outside the database, the blobs and the re-created state: the
    journal, pseudonym, archive and PDF signing keys, the development TSA, ``admin.key``, ``trust/``."""
    found = {}
    for directory, dirs, files in os.walk(data_dir):
        base = Path(directory)
        if base == data_dir:
            dirs[:] = [d for d in dirs if d not in NOT_KEYS]
        for name in files:
            path = base / name
            relative = path.relative_to(data_dir)
            if (base == data_dir and name in NOT_KEYS) or not path.is_file() or path.is_symlink():
                continue
            found[relative.as_posix()] = path.read_bytes()
    return found


def separate_keys_dir(data_dir: Path, keys_dir: Path | None) -> Path | None:
    """``keys_dir`` (VAULT_KEYS_DIR) when it lies outside ``data_dir``: a backup seals its files apart, under
    :data:`KEYS_DIR_PREFIX`; None when the keys are in the data directory (already backed up with it)."""
    if keys_dir is None:
        return None
    data, keys = Path(data_dir).resolve(), Path(keys_dir).resolve()
    return None if keys == data or data in keys.parents else Path(keys_dir)


def _keys_dir_files(keys_dir: Path | None) -> dict[str, bytes]:
    if keys_dir is None:
        return {}
    if not keys_dir.is_dir():
        raise BackupError(f"VAULT_KEYS_DIR={keys_dir} is not a directory: the archive's keys cannot be backed up")
    return {f"{KEYS_DIR_PREFIX}/{name}": data for name, data in _key_files(keys_dir).items()}


def take_backup(data_dir: Path, database_url: str, target: Path, passphrase: str | None, *, origin: str,
                now: Callable[[], datetime], keys_dir: Path | None = None) -> dict:
    """Write an online backup of ``data_dir`` into the new or empty directory ``target``; returns its manifest.
    A ``keys_dir`` outside the data directory (VAULT_KEYS_DIR) is sealed with the data directory's keys."""
    if not passphrase:
        raise BackupError("set VAULT_BACKUP_PASSPHRASE: the backup's keys are sealed with it")
    data_dir, target = Path(data_dir), Path(target)
    database = _sqlite_path(database_url)
    blob_root = data_dir / "blobs"
    if not blob_root.is_dir():
        raise BackupError(f"{data_dir} has no blobs directory: is VAULT_DATA_DIR a vault data directory?")
    _refuse_non_empty(target, "vault backup")
    make_private_dir(target)
    files = {}
    with deletions_paused(blob_root):
        _snapshot(database, target / DATABASE)
        taken_at = now()
        for sha256 in _live_blobs(target / DATABASE):
            relative = blob_path(sha256)
            try:
                digest, size = _copy_file(blob_root / relative.removeprefix("blobs/"),
                                          _private_parents(target, relative))
            except FileNotFoundError:
                raise BackupError(f"blob {sha256} named by the database is missing from {blob_root}: run `vault "
                                  "audit run` to repair it from another copy, then back up again") from None
            if digest != sha256:
                raise BackupError(f"blob {sha256} in {blob_root} is corrupt (its bytes do not match its name): run "
                                  "`vault audit run` to repair it, then back up again")
            files[relative] = {"sha256": digest, "size": size}
    database_sha256, database_size = _file_digest(target / DATABASE)
    files[DATABASE] = {"sha256": database_sha256, "size": database_size}
    manifest = {"format": FORMAT, "vault_version": __version__, "created_at": taken_at.isoformat(),
                "journal_origin": origin, "point": backup_point(target / DATABASE), "files": files}
    keys = _key_files(data_dir) | _keys_dir_files(separate_keys_dir(data_dir, keys_dir))
    write_private(target / KEYS, seal(keys_payload(keys, body_digest(manifest)), passphrase, KEYS_CONTEXT),
                  exclusive=True)
    keys_sha256, keys_size = _file_digest(target / KEYS)
    manifest["keys"] = {"sha256": keys_sha256, "size": keys_size, "files": sorted(keys),
                        "encryption": "scrypt (RFC 7914) -> AES-256-GCM, vault.backup.sealed"}
    partial = target / (MANIFEST + ".partial")
    write_private(partial, _json(manifest), exclusive=True)
    os.replace(partial, target / MANIFEST)
    return manifest


def _file_digest(path: Path) -> tuple[str, int]:
    return file_sha256(path), path.stat().st_size


def _json(data: dict) -> bytes:
    return json.dumps(data, indent=1, sort_keys=True).encode()


def restore_backup(source: Path, data_dir: Path, passphrase: str | None, keys_dir: Path | None = None) -> dict:
    """Verify the backup at ``source`` in full, then rebuild a data directory at the new or empty ``data_dir``.
    The keys of a separate VAULT_KEYS_DIR go to the new or empty ``keys_dir``, or without one into ``data_dir``
    (where VAULT_KEYS_DIR unset looks for them)."""
    if not passphrase:
        raise BackupError("set VAULT_BACKUP_PASSPHRASE: the backup's keys are sealed with it")
    source, data_dir = Path(source), Path(data_dir)
    _refuse_non_empty(data_dir, "vault restore")
    if keys_dir is not None:
        _refuse_non_empty(Path(keys_dir), "vault restore --keys-dir")
    verified = verify_backup(source, passphrase)
    make_private_dir(data_dir)
    for name, expected in verified.manifest["files"].items():
        if _copy_file(source / name, _private_parents(data_dir, name))[0] != expected["sha256"]:
            raise BackupError(f"backup file {name} changed while it was restored: delete {data_dir} and restore again")
    for name, data in (verified.keys or {}).items():
        root, relative = data_dir, name
        if name.startswith(KEYS_DIR_PREFIX + "/"):
            root, relative = Path(keys_dir or data_dir), name.removeprefix(KEYS_DIR_PREFIX + "/")
            make_private_dir(root)
        write_private(_private_parents(root, relative), data, exclusive=True)
    os.chmod(data_dir, DIR_MODE)
    return verified.manifest

