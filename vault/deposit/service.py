"""The deposit use case.

Order of durability, which the crash test checks: the blob is fsynced under its address, then one database
transaction stores the object row, its journal entry and its idempotency record together, and only after that
commit is the receipt returned. A crash before the commit leaves at most an unreferenced blob (swept later); a
crash after it loses nothing that was acknowledged.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from vault.auth.roles import Principal
from vault.catalog.queries import Catalog
from vault.clock import iso_z
from vault.consents.registry import INSERT as _INSERT_CONSENT
from vault.consents.registry import consent_row
from vault.db.tables import ArchivedObject, BlobCopy, IdempotencyRecord, ValidationReport
from vault.db.writer import BatchWriter, next_in_sequence, stage, stage_rows
from vault.deposit.content import ContentFindings, needs_reading, understand, validation_report
from vault.catalog.index import stage_object
from vault.deposit.metadata import DepositMetadata, parse_metadata
from vault.deposit.receipt import receipt_from_row
from vault.evidence.metadata_record import build_record
from vault.evidence.metadata_store import INSERT_DISCLOSURE, INSERT_RECORD, record_rows
from vault.formats import identify
from vault.ids import new_object_id
from vault.journal.entries import AccessEvent, Action, append_entry
from vault.lre.vocabulary import event_conflict
from vault.retention.policy import PolicyBook, RetentionPolicy
from vault.storage.blobstore import BlobStore, BlobWriter
from vault.storage.copies import QuorumNotReached

OBJECTS = ArchivedObject.__table__
IDEMPOTENCY = IdempotencyRecord.__table__
DEFAULT_MEDIA_TYPE = "application/octet-stream"
_INSERT_OBJECT = insert(OBJECTS)
_INSERT_IDEMPOTENCY = insert(IDEMPOTENCY)
INSERT_REPORT = insert(ValidationReport.__table__)
CONSENT_EVENTS = ("consent", "withdrawal")
# the same bytes deposited twice already have their copies recorded: keep the first rows
# shared with vault.package.importer, which records imported objects the way a deposit is recorded
INSERT_COPY = {"sqlite": sqlite.insert(BlobCopy.__table__).on_conflict_do_nothing(),
                "postgresql": postgresql.insert(BlobCopy.__table__).on_conflict_do_nothing()}
NEXT_SEAL_SEQ = select(func.coalesce(func.max(OBJECTS.c.seal_seq), -1) + 1)


class DepositRejected(Exception):
    """The deposit cannot be accepted; ``status`` and ``slug`` say how the API should answer."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail, self.extra = status, slug, title, detail, extra


@dataclass(frozen=True)
class FilePart:
    writer: BlobWriter
    filename: str | None
    media_type: str | None


@dataclass(frozen=True)
class DepositOutcome:
    receipt: dict[str, Any]
    replayed: bool


@dataclass(frozen=True)
class PreparedDeposit:
    """A checked deposit whose blob is stored, waiting for its row."""

    principal: Principal
    row: dict[str, Any]
    idempotency_key: str | None
    fingerprint: str | None
    copy_rows: list[dict] = field(default_factory=list)
    report_row: dict | None = None
    consent: tuple[str, str] | None = None  # (subject pseudonym, purpose)
    record_row: dict | None = None  # the metadata record (issue 22), sealed with the content
    disclosure_rows: list[dict] = field(default_factory=list)
    copying: "Future[list[dict]] | None" = None  # the copies on other stores, settled once the quorum is known

    def confirmed_copies(self) -> list[dict]:
        """The ``blob_copies`` rows of the quorum, waited for when still uploading (an async caller awaits
        ``copying`` first); raises :class:`DepositRejected` (503, nothing recorded) when the quorum was not reached."""
        if self.copying is None:
            return self.copy_rows
        try:
            return self.copy_rows + self.copying.result()
        except QuorumNotReached as exc:
            raise DepositRejected(503, "copies-unavailable", "Copies unavailable",
                                  f"the deposit was not stored: {exc}; retry later", retry_after=30) from None

    def outcome(self, journal_index: int) -> DepositOutcome:
        return DepositOutcome(receipt_from_row({**self.row, "journal_index": journal_index}), replayed=False)


