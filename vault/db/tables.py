"""The tables (sqlmodel). Schemas the API returns live in :mod:`vault.api.schemas`, not here.

The Alembic migrations in ``vault/db/migrations`` create exactly these tables; ``tests/test_migrations.py`` checks
that the two never drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import BigInteger, Boolean, Column, Index, LargeBinary, SmallInteger, String, Text, text
from sqlmodel import Field, SQLModel

from vault.db.types import JSONDocument, UTCDateTime

SEARCH_KEY = String(256).with_variant(String(256, collation="C"), "postgresql")
"""A normalized search key (vault.catalog.keys): compared by code point on both engines, so that a prefix is a
range an index serves (PostgreSQL's locale collations would order it otherwise)."""

OBJECT_KINDS = ("lre-evidence", "email-proof", "consent-record", "attachment", "other")
EVENT_TYPES = ("deposit", "sending", "receipt", "refusal", "negligence", "consent", "withdrawal", "other")


class ArchivedObject(SQLModel, table=True):
    __tablename__ = "archived_objects"
    __table_args__ = (
        Index("ix_objects_tenant_case", "tenant", "case_ref", "timeline_at"),
        Index("ix_objects_tenant_contract", "tenant", "contract_number"),
        Index("ix_objects_tenant_sender", "tenant", "sender"),
        Index("ix_objects_tenant_recipient", "tenant", "recipient"),
        Index("ix_objects_tenant_timeline", "tenant", "timeline_at"),
        Index("ix_objects_sha256", "sha256"),
        Index("ux_objects_seal_seq", "seal_seq", unique=True),
        Index("ix_objects_tenant_verdict", "tenant", "validation_verdict",
              sqlite_where=text("validation_verdict IS NOT NULL"),
              postgresql_where=text("validation_verdict IS NOT NULL")),
        Index("ix_objects_tenant_case_key", "tenant", "case_ref_key"),
        Index("ix_objects_tenant_contract_key", "tenant", "contract_number_key"),
        Index("ix_objects_tenant_sender_key", "tenant", "sender_key"),
        Index("ix_objects_tenant_recipient_key", "tenant", "recipient_key"),
        Index("ix_objects_tenant_deposited", "tenant", "deposited_at"),
        Index("ix_objects_tenant_etsi_event", "tenant", "etsi_event",
              sqlite_where=text("etsi_event IS NOT NULL"), postgresql_where=text("etsi_event IS NOT NULL")),
    )

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    tenant: str = Field(sa_column=Column(String(64), nullable=False))
    case_ref: str = Field(sa_column=Column(String(256), nullable=False))
    contract_number: Optional[str] = Field(default=None, sa_column=Column(String(256)))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    event_type: str = Field(sa_column=Column(String(32), nullable=False))
    event_time: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    timeline_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sender: Optional[str] = Field(default=None, sa_column=Column(String(320)))
    recipient: Optional[str] = Field(default=None, sa_column=Column(String(320)))
    filename: Optional[str] = Field(default=None, sa_column=Column(String(255)))
    media_type: str = Field(sa_column=Column(String(255), nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    sha512: str = Field(sa_column=Column(String(128), nullable=False))
    policy_id: str = Field(sa_column=Column(String(64), nullable=False))
    policy_version: int = Field(sa_column=Column(BigInteger, nullable=False))
    retention_start: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    retention_until: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    deposited_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    depositor: str = Field(sa_column=Column(String(64), nullable=False))
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    journal_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    seal_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    """Dense deposit ordinal from 0: a seal batch covers a range of it, so sealing writes no object row."""
    destroyed_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    """Set when a four-eyes disposal destroyed the content: the row stays as the tombstone."""
    detected_media_type: Optional[str] = Field(default=None, sa_column=Column(String(255)))
    """What the first bytes are, by their signature (vault.formats); None when unidentified."""
    media_type_check: str = Field(default="unknown", sa_column=Column(String(16), nullable=False,
                                                                      server_default="unknown"))
    """``match``, ``mismatch`` or ``unknown``: the declared media type against the detected one."""
    extracted: dict[str, Any] = Field(default_factory=dict, sa_column=Column(
        JSONDocument, nullable=False, server_default=text("'{}'")))
    """Fields filled from the content rather than declared: ``{field: source}`` (values stay in their columns), and
    ``message_id`` (value and source)."""
    validation: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(
        JSONDocument, nullable=False, server_default=text("'[]'")))
    """One summary per signature found at deposit: kind, signer, verdict, reason, validated_at (vault.validation)."""
    validation_verdict: Optional[str] = Field(default=None, sa_column=Column(String(16)))
    """The worst verdict of ``validation`` (invalid > indeterminate > valid); None when the file has no signature."""
    case_ref_key: Optional[str] = Field(default=None, sa_column=Column(SEARCH_KEY))
    """``case_ref`` case-folded (vault.catalog.keys): what searches compare, exactly or as a prefix."""
    contract_number_key: Optional[str] = Field(default=None, sa_column=Column(SEARCH_KEY))
    sender_key: Optional[str] = Field(default=None, sa_column=Column(SEARCH_KEY))
    recipient_key: Optional[str] = Field(default=None, sa_column=Column(SEARCH_KEY))
    restriction: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSONDocument))
    """Processing of the personal values restricted (GDPR art. 18): ``{"fields", "reason", "at", "by"}``, else
    null (vault.retention.restriction)."""
    consent_ref: Optional[str] = Field(default=None, sa_column=Column(String(36)))
    """The id of the consent record (an object of the same tenant) an LRE sending relies on (issue 22)."""
    recipient_type: Optional[str] = Field(default=None, sa_column=Column(String(16)))
    """``consumer`` (a non-professional: the sending needs their prior consent) or ``professional``; None: not said."""
    etsi_event: Optional[str] = Field(default=None, sa_column=Column(String(64)))
    """The evidence event in ETSI terms (EN 319 522-1, TS 102 640-2; vault.lre.vocabulary), beside ``event_type``."""


