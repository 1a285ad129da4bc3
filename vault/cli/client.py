"""A small HTTP client for the CLI: bearer key, problem+json errors turned into one readable line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx


class CliError(Exception):
    """Something the user must fix; printed as one line, exit status 1."""


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
    def __init__(self, url: str, key: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach vault at {self.url}: {exc}") from None
        return check(response)

    def stream(self, method: str, path: str, **kwargs):
        try:
            return self._http.stream(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach vault at {self.url}: {exc}") from None

    def json(self, method: str, path: str, **kwargs) -> Any:
        return self.request(method, path, **kwargs).json()


def check(response: httpx.Response) -> httpx.Response:
    if response.status_code < 400:
        return response
    response.read()
    try:
        body = response.json()
        message = f"{body.get('title', 'error')}: {body.get('detail', '')}"
    except (json.JSONDecodeError, ValueError):
        message = response.text[:500]
    raise CliError(f"HTTP {response.status_code} {message}")


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

