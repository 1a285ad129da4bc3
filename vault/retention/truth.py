"""Disposal never acts on a row that disagrees with its metadata record (issue 22, "the record is the truth").

A row whose ``retention_until``, policy, case reference, parties … differ from its newest record
(:func:`vault.evidence.rowaudit.row_mismatches`) is refused by every disposal step and flagged once: a
``record_mismatch`` journal entry and a ``record-mismatch`` security alert in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from vault.evidence.rowaudit import OBJECTS, row_mismatches
from vault.evidence.rowcheck import Policies
from vault.journal.alerts import RECORD_MISMATCH, alerted, raise_alert
from vault.journal.entries import AccessEvent, Action, append_entry

DISAGREES = "its row disagrees with its sealed metadata record on "
SYSTEM_ACTOR = "system"


def disagreement(connection: Connection, row: dict, policies: Policies) -> str | None:
    """Why the row may not be acted on (the fields its record says otherwise), or None when they agree."""
    mismatches = row_mismatches(connection, row, policies)
    return DISAGREES + ", ".join(m.field for m in mismatches) if mismatches else None


def mismatched(reasons: dict[str, str]) -> dict[str, list[str]]:
    """``{object id: [fields]}`` of the refusal reasons that are disagreements."""
    return {i: r[len(DISAGREES):].split(", ") for i, r in reasons.items() if r.startswith(DISAGREES)}


def flag_mismatches(connection: Connection, found: dict[str, list[str]], now: datetime) -> int:
    """Journal and alert each object of ``found`` (``{id: [fields]}``) not flagged before; how many."""
    fresh = sorted(set(found) - alerted(connection, RECORD_MISMATCH, list(found)))
    tenants = dict(connection.execute(select(OBJECTS.c.id, OBJECTS.c.tenant).where(OBJECTS.c.id.in_(fresh))).all())
    for object_id in fresh:
        tenant, fields = tenants.get(object_id), found[object_id]
        index = append_entry(connection, AccessEvent(actor=SYSTEM_ACTOR, tenant=tenant, action=Action.RECORD_MISMATCH,
                                                     object_ids=(object_id,), detail={"fields": fields}), now)
        raise_alert(connection, at=now, tenant=tenant, kind=RECORD_MISMATCH, actor=SYSTEM_ACTOR, subject=object_id,
                    journal_index=index)
    return len(fresh)
