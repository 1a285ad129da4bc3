"""``vault backup DIR``, ``vault backup verify DIR`` and ``vault restore DIR --data-dir NEW`` (embedded default).

Run on the archive's machine, beside the running service (no server URL, no API key): the backup reads the data
directory itself (docs/operations.md, Backup and restore).
"""

from __future__ import annotations

import argparse
import json
import os

from vault.cli.client import CliError


def _settings(data_dir: str | None):
    from vault.settings import Settings, SettingsError

    env = dict(os.environ, **({"VAULT_DATA_DIR": data_dir} if data_dir else {}))
    try:
        return Settings.from_env(env)
    except SettingsError as exc:
        raise CliError(str(exc)) from None


def _report(args, data: dict, line: str) -> None:
    print(json.dumps(data, indent=2) if args.json else line)


def cmd_backup(args) -> int:
    from vault.backup.embedded import take_backup
    from vault.backup.manifest import BackupError
    from vault.clock import SystemClock

    words = args.words
    if words[0] == "verify":
        if len(words) != 2:
            raise CliError("usage: vault backup verify DIR")
        return _verify(args, words[1])
    if len(words) != 1:
        raise CliError("usage: vault backup DIR (or: vault backup verify DIR)")
    settings = _settings(args.data_dir)
    try:
        manifest = take_backup(settings.data_dir, settings.effective_database_url, words[0],
                               settings.backup_passphrase, origin=settings.journal_origin, now=SystemClock().now,
                               keys_dir=settings.keys_dir)
    except (BackupError, OSError) as exc:
        raise CliError(_one_line(exc)) from None
    point = manifest["point"]
    _report(args, {"directory": words[0], "point": point, "files": len(manifest["files"]) + 2},
            f"backup written to {words[0]}: journal size {point['journal_size']}, {point['live_objects']} live "
            f"objects, {point['blobs']} blobs, keys sealed ({len(manifest['keys']['files'])} files)")
    return 0


def _verify(args, directory: str) -> int:
    from vault.backup.manifest import BackupError, verify_backup

    passphrase = _settings(args.data_dir).backup_passphrase
    try:
        verified = verify_backup(directory, passphrase)
    except (BackupError, OSError) as exc:
        raise CliError(_one_line(exc)) from None
    point = verified.manifest["point"]
    sealed = "keys and manifest seal checked" if passphrase else "keys not opened (VAULT_BACKUP_PASSPHRASE unset)"
    _report(args, {"directory": directory, "ok": True, "point": point, "keys_opened": passphrase is not None},
            f"backup OK: {len(verified.manifest['files'])} files match the manifest, journal size "
            f"{point['journal_size']}; {sealed}")
    return 0


def cmd_restore(args) -> int:
    from vault.backup.embedded import restore_backup
    from vault.backup.manifest import BackupError

    settings = _settings(None)
    try:
        manifest = restore_backup(args.directory, args.data_dir, settings.backup_passphrase, args.keys_dir)
    except (BackupError, OSError) as exc:
        raise CliError(_one_line(exc)) from None
    point = manifest["point"]
    _report(args, {"data_dir": args.data_dir, "point": point, "journal_origin": manifest["journal_origin"]},
            f"restored into {args.data_dir}: journal size {point['journal_size']}, {point['live_objects']} live "
            f"objects; serve it with VAULT_DATA_DIR={args.data_dir} and the journal origin "
            f"{manifest['journal_origin']} (VAULT_INSTANCE)")
    return 0


def _one_line(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
    return str(exc)


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    backup = sub.add_parser("backup", help="online backup of the embedded default into DIR (VAULT_BACKUP_PASSPHRASE "
                                           "seals the keys); `vault backup verify DIR` checks one")
    backup.add_argument("words", nargs="+", metavar="[verify] DIR")
    backup.add_argument("--data-dir", help="the data directory (VAULT_DATA_DIR)")
    backup.add_argument("--json", action="store_true", help="print JSON")
    backup.set_defaults(local=cmd_backup)
    restore = sub.add_parser("restore", help="rebuild a data directory from a backup (verified first)")
    restore.add_argument("directory")
    restore.add_argument("--data-dir", required=True, help="the new data directory (must be new or empty)")
    restore.add_argument("--keys-dir", help="where the keys of a separate VAULT_KEYS_DIR go (new or empty; default: "
                                            "into the new data directory)")
    restore.add_argument("--json", action="store_true", help="print JSON")
    restore.set_defaults(local=cmd_restore)
