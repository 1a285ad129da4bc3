"""Catalogue queries. Every query is scoped to the tenants the caller may see; callers pass that scope in."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, or_, select

from vault.db.tables import ArchivedObject, IdempotencyRecord, ImportedEvidence, ImportedPackage, ValidationReport
from vault.ids import is_object_id

T = ArchivedObject.__table__
MAX_PAGE = 500
MAX_CASE_OBJECTS = 10_000


class BadCursor(ValueError):
    pass


PERSONAL_FILTERS = ("case_ref", "contract_number", "sender", "recipient", "party", "format")
"""Search filters given as free text: in the journal only as keyed pseudonyms (vault.journal.pseudonyms)."""


@dataclass(frozen=True)
class SearchFilters:
    tenant: str | None  # None: every tenant (only for callers bound to '*')
    case_ref: str | None = None
    contract_number: str | None = None
    sender: str | None = None
    recipient: str | None = None
    event_type: str | None = None
    period_from: datetime | None = None
    period_to: datetime | None = None
    party: str | None = None  # sender or recipient
    kind: str | None = None
    verdict: str | None = None  # worst signature verdict, or "none" for files without signatures
    format: str | None = None  # detected media type

    def used(self) -> list[str]:
        names = ("case_ref", "contract_number", "sender", "recipient", "event_type", "period_from", "period_to",
                 "party", "kind", "verdict", "format")
        return [name for name in names if getattr(self, name) is not None]

    def journal_view(self) -> tuple[dict[str, str], dict[str, str]]:
        """(clear filters, personal filters): references, parties and every free-text filter (a typed media type
        can carry anything) may be personal data, journaled as pseudonyms; the rest are enumerations and dates."""
        clear, personal = {}, {}
        for name in self.used():
            value = getattr(self, name)
            if name in PERSONAL_FILTERS:
                personal[name] = value
            else:
                clear[name] = value.isoformat() if hasattr(value, "isoformat") else value
        return clear, personal


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(object_id: str) -> str:
    return base64.urlsafe_b64encode(object_id.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("cursor is not one this server issued") from None
    if not is_object_id(text):
        raise BadCursor("cursor is not one this server issued")
    return text


class Catalog:
    def __init__(self, engine: Engine):
        self.engine = engine

    def get(self, object_id: str) -> dict[str, Any] | None:
        if not is_object_id(object_id):
            return None
        with self.engine.connect() as connection:
            row = connection.execute(select(T).where(T.c.id == object_id)).mappings().first()
        return dict(row) if row else None

    def validation_report(self, object_id: str) -> dict[str, Any] | None:
        return self.validation_reports([object_id]).get(object_id)

    def validation_reports(self, object_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The validation reports of those of ``object_ids`` that have one, in one query."""
        table = ValidationReport.__table__
        with self.engine.connect() as connection:
            rows = connection.execute(select(table).where(table.c.object_id.in_(object_ids))).mappings().all()
        return {row["object_id"]: dict(row) for row in rows}

    def imported_evidence(self, object_id: str) -> dict[str, Any] | None:
        """Where an imported object came from and the source archive's evidence record (None: not imported)."""
        return self.imported_evidence_many([object_id]).get(object_id)

    def imported_evidence_many(self, object_ids: list[str]) -> dict[str, dict[str, Any]]:
        """:meth:`imported_evidence` of those of ``object_ids`` that were imported, in one query."""
        table, packages = ImportedEvidence.__table__, ImportedPackage.__table__
        query = (select(table, packages.c.name.label("package_name"), packages.c.source_archive)
                 .join(packages, packages.c.sha256 == table.c.package_sha256)
                 .where(table.c.object_id.in_(object_ids)))
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return {row["object_id"]: dict(row) for row in rows}

    def imported_tsa_roots(self, object_ids: list[str]) -> list[str]:
        """The TSA roots (PEM) of the packages these objects were imported from, where they carry an evidence
        record from there: what a verifier needs beside this archive's own roots."""
        table, packages = ImportedEvidence.__table__, ImportedPackage.__table__
        found: set[str] = set()
        with self.engine.connect() as connection:
            for i in range(0, len(object_ids), 500):
                found.update(connection.execute(
                    select(packages.c.tsa_roots).distinct().join(table, packages.c.sha256 == table.c.package_sha256)
                    .where(table.c.object_id.in_(object_ids[i:i + 500]), table.c.der.is_not(None))).scalars())
        return sorted(found)

    def idempotency_record(self, tenant: str, key: str) -> dict[str, Any] | None:
        table = IdempotencyRecord.__table__
        with self.engine.connect() as connection:
            found = connection.execute(
                select(table).where(table.c.tenant == tenant).where(table.c.key == key)
            ).mappings().first()
        return dict(found) if found else None

    def count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(T)).scalar_one()

    def references_blob(self, sha256: str) -> bool:
        with self.engine.connect() as connection:
            return connection.execute(select(T.c.id).where(T.c.sha256 == sha256, T.c.destroyed_at.is_(None))
                                      .limit(1)).first() is not None

    def search(self, filters: SearchFilters, cursor: str | None, limit: int) -> Page:
        limit = max(1, min(limit, MAX_PAGE))
        query = select(T)
        if filters.tenant is not None:
            query = query.where(T.c.tenant == filters.tenant)
        for name in ("case_ref", "contract_number", "sender", "recipient", "event_type", "kind"):
            value = getattr(filters, name)
            if value is not None:
                query = query.where(T.c[name] == value)
        if filters.party is not None:
            query = query.where(or_(T.c.sender == filters.party, T.c.recipient == filters.party))
        if filters.verdict is not None:
            query = query.where(T.c.validation_verdict.is_(None) if filters.verdict == "none"
                                else T.c.validation_verdict == filters.verdict)
        if filters.format is not None:
            query = query.where(T.c.detected_media_type == filters.format)
        if filters.period_from is not None:
            query = query.where(T.c.timeline_at >= filters.period_from)
        if filters.period_to is not None:
            query = query.where(T.c.timeline_at < filters.period_to)
        if cursor:
            query = query.where(T.c.id > decode_cursor(cursor))
        query = query.order_by(T.c.id).limit(limit + 1)
        with self.engine.connect() as connection:
            rows = [dict(r) for r in connection.execute(query).mappings()]
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, encode_cursor(rows[-1]["id"]) if more and rows else None)

    def case(self, tenant: str | None, case_ref: str) -> tuple[list[dict[str, Any]], bool]:
        """Objects of one case in event-time order (deposit time where no event time was given)."""
        query = select(T).where(T.c.case_ref == case_ref)
        if tenant is not None:
            query = query.where(T.c.tenant == tenant)
        query = query.order_by(T.c.timeline_at, T.c.id).limit(MAX_CASE_OBJECTS + 1)
        with self.engine.connect() as connection:
            rows = [dict(r) for r in connection.execute(query).mappings()]
        return rows[:MAX_CASE_OBJECTS], len(rows) > MAX_CASE_OBJECTS
