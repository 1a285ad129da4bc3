"""A large package is built in a child process: an interpreter of its own, so that its CPU work (ZIP, digests,
JSON, evidence-record assembly) neither waits for the server's deposits nor slows them (one GIL each).

The child is forked from a fork server started without the server's threads (``multiprocessing`` "forkserver",
with this module preloaded), opens its own read-only snapshot of the database — after the export entry's
checkpoint, since it starts after it — builds the ZIP and sends it back through a pipe in pieces of about
:data:`PIECE` bytes. Each message is tagged: ``D`` data, ``E`` the end, ``X`` a failure (its reason follows). The
parent hands the pieces to the HTTP response; if the client goes away the child is killed, and a child that dies or
fails makes the parent end the stream short (the ZIP then has no central directory: unreadable, never plausible).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from functools import partial
from typing import TYPE_CHECKING, Iterator

from vault.package.sources import ArchiveFacts

if TYPE_CHECKING:
    from vault.settings import Settings

PIECE = 1 << 20
# imported once by the fork server, so that each child starts with them loaded; vault.cli.main too: a child re-runs
# the parent's main module (multiprocessing's spawn preparation), whose imports are then already done
PRELOAD = [__name__, "vault.cli.main", "vault.db.engine", "vault.db.snapshot", "vault.journal.object_index", "vault.journal.pseudonyms",
           "vault.package.build", "vault.package.sources", "vault.storage.filesystem", "vault.evidence.assemble",
           "vault.evidence.imported", "vault.catalog.queries", "vault.consents.registry", "vault.journal.excerpt",
           "vault.package.lookahead", "vault.evidence.metadata_store"]
log = logging.getLogger(__name__)


class ChildFailed(RuntimeError):
    """The child building a package failed or died; the message says why."""


@dataclass(frozen=True)
class PackageJob:
    rows: list[dict]
    scope: dict
    created: datetime
    facts: ArchiveFacts
    database_url: str
    blob_root: Path
    keys_dir: Path  # VAULT_KEYS_DIR: the pseudonym key
    store_settings: Settings | None = None  # with VAULT_STORES: contents deposited through other replicas


def _build(job: PackageJob, connection) -> None:
    """In the child: build the package and send it, tagged (module docstring)."""
    try:
        from vault.db.engine import make_engine
        from vault.db.snapshot import Snapshot
        from vault.journal.object_index import JournalObjectIndex
        from vault.journal.pseudonyms import Pseudonymizer, load_or_create_key
        from vault.package.build import stream_package
        from vault.package.sources import Readers, package_sources
        from vault.storage.copies import read_first
        from vault.storage.filesystem import FileBlobStore

        engine = make_engine(job.database_url, pool_size=1)
        snapshot = Snapshot(engine)
        stores = [FileBlobStore(job.blob_root)]
        if job.store_settings is not None:
            from vault.clock import SystemClock
            from vault.composition import replicas

            stores += replicas(job.store_settings, SystemClock())
        readers = Readers(content=partial(read_first, stores),
                          journal_entries=JournalObjectIndex(engine).entries,
                          pseudonym=Pseudonymizer(load_or_create_key(job.keys_dir)).pseudonym)
        sources = package_sources(readers, job.facts, job.rows, snapshot)
        pending, size = [b"D"], 0
        for chunk in stream_package(job.rows, job.scope, sources, job.created):
            pending.append(chunk)
            size += len(chunk)
            if size >= PIECE:
                connection.send_bytes(b"".join(pending))
                pending, size = [b"D"], 0
        if size:
            connection.send_bytes(b"".join(pending))
        connection.send_bytes(b"E")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent stopped listening (the client went away): nothing to say to anyone
    except BaseException as exc:  # told to the parent, which logs it and cuts the stream
        try:
            connection.send_bytes(b"X" + f"{type(exc).__name__}: {exc}".encode("utf-8", "replace"))
        except OSError:
            pass
    finally:
        connection.close()


class ChildBuilds:
    """Packages built in children of one fork server (started on first use, or ahead with :meth:`warm`)."""

    def __init__(self):
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._lock = threading.Lock()
        self.running: set[int] = set()  # pids of the children building now

    def warm(self) -> None:
        """Start the fork server now (about a second of imports), so the first large export does not wait."""
        from multiprocessing import forkserver

        with self._lock:
            forkserver.ensure_running()

    def warm_later(self, seconds: float) -> None:
        """:meth:`warm` in the background after ``seconds`` (a served vault: its first large export does not wait
        for the fork server's imports)."""
        timer = threading.Timer(seconds, self.warm)
        timer.daemon = True
        timer.name = "vault-package-warm"
        timer.start()

    def stream(self, job: PackageJob) -> Iterator[bytes]:
        """The package's bytes, as the child sends them; :class:`ChildFailed` if it fails or dies mid-way."""
        receiving, sending = self._context.Pipe(duplex=False)
        with self._lock:  # the fork server serves one request at a time
            process = self._context.Process(target=_build, args=(job, sending), name="vault-package", daemon=True)
            process.start()
        sending.close()
        self.running.add(process.pid)
        try:
            while True:
                try:
                    message = receiving.recv_bytes()
                except EOFError:
                    process.join(5)  # reaped, so that its exit status can be told
                    raise ChildFailed(f"the package builder exited ({process.exitcode}) before the end") from None
                tag = message[:1]
                if tag == b"D":
                    yield message[1:]
                elif tag == b"E":
                    return
                else:
                    raise ChildFailed(message[1:].decode("utf-8", "replace"))
        finally:
            self.running.discard(process.pid)
            receiving.close()
            if process.is_alive():
                process.kill()
            process.join(5)
            process.close()
