"""Copies of every blob on several stores, a quorum before a deposit is acknowledged, and fixity audits with repair.

The local file store is the first copy; ``VAULT_STORES`` adds S3 buckets (with Object Lock). A deposit's copies go
to every replica at once (at most ``VAULT_UPLOAD_CONCURRENCY`` uploads per process); it is answered as soon as
``VAULT_COPY_QUORUM`` stores hold it durably, and the other copies finish in the background, recorded when done (one
that fails is logged and made again by the copy job). Which store
holds what is recorded in ``blob_copies`` (one row per blob and store). A fixity audit re-reads copies, compares
their SHA-256 with the recorded digest, repairs a bad or missing copy from a good one, journals what it found and
did, and keeps what it found as fixity alerts (:mod:`vault.storage.fixity`), one for a blob with no good copy
left (the audit itself: :mod:`vault.storage.audit`). Reads go through the same check (:func:`read_content`): a
corrupt copy is passed over, never answered.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select

from vault.clock import iso_z
from vault.crypto.digests import Digests
from vault.db.tables import ArchivedObject, BlobCopy
from vault.storage.audit import audit, digest_of
from vault.storage.blobstore import BlobNotFound
from vault.storage.fixity import CONTENT_LOST, COPY_MISSING, Finding, open_alerts, record_findings
from vault.storage.placement import (CopyReport, held_elsewhere, other_hosts_holding, owed_by_other_host,
                                     recorded_elsewhere)
from vault.storage.quorum import QuorumNotReached, QuorumWait  # noqa: F401  (QuorumNotReached re-exported)
from vault.storage.verified_read import VerifiedContent, open_verified

OBJECTS = ArchivedObject.__table__
COPIES = BlobCopy.__table__
log = logging.getLogger(__name__)
VERIFY_BEFORE_SEND = 16 * 1024 * 1024  # a blob up to this size is hashed whole before the first byte is answered


def copies_of(connection: Connection, sha256: str) -> list[dict]:
    """The stores recorded as holding a good copy of blob ``sha256``, with when it was copied and when a fixity
    audit last re-read it and found its SHA-256 right (None: not audited since the copy)."""
    rows = connection.execute(select(COPIES).where(COPIES.c.sha256 == sha256).order_by(COPIES.c.store)).mappings()
    return [{"store": r["store"], "status": r["status"], "copied_at": iso_z(r["copied_at"]),
             "verified_at": iso_z(r["verified_at"])} for r in rows]


class StoreSpecError(ValueError):
    pass


@dataclass(frozen=True)
class S3Spec:
    name: str
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str


def parse_store(text: str) -> S3Spec:
    """``s3://ACCESS:SECRET@host:port/bucket?region=…&tls=0&name=…`` (tls=1 by default: https)."""
    parts = urlsplit(text.strip())
    if parts.scheme != "s3" or not parts.hostname or not parts.path.strip("/"):
        raise StoreSpecError(f"{text.split('@')[-1]!r}: a store is s3://ACCESS:SECRET@host:port/bucket?name=…")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    scheme = "http" if query.get("tls", "1") == "0" else "https"
    port = f":{parts.port}" if parts.port else ""
    bucket = parts.path.strip("/")
    return S3Spec(name=query.get("name", bucket), endpoint=f"{scheme}://{parts.hostname}{port}", bucket=bucket,
                  access_key=unquote(parts.username or ""), secret_key=unquote(parts.password or ""),
                  region=query.get("region", "us-east-1"))


