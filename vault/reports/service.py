"""Signed receipts and probative-value reports, wired to the archive's database, stores, keys and TSA.

Everything here runs in a worker thread (it reads blobs, verifies tokens, asks the TSA for PDF timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, select

from vault.catalog.queries import Catalog
from vault.db.tables import BlobCopy
from vault.documents import jws
from vault.documents.pdf import render_pdf, sign_pdf
from vault.evidence.assemble import BatchCache, assemble
from vault.evidence.metadata_store import disclosures, records_between
from vault.evidence.rowaudit import row_mismatches
from vault.evidence.status import seal_state
from vault.journal.anchors import load_anchors
from vault.journal.excerpt import journal_excerpt
from vault.journal.log import StoredHashes, entries_of, journal_size
from vault.reports.journal_checks import JournalEvidence
from vault.reports.metadata_checks import MetadataFacts
from vault.reports.probative import Sources, build_case_report, build_object_report
from vault.reports.receipt import RECEIPT_CONTENT_TYPE, receipt_lines, receipt_with_seal, signed_receipt_document
from vault.reports.render import report_lines
from vault.retention.holds import active_holds, covers
from vault.sandbox import marked
from vault_verify.journalkeys import HANDOVER_ACTION

COPIES = BlobCopy.__table__
MAX_JOURNAL_ENTRIES = 1000
MAX_CASE_OBJECTS = 200


@dataclass
class DocumentService:
    reader: Engine
    catalog: Catalog
    copies: Any  # vault.storage.copies.Copies: the stores, primary first
    policies: Any  # vault.retention.policy.PolicyBook
    clock: Any
    archive_key: Ed25519PrivateKey
    pdf_identity: Callable[[], tuple[Any, Any]]
    timestamp: Callable[[bytes], bytes] | None  # DER TimeStampReq -> DER TimeStampResp (PAdES B-T/B-LT)
    tsa_roots: Callable[[], list]
    journal_verifier: Any  # vault.journal.note.Verifier
    checkpoint_now: Callable[[], Any]
    journal_entries: Callable[..., list[tuple[int, bytes]]]  # JournalObjectIndex.entries(object_ids, limit)
    issuer: str
    max_journal_entries: int = MAX_JOURNAL_ENTRIES
    max_case_objects: int = MAX_CASE_OBJECTS
    validation_data: Callable[[], Any] | None = None  # -> vault.documents.pdf.ValidationData | None (PAdES B-LT)
    sandbox: bool = False  # VAULT_SANDBOX: every document says "SANDBOX — no probative value" (vault.sandbox)

    # -- receipts ----------------------------------------------------------------------------------------------

    @property
    def key_id(self) -> str:
        return jws.thumbprint(self.archive_key.public_key())

    def _seal(self, row: dict) -> dict:
        with self.reader.connect() as connection:
            return seal_state(connection, row["seal_seq"])

    def receipt(self, row: dict) -> dict:
        """The JSON receipt with the current seal state (``GET /v1/objects/{id}/receipt``)."""
        return marked(receipt_with_seal(row, self._seal(row)), self.sandbox)

    def receipt_document(self, row: dict) -> dict:
        return marked(signed_receipt_document(row, self._seal(row), self.issuer, self.clock.now()), self.sandbox)

    def receipt_jws(self, row: dict) -> str:
        """The receipt signed with the archive's Ed25519 key, compact JWS (RFC 7515 §7.1)."""
        return jws.sign_compact(self.receipt_document(row), self.archive_key, RECEIPT_CONTENT_TYPE)

    def receipt_pdf(self, row: dict) -> bytes:
        """The receipt as a readable PDF signed by the archive (PAdES B-LT with the built-in TSA, else B-T)."""
        cert, key = self.pdf_identity()
        pdf = render_pdf(receipt_lines(self.receipt_document(row), self.key_id))
        return sign_pdf(pdf, cert, key, self.timestamp, reason="Deposit receipt of vault",
                        validation_data=self.validation_data)

    # -- probative-value reports -------------------------------------------------------------------------------

    def _journal(self, connection: Connection, object_id: str) -> JournalEvidence:
        entries = self.journal_entries([object_id], limit=self.max_journal_entries + 1)
        truncated = len(entries) > self.max_journal_entries
        entries = entries[:self.max_journal_entries]
        return JournalEvidence(object_id, journal_size(connection), entries, journal_excerpt(connection, entries),
                               load_anchors(connection), StoredHashes(connection).hash_at, truncated,
                               entries_of(connection, HANDOVER_ACTION))

    def _sources(self, connection: Connection) -> Sources:
        cache = BatchCache()
        return Sources(
            now=self.clock.now(), issuer=self.issuer, stores=[store.name for store in self.copies.stores],
            read=lambda store, sha256: self.copies.by_name(store).read(sha256),
            evidence_record=lambda seal_seq: assemble(connection, seal_seq, cache),
            seal_state=lambda seal_seq: seal_state(connection, seal_seq),
            validation_report=self.catalog.validation_report,
            journal=lambda object_id: self._journal(connection, object_id),
            journal_verifier=self.journal_verifier,
            copies=lambda sha256: [dict(r) for r in connection.execute(
                select(COPIES).where(COPIES.c.sha256 == sha256)).mappings()],
            holds=lambda row: [h for h in active_holds(connection, row["tenant"]) if covers(h, row)],
            policy=self.policies.version,
            tsa_roots=self.tsa_roots(),
            metadata=lambda row: self._metadata(connection, row),
        )

    def _metadata(self, connection: Connection, row: dict) -> MetadataFacts:
        versions = records_between(connection, row["seal_seq"], row["seal_seq"]).get(row["id"], {})
        return MetadataFacts(versions, disclosures(connection, row["id"]),
                             row_mismatches(connection, row, self.policies) if versions else [])

    def object_report(self, row: dict) -> dict:
        """Every check of one object re-run now. A checkpoint is signed first, so that every journal entry up to
        this report's own read can be proven."""
        self.checkpoint_now()
        with self.reader.connect() as connection:
            return marked(build_object_report(row, self._sources(connection)), self.sandbox)

    def case_report(self, case_ref: str, timeline: dict, rows: list[dict]) -> dict:
        """The case's timeline and completeness, and the report of each of its first ``max_case_objects``."""
        self.checkpoint_now()
        with self.reader.connect() as connection:
            sources = self._sources(connection)
            objects = [build_object_report(row, sources) for row in rows[:self.max_case_objects]]
        return marked(build_case_report(case_ref, timeline, objects, sources.now, self.issuer,
                                        truncated=len(rows) > self.max_case_objects), self.sandbox)

    def report_pdf(self, report: dict) -> bytes:
        """A report as a readable PDF signed by the archive (PAdES B-LT with the built-in TSA, else B-T)."""
        cert, key = self.pdf_identity()
        return sign_pdf(render_pdf(report_lines(report)), cert, key, self.timestamp,
                        reason="Probative-value report of vault", validation_data=self.validation_data)