class ObjectExtraKey(SQLModel, table=True):
    """The ``extra`` fields a policy declares indexable (``indexed_extra``), case-folded: ``?extra.<name>=``."""

    __tablename__ = "object_extra_keys"
    __table_args__ = (Index("ix_object_extra_keys_object", "object_id"),)

    name: str = Field(sa_column=Column(String(32), primary_key=True))
    value_key: str = Field(sa_column=Column(SEARCH_KEY, primary_key=True))
    object_id: str = Field(sa_column=Column(String(36), primary_key=True))


class ValidationReport(SQLModel, table=True):
    """The full report of the signature checks made at deposit, kept with the object (erased at destruction)."""

    __tablename__ = "validation_reports"

    object_id: str = Field(sa_column=Column(String(36), primary_key=True))
    validated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    etsi_report: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary))
    """An ETSI TS 119 102-2 XML validation report, where the validator produces one (PAdES)."""


class ConsentEvent(SQLModel, table=True):
    """An opt-in or opt-out proven by one consent record; the data subject is a keyed pseudonym (HMAC)."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consents_subject", "tenant", "subject", "purpose", "event_time"),)

    object_id: str = Field(sa_column=Column(String(36), primary_key=True))
    tenant: str = Field(sa_column=Column(String(64), nullable=False))
    subject: str = Field(sa_column=Column(String(64), nullable=False))
    purpose: str = Field(sa_column=Column(String(128), nullable=False))
    event_type: str = Field(sa_column=Column(String(16), nullable=False))
    event_time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ImportedPackage(SQLModel, table=True):
    """An export package of another archive imported here (``vault import``), with the certificates and keys it
    carried: what the imported evidence records are checked against. Append-only."""

    __tablename__ = "imported_packages"

    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    """SHA-256 of the ZIP file as imported."""
    name: str = Field(sa_column=Column(String(255), nullable=False))
    """The bag's name (its top directory in the ZIP)."""
    file: str = Field(sa_column=Column(Text, nullable=False))
    """Its path in the export directory (``packages/<tenant>/<case>.zip``)."""
    source_archive: str = Field(sa_column=Column(String(255), nullable=False))
    """The exporting archive (``archive`` of its package.json, e.g. ``vault.local``)."""
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    object_count: int = Field(sa_column=Column(BigInteger, nullable=False))
    tsa_roots: str = Field(sa_column=Column(Text, nullable=False))
    """``certificates/tsa-roots.pem``: the roots of the TSAs whose tokens the imported evidence records hold."""
    journal_key: Optional[str] = Field(default=None, sa_column=Column(Text))
    """The source journal's note verifier key (``journal/vkey``)."""
    archive_key: Optional[str] = Field(default=None, sa_column=Column(Text))
    """The source archive's Ed25519 public key (``certificates/archive-key.txt``)."""
    imported_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ImportedChain(SQLModel, table=True):
    """The last ArchiveTimeStampChain of imported evidence records, which this archive renews (RFC 4998 §5.2):
    shared by the objects the source sealed in one batch. ``key`` is the hex leaf of its first renewal here
    (vault.evidence.imported); ``tokens`` its tokens as the source left them (DER SEQUENCE of ContentInfo);
    ``gen_time`` and ``not_after`` those of the newest of them and its TSA certificate. Append-only."""

    __tablename__ = "imported_chains"

    key: str = Field(sa_column=Column(String(128), primary_key=True))
    algorithm: str = Field(sa_column=Column(String(16), nullable=False))
    tokens: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    gen_time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    not_after: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ImportedRenewal(SQLModel, table=True):
    """Leaf ``leaf_index`` of timestamp renewal ``renewal_id`` renews imported chain ``chain_key``. Append-only."""

    __tablename__ = "imported_renewals"
    __table_args__ = (Index("ix_imported_renewals_chain", "chain_key", "renewal_id"),)

    renewal_id: str = Field(sa_column=Column(String(36), primary_key=True))
    leaf_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    chain_key: str = Field(sa_column=Column(String(128), nullable=False))