class DepositService:
    def __init__(self, store: BlobStore, writer: BatchWriter, catalog: Catalog, policies: PolicyBook, clock,
                 max_metadata_bytes: int, copies=None, trust=None, case_ref_pattern: str | None = None,
                 validate_max_bytes: int = 64 * 1024 * 1024, pseudonym=None):
        """``trust`` gives the validation context (:class:`vault.validation.store.TrustStore`); ``pseudonym`` is
        how a consent subject becomes its stored pseudonym (:meth:`ConsentRegistry.subject_pseudonym`)."""
        self.store = store
        self._trust = trust
        self._case_ref_pattern = case_ref_pattern
        self._validate_max_bytes = validate_max_bytes
        self._pseudonym = pseudonym
        self.copies = copies
        self._writer = writer
        self._catalog = catalog
        self._policies = policies
        self._clock = clock
        self._max_metadata_bytes = max_metadata_bytes

    def validate(self, principal: Principal, raw_metadata: bytes | None) -> DepositMetadata:
        if raw_metadata is None:
            raise DepositRejected(422, "missing-metadata", "Missing metadata",
                                  "the form has no 'metadata' field: send a JSON object with at least case_ref and policy")
        return parse_metadata(raw_metadata, self._max_metadata_bytes,
                              case_ref_required=self._case_ref_pattern is None)

    def reads_content(self, head: bytes) -> bool:
        """Whether :meth:`prepare` will read the whole content (then it must not run on the event loop)."""
        return self._trust is not None and needs_reading(head)

    def accept(self, principal: Principal, meta: DepositMetadata, part: FilePart | None,
               idempotency_key: str | None, request_id: str | None) -> DepositOutcome:
        """Store one deposit and wait for its commit (for synchronous callers; the API awaits :meth:`record`)."""
        prepared = self.prepare(principal, meta, part, idempotency_key)
        if isinstance(prepared, DepositOutcome):
            return prepared
        try:
            journal_index = self.record(prepared, request_id).result(60)
        except IntegrityError:
            return self.after_conflict(prepared)
        return prepared.outcome(journal_index)

    def prepare(self, principal: Principal, meta: DepositMetadata, part: FilePart | None,
                idempotency_key: str | None) -> "PreparedDeposit | DepositOutcome":
        """Check the deposit and make its blob durable-to-be; the writer is committed or aborted before this returns.

        Returns the earlier receipt instead when the Idempotency-Key replays a deposit already stored.
        """
        try:
            if part is None:
                raise DepositRejected(422, "missing-file", "Missing file", "the form has no 'file' field")
            if part.writer.size == 0:
                raise DepositRejected(422, "empty-file", "Empty file", "the file is empty: there is nothing to archive")
            tenant = self._tenant_for(principal, meta)
            policy = self._policies.get(meta.policy)
            if policy is None:
                raise DepositRejected(422, "unknown-policy", "Unknown policy",
                                      f"policy {meta.policy!r} does not exist; known policies: {', '.join(self._policies.ids())}")
            _check_event_time(policy, meta.event_time, self._clock.now())
            digests = part.writer.digests()
            if meta.expected_sha256 and meta.expected_sha256.lower() != digests.sha256:
                raise DepositRejected(422, "digest-mismatch", "Digest mismatch",
                                      f"the file's SHA-256 is {digests.sha256}, not the expected {meta.expected_sha256.lower()}",
                                      actual_sha256=digests.sha256)
            fingerprint = _fingerprint(digests.sha256, meta, part) if idempotency_key else None
            if idempotency_key:
                earlier = self._replay(tenant, idempotency_key, fingerprint)
                if earlier:
                    part.writer.abort()
                    return DepositOutcome(earlier, replayed=True)
            new = not part.writer.commit().deduplicated
        except BaseException:
            if part is not None:
                part.writer.abort()
            raise

        deposited_at = self._clock.now()
        media_type = part.media_type or DEFAULT_MEDIA_TYPE
        head = part.writer.head()
        found = identify(head, media_type)
        findings = self._understand(digests, head, found.detected, media_type, part.filename, meta, deposited_at)
        values = findings.values
        row_id = new_object_id()
        self._check_findings(policy, meta, findings, deposited_at)
        row = {
            "id": row_id,
            "tenant": tenant,
            "case_ref": values["case_ref"],
            "contract_number": meta.contract_number,
            "kind": values["kind"],
            "event_type": values["event_type"],
            "event_time": values["event_time"],
            "timeline_at": values["event_time"] or deposited_at,
            "sender": values["sender"],
            "recipient": values["recipient"],
            "filename": part.filename,
            "media_type": media_type,
            "detected_media_type": found.detected,
            "media_type_check": found.check,
            "extracted": findings.extracted,
            "validation": [v.summary() for v in findings.validation.verdicts],
            "validation_verdict": findings.validation.worst,
            "size": digests.size,
            "sha256": digests.sha256,
            "sha512": digests.sha512,
            "policy_id": policy.id,
            "policy_version": policy.version,
            "retention_start": policy.retention_start(deposited_at, values["event_time"]),
            "retention_until": policy.retention_until(deposited_at, values["event_time"]),
            "deposited_at": deposited_at,
            "depositor": principal.key_id,
            "extra": meta.extra,
            "status": "active",
            "consent_ref": meta.consent_ref,
            "recipient_type": meta.recipient_type,
            "etsi_event": values["etsi_event"],
        }
        report_row = None
        if findings.validation.verdicts:
            report_row = {"object_id": row_id, "validated_at": deposited_at,
                          "report": validation_report(row_id, findings, self._trust.anchors(), deposited_at),
                          "etsi_report": findings.validation.etsi_report}
        consent = None
        if row["kind"] == "consent-record" and row["event_type"] in CONSENT_EVENTS and self._pseudonym:
            consent = (self._pseudonym(meta.subject), meta.purpose)
        copying = None
        if self.copies is not None and self.copies.replicas:  # the row waits for the quorum (:meth:`record`)
            whole = head if len(head) == digests.size else None  # a small blob: no read back from the primary
            copying = self.copies.start_deposit_copies(digests, row["retention_until"], new, whole)
        record_row, disclosure_rows = record_rows(
            row_id, build_record(row, policy.personal_fields, policy.start), deposited_at)
        return PreparedDeposit(principal, row, idempotency_key, fingerprint, [], report_row, consent,
                               record_row, disclosure_rows, copying)

    def _understand(self, digests, head: bytes, detected: str | None, declared: str, filename: str | None,
                    meta: DepositMetadata, now) -> ContentFindings:
        """Fields and signature verdicts from the content; files over the validation limit are read by their head."""
        if self._trust is None or not needs_reading(head):
            data, validate = head, False
        elif digests.size <= self._validate_max_bytes:
            data, validate = b"".join(self.store.read(digests.sha256)), True
        else:
            data, validate = head, False
        ctx = self._trust.context(now, meta.dkim_records) if validate else None  # it re-reads VAULT_TRUST_DIR
        return understand(data, detected=detected, declared=declared, filename=filename, meta=meta, ctx=ctx,
                          case_ref_pattern=self._case_ref_pattern, validate=validate)

    def _check_findings(self, policy, meta: DepositMetadata, findings: ContentFindings, deposited_at) -> None:
        """Refusals that depend on the content: no case reference found, an invalid signature the policy refuses,
        an ``event_type`` that contradicts the ``etsi_event`` (each declared or read from the content; docs/lre.md),
        a consent record without its subject or purpose, an event time read from the content out of the policy's
        window when retention counts from it. The blob stays unreferenced and is swept later."""
        values = findings.values
        if policy.start == "event_time":  # else a document's old date is only what it says, not when it goes
            _check_event_time(policy, values["event_time"], deposited_at)
        if values["case_ref"] is None:
            raise DepositRejected(422, "invalid-metadata", "Invalid metadata",
                                  "metadata is invalid: case_ref: required (and no message identifier in the content "
                                  "matched VAULT_CASE_REF_PATTERN)", errors=[{"field": "case_ref", "problem": "required"}])
        conflict = event_conflict(values["event_type"], values["etsi_event"])
        if conflict:
            read = [f"{name} was read from the content ({findings.extracted[name]})"
                    for name in ("event_type", "etsi_event") if name in findings.extracted]
            raise DepositRejected(422, "invalid-metadata", "Invalid metadata",
                                  "; ".join([f"metadata is invalid: {conflict}", *read]),
                                  errors=[{"field": f, "problem": conflict} for f in ("event_type", "etsi_event")])
        if policy.refuse_invalid_signatures and findings.validation.worst == "invalid":
            bad = [v.summary() for v in findings.validation.verdicts if v.verdict == "invalid"]
            raise DepositRejected(422, "invalid-signature", "Invalid signature",
                                  f"policy {policy.id} refuses proofs with an invalid signature: {bad[0]['reason']}",
                                  signatures=bad)
        if values["kind"] == "consent-record" and values["event_type"] in CONSENT_EVENTS and (
                not meta.subject or not meta.purpose):
            raise DepositRejected(422, "invalid-metadata", "Invalid metadata",
                                  "a consent record (event_type consent or withdrawal) needs 'subject' (who) and "
                                  "'purpose' (for what) in its metadata",
                                  errors=[{"field": f, "problem": "required for a consent record"}
                                          for f in ("subject", "purpose") if not getattr(meta, f)])

    def record(self, prepared: "PreparedDeposit", request_id: str | None) -> "Future[int]":
        """Queue the row, its journal entry and its idempotency record as one unit; resolves after the commit.

        Only once the copy quorum holds the blob (:meth:`PreparedDeposit.confirmed_copies`: 503 when it cannot)."""
        copy_rows = prepared.confirmed_copies()
        row, principal = prepared.row, prepared.principal
        event = AccessEvent(
            actor=principal.key_id, role=principal.role.value, tenant=row["tenant"], action=Action.DEPOSIT,
            object_ids=(row["id"],), request_id=request_id,
            detail={"sha256": row["sha256"], "size": row["size"], "policy": f"{row['policy_id']}@{row['policy_version']}"},
        )

        def unit(connection: Connection) -> int:
            seq = append_entry(connection, event, row["deposited_at"])
            seal_seq = next_in_sequence(connection, "seal", NEXT_SEAL_SEQ)
            stage_object(connection, _INSERT_OBJECT, {**row, "journal_index": seq, "seal_seq": seal_seq}, self._policies)
            if prepared.record_row is not None:
                stage(connection, INSERT_RECORD, prepared.record_row)
                if prepared.disclosure_rows:
                    stage_rows(connection, INSERT_DISCLOSURE, prepared.disclosure_rows)
            for copy_row in copy_rows:
                stage(connection, INSERT_COPY[connection.dialect.name], copy_row)
            if prepared.report_row is not None:
                stage(connection, INSERT_REPORT, prepared.report_row)
            if prepared.consent is not None:
                stage(connection, _INSERT_CONSENT, consent_row(row, *prepared.consent))
            if prepared.idempotency_key:
                stage(connection, _INSERT_IDEMPOTENCY, {
                    "tenant": row["tenant"], "key": prepared.idempotency_key, "fingerprint": prepared.fingerprint,
                    "object_id": row["id"], "created_at": row["deposited_at"]})
            return seq

        return self._writer.submit(unit)

    def after_conflict(self, prepared: "PreparedDeposit") -> DepositOutcome:
        """The unit hit a unique constraint: a concurrent retry with the same Idempotency-Key won the race."""
        if prepared.idempotency_key:
            earlier = self._replay(prepared.row["tenant"], prepared.idempotency_key, prepared.fingerprint)
            if earlier:
                return DepositOutcome(earlier, replayed=True)
        raise DepositRejected(409, "conflict", "Conflict", "the deposit conflicts with one stored at the same time; retry")

    def _tenant_for(self, principal: Principal, meta: DepositMetadata) -> str:
        if principal.all_tenants:
            if not meta.tenant:
                raise DepositRejected(422, "missing-tenant", "Missing tenant",
                                      "this key works across tenants: say which tenant the deposit belongs to in metadata 'tenant'")
            return meta.tenant
        if meta.tenant and meta.tenant != principal.tenant:
            raise DepositRejected(403, "wrong-tenant", "Wrong tenant",
                                  f"this key may deposit only for tenant {principal.tenant!r}, not {meta.tenant!r}")
        return principal.tenant

    def _replay(self, tenant: str, key: str, fingerprint: str) -> dict[str, Any] | None:
        record = self._catalog.idempotency_record(tenant, key)
        if record is None:
            return None
        if record["fingerprint"] != fingerprint:
            raise DepositRejected(409, "idempotency-conflict", "Idempotency key reused",
                                  "this Idempotency-Key was already used for a different deposit; use a new key")
        row = self._catalog.get(record["object_id"])
        return receipt_from_row(row)


