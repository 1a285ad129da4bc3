"""File modes and keys: the data directory is private (0700), no key is readable by group or others, every key
present loads (see :mod:`vault.storage.private`)."""

from __future__ import annotations

import stat
from datetime import datetime
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from vault.doctor.report import ERROR, OK, WARNING, Finding
from vault.settings import Settings


def _pem_key(path: Path) -> None:
    load_pem_private_key(path.read_bytes(), password=None)


def _hex32(path: Path) -> None:
    if len(bytes.fromhex(path.read_text().strip())) != 32:
        raise ValueError("not 32 bytes in hex")


def _pem_cert(path: Path) -> None:
    x509.load_pem_x509_certificate(path.read_bytes())


def _nonempty(path: Path) -> None:
    if not path.read_text().strip():
        raise ValueError("empty")


def key_files(settings: Settings) -> dict[Path, tuple[str, Callable[[Path], None]]]:
    """Every secret the service keeps in its data directory: path → (what it is, a loader that raises if broken)."""
    data, shared = settings.data_dir, settings.effective_keys_dir
    keys = {
        shared / "journal.key": ("the journal's checkpoint signing key (Ed25519)", _pem_key),
        shared / "journal-pseudonym.key": ("the journal's pseudonym key", _hex32),
        shared / "archive.key": ("the archive key of destruction certificates", _pem_key),
        shared / "archive-signing.key": ("the PDF signing key", _pem_key),
        data / "admin.key": ("the bootstrap admin API key", _nonempty),
    }
    if not settings.tsa_urls:
        keys[settings.tsa_dir / "root.key"] = ("the development TSA's root key", _pem_key)
        keys[settings.tsa_dir / "tsa.key"] = ("the development TSA's signing key", _pem_key)
    if settings.tls_key is not None:
        keys[settings.tls_key] = ("the TLS private key (VAULT_TLS_KEY)", _pem_key)
    return keys


def check_data_dir(settings: Settings, now: datetime) -> list[Finding]:
    path = settings.data_dir
    if not path.exists():
        return [Finding("files.data-dir", WARNING, f"{path} does not exist yet",
                        "it is created 0700 at the first start; check VAULT_DATA_DIR if this installation has data")]
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return [Finding("files.data-dir", ERROR, f"{path} is mode {mode:04o}: other local users can reach the "
                        "evidence, the database and the keys", f"chmod 0700 {path}")]
    return [Finding("files.data-dir", OK, f"{path} is private (mode {mode:04o})")]


def check_keys(settings: Settings, now: datetime) -> list[Finding]:
    findings = []
    for path, (what, load) in key_files(settings).items():
        if not path.exists():
            if path == settings.tls_key:
                findings.append(Finding("files.keys", ERROR, f"{what}, {path}, is missing", "restore it"))
            continue  # made at the first start
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            findings.append(Finding("files.keys", ERROR, f"{what}, {path}, is mode {mode:04o}: readable "
                                    "beyond the service's user", f"chmod 0600 {path}, then consider the key exposed and rotate it"))
        try:
            load(path)
        except Exception as exc:  # noqa: BLE001 — any reason it does not load is the finding
            findings.append(Finding("files.keys", ERROR, f"{what}, {path}, does not load: {exc.__class__.__name__}",
                                    "restore it from the backup of this data directory"))
    if (settings.effective_keys_dir / "archive-signing.pem").exists():
        try:
            _pem_cert(settings.effective_keys_dir / "archive-signing.pem")
        except ValueError as exc:
            findings.append(Finding("files.keys", ERROR, f"archive-signing.pem does not load: {exc}",
                                    "restore it from the backup of this data directory"))
    if not findings:
        present = sum(1 for path in key_files(settings) if path.exists())
        findings.append(Finding("files.keys", OK, f"{present} key file(s) private (0600) and loadable"))
    return findings