class ImportedMember(SQLModel, table=True):
    """Leaf ``leaf_index`` of hash-tree renewal ``batch_id`` starts a new chain for the imported evidence record of
    ``object_id`` (RFC 4998 §5.2: h' = H(H(d) ‖ H(ArchiveTimeStampSequence)), the record as continued here).
    Append-only."""

    __tablename__ = "imported_members"
    __table_args__ = (Index("ix_imported_members_object", "object_id", "batch_id"),)

    batch_id: str = Field(sa_column=Column(String(36), primary_key=True))
    leaf_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    object_id: str = Field(sa_column=Column(String(36), nullable=False))


class ImportedChainClosure(SQLModel, table=True):
    """An imported chain no longer renewed by timestamps: a hash-tree renewal moved its records to a new chain.
    Append-only."""

    __tablename__ = "imported_chain_closures"

    key: str = Field(sa_column=Column(String(128), primary_key=True))
    closed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ImportedEvidence(SQLModel, table=True):
    """An object brought in from an :class:`ImportedPackage`: the evidence record the source archive made for it,
    kept verbatim, and its deposit entry there. The object is also sealed anew here. Append-only."""

    __tablename__ = "imported_evidence"
    __table_args__ = (Index("ix_imported_evidence_package", "package_sha256"),)

    object_id: str = Field(sa_column=Column(String(36), primary_key=True))
    package_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    source_journal_index: Optional[int] = Field(default=None, sa_column=Column(BigInteger))
    """The object's deposit entry in the source archive's journal (``deposit_journal_index`` of the package)."""
    der: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary))
    """The source archive's RFC 4998 evidence record, DER, verbatim; None when the object was not sealed there yet."""
    imported_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    import_journal_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    """The ``import`` entry of this archive's journal that brought the object in (also its ``journal_index``)."""


class CaseStatus(SQLModel, table=True):
    """Where each case stands against its expected chain, kept up to date from new deposits (vault.cases)."""

    __tablename__ = "case_status"
    __table_args__ = (Index("ix_case_status_due", "complete", "due_at"),)

    tenant: str = Field(sa_column=Column(String(64), primary_key=True))
    case_ref: str = Field(sa_column=Column(String(256), primary_key=True))
    first_events: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    """``{event_type: earliest event time}`` over the case's objects (ISO 8601)."""
    chain: str = Field(sa_column=Column(String(64), nullable=False))
    """The expected chain's id and fingerprint the status was computed with."""
    complete: bool = Field(sa_column=Column(Boolean, nullable=False))
    due_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    """When the first missing step becomes overdue; None when complete or when nothing sets a deadline."""