class Copies:
    """The stores of one archive: ``stores[0]`` is the local primary; ``quorum`` copies before an answer."""

    def __init__(self, stores: Sequence[Any], quorum: int, reader: Engine, writer, clock, upload_concurrency: int = 8):
        if not 1 <= quorum <= len(stores):
            raise ValueError(f"copy quorum {quorum} needs between 1 and {len(stores)} stores")
        self.stores = list(stores)
        self.quorum = quorum
        self.reader = reader
        self.writer = writer
        self.clock = clock
        self.alerts: list[str] = []  # S3 locks and holds that could not be mirrored (fixity alerts are in the table)
        self.verify_before_send = VERIFY_BEFORE_SEND
        self.last_audit: dict | None = None
        self.job_locks = None  # vault.jobs.coordination.JobLocks
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._uploads = ThreadPoolExecutor(max_workers=upload_concurrency, thread_name_prefix="vault-upload")

    @property
    def replicas(self) -> list[Any]:
        return self.stores[1:]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stores]

    def by_name(self, name: str):
        return next(s for s in self.stores if s.name == name)

    # -- deposit path ------------------------------------------------------------------------------------------

    def replicate_for_deposit(self, digests: Digests, retain_until: datetime | None, new: bool = False) -> list[dict]:
        """:meth:`start_deposit_copies`, waited for in this thread (for synchronous callers)."""
        return self.start_deposit_copies(digests, retain_until, new).result()

    def start_deposit_copies(self, digests: Digests, retain_until: datetime | None, new: bool = False,
                             content: bytes | None = None) -> "Future[list[dict]]":
        """Copy a just-stored blob to every replica in parallel; a future of its ``blob_copies`` rows once the
        quorum holds it.

        ``new``: the primary did not hold the blob before, so the replicas are not asked first (one S3 request
        less; should one hold it after all, it gets a second locked version). ``content``: the whole blob when the
        deposit still has it in memory, sent instead of read back from the primary (each store checks it against
        ``digests`` before storing it, as it checks what it reads). No thread waits for the uploads: the
        future is settled by the upload that decides the quorum, so an async caller awaits it on its event loop.
        The copies beyond the quorum continue in the background and record their own rows when done. The future
        raises :class:`QuorumNotReached` (nothing acknowledged) as soon as too few stores can still take it."""
        now = self.clock.now()
        quorum = QuorumWait(self.quorum, [self._row(digests.sha256, self.stores[0].name, "", now)],
                             len(self.replicas))
        for store in self.replicas:
            upload = self._uploads.submit(self._copy, store, digests, retain_until, new, content)
            upload.add_done_callback(lambda f, store=store: self._copied(quorum, f, store, digests.sha256, now))
        return quorum.result

    def _copied(self, quorum: "QuorumWait", upload: Future, store, sha256: str, at: datetime) -> None:
        """One upload ended: counted towards the quorum while it is open, else recorded on its own."""
        try:
            row, failure = self._row(sha256, store.name, upload.result(), at), None
        except Exception as exc:  # a store down is what a quorum is for
            row, failure = None, exc
        if quorum.add(row, f"{store.name}: {failure.__class__.__name__}: {failure}" if failure else None):
            return
        if row is not None:
            self._record_late(row)
        else:
            log.warning("the background copy of %s… to %s failed (the copy job makes it again): %s: %s",
                        sha256[:16], store.name, failure.__class__.__name__, failure)

    def _record_late(self, row: dict) -> None:
        """Record a copy made after the answer; one that cannot be is left to :meth:`complete_missing`."""
        try:
            self._record([row])
        except Exception as exc:
            log.warning("the background copy of %s… to %s could not be recorded (the copy job makes it again): "
                        "%s: %s", row["sha256"][:16], row["store"], exc.__class__.__name__, exc)

    def _copy(self, store, digests: Digests, retain_until: datetime | None, new: bool = False,
              content: bytes | None = None) -> str:
        if not new and store.exists(digests.sha256):
            return ""
        chunks = (content,) if content is not None else self.stores[0].read(digests.sha256)
        return store.copy_from(chunks, digests, retain_until)

    @staticmethod
    def _row(sha256: str, store: str, version: str, at: datetime) -> dict:
        return {"sha256": sha256, "store": store, "version_id": version, "status": "ok", "copied_at": at,
                "verified_at": None}

    # -- background completion ---------------------------------------------------------------------------------

    def complete_missing(self, limit: int = 1000) -> CopyReport:
        """Make the copies a deposit did not wait for (and any a store lost before it was recorded); a blob another
        host's local store holds is not copied into this host's, and one only another host can read is left to it,
        reported as ``held_elsewhere`` (:mod:`vault.storage.placement`)."""
        report = CopyReport()
        for store in self.stores:
            query = (select(OBJECTS.c.sha256, OBJECTS.c.sha512, OBJECTS.c.size,
                            func.max(OBJECTS.c.retention_until).label("until"))
                     .where(OBJECTS.c.destroyed_at.is_(None))
                     .where(~select(COPIES.c.sha256).where(and_(COPIES.c.sha256 == OBJECTS.c.sha256,
                                                                COPIES.c.store == store.name)).exists())
                     .group_by(OBJECTS.c.sha256, OBJECTS.c.sha512, OBJECTS.c.size).limit(limit))
            if store is self.stores[0]:
                query = query.where(~recorded_elsewhere(OBJECTS.c.sha256, self.names))
            with self.reader.connect() as connection:
                missing = connection.execute(query).all()
            for row in missing:
                digests = Digests(row.sha256, row.sha512, row.size)
                try:
                    source = self._good_source(digests, exclude=store.name)
                    version = "" if store is self.stores[0] and store.exists(row.sha256) else \
                        self._copy_from(source, store, digests, row.until)
                    self._record([self._row(row.sha256, store.name, version, self.clock.now())])
                    report.made.append(f"{row.sha256[:16]}… → {store.name}")
                except Exception as exc:
                    report.not_made(row.sha256, store.name, exc, lambda sha256=row.sha256: self._holders(sha256))
        return report

    def _holders(self, sha256: str) -> list[str]:
        with self.reader.connect() as connection:
            return other_hosts_holding(connection, sha256, self.names)

    def _copy_from(self, source, target, digests: Digests, retain_until) -> str:
        if hasattr(target, "copy_from"):
            return target.copy_from(source.read(digests.sha256), digests, retain_until)
        writer = target.writer()
        try:
            for chunk in source.read(digests.sha256):
                writer.write(chunk)
            if writer.digests().sha256 != digests.sha256:
                raise ValueError(f"{source.name} gave bytes that do not match {digests.sha256[:16]}…")
            writer.commit()
            target.sync_names()
        except BaseException:
            writer.abort()
            raise
        return ""

    def _good_source(self, digests: Digests, exclude: str):
        for store in self.stores:
            if store.name != exclude and digest_of(store, digests.sha256) == digests.sha256:
                return store
        raise LookupError(f"no good copy of {digests.sha256[:16]}… left on any store")

    def _record(self, rows: list[dict]) -> None:
        def unit(connection: Connection) -> None:
            for row in rows:
                connection.execute(delete(COPIES).where(COPIES.c.sha256 == row["sha256"], COPIES.c.store == row["store"]))
                connection.execute(insert(COPIES), row)

        self.writer.run(unit)

    # -- fixity audit ------------------------------------------------------------------------------------------

    def audit(self, sample: int | None = None, rate_limit_bytes: int | None = None) -> dict:
        """The fixity audit (:func:`vault.storage.audit.audit`): re-read every copy (or ``sample`` blobs), repair,
        journal, alert."""
        self.last_audit = audit(self, sample, rate_limit_bytes)
        return self.last_audit

    def record_findings(self, findings: list[Finding], source: str, store_count: int | None = None) -> None:
        """Keep what a look at copies found as fixity alerts (raised once, seen again, resolved when good); all
        ``store_count`` (default: every store of this host) copies bad is a lost content."""
        if findings:
            now, count = self.clock.now(), store_count or len(self.stores)
            self.writer.run(lambda c: record_findings(c, findings, now, source, count))

    # -- reads -------------------------------------------------------------------------------------------------

    def read_any(self, sha256: str) -> Iterator[bytes]:
        """:func:`read_first` over these stores."""
        return read_first(self.stores, sha256)

    def read_content(self, digests: Digests, object_id: str) -> VerifiedContent:
        """The bytes of a blob from the first store whose copy matches ``digests``, checked on their way out;
        raises :class:`~vault.storage.verified_read.ContentUnavailable` when none does."""
        return open_verified(self.stores, digests, object_id, self.verify_before_send, self._report_read)

    def _report_read(self, findings: list[Finding]) -> None:
        # a read raises alerts; resolving them is the audit's (a clean read costs no write)
        if any(f.kind == COPY_MISSING for f in findings):
            owed = self._owed_elsewhere(findings[0].sha256)
            findings = [f for f in findings if not (f.kind == COPY_MISSING and f.store in owed)]
        if any(f.kind is not None for f in findings):
            try:
                self.record_findings(findings, "read")
            except Exception as exc:  # the bad copy is still passed over; the next audit records it
                log.error("could not record the fixity alerts of a read: %s: %s", exc.__class__.__name__, exc)

    def _owed_elsewhere(self, sha256: str) -> set[str]:
        """This host's stores where blob ``sha256`` was never recorded while another host's local store holds it:
        its absence there is not a missing copy (another host's deposit, or a copy that host still owes)."""
        with self.reader.connect() as connection:
            recorded = {(sha256, store) for store in
                        connection.execute(select(COPIES.c.store).where(COPIES.c.sha256 == sha256)).scalars()}
        elsewhere = held_elsewhere(recorded, self.names)
        return {name for name in self.names if owed_by_other_host(sha256, name, recorded, elsewhere)}

    def status(self) -> dict:
        with self.reader.connect() as connection:
            rows = connection.execute(select(COPIES.c.store, func.count(), func.min(COPIES.c.verified_at))
                                      .group_by(COPIES.c.store)).all()
            active = connection.execute(select(func.count(func.distinct(OBJECTS.c.sha256)))
                                        .where(OBJECTS.c.destroyed_at.is_(None))).scalar_one()
            fixity = open_alerts(connection, None, 1000)
        per_store = {r[0]: {"copies": r[1], "oldest_verification": r[2].isoformat() if r[2] else None} for r in rows}
        alerts = [f"no good copy left of object {a['object_id']} ({a['sha256'][:16]}…)" if a["kind"] == CONTENT_LOST
                  else f"{a['kind']} on {a['store']}: object {a['object_id']} ({a['sha256'][:16]}…)" for a in fixity]
        return {"stores": self.names, "quorum": self.quorum, "blobs": active, "local_store": self.stores[0].name,
                "per_store": per_store, "alerts": alerts + list(self.alerts), "fixity_alerts": fixity,
                "last_audit": self.last_audit,
                "other_hosts_stores": sorted(set(per_store) - set(self.names))}  # counted, not read, here

    # -- mirroring vault's retention and holds onto the S3 locks -----------------------------------------------

    def extend_retention(self, sha256: str, until: datetime | None) -> None:
        """Push the COMPLIANCE dates of every S3 copy to ``until`` (+ margin) when later; never shortens."""
        if until is None:
            return
        for store in self.replicas:
            try:
                store.extend_retention(sha256, until)
            except Exception as exc:
                self.alerts.append(f"{store.name}: could not extend the lock of {sha256[:16]}… to {until}: {exc}")

    def mirror_hold(self, sha256: str, on: bool) -> None:
        """Set or clear the S3 legal hold of every copy, mirroring vault's holds."""
        for store in self.replicas:
            try:
                store.set_legal_hold(sha256, on)
            except Exception as exc:
                self.alerts.append(f"{store.name}: could not {'set' if on else 'clear'} the legal hold of "
                                   f"{sha256[:16]}…: {exc}")

    # -- deletion at disposal ----------------------------------------------------------------------------------

    def delete_everywhere(self, sha256: str) -> list[dict]:
        """Delete a blob from every store; what a store refused (an Object Lock not yet expired) is reported."""
        results = []
        for store in self.stores:
            try:
                if hasattr(store, "delete_versions"):
                    report = store.delete_versions(sha256)
                    result = ("deleted" if report.deleted else "already absent") if not report.refused else \
                        "refused by the storage: " + "; ".join(report.refused)
                else:
                    result = "deleted" if store.delete(sha256) else "already absent"
            except Exception as exc:
                result = f"failed: {exc.__class__.__name__}: {exc}"
            results.append({"store": store.name, "result": result})
        self.writer.run(lambda c: c.execute(delete(COPIES).where(COPIES.c.sha256 == sha256)))
        return results

    # -- scheduler ---------------------------------------------------------------------------------------------

    def start(self, interval: float, audit_interval: float, audit_sample: int, audit_rate: int) -> None:
        """Complete missing copies every ``interval`` s; a sampled, rate-limited audit every ``audit_interval`` s."""
        self._thread = threading.Thread(target=self._run, args=(interval, audit_interval, audit_sample, audit_rate),
                                        name="vault-copies", daemon=True)
        self._thread.start()

    def _run(self, interval: float, audit_interval: float, audit_sample: int, audit_rate: int) -> None:
        next_audit = time.monotonic() + audit_interval
        while not self._stop.wait(interval):
            try:
                if self.replicas:
                    with self._job("copies") as mine:
                        if mine:
                            self.complete_missing()
                if time.monotonic() >= next_audit:
                    next_audit = time.monotonic() + audit_interval
                    with self._job("audit") as mine:
                        if mine:
                            self.audit(sample=audit_sample, rate_limit_bytes=audit_rate)
            except Exception:
                log.exception("copies or fixity audit pass failed")

    def _job(self, kind: str):
        return self.job_locks.hold(kind) if self.job_locks is not None else nullcontext(True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        self._uploads.shutdown(wait=True)  # background copies still running are recorded before the writer closes


def read_first(stores: Sequence[Any], sha256: str) -> Iterator[bytes]:
    """The blob's bytes from the first store holding it, the local one first: a replica reads what a deposit
    through another replica left on the shared stores. Raises BlobNotFound when none has it; the caller checks the
    digest."""
    for store in stores:
        try:
            return store.read(sha256)
        except BlobNotFound:
            continue
    raise BlobNotFound(sha256)

