"""Composition root: reads settings, builds the adapters, wires the services. Nothing else reads settings."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from vault.auth.keys import KeyRing, bootstrap_admin
from vault.catalog.queries import Catalog
from vault.clock import Clock, SystemClock
from vault.db.engine import is_sqlite, make_engine
from vault.db.migrate import upgrade
from vault.db.writer import BatchWriter
from vault.deposit.service import DepositService
from vault.journal.checkpoints import Checkpointer, load_or_create_signer
from vault.journal.entries import AccessJournal
from vault.journal.pseudonyms import Pseudonymizer, load_or_create_key
from vault.retention.policy import PolicyBook, load_policies
from vault.settings import Settings
from vault.storage.blobstore import SweepReport
from vault.storage.filesystem import FileBlobStore

log = logging.getLogger("vault")

_PG_JOURNAL_LOCK = 0x7661756C  # 'vaul': serialises journal appends across processes on PostgreSQL


@dataclass
class Vault:
    settings: Settings
    clock: Clock
    reader: Engine
    writer_engine: Engine
    writer: BatchWriter
    store: FileBlobStore
    policies: PolicyBook
    keys: KeyRing
    journal: AccessJournal
    catalog: Catalog
    deposits: DepositService
    checkpointer: Checkpointer
    pseudonyms: Pseudonymizer
    admin_key_file: Path | None = None

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None, *, sweep_in_background: bool = True,
             background_jobs: bool = True) -> "Vault":
        """Load policies (failing early), migrate the schema, bootstrap the admin key, start the writer and jobs."""
        clock = clock or SystemClock()
        policies = load_policies(settings.policies_dir)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.effective_database_url
        reader = make_engine(url)
        upgrade(reader)
        writer_engine = make_engine(url, writer=True)
        store = FileBlobStore(settings.blob_dir, defer_name_sync=True)
        postgres = not is_sqlite(url)

        def before_batch(connection) -> None:
            if postgres:
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_JOURNAL_LOCK})

        # the blobs named by a batch's rows are made durable (syncfs) while the batch runs, before it commits
        writer = BatchWriter(writer_engine, max_batch=settings.write_batch_max, before_batch=before_batch,
                             barrier=store.sync_names)
        catalog = Catalog(reader)
        vault = cls(
            settings=settings, clock=clock, reader=reader, writer_engine=writer_engine, writer=writer, store=store,
            policies=policies, keys=KeyRing(reader), catalog=catalog,
            pseudonyms=(pseudonyms := Pseudonymizer(load_or_create_key(settings.data_dir))),
            journal=AccessJournal(writer.submit, clock, pseudonyms),
            deposits=DepositService(store, writer, catalog, policies, clock, settings.max_metadata_bytes),
            checkpointer=Checkpointer(load_or_create_signer(settings.data_dir, settings.journal_origin),
                                      writer.submit, clock, settings.checkpoint_interval),
        )
        vault.admin_key_file = bootstrap_admin(reader, settings.data_dir, settings.admin_key, clock.now())
        if sweep_in_background:
            threading.Thread(target=vault.sweep_orphans, name="vault-orphan-sweep", daemon=True).start()
        if background_jobs:
            vault.checkpointer.start()
            threading.Thread(target=store.prepare_fan_out, name="vault-fan-out", daemon=True).start()
        return vault

    def sweep_orphans(self, grace: timedelta | None = None) -> SweepReport:
        grace = timedelta(seconds=self.settings.orphan_grace_seconds) if grace is None else grace
        report = self.store.sweep_orphans(self.catalog.references_blob, grace)
        if report.temporary_removed or report.orphans_removed:
            log.info("orphan sweep: %s", report)
        return report

    def ready(self) -> dict[str, str]:
        """Checks behind ``GET /ready``: the database answers and the blob store is writable."""
        checks = {}
        try:
            with self.reader.connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # reported, not raised: /ready says what is wrong
            checks["database"] = f"failing: {exc.__class__.__name__}"
        probe = self.store.tmp_dir / ".ready"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
            checks["blob_store"] = "ok"
        except OSError as exc:
            checks["blob_store"] = f"failing: {exc.strerror}"
        return checks

    def close(self) -> None:
        self.checkpointer.stop()
        self.writer.close()
        self.writer_engine.dispose()
        self.reader.dispose()
