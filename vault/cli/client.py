"""The CLI's HTTP client: :mod:`vault.client` with its errors (problem details included) as CliError."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from vault.client import ClientError, VaultClient
from vault.client import check as check_response


class CliError(Exception):
    """Something the user must fix; printed as one line (then the server's details, if any), exit status 1."""


def data_dir_settings(data_dir: str):
    """The settings of a vault data directory given on the command line (the environment for the rest), refused in
    one line when its journal key is not where it should be (``VAULT_KEYS_DIR``, by default the data dir)."""
    from vault.settings import Settings

    settings = Settings.from_env(dict(os.environ, VAULT_DATA_DIR=data_dir))
    if not (settings.effective_keys_dir / "journal.key").exists():
        raise CliError(f"{settings.effective_keys_dir}: no journal.key here; is this a vault data directory (or "
                       "is VAULT_KEYS_DIR set)?")
    return settings


def resolve_key(explicit: str | None, key_file: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get("VAULT_KEY"):
        return os.environ["VAULT_KEY"]
    candidates = [Path(key_file)] if key_file else [Path(os.environ.get("VAULT_DATA_DIR") or "var") / "admin.key"]
    for path in candidates:
        try:
            return path.read_text().strip()
        except OSError:
            continue
    raise CliError("no API key: pass --key, set VAULT_KEY, or point --key-file at a key file")


class ApiClient:
    """The CLI's face of :class:`vault.client.VaultClient`: the same calls, errors turned into :class:`CliError`."""

    def __init__(self, url: str, key: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.api = VaultClient(self.url, key, timeout=timeout)

    def close(self) -> None:
        self.api.close()

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        with cli_errors():
            return self.api.request(method, path, **kwargs)

    @contextmanager
    def stream(self, method: str, path: str, **kwargs):
        with cli_errors(), self.api.stream(method, path, **kwargs) as response:
            yield response

    def json(self, method: str, path: str, **kwargs) -> Any:
        return self.request(method, path, **kwargs).json()


@contextmanager
def cli_errors():
    """Any :class:`vault.client.ClientError` (a refusal with its details, an unreachable server) as a CliError."""
    try:
        yield
    except ClientError as exc:
        raise CliError(str(exc)) from None


def check(response: httpx.Response) -> httpx.Response:
    with cli_errors():
        return check_response(response)


def verify_pdf_file(args, data: bytes, what: str) -> int:
    """``vault … verify FILE.pdf --cert PEM [--tsa-roots PEM]``: a PDF the archive signed, checked offline."""
    from pathlib import Path

    from vault.documents.pdf import verify_signed_pdf

    if not args.cert:
        raise CliError(f"a PDF {what} is checked against the archive's signing certificate: pass --cert PEM "
                       "(pdf_signing_certificate of GET /v1/archive/key)")
    try:
        signer = Path(args.cert).read_bytes()
        roots = Path(args.tsa_roots).read_bytes() if args.tsa_roots else None
    except OSError as exc:
        raise CliError(str(exc)) from None
    ok, reason = verify_signed_pdf(data, signer, roots)
    print(json.dumps({"valid": ok, "reason": reason}, indent=2) if args.json
          else f"PDF {what} {'VALID' if ok else 'INVALID'}: {reason}")
    return 0 if ok else 1


def load_tsa_roots(path: str | None):
    """The TSA roots in the PEM file ``path`` (None: none given); a clear CLI error when unreadable."""
    from pathlib import Path

    from vault_verify.tokens import load_pem_roots

    if path is None:
        return None
    try:
        return load_pem_roots(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise CliError(f"TSA roots {path}: {exc}") from None

