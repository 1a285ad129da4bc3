"""Composition root: reads settings, builds the adapters, wires the services. Nothing else reads settings."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Engine, text

from vault.auth.keys import KeyRing, bootstrap_admin
from vault.catalog.formats import FormatPass
from vault.catalog.queries import Catalog
from vault.pronom import Identifier
from vault.clock import Clock, SystemClock
from vault.db.engine import is_sqlite, make_engine
from vault.db.schema_head import migrate_at_start
from vault.db.writer import BatchWriter
from vault.deposit.service import DepositService
from vault.evidence.scheduler import SealScheduler
from vault.evidence.sealing import Sealer
from vault.jobs.coordination import JobLocks
from vault.journal.anchors import Anchorer
from vault.journal.checkpoints import Checkpointer
from vault.journal.entries import AccessJournal
from vault.journal.fork import JournalFork, check_at_start
from vault.journal.log import lock_appends
from vault.journal.pseudonyms import Pseudonymizer
from vault.sandbox import NOTICE, SandboxClock, check_data_dir
from vault.retention.policy import PolicyBook, PolicyError, load_policies
from vault.documents.pdf import ValidationData, load_or_create_pdf_identity
from vault.identity import (
    IdentityError, differences, load_identity, mismatch_message, record_or_compare, recorded_fingerprints,
)
from vault.reports.service import DocumentService
from vault.retention.registry import register_policies
from vault.retention.service import RetentionService
from vault.monitoring.collect import TtlCache
from vault.monitoring.histogram import Histogram
from vault.monitoring.outcomes import DepositOutcomes
from vault.package.child import ChildBuilds
from vault.monitoring.tsa import TsaMeter
from vault.monitoring.probes import CachedProbe
from vault.monitoring.delivery import Notifier
from vault.monitoring.evaluator import AlertEvaluator
from vault.settings import Settings, duration_of
from vault.composition import alerting, configured_roots, copy_quorum, replicas, seal_policy, tsa_client
from vault.storage.blobstore import SweepReport
from vault.storage.copies import Copies
from vault.storage.copy_health import copies_verdict
from vault.storage.quorum_watch import QuorumWatch
from vault.storage.fixity import open_counts
from vault.storage.filesystem import FileBlobStore
from vault.storage.headroom import DiskHeadroom, is_out_of_space
from vault.storage.private import make_private_dir, tighten_data_dir
from vault.timestamping.client import (
    TsaClient, raw_exchange,
)
from vault.timestamping.devtsa import DevelopmentTsa
from vault.timestamping.history import TsaHistory
from vault.timestamping.reachability import tsa_reachability
from vault.cases.chains import load_chain
from vault.cases.tracker import CaseTracker
from vault.kpis.ledger import KpiLedger
from vault.consents.registry import ConsentRegistry
from vault.journal.object_index import JournalObjectIndex
from vault.validation.store import TrustStore

log = logging.getLogger("vault")


_PG_JOURNAL_LOCK = 0x7661756C  # 'vaul': serialises journal appends across processes on PostgreSQL


def _anchor_certs(roots) -> list:
    """The archive's own TSA roots (configured and used before) as validation anchors: tokens it obtained itself
    check out offline."""
    from asn1crypto import x509 as asn1_x509

    return [asn1_x509.Certificate.load(root.public_bytes(Encoding.DER)) for root in roots]


def make_private(data_dir: Path) -> None:
    """Create the data directory 0700 and tighten one made before modes were explicit (logged once)."""
    make_private_dir(data_dir)
    changed, walked = tighten_data_dir(data_dir)
    if changed:
        log.warning("data directory %s: %d files and directories made private (files 0600, directories 0700; %s)",
                    data_dir.resolve(), changed, "whole tree" if walked else "top level")


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
    tsa: TsaClient
    dev_tsa: DevelopmentTsa | None
    tsa_history: TsaHistory
    sealer: Sealer
    seal_scheduler: SealScheduler
    anchorer: Anchorer
    retention: RetentionService
    copies: Copies
    consents: ConsentRegistry
    trust: TrustStore
    cases: CaseTracker
    kpis: KpiLedger
    journal_objects: JournalObjectIndex
    documents: DocumentService
    headroom: DiskHeadroom | None = None
    read_only: str | None = None  # why the vault started read-only (a full disk), None when it writes
    technical_failures: Counter = field(default_factory=Counter)  # by problem slug, for /metrics
    deposit_outcomes: DepositOutcomes = field(default_factory=DepositOutcomes)  # stored/refused/failed, by tenant
    package_builds: ChildBuilds = field(default_factory=ChildBuilds)  # large packages, built in child processes
    tsa_meter: TsaMeter = field(default_factory=TsaMeter)  # TSA requests by outcome, latency, reachability
    request_latency: Histogram = field(default_factory=lambda: Histogram(("route", "method")))  # by route template
    metrics_cache: TtlCache = field(default_factory=TtlCache)  # /metrics figures too dear to compute per scrape
    admin_key_file: Path | None = None
    alerting: AlertEvaluator | None = None  # the embedded alert rules (started with the in-process jobs)
    notifier: Notifier | None = None  # webhooks and e-mail for alerts that fire or resolve
    _leaving: threading.Lock = field(default_factory=threading.Lock, repr=False)
    fork: JournalFork | None = None  # set at start when the journal lost an anchored or signed tree: no writes
    tsa_probe: CachedProbe | None = None  # /ready: the TSA answers (last exchange, or a probe token)
    copies_probe: CachedProbe | None = None  # /ready: the stores answer and blobs are at their copy quorum
    formats: FormatPass | None = None  # PRONOM identification of the deposits, in the background

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None, *, sweep_in_background: bool = True,
             background_jobs: bool = True) -> "Vault":
        """Load policies (failing early), migrate the schema, bootstrap the admin key, start the writer and jobs."""
        clock = clock or SystemClock()
        policies = load_policies(settings.policies_dir)
        make_private(settings.data_dir)
        check_data_dir(settings.data_dir, settings.sandbox)
        if settings.sandbox:
            clock = SandboxClock(settings.data_dir, clock)
            log.warning("VAULT_SANDBOX=true: %s; the clock is %s ahead", NOTICE, clock.offset)
        issuer, keys_dir = f"vault.{settings.instance}", settings.effective_keys_dir
        identity = load_identity(keys_dir, settings.journal_origin, issuer, clock.now())
        url = settings.effective_database_url
        reader = make_engine(url, pool_size=settings.db_pool_size)
        migrate_at_start(reader)
        writer_engine = make_engine(url, writer=True)
        store = FileBlobStore(settings.blob_dir, settings.local_store_name, defer_name_sync=True)
        postgres = not is_sqlite(url)

        def before_batch(connection) -> None:
            if postgres:
                lock_appends(connection, _PG_JOURNAL_LOCK)

        # the blobs named by a batch's rows are made durable (syncfs) while the batch runs, before it commits
        writer = BatchWriter(writer_engine, max_batch=settings.write_batch_max, before_batch=before_batch,
                             barrier=store.sync_names, barrier_pending=store.names_pending,
                             commit_delay=settings.commit_delay_ms / 1000)
        read_only = None
        signer = identity.signer
        try:
            differing = writer.run(lambda c: record_or_compare(c, identity.fingerprints(), clock.now()))
        except Exception as exc:
            if not is_out_of_space(exc):
                raise
            with reader.connect() as connection:  # a full disk: compare with what is recorded, record nothing
                differing = differences(recorded_fingerprints(connection), identity.fingerprints())
        if differing:
            writer.close()
            writer_engine.dispose()
            reader.dispose()
            raise IdentityError(mismatch_message(keys_dir, differing))
        fork = check_at_start(reader, writer, signer.verifier, clock.now())  # before anything appends to the log
        try:
            writer.run(lambda connection: register_policies(connection, policies, clock.now()))
        except PolicyError:
            writer.close()
            writer_engine.dispose()
            reader.dispose()
            raise
        except Exception as exc:
            if not is_out_of_space(exc):
                raise
            read_only = "the data filesystem is full: policies not registered, deposits refused until space is freed"
        catalog = Catalog(reader)
        tsa_history = TsaHistory(reader, writer.submit)
        tsa_meter = TsaMeter()
        tsa, dev_tsa = tsa_client(settings, clock, tsa_history, tsa_meter)

        def tsa_roots() -> list:
            return [published.certificate for published in tsa_history.published(configured_roots(tsa))]
        copies = Copies([store, *replicas(settings, clock)], copy_quorum(settings), reader, writer, clock,
                        upload_concurrency=settings.upload_concurrency)
        sealer = Sealer(reader, writer, tsa, clock, seal_policy(settings), copies.read_any)
        archive_key = identity.archive_key

        def pdf_identity():
            return load_or_create_pdf_identity(keys_dir, issuer, clock.now())

        def timestamp(request: bytes) -> bytes:
            return raw_exchange(tsa, request)

        def pdf_validation_data() -> ValidationData | None:
            """PAdES B-LT needs the TSA's chain and CRL offline: only the built-in TSA has them (external: B-T)."""
            if dev_tsa is None:
                return None
            return ValidationData((dev_tsa.root,), (dev_tsa.certificate,), (dev_tsa.crl(),), clock.now())

        checkpointer = Checkpointer(signer, writer.submit, clock, settings.checkpoint_interval)
        # the index folds on its own writer-mode engine, in the background only (readers read folded + tail)
        journal_objects = JournalObjectIndex(reader, fold_engine=make_engine(url, writer=True, pool_size=1))
        vault = cls(
            settings=settings, clock=clock, reader=reader, writer_engine=writer_engine, writer=writer, store=store,
            policies=policies, keys=KeyRing(reader, clock.now), catalog=catalog,
            pseudonyms=(pseudonyms := Pseudonymizer(identity.pseudonym_key)),
            journal=AccessJournal(writer.submit, clock, pseudonyms, settings.write_batch_max),
            consents=(consents := ConsentRegistry(reader, pseudonyms.pseudonym)),
            trust=(trust := TrustStore(settings.effective_trust_dir, extra=lambda: _anchor_certs(tsa_roots()))),
            deposits=DepositService(store, writer, catalog, policies, clock, settings.max_metadata_bytes, copies,
                                    trust=trust, case_ref_pattern=settings.case_ref_pattern,
                                    validate_max_bytes=settings.validate_max_bytes,
                                    pseudonym=consents.subject_pseudonym),
            cases=(cases := CaseTracker(reader, load_chain(settings.case_chain), clock,
                                        fold_engine=make_engine(url, writer=True, pool_size=1))),
            deposit_outcomes=(outcomes := DepositOutcomes()),
            kpis=KpiLedger(reader, clock, outcomes, cases.overdue_count,
                           fold_engine=make_engine(url, writer=True, pool_size=1)),
            journal_objects=journal_objects, checkpointer=checkpointer,
            tsa=tsa, dev_tsa=dev_tsa, tsa_history=tsa_history, tsa_meter=tsa_meter, sealer=sealer, fork=fork,
            seal_scheduler=SealScheduler(sealer, clock, settings.seal_interval),
            anchorer=Anchorer(reader, writer, tsa, clock, min(settings.anchor_interval, 86400.0)),
            copies=copies,
            retention=RetentionService(
                reader, writer, policies, clock, pseudonyms.pseudonym, copies.delete_everywhere,
                archive_key, pdf_identity=pdf_identity, timestamp=timestamp, copies=copies,
                pdf_validation_data=pdf_validation_data, pseudonyms=pseudonyms,
                key_min_age=duration_of(settings.disposal_key_min_age), notice=duration_of(settings.disposal_notice),
                sandbox=settings.sandbox),
            headroom=(headroom := DiskHeadroom(settings.data_dir, settings.min_free_bytes)), read_only=read_only,
            documents=DocumentService(
                reader, catalog, copies, policies, clock, archive_key, pdf_identity, timestamp,
                tsa_roots=tsa_roots,
                journal_verifier=checkpointer.signer.verifier, checkpoint_now=checkpointer.checkpoint_now,
                journal_entries=journal_objects.entries, issuer=issuer, validation_data=pdf_validation_data,
                sandbox=settings.sandbox),
        )
        if read_only:
            log.error("vault starts read-only: %s", read_only)
        elif headroom.space().low:
            vault.read_only = (f"the data filesystem has {headroom.space().free} bytes free, below "
                               f"VAULT_MIN_FREE_BYTES={headroom.space().minimum}: deposits refused until space is freed")
            log.error("vault starts read-only: %s", vault.read_only)
        vault.tsa_probe = tsa_reachability(tsa, settings.tsa_probe_interval)
        watch = QuorumWatch(copies.quorum)  # per process: its first run is a full pass
        vault.copies_probe = CachedProbe("the stores", lambda: copies_verdict(copies, watch),
                                         settings.ready_probe_interval, timeout=15.0)
        vault.admin_key_file = bootstrap_admin(reader, settings.data_dir, settings.admin_key, clock.now())
        locks = JobLocks(reader, settings.data_dir)
        vault.seal_scheduler.job_locks = vault.anchorer.job_locks = vault.copies.job_locks = locks
        vault.cases.locks = vault.journal_objects.locks = vault.kpis.locks = locks
        vault.formats = FormatPass(reader, make_engine(url, writer=True, pool_size=1), copies.read_any, Identifier(), clock,
                                   locks, locate=store.path_for)
        vault.notifier, vault.alerting = alerting(settings, vault)
        if sweep_in_background:
            threading.Thread(target=vault.sweep_orphans, name="vault-orphan-sweep", daemon=True).start()
        if background_jobs:  # every serving process persists its failed-deposit counts; folding is a job
            vault.kpis.start(fold=settings.background == "in-process")
        if background_jobs and settings.background == "in-process":
            vault.checkpointer.start()
            vault.journal_objects.start()
            vault.cases.start()
            if settings.format_identification:
                vault.formats.start()
            vault.seal_scheduler.start()
            if vault.fork is None:  # anchoring a forked log would timestamp the fork as if nothing happened
                vault.anchorer.start()
            vault.copies.start(settings.copy_interval, settings.audit_interval, settings.audit_sample,
                               settings.audit_rate_bytes)
            threading.Thread(target=store.prepare_fan_out, name="vault-fan-out", daemon=True).start()
            store.keep_spares()
            vault.notifier.start()
            vault.alerting.start()
        return vault

    def sweep_orphans(self, grace: timedelta | None = None) -> SweepReport:
        grace = timedelta(seconds=self.settings.orphan_grace_seconds) if grace is None else grace
        report = self.store.sweep_orphans(self.catalog.references_blob, grace)
        if report.temporary_removed or report.orphans_removed:
            log.info("orphan sweep: %s", report)
        return report

    def ready(self) -> dict[str, str]:
        """Checks behind ``GET /ready``: the database answers, the blob store is writable, the data filesystem has
        its headroom (``VAULT_MIN_FREE_BYTES``), the vault is not read-only nor forked, no fixity alert is open, the
        TSA answers and the copies are at their quorum (those two from background probes: never waited for)."""
        checks = {}
        try:
            with self.reader.connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # reported, not raised: /ready says what is wrong
            checks["database"] = f"failing: {exc.__class__.__name__}"
        checks["disk"] = self.headroom.check()
        if self.read_only:
            checks["mode"] = f"read-only: {self.read_only}"
        if self.fork is not None:
            checks["journal"] = (f"failing: journal fork, writes refused: {self.fork.describe()}; run "
                                 "`vault journal accept-fork --reason …` once investigated")
        probe = self.store.tmp_dir / ".ready"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
            checks["blob_store"] = "ok"
        except OSError as exc:
            checks["blob_store"] = f"failing: {exc.strerror}"
        try:
            with self.reader.connect() as connection:
                open_fixity = sum(open_counts(connection).values())
            checks["fixity"] = f"degraded: {open_fixity} open fixity alert(s), see /v1/alerts" if open_fixity else "ok"
        except Exception as exc:
            checks["fixity"] = f"failing: {exc.__class__.__name__}"
        checks["tsa"] = self.tsa_probe.verdict()
        checks["copies"] = self.copies_probe.verdict()
        return checks

    def writable(self) -> str | None:
        """None when a deposit may be stored; else why not (below the free-space minimum, or read-only since a
        start on a full disk). A read-only vault leaves that mode here, once space is back, by registering the
        policies it could not register at start."""
        space = self.headroom.space()
        if space.low:
            return (f"only {space.free} bytes are free on the archive's disk, below the {space.minimum} kept for the "
                    "access journal (VAULT_MIN_FREE_BYTES)")
        if self.read_only:
            with self._leaving:
                if self.read_only:
                    try:
                        self.writer.run(lambda c: register_policies(c, self.policies, self.clock.now()))
                    except Exception as exc:  # noqa: BLE001 — still no room: stay read-only, say so
                        self.headroom.forget()
                        return f"the archive is read-only ({exc.__class__.__name__} on leaving it)"
                    log.warning("vault leaves read-only mode: space is back, policies registered")
                    self.read_only = None
        return None

    def tsa_roots(self) -> list:
        """Every TSA root that ever validated a token here and the configured ones (certificates)."""
        return [published.certificate for published in self.tsa_history.published(configured_roots(self.tsa))]

    def tsa_roots_pem(self) -> bytes:
        """PEM of every TSA root that ever validated a token here and of the configured ones (``GET
        /v1/tsa/roots``, packages), each after a comment saying who used it and when."""
        return b"".join(root.pem() for root in self.tsa_history.published(configured_roots(self.tsa)))

    def close(self) -> None:
        """Stop the jobs; a process that anchored checkpoints and anchors the journal once more (clean shutdown)."""
        if self.alerting:
            self.alerting.stop()
            self.notifier.stop()
        self.seal_scheduler.stop()
        anchoring = self.anchorer.running
        self.anchorer.stop()
        self.copies.stop()
        self.checkpointer.stop()
        if anchoring:
            try:
                self.checkpointer.checkpoint_now()
            except Exception as exc:  # noqa: BLE001 — logged; the last anchor then covers the previous checkpoint
                if is_out_of_space(exc):
                    log.warning("journal checkpoint at shutdown skipped: the disk is full")
                else:
                    log.exception("journal checkpoint at shutdown failed")
            self.anchorer.anchor_at_shutdown()
        self.journal_objects.stop()
        self.journal_objects.fold_engine.dispose()
        self.cases.stop()
        self.cases.fold_engine.dispose()
        if self.formats:
            self.formats.stop()
            self.formats.fold_engine.dispose()
        self.kpis.stop()
        self.kpis.fold_engine.dispose()
        self.writer.close()
        self.writer_engine.dispose()
        self.reader.dispose()
