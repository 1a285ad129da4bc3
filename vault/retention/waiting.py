"""Disposal batches waiting for someone: ``proposed`` (for a second archivist's approval), ``notice`` (approved,
in the notice period in which a veto is still possible) and ``executable`` (approved, notice over, not yet
executed). Counted for ``vault_disposal_batches{state}``; the batches table holds batches, not objects, so the
count is small. :func:`batch_list` lists the batches with their state for ``GET /v1/disposal/batches`` and the
console's disposal page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from vault.clock import iso_z
from vault.db.tables import DisposalBatch, DisposalItem

BATCHES = DisposalBatch.__table__
ITEMS = DisposalItem.__table__
WAITING_STATES = ("proposed", "notice", "executable")


def waiting_state(status: str, executable_after: datetime | None, now: datetime) -> str | None:
    """Which wait a batch of ``status`` is in at ``now``; None when it waits for no one (executed, vetoed)."""
    if status == "proposed":
        return "proposed"
    if status == "approved":
        return "notice" if executable_after is not None and executable_after > now else "executable"
    return None


def waiting_counts(connection: Connection, now: datetime) -> dict[str, int]:
    """Batches in each waiting state (every state named, zero included)."""
    counts = dict.fromkeys(WAITING_STATES, 0)
    rows = connection.execute(select(BATCHES.c.status, BATCHES.c.executable_after)
                              .where(BATCHES.c.status.in_(("proposed", "approved"))))
    for status, executable_after in rows:
        state = waiting_state(status, executable_after, now)
        if state:
            counts[state] += 1
    return counts


def batch_list(connection: Connection, tenant: str | None, now: datetime, limit: int) -> list[dict]:
    """The newest ``limit`` disposal batches of ``tenant`` (every tenant's for None), newest proposal first, each with
    its state (a waiting state, else ``executed`` or ``vetoed``), who proposed and approved it, when its notice
    period ends (``executable_after``) and how many objects it holds."""
    count = select(func.count()).where(ITEMS.c.batch_id == BATCHES.c.id).scalar_subquery()
    query = (select(BATCHES.c.id, BATCHES.c.tenant, BATCHES.c.status, BATCHES.c.proposed_by, BATCHES.c.proposed_at,
                    BATCHES.c.approved_by, BATCHES.c.approved_at, BATCHES.c.executable_after,
                    BATCHES.c.executed_at, BATCHES.c.vetoed_at, count.label("objects"))
             .order_by(BATCHES.c.proposed_at.desc(), BATCHES.c.id.desc()).limit(limit))
    if tenant is not None:
        query = query.where(BATCHES.c.tenant == tenant)
    return [{**{k: iso_z(v) if isinstance(v, datetime) else v for k, v in row.items()},
             "state": waiting_state(row["status"], row["executable_after"], now) or row["status"]}
            for row in connection.execute(query).mappings()]
