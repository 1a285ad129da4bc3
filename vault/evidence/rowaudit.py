"""Check object rows against their metadata records, and records against their evidence records (issue 22).

:func:`row_mismatches` is the check of one row (disposal's); :func:`audit_span` that of a span of deposits in seal
order, read in three queries (rows, record versions, disclosures) plus the seal batches' leaves through a shared
:class:`vault.evidence.assemble.BatchCache`; :func:`audit_database` runs spans in parallel processes
(``vault verify --data-dir``).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from vault.db.tables import ArchivedObject
from vault.evidence.assemble import BatchCache, record_seal
from vault.evidence.metadata_store import (disclosures, disclosures_between, erased_between, erased_fields,
                                          record_bytes, records_between)
from vault.evidence.record_seals import first_starts_many, sealed_apart_leaf
from vault.evidence.rowcheck import Mismatch, Policies, compare_row

OBJECTS = ArchivedObject.__table__
SPAN = 5000  # deposits per query batch
CHECKED = [OBJECTS.c[name] for name in (
    "id", "tenant", "case_ref", "contract_number", "kind", "event_type", "event_time", "sender", "recipient",
    "filename", "media_type", "size", "sha256", "sha512", "policy_id", "policy_version", "retention_start",
    "retention_until", "deposited_at", "extra", "seal_seq", "destroyed_at", "consent_ref", "recipient_type",
    "etsi_event")]
"""The columns a record states (plus what retention and disposal need): the others are not read."""


def row_mismatches(connection: Connection, row: dict, policies: Policies) -> list[Mismatch]:
    """Where the object row disagrees with its newest metadata record (a missing record is one mismatch)."""
    record = record_bytes(connection, row["id"])
    if record is None:
        return [Mismatch("record", None, "(missing)")]
    return compare_row(row, record, disclosures(connection, row["id"]), policies,
                       erased_fields(connection, [row["id"]]).get(row["id"], set()))


@dataclass
class AuditReport:
    objects: int = 0
    mismatches: list[dict] = field(default_factory=list)
    """``{"object_id", "field", "row", "record"}`` each."""
    notes: dict[str, int] = field(default_factory=dict)
    """Counts of what could not be checked yet: ``record-unsealed`` (backfilled or corrected, not sealed yet),
    ``object-unsealed`` (waiting for its first seal batch)."""

    def add(self, other: "AuditReport") -> None:
        self.objects += other.objects
        self.mismatches += other.mismatches
        for name, count in other.notes.items():
            self.notes[name] = self.notes.get(name, 0) + count


def audit_span(connection: Connection, policies: Policies, low: int, high: int,
               cache: BatchCache | None = None) -> AuditReport:
    """Every deposit ``low..high`` (seal order): its row against its newest record, and each version of the record
    against the leaf that seals it (RFC 4998 §4.2 data group): version 1 the object's seal batch leaf, a version
    sealed apart the first leaf of its own chain."""
    cache = cache or BatchCache()
    report = AuditReport()
    rows = connection.execute(select(*CHECKED).where(OBJECTS.c.seal_seq.between(low, high))
                              .order_by(OBJECTS.c.seal_seq)).mappings().all()
    records, opened = records_between(connection, low, high), disclosures_between(connection, low, high)
    erased = erased_between(connection, low, high)
    apart = first_starts_many(connection, [row["id"] for row in rows]) if rows else {}
    for row in rows:
        report.objects += 1
        versions = records.get(row["id"])
        if not versions:
            report.mismatches.append({"object_id": row["id"], **Mismatch("record", None, "(missing)").as_json()})
            continue
        newest = versions[max(versions)]
        for mismatch in compare_row(dict(row), newest, opened.get(row["id"], []), policies,
                                    erased.get(row["id"], set())):
            report.mismatches.append({"object_id": row["id"], **mismatch.as_json()})
        content = {"sha256": row["sha256"], "sha512": row["sha512"]}
        for number, data in sorted(versions.items()):
            start = apart.get((row["id"], number))
            if start is not None:  # sealed apart (a later version, or a record made after the content's seal)
                if not sealed_apart_leaf(connection, start, content, data, cache):
                    _differs(report, row["id"], number)
                continue
            if number > 1:
                _note(report, "record-unsealed")  # waiting for the next record-seal batch
                continue
            sealed = record_seal(connection, row["seal_seq"], cache, content, data)
            if sealed == "differs":
                _differs(report, row["id"], number)
            elif sealed != "group":
                _note(report, "record-unsealed" if sealed == "content-only" else "object-unsealed")
    return report


def _differs(report: AuditReport, object_id: str, version: int) -> None:
    report.mismatches.append({"object_id": object_id, "field": "record" if version == 1 else f"record v{version}",
                              "row": None, "record": "not the record its evidence record seals"})


def _note(report: AuditReport, name: str) -> None:
    report.notes[name] = report.notes.get(name, 0) + 1


def seal_seq_bounds(connection: Connection) -> tuple[int, int] | None:
    low, high = connection.execute(select(func.min(OBJECTS.c.seal_seq), func.max(OBJECTS.c.seal_seq))).one()
    return None if low is None else (low, high)


def audit_database(url: str, workers: int | None = None, span: int = SPAN) -> AuditReport:
    """:func:`audit_span` over every deposit of the database at ``url``, spans in ``workers`` processes."""
    from vault.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            bounds = seal_seq_bounds(connection)
    finally:
        engine.dispose()
    report = AuditReport()
    if bounds is None:
        return report
    spans = [(low, min(low + span - 1, bounds[1])) for low in range(bounds[0], bounds[1] + 1, span)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(spans)))
    if workers == 1:
        for low, high in spans:
            report.add(_audit_worker(url, low, high))
        return report
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(_audit_worker, [url] * len(spans), *zip(*spans)):
            report.add(part)
    return report


_STATE: dict = {}  # per process: the engine, the policy book and the batch cache, kept across spans


def _audit_worker(url: str, low: int, high: int) -> AuditReport:
    from vault.db.engine import make_engine
    from vault.retention.registry import recorded_policies

    if _STATE.get("url") != url:
        engine = make_engine(url)
        with engine.connect() as connection:
            _STATE.update(url=url, engine=engine, policies=recorded_policies(connection), cache=BatchCache())
    with _STATE["engine"].connect() as connection:
        return audit_span(connection, _STATE["policies"], low, high, _STATE["cache"])
