"""Catalogue queries. Every query is scoped to the tenants the caller may see; callers pass that scope in."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Engine, func, select

from vault.catalog import search
from vault.catalog.search import PERSONAL_FILTERS, BadCursor, Page, SearchFilters
from vault.db.engine import statement_reads
from vault.db.tables import ArchivedObject, IdempotencyRecord, ImportedEvidence, ImportedPackage, ValidationReport
from vault.evidence.metadata_store import disclosures, record_bytes
from vault.ids import is_object_id

__all__ = ["Catalog", "PERSONAL_FILTERS", "BadCursor", "Page", "SearchFilters"]

T = ArchivedObject.__table__
MAX_CASE_OBJECTS = 10_000


class Catalog:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._statements = statement_reads(engine)  # search, count, facets: one snapshot per statement

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

    def metadata_record(self, object_id: str) -> bytes | None:
        """The exact bytes of the object's newest metadata record (issue 22), or None."""
        with self.engine.connect() as connection:
            return record_bytes(connection, object_id)

    def disclosures(self, object_id: str) -> list[dict[str, Any]]:
        """The salts and clear values kept for the personal fields the newest version of the object's record
        commits to (a field no longer personal after a policy reassignment keeps its old disclosure, which opens
        only an older version's commitment)."""
        with self.engine.connect() as connection:
            newest = record_bytes(connection, object_id)
            committed = set(orjson.loads(newest).get("commitments") or {}) if newest is not None else set()
            return [d for d in disclosures(connection, object_id) if d["field"] in committed]

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

    def search(self, filters: SearchFilters, cursor: str | None, limit: int, sort: str | None = None,
               columns: tuple[str, ...] | None = None) -> Page:
        return search.search(self._statements, filters, cursor, limit, sort, columns)

    def search_count(self, filters: SearchFilters) -> int:
        return search.count(self._statements, filters)

    def facets(self, filters: SearchFilters, names: list[str]) -> dict[str, dict[str, int]]:
        return search.facets(self._statements, filters, names)

    def case(self, tenant: str | None, case_ref: str) -> tuple[list[dict[str, Any]], bool]:
        """Objects of one case in event-time order (deposit time where no event time was given)."""
        query = select(T).where(T.c.case_ref == case_ref)
        if tenant is not None:
            query = query.where(T.c.tenant == tenant)
        query = query.order_by(T.c.timeline_at, T.c.id).limit(MAX_CASE_OBJECTS + 1)
        with self.engine.connect() as connection:
            rows = [dict(r) for r in connection.execute(query).mappings()]
        return rows[:MAX_CASE_OBJECTS], len(rows) > MAX_CASE_OBJECTS
