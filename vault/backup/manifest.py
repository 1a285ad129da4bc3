"""The backup directory's ``manifest.json`` and its verification.

A backup directory holds ``vault.db`` (the database at the backup point), ``blobs/sha256/abc/<sha256>`` (every
blob that database names), ``keys.sealed`` (the data directory's keys and certificates, sealed under the backup
passphrase: :mod:`vault.backup.sealed`) and ``manifest.json``, written last, so a backup without one is unfinished.
The manifest lists every file with its SHA-256 and size and states the backup point (journal size, newest signed
checkpoint, counts). The SHA-256 of the manifest's body (everything but its ``keys`` entry) is sealed with the
keys: with the passphrase, a manifest rewritten to match altered files is caught too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from vault.backup.sealed import SealError, open_sealed
from vault.crypto.digests import file_sha256, is_sha256_hex

FORMAT = "vault-backup/1"
MANIFEST = "manifest.json"
DATABASE = "vault.db"
KEYS = "keys.sealed"
KEYS_CONTEXT = FORMAT.encode() + b" keys"


class BackupError(ValueError):
    """A backup cannot be taken, verified or restored; the message says what is wrong in one sentence."""


def blob_path(sha256: str) -> str:
    """Where blob ``sha256`` sits in a backup, relative to it (the blob store's own layout)."""
    return f"blobs/sha256/{sha256[:3]}/{sha256}"


def body_digest(manifest: dict) -> str:
    """SHA-256 of the manifest without its ``keys`` entry, as canonical JSON (sorted keys, no spaces)."""
    body = {key: value for key, value in manifest.items() if key != "keys"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def keys_payload(files: dict[str, bytes], manifest_body_sha256: str) -> bytes:
    """The plaintext sealed into ``keys.sealed``: the key files and the digest of the manifest they belong to."""
    return json.dumps({"manifest_body_sha256": manifest_body_sha256,
                       "files": {path: base64.b64encode(data).decode() for path, data in sorted(files.items())}}
                      ).encode()


@dataclass(frozen=True)
class VerifiedBackup:
    manifest: dict
    keys: dict[str, bytes] | None  # None when verified without the passphrase


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    if not Path(directory).is_dir():
        raise BackupError(f"{directory}: no such directory")
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BackupError(f"{directory}: no {MANIFEST}: not a vault backup, or one that did not finish") from None
    except ValueError as exc:
        raise BackupError(f"{path}: not JSON ({exc}): the backup is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: not a {FORMAT} manifest")
    return manifest


def _check_name(name: str, expected: dict) -> None:
    """A listed file is the database or a blob whose name is its own SHA-256: nothing lands outside the target."""
    sha256 = name.rsplit("/", 1)[-1]
    if name != DATABASE and not (is_sha256_hex(sha256) and name == blob_path(sha256) and expected["sha256"] == sha256):
        raise BackupError(f"{MANIFEST} lists {name!r}, which is neither {DATABASE} nor a blob under its SHA-256")


def key_file_name(name: str) -> str:
    """A key file's path relative to the data directory, refused when it would leave it."""
    path = Path(name)
    if path.is_absolute() or not path.parts or ".." in path.parts:
        raise BackupError(f"{KEYS} names {name!r}, a path outside the data directory")
    return name


def _check_file(directory: Path, name: str, expected: dict) -> None:
    path = directory / name
    if not path.is_file():
        raise BackupError(f"backup file {name} is missing from {directory}")
    if path.stat().st_size != expected["size"] or file_sha256(path) != expected["sha256"]:
        raise BackupError(f"backup file {name} does not match its SHA-256 in the manifest: the backup was altered "
                          "or damaged")


def _check_blobs_named(directory: Path, files: dict) -> None:
    """Every blob the backed-up database still needs is among the backup's files."""
    connection = sqlite3.connect(f"file:{directory / DATABASE}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT id, sha256 FROM archived_objects WHERE destroyed_at IS NULL").fetchall()
    except sqlite3.Error as exc:
        raise BackupError(f"backup file {DATABASE} cannot be read as a vault database: {exc}") from None
    finally:
        connection.close()
    for object_id, sha256 in rows:
        if blob_path(sha256) not in files:
            raise BackupError(f"the backup lacks the blob {sha256} of object {object_id}: it is incomplete")


def verify_backup(directory: Path, passphrase: str | None) -> VerifiedBackup:
    """Check every file against the manifest, that the database's blobs are all there and, with ``passphrase``,
    open the keys and check they were sealed with this very manifest; raises :class:`BackupError` on the first
    problem."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    files = manifest.get("files") or {}
    if DATABASE not in files:
        raise BackupError(f"{directory / MANIFEST} lists no {DATABASE}: the backup is damaged")
    for name, expected in files.items():
        _check_name(name, expected)
        _check_file(directory, name, expected)
    keys = manifest.get("keys")
    if not isinstance(keys, dict) or "sha256" not in keys or "size" not in keys:
        raise BackupError(f"{directory / MANIFEST} lists no {KEYS}: the backup is damaged")
    _check_file(directory, KEYS, keys)
    _check_blobs_named(directory, files)
    if passphrase is None:
        return VerifiedBackup(manifest, None)
    try:
        payload = json.loads(open_sealed((directory / KEYS).read_bytes(), passphrase, KEYS_CONTEXT))
    except SealError as exc:
        raise BackupError(f"cannot open {KEYS}: {exc} (check VAULT_BACKUP_PASSPHRASE)") from None
    if payload.get("manifest_body_sha256") != body_digest(manifest):
        raise BackupError(f"{MANIFEST} was changed after the backup was written: it is not the one sealed with the "
                          "keys")
    return VerifiedBackup(manifest, {key_file_name(path): base64.b64decode(data)
                                     for path, data in payload["files"].items()})
