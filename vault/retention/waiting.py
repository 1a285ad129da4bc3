"""Disposal batches waiting for someone: ``proposed`` (for a second archivist's approval), ``notice`` (approved,
in the notice period in which a veto is still possible) and ``executable`` (approved, notice over, not yet
executed). Counted for ``vault_disposal_batches{state}``; the batches table holds batches, not objects, so the
count is small."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from vault.db.tables import DisposalBatch

BATCHES = DisposalBatch.__table__
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