def _check_event_time(policy: RetentionPolicy, event_time: datetime | None, now: datetime) -> None:
    """Refuse an event time back-dated beyond the policy's ``max_backdate`` or in the future (issue 18): it sets
    the object's place in time and, under a policy counting from the event, when it may be destroyed. A declared
    event time is always checked; one read from the content only where retention counts from it."""
    if event_time is None:
        return
    if event_time.tzinfo is None:
        event_time = event_time.replace(tzinfo=timezone.utc)
    earliest, latest = policy.event_time_window(now)
    if earliest <= event_time <= latest:
        return
    raise DepositRejected(422, "event-time-out-of-range", "Event time out of range",
                          f"event_time {iso_z(event_time)} is outside what policy {policy.key} accepts for a deposit "
                          f"made now: from {iso_z(earliest)} (max_backdate {policy.max_backdate.text}) to "
                          f"{iso_z(latest)}; proofs of older events go under a policy with a longer max_backdate",
                          earliest=iso_z(earliest), latest=iso_z(latest), max_backdate=policy.max_backdate.text)


def _fingerprint(sha256: str, meta: DepositMetadata, part: FilePart) -> str:
    """What makes two requests 'the same deposit' for Idempotency-Key: content, metadata, name and type."""
    canonical = json.dumps(
        {"sha256": sha256, "metadata": meta.model_dump(mode="json"), "filename": part.filename,
         "media_type": part.media_type},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
