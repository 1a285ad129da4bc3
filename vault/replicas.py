"""``vault serve --workers N``: N processes serving one listening socket, each a full replica of the service.

The parent opens the vault once (migrations, keys and the first admin key are made before any replica starts)
and closes it, then starts the replicas with the listening socket (the kernel spreads connections over the
processes accepting on it). Each replica opens the vault itself, as a replica on another host would. SIGTERM or
SIGINT stops them all; when one replica exits on its own, the others are stopped and the exit status is 1.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import threading
from pathlib import Path

from vault.logs import announce
from vault.settings import Settings

STOP_GRACE = 20.0  # seconds a replica has to finish its requests and close before it is killed


def serve_replicas(settings: Settings, listener: socket.socket, vault, workers: int, data_dir: str | None) -> int:
    say = settings.log_format
    if vault.admin_key_file:
        announce(say, f"created the first admin key in {Path(vault.admin_key_file).resolve()} (mode 0600)")
    vault.close()
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or connections inherited
    replicas = [context.Process(target=_replica, args=(listener, data_dir, settings.host, settings.port),
                                name=f"vault-replica-{n}") for n in range(workers)]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for replica in replicas:
        replica.start()
    scheme = "https" if settings.tls_cert else "http"
    announce(say, f"data in {settings.data_dir.resolve()}, database {settings.effective_database_url.split('@')[-1]}")
    announce(say, f"serving on {scheme}://{settings.host}:{listener.getsockname()[1]} with {workers} worker processes")
    while not stop.wait(0.5) and all(r.is_alive() for r in replicas):
        pass
    failed = not stop.is_set()
    for replica in replicas:
        if replica.is_alive():
            replica.terminate()  # SIGTERM: uvicorn's graceful shutdown, then the vault closes
    for replica in replicas:
        replica.join(STOP_GRACE)
        if replica.is_alive():
            replica.kill()
            replica.join()
    return 1 if failed else 0


def _replica(listener: socket.socket, data_dir: str | None, host: str, port: int) -> None:
    from vault.server import _start, listen_at, run_on

    started = _start(data_dir, listen_at(host, port))
    if started is None:
        raise SystemExit(2)
    settings, _, vault = started
    raise SystemExit(run_on(settings, vault, listener))
