"""Run the service with uvicorn: open the vault (failing early and clearly), then serve."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from vault.retention.policy import PolicyError
from vault.runtime import settle_heap
from vault.settings import Settings, SettingsError


def uvicorn_options(settings: Settings) -> dict:
    """No ``server`` header (it names uvicorn's version); TLS when a certificate is configured; forwarded headers
    (``X-Forwarded-For``/``-Proto``) believed only from the proxies listed in ``VAULT_FORWARDED_ALLOW_IPS``."""
    # uvicorn's own default trusts forwarded headers from 127.0.0.1: ours trusts no one unless told
    options = {"server_header": False, "proxy_headers": bool(settings.forwarded_allow_ips),
               "forwarded_allow_ips": settings.forwarded_allow_ips}
    if settings.tls_cert:
        options.update(ssl_certfile=str(settings.tls_cert), ssl_keyfile=str(settings.tls_key))
    return options


def check_tls(settings: Settings) -> None:
    """Load the certificate and key once now, so a wrong pair stops the start with one line, not a traceback."""
    import ssl

    if settings.tls_cert:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(settings.tls_cert, settings.tls_key)
        except (ssl.SSLError, OSError) as exc:
            raise SettingsError(f"VAULT_TLS_CERT/VAULT_TLS_KEY: cannot use this certificate and key: {exc}") from None


def serve(host: str | None = None, port: int | None = None, data_dir: str | None = None) -> int:
    import uvicorn

    from vault.api.app import create_app
    from vault.app import Vault
    from vault.db.engine import DatabaseError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = dict(os.environ)
    if data_dir:
        env["VAULT_DATA_DIR"] = data_dir
    try:
        settings = Settings.from_env(env)
        settings = settings.with_(host=host or settings.host, port=port if port is not None else settings.port)
        check_tls(settings)
        vault = Vault.open(settings)
    except (SettingsError, PolicyError, DatabaseError) as exc:
        print(f"vault: cannot start: {exc}", file=sys.stderr)
        return 2
    settle_heap()
    if vault.admin_key_file:
        print(f"vault: created the first admin key in {Path(vault.admin_key_file).resolve()} (mode 0600)", flush=True)
    print(f"vault: data in {settings.data_dir.resolve()}, database {settings.effective_database_url.split('@')[-1]}",
          flush=True)
    scheme = "https" if settings.tls_cert else "http"
    print(f"vault: serving on {scheme}://{settings.host}:{settings.port}", flush=True)
    app = create_app(vault, close_on_shutdown=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=10, **uvicorn_options(settings))
    return 0


def work(data_dir: str | None = None) -> int:
    """``vault worker``: run the background jobs (seals, renewals, anchors, copies, audits) without serving HTTP.

    Several workers and API replicas may run at once: each job kind runs in one process at a time (advisory locks
    on PostgreSQL, file locks on the embedded default). Stops cleanly on SIGTERM or SIGINT.
    """
    import signal
    import threading

    from vault.app import Vault
    from vault.db.engine import DatabaseError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = dict(os.environ)
    if data_dir:
        env["VAULT_DATA_DIR"] = data_dir
    try:
        settings = Settings.from_env(env).with_(background="in-process")
        vault = Vault.open(settings)
    except (SettingsError, PolicyError, DatabaseError) as exc:
        print(f"vault: cannot start: {exc}", file=sys.stderr)
        return 2
    settle_heap()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"vault: worker running on {settings.effective_database_url.split('@')[-1]}", flush=True)
    stop.wait()
    vault.close()
    return 0