class JournalObjectRef(SQLModel, table=True):
    """Which journal entries name an object: an index kept from the journal in order (vault.journal.object_index),
    so an object's access history is read without scanning the log. Derived data: rebuilt from the log at will."""

    __tablename__ = "journal_object_refs"

    object_id: str = Field(sa_column=Column(String(64), primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class KpiCase(SQLModel, table=True):
    """A case's KPI facts (vault.kpis): the earliest time of each event the LRE indicators count. Derived data."""

    __tablename__ = "kpi_cases"
    __table_args__ = (Index("ix_kpi_cases_tenant_at", "tenant", "at"), Index("ix_kpi_cases_at", "at"))

    tenant: str = Field(sa_column=Column(String(64), primary_key=True))
    case_ref: str = Field(sa_column=Column(String(256), primary_key=True))
    at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    """The time that dates the case in a period: its sending, else its first technical-failure evidence."""
    sent_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    receipt_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    refusal_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    negligence_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    failure_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))


class KpiSpan(SQLModel, table=True):
    """Per tenant (or ``*``: all) and dyadic span of hours (vault.kpis.spans) of each case's ``at``: the counts the
    KPIs divide, kept by additive deltas."""

    __tablename__ = "kpi_spans"
    __table_args__ = {"sqlite_with_rowid": False}  # clustered on the key: a span's rows are read together

    tenant: str = Field(sa_column=Column(String(64), primary_key=True))
    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    start: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    """The span's first hour (since the Unix epoch, UTC), a multiple of 2**level."""
    sendings: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    receipts: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    refusals: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    negligences: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    failed_cases: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    unsent_failures: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    delays: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    delay_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class KpiSpanDelay(SQLModel, table=True):
    """Per tenant (or ``*``), span and delay bucket (vault.kpis.measures): how many receipts came that long after."""

    __tablename__ = "kpi_span_delays"
    __table_args__ = {"sqlite_with_rowid": False}

    tenant: str = Field(sa_column=Column(String(64), primary_key=True))
    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    start: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    bucket: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    count: int = Field(sa_column=Column(BigInteger, nullable=False))


class KpiFailedDeposit(SQLModel, table=True):
    """Per tenant and UTC day: deposits answered 5xx/507 (vault.deposit_outcomes), persisted by every process."""

    __tablename__ = "kpi_failed_deposits"

    tenant: str = Field(sa_column=Column(String(64), primary_key=True))
    day: str = Field(sa_column=Column(String(10), primary_key=True))
    failed: int = Field(sa_column=Column(BigInteger, nullable=False))


class TrackerState(SQLModel, table=True):
    """Watermarks of jobs that follow the deposits in order (by ``seal_seq``)."""

    __tablename__ = "tracker_state"

    name: str = Field(sa_column=Column(String(32), primary_key=True))
    position: int = Field(sa_column=Column(BigInteger, nullable=False))


class ObjectFormat(SQLModel, table=True):
    """The PRONOM identification of an object's content (vault.pronom), written by the background format pass after
    the deposit: no row yet means "pending"; a row with ``puid`` None means no PRONOM signature matched."""

    __tablename__ = "object_formats"
    __table_args__ = (Index("ix_object_formats_tenant_puid", "tenant", "puid"),)

    object_id: str = Field(sa_column=Column(String(36), primary_key=True))
    tenant: str = Field(sa_column=Column(String(64), nullable=False))
    puid: Optional[str] = Field(default=None, sa_column=Column(String(32)))
    version: Optional[str] = Field(default=None, sa_column=Column(String(64)))
    name: Optional[str] = Field(default=None, sa_column=Column(String(255)))
    mime: Optional[str] = Field(default=None, sa_column=Column(String(255)))
    pdfa: Optional[str] = Field(default=None, sa_column=Column(String(8)))
    """PDF/A conformance the file claims in its XMP (``pdfaid:part`` + ``pdfaid:conformance``, e.g. ``2b``)."""
    identified_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_previous_secret", "previous_secret_hash"),
                      Index("ix_api_keys_tenant", "tenant", "created_at"))

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    tenant: str = Field(sa_column=Column(String(64), nullable=False))
    label: Optional[str] = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: Optional[str] = Field(default=None, sa_column=Column(String(32)))
    revoked_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    holder: Optional[str] = Field(default=None, sa_column=Column(String(200)))
    expires_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    rotated_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    previous_secret_hash: Optional[str] = Field(default=None, sa_column=Column(String(64)))
    previous_expires_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))


