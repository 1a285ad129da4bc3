"""Run the service with uvicorn: open the vault (failing early and clearly), then serve."""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import sys
from pathlib import Path
from typing import Callable

from vault.logs import TEXT_FORMAT, announce, formatter
from vault.runtime import settle_heap
from vault.settings import Settings, SettingsError


def _reason(exc: BaseException) -> str:
    """One line saying why the service cannot start, naming the setting where one is to blame."""
    from sqlalchemy.exc import OperationalError

    from vault.db.engine import DatabaseError
    from vault.identity import IdentityError
    from vault.retention.policy import PolicyError

    first = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, (SettingsError, PolicyError, DatabaseError, IdentityError)):
        return first
    if isinstance(exc, OperationalError):
        return f"VAULT_DATABASE_URL: the database cannot be used: {first}"
    return f"{type(exc).__name__}: {first}"


def _start(data_dir: str | None, configure: Callable[[Settings], Settings],
           before_open: Callable[[Settings], object] = lambda _settings: None):
    """Read the settings, run ``before_open`` and open the vault: ``(settings, before_open's result, vault)``, or
    None after printing exactly one line ``vault: cannot start: …`` on standard error for any failure (a bad
    ``VAULT_*`` value, an unreachable database or store). The log of a failed start is dropped with it; the log of
    a good one is written in ``VAULT_LOG_FORMAT``."""
    from vault.app import Vault

    stream = logging.StreamHandler()
    stream.setFormatter(logging.Formatter(TEXT_FORMAT))
    held = logging.handlers.MemoryHandler(1_000_000, flushLevel=logging.CRITICAL + 1)
    logging.basicConfig(level=logging.INFO, handlers=[held])
    env = dict(os.environ)
    if data_dir:
        env["VAULT_DATA_DIR"] = data_dir
    try:
        settings = configure(Settings.from_env(env))
        stream.setFormatter(formatter(settings.log_format))
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(f"VAULT_DATA_DIR={settings.data_dir}: {exc.strerror or exc}") from None
        prepared = before_open(settings)
        vault = Vault.open(settings, test_clock(settings))
    except Exception as exc:  # noqa: BLE001 — whatever stops the start is told in one line, not a traceback
        held.buffer.clear()
        print(f"vault: cannot start: {_reason(exc)}", file=sys.stderr)
        return None
    finally:
        root = logging.getLogger()
        root.removeHandler(held)
        root.addHandler(stream)
    held.setTarget(stream)
    held.flush()
    return settings, prepared, vault


def _listen(settings: Settings) -> socket.socket:
    try:
        return socket.create_server((settings.host, settings.port))
    except OSError as exc:
        raise SettingsError(f"VAULT_HOST={settings.host} VAULT_PORT={settings.port}: cannot listen there: "
                            f"{exc.strerror or exc}") from None


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


WARM_AFTER = 5.0  # seconds after start: the package builders' fork server starts then, not during start-up


def serve(host: str | None = None, port: int | None = None, data_dir: str | None = None, workers: int = 1) -> int:
    """``vault serve``: open the vault and serve it; ``workers`` > 1 runs that many replica processes on one port
    (:mod:`vault.replicas`)."""
    def prepare(settings: Settings) -> socket.socket:
        check_tls(settings)
        return _listen(settings)

    started = _start(data_dir, listen_at(host, port), prepare)
    if started is None:
        return 2
    settings, listener, vault = started
    if workers > 1:
        from vault.replicas import serve_replicas

        return serve_replicas(settings, listener, vault, workers, data_dir)
    say = settings.log_format
    if vault.admin_key_file:
        announce(say, f"created the first admin key in {Path(vault.admin_key_file).resolve()} (mode 0600)")
    announce(say, f"data in {settings.data_dir.resolve()}, database {settings.effective_database_url.split('@')[-1]}")
    scheme = "https" if settings.tls_cert else "http"
    announce(say, f"serving on {scheme}://{settings.host}:{listener.getsockname()[1]}")
    return run_on(settings, vault, listener)


def listen_at(host: str | None, port: int | None) -> Callable[[Settings], Settings]:
    return lambda s: s.with_(host=host or s.host, port=port if port is not None else s.port)


def run_on(settings: Settings, vault, listener: socket.socket) -> int:
    """Serve ``vault`` with uvicorn on an open ``listener`` until SIGTERM or SIGINT; the vault closes at the end."""
    import uvicorn

    from vault.api.app import create_app

    settle_heap()
    app = create_app(vault, close_on_shutdown=True)
    vault.package_builds.warm_later(WARM_AFTER)
    # JSON: uvicorn's own records go up to our handler instead of its text handlers (and its access log stays off:
    # vault.api.access_log writes the access records, without paths or query strings)
    logs = {"log_config": None} if settings.log_format == "json" else {}
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=10,
                            **logs, **uvicorn_options(settings))
    uvicorn.Server(config).run(sockets=[listener])
    return 0


def work(data_dir: str | None = None) -> int:
    """``vault worker``: run the background jobs (seals, renewals, anchors, copies, audits) without serving HTTP.

    Several workers and API replicas may run at once: each job kind runs in one process at a time (advisory locks
    on PostgreSQL, file locks on the embedded default). Stops cleanly on SIGTERM or SIGINT.
    """
    import signal
    import threading

    started = _start(data_dir, lambda s: s.with_(background="in-process"))
    if started is None:
        return 2
    settings, _, vault = started
    settle_heap()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    announce(settings.log_format, f"worker running on {settings.effective_database_url.split('@')[-1]}")
    stop.wait()
    vault.close()
    return 0


def test_clock(settings: Settings):
    """The tests-only moving clock when ``VAULT_TEST_CLOCK_FILE`` is set (said loudly), else None: the system's."""
    if settings.test_clock_file is None:
        return None
    from vault.clock import OffsetFileClock

    logging.getLogger(__name__).warning("VAULT_TEST_CLOCK_FILE is set: the clock is a test's (%s); never in "
                                        "production", settings.test_clock_file)
    return OffsetFileClock(settings.test_clock_file)
