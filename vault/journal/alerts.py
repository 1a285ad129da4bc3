"""Security alerts: acts that widen who can destroy or who holds power, raised where the act is journaled.

An alert is a row of the append-only ``security_alerts`` table written in the same transaction as the act's
journal entry (it names that entry), so an act never happens without its alert. A tenant's archivists, auditors
and admins read their tenant's alerts (``GET /v1/alerts``); platform keys read all; ``/metrics`` counts them by
kind so that monitoring can page someone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from vault.clock import iso_z
from vault.db.tables import SecurityAlert
from vault.ids import uuid7

ALERTS = SecurityAlert.__table__
PRIVILEGED_KEY_ISSUED = "privileged-key-issued"
PRIVILEGED_KEY_ROTATED = "privileged-key-rotated"
DISPOSAL_APPROVED = "disposal-approved"
HOLD_RELEASED = "hold-released"
JOURNAL_FORK = "journal-fork"  # critical: the journal no longer holds an anchored tree (vault.journal.fork)
RECORD_MISMATCH = "record-mismatch"  # an object row disagrees with its metadata record: never acted on (issue 22)
KINDS = (PRIVILEGED_KEY_ISSUED, PRIVILEGED_KEY_ROTATED, DISPOSAL_APPROVED, HOLD_RELEASED, JOURNAL_FORK, RECORD_MISMATCH)


def raise_alert(connection: Connection, *, at: datetime, tenant: str, kind: str, actor: str, subject: str,
                journal_index: int | None) -> None:
    """Record an alert within the caller's transaction (the one that journals the act)."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    connection.execute(insert(ALERTS), {"id": str(uuid7()), "at": at, "tenant": tenant, "kind": kind, "actor": actor,
                                        "subject": subject, "journal_index": journal_index})


def recent_alerts(connection: Connection, tenant: str | None, limit: int) -> list[dict]:
    """The newest alerts first, of ``tenant`` (every tenant's for None)."""
    query = select(ALERTS).order_by(ALERTS.c.at.desc(), ALERTS.c.id.desc()).limit(limit)
    if tenant is not None:
        query = query.where(ALERTS.c.tenant == tenant)
    return [alert_view(dict(row)) for row in connection.execute(query).mappings()]


def alerted(connection: Connection, kind: str, subjects: list[str]) -> set[str]:
    """Which of ``subjects`` already have an alert of ``kind`` (to raise one alert per subject, not per look)."""
    if not subjects:
        return set()
    return set(connection.execute(select(ALERTS.c.subject).where(ALERTS.c.kind == kind,
                                                                 ALERTS.c.subject.in_(subjects))).scalars())


def alert_counts(connection: Connection) -> dict[str, int]:
    """How many alerts of each kind were ever raised (every kind named, zero included)."""
    counted = dict(connection.execute(select(ALERTS.c.kind, func.count()).group_by(ALERTS.c.kind)).all())
    return {kind: counted.get(kind, 0) for kind in KINDS}


def alert_view(row: dict) -> dict:
    return {"id": row["id"], "at": iso_z(row["at"]), "tenant": row["tenant"], "kind": row["kind"],
            "actor": row["actor"], "subject": row["subject"], "journal_index": row["journal_index"]}