class JournalEntry(SQLModel, table=True):
    """One access-journal entry; ``seq`` is dense from 0 and is its Merkle leaf index. ``entry`` holds everything
    it says; the other columns repeat what queries select on (docs/journal.md)."""

    __tablename__ = "journal_entries"
    __table_args__ = (Index("ix_journal_action", "action"),)

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(sa_column=Column(String(64), nullable=False))
    action: str = Field(sa_column=Column(String(48), nullable=False))
    entry: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """The RFC 8785 canonical JSON of the entry: the exact bytes of Merkle leaf ``seq``."""


class JournalHash(SQLModel, table=True):
    """Stored hash of a complete subtree of the journal's Merkle tree (RFC 6962): level, index, SHA-256."""

    __tablename__ = "journal_hashes"

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class JournalPseudonym(SQLModel, table=True):
    """The clear value behind a journal pseudonym; erasable (outside the Merkle log) for data-subject erasure."""

    __tablename__ = "journal_pseudonyms"

    pseudonym: str = Field(sa_column=Column(String(40), primary_key=True))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    value: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class JournalCheckpoint(SQLModel, table=True):
    """A signed C2SP checkpoint of the journal at ``size`` entries."""

    __tablename__ = "journal_checkpoints"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class JournalAnchor(SQLModel, table=True):
    """Checkpoint ``checkpoint`` (a signed note) timestamped by a TSA; ``token`` covers SHA-256(note ‖ previous
    anchor's token). Append-only."""

    __tablename__ = "journal_anchors"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    checkpoint_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    checkpoint: str = Field(sa_column=Column(Text, nullable=False))
    token: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    gen_time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    tsa_url: str = Field(sa_column=Column(String(512), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class IdempotencyRecord(SQLModel, table=True):
    """A deposit's ``Idempotency-Key``: a retry with the same key and request returns the stored receipt."""

    __tablename__ = "idempotency_records"

    tenant: str = Field(sa_column=Column(String(64), primary_key=True))
    key: str = Field(sa_column=Column(String(200), primary_key=True))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    object_id: str = Field(sa_column=Column(String(36), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SealBatch(SQLModel, table=True):
    """One RFC 4998 hash tree and the RFC 3161 token over its root.

    ``initial`` batches cover deposits ``first_seq..last_seq`` in seal order (leaf i = deposit first_seq + i);
    ``timestamp-renewal`` batches cover the token chains of earlier batches (:class:`SealLink`); ``hash-tree-renewal`` batches cover
    objects re-hashed with a stronger algorithm (:class:`SealMember`). Initial and hash-tree-renewal batches each
    start a chain; ``closed_at`` on such a batch marks its chain frozen by a later hash-tree renewal: it is never
    timestamp-renewed again.
    """

    __tablename__ = "seal_batches"
    __table_args__ = (Index("ux_seal_batches_first_seq", "first_seq", unique=True),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    algorithm: str = Field(sa_column=Column(String(16), nullable=False))
    leaf_count: int = Field(sa_column=Column(BigInteger, nullable=False))
    first_seq: Optional[int] = Field(default=None, sa_column=Column(BigInteger))
    last_seq: Optional[int] = Field(default=None, sa_column=Column(BigInteger))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    token: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    gen_time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    tsa_url: str = Field(sa_column=Column(String(512), nullable=False))
    tsa_not_after: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    development: int = Field(sa_column=Column(SmallInteger, nullable=False))
    closed_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SealTreeChunk(SQLModel, table=True):
    """Up to :data:`vault.evidence.batches.CHUNK` consecutive node hashes of one level of a batch's tree."""

    __tablename__ = "seal_tree_chunks"

    batch_id: str = Field(sa_column=Column(String(36), primary_key=True))
    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    chunk: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hashes: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SealLink(SQLModel, table=True):
    """Leaf ``leaf_index`` of timestamp renewal ``renewal_id`` renews chain ``chain_id`` (the id of the batch that
    started the chain: an initial or a hash-tree-renewal batch). A chain's tokens are its start batch's, then its
    renewals' in id (creation) order."""

    __tablename__ = "seal_links"
    __table_args__ = (Index("ux_seal_links_chain", "chain_id", "renewal_id", unique=True),)

    renewal_id: str = Field(sa_column=Column(String(36), primary_key=True))
    leaf_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    chain_id: str = Field(sa_column=Column(String(36), nullable=False))


class SealMember(SQLModel, table=True):
    """Leaf ``leaf_index`` of hash-tree renewal ``batch_id`` is the renewed hash of deposit ``seal_seq``."""

    __tablename__ = "seal_members"
    __table_args__ = (Index("ix_seal_members_seq", "seal_seq"),)

    batch_id: str = Field(sa_column=Column(String(36), primary_key=True))
    leaf_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    seal_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    content_hash: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary))
    """H(content) in the batch's algorithm when the deposit is renewed as its data group (content, metadata
    record): the first partial hash tree lists both members, and only SHA-256 and SHA-512 are kept on the row
    (migration 0025)."""


class RetentionPolicyVersion(SQLModel, table=True):
    """Every policy version ever loaded, with its file text: versions in use are immutable."""

    __tablename__ = "retention_policies"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    version: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    loaded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class LegalHold(SQLModel, table=True):
    """A legal hold on objects (``scope`` objects), a case (``case``) or a search (``query``) of one tenant."""

    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_tenant", "tenant", "released_at"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    tenant: str = Field(sa_column=Column(String(64), nullable=False))
    scope: str = Field(sa_column=Column(String(16), nullable=False))
    selector: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    reference: str = Field(sa_column=Column(String(256), nullable=False))
    created_by: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    released_by: Optional[str] = Field(default=None, sa_column=Column(String(64)))
    released_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))


class DisposalBatch(SQLModel, table=True):
    """A four-eyes destruction: proposed by one archivist, approved by another, then executed."""

    __tablename__ = "disposal_batches"

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    tenant: str = Field(sa_column=Column(String(64), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    proposed_by: str = Field(sa_column=Column(String(64), nullable=False))
    proposed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    proposal_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    approved_by: Optional[str] = Field(default=None, sa_column=Column(String(64)))
    approved_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    approval_index: Optional[int] = Field(default=None, sa_column=Column(BigInteger))
    executed_by: Optional[str] = Field(default=None, sa_column=Column(String(64)))
    executed_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    execution_index: Optional[int] = Field(default=None, sa_column=Column(BigInteger))
    certificate: Optional[str] = Field(default=None, sa_column=Column(Text))
    # four eyes count people: the holders of the proposing and approving keys (migration 0019)
    proposed_holder: Optional[str] = Field(default=None, sa_column=Column(String(200)))
    approved_holder: Optional[str] = Field(default=None, sa_column=Column(String(200)))
    executable_after: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    vetoed_by: Optional[str] = Field(default=None, sa_column=Column(String(64)))
    vetoed_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))
    veto_index: Optional[int] = Field(default=None, sa_column=Column(BigInteger))
    veto_reason: Optional[str] = Field(default=None, sa_column=Column(Text))


class SecurityAlert(SQLModel, table=True):
    """A security-relevant act someone should look at (a privileged key issued, a destruction approved, a hold
    released); append-only, written in the same transaction as the act's journal entry."""

    __tablename__ = "security_alerts"
    __table_args__ = (Index("ix_security_alerts_tenant", "tenant", "at"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    tenant: str = Field(sa_column=Column(String(64), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    actor: str = Field(sa_column=Column(String(64), nullable=False))
    subject: str = Field(sa_column=Column(String(64), nullable=False))
    journal_index: Optional[int] = Field(default=None, sa_column=Column(BigInteger))


class DisposalItem(SQLModel, table=True):
    __tablename__ = "disposal_items"
    __table_args__ = (Index("ix_disposal_items_object", "object_id"),)

    batch_id: str = Field(sa_column=Column(String(36), primary_key=True))
    object_id: str = Field(sa_column=Column(String(36), primary_key=True))


class BlobCopy(SQLModel, table=True):
    """Store ``store`` holds a good copy of blob ``sha256`` (as of ``verified_at`` when an audit re-read it)."""

    __tablename__ = "blob_copies"

    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    store: str = Field(sa_column=Column(String(64), primary_key=True))
    version_id: str = Field(sa_column=Column(String(256), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    copied_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    verified_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))


class FixityAlert(SQLModel, table=True):
    """A fixity finding about one copy (``copy-corrupt``, ``copy-missing``) or a blob with no good copy left
    (``content-lost``, store ``*``): one row per blob, store and kind, seen again rather than duplicated, open until
    a later read or audit finds that copy good again (``resolved_at``)."""

    __tablename__ = "fixity_alerts"
    __table_args__ = (Index("ix_fixity_alerts_open", "kind", sqlite_where=text("resolved_at IS NULL"),
                            postgresql_where=text("resolved_at IS NULL")),)  # /ready counts open ones per probe

    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    store: str = Field(sa_column=Column(String(64), primary_key=True))
    kind: str = Field(sa_column=Column(String(32), primary_key=True))
    object_id: str = Field(sa_column=Column(String(36), nullable=False))
    source: str = Field(sa_column=Column(String(16), nullable=False))
    first_seen: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    seen: int = Field(sa_column=Column(BigInteger, nullable=False))
    resolved_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime()))


metadata = SQLModel.metadata


class TsaRootUsed(SQLModel, table=True):
    """A TSA trust root that validated at least one token obtained here (``fingerprint``: SHA-256 of its DER), the
    TSA that last used it and the genTimes of the first and last such token (migration 0021)."""

    __tablename__ = "tsa_roots_used"

    fingerprint: str = Field(sa_column=Column(String(64), primary_key=True))
    pem: str = Field(sa_column=Column(Text, nullable=False))
    subject: str = Field(sa_column=Column(String(512), nullable=False))
    tsa_url: str = Field(sa_column=Column(String(512), nullable=False))
    first_used: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_used: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class MetadataRecordRow(SQLModel, table=True):
    """The exact bytes of one version of an object's metadata record (issue 22, migration 0025); version 1 is
    made at deposit and sealed with the content (:mod:`vault.evidence.metadata_record`)."""

    __tablename__ = "metadata_records"

    object_id: str = Field(sa_column=Column(String(36), primary_key=True))
    version: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    record: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class MetadataDisclosureRow(SQLModel, table=True):
    """The salt and clear value that open one personal field's commitment in an object's metadata record, kept
    apart from the record so that erasing them leaves every proof intact (``value``: its RFC 8785 JSON)."""

    __tablename__ = "metadata_disclosures"

    object_id: str = Field(sa_column=Column(String(36), primary_key=True))
    field: str = Field(sa_column=Column(String(64), primary_key=True))
    salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    value: str = Field(sa_column=Column(Text, nullable=False))


class RecordSealMember(SQLModel, table=True):
    """Leaf ``leaf_index`` of batch ``batch_id`` (a ``record-seal`` batch, or a hash-tree renewal of such chains)
    is the data group (content, version ``version`` of ``object_id``'s metadata record), RFC 4998 §4.2 — a record
    version not sealed with its content (issue 22, migration 0026)."""

    __tablename__ = "record_seal_members"
    __table_args__ = (Index("ix_record_seal_members_record", "object_id", "version"),)

    batch_id: str = Field(sa_column=Column(String(36), primary_key=True))
    leaf_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    object_id: str = Field(sa_column=Column(String(36), nullable=False))
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    content_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """H(content) in the batch's algorithm (the group's first member)."""


class RecordSealPending(SQLModel, table=True):
    """A metadata record version waiting for a seal of its own (a later version, or a version 1 not sealed with
    its content); removed in the unit that seals it."""

    __tablename__ = "record_seal_pending"

    object_id: str = Field(sa_column=Column(String(36), primary_key=True))
    version: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    queued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
class MetadataErasureRow(SQLModel, table=True):
    """An erasure marker (GDPR art. 17, issue 22, migration 0027): the personal ``field`` of an object whose salt
    and clear value the archive deleted on purpose (an erasure request or disposal), when and why. The record
    keeps the field's commitment; the marker tells the row check that the missing value is erased, not lost."""

    __tablename__ = "metadata_erasures"

    object_id: str = Field(sa_column=Column(String(36), primary_key=True))
    field: str = Field(sa_column=Column(String(64), primary_key=True))
    erased_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
class ArchiveIdentityKey(SQLModel, table=True):
    """The fingerprint of each key every replica must share (:mod:`vault.identity`), recorded at the first start:
    a replica whose keys differ refuses to start."""

    __tablename__ = "archive_identity"

    name: str = Field(sa_column=Column(String(32), primary_key=True))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
