"""Legal holds: while one covers an object, nothing destroys it, whatever its retention says.

A hold covers named objects (``objects``), every object of a case reference, present and future (``case``), or
every object a search matches (``query``: case reference, contract, party, event type, kind, period). Holds are
few; matching is done here, in plain Python, against an object's row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from vault.clock import iso_z
from vault.db.tables import LegalHold

HOLDS = LegalHold.__table__
SCOPES = ("objects", "case", "query")
QUERY_FIELDS = ("case_ref", "contract_number", "sender", "recipient", "event_type", "kind", "from", "to")
HOLD_PERSONAL = ("hold_reference", "hold_reason")
"""Pseudonym kinds of a hold's free text (its reference and reason) in the journal (vault.journal.pseudonyms)."""


class HoldError(ValueError):
    """A hold request is malformed; the message says which field."""


def selector_for(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(scope, selector) from a request body with exactly one of ``object_ids``, ``case_ref``, ``query``."""
    given = [k for k in ("object_ids", "case_ref", "query") if body.get(k) not in (None, [], {}, "")]
    if len(given) != 1:
        raise HoldError("give exactly one of 'object_ids' (a list), 'case_ref' (a string) or 'query' (an object)")
    if given[0] == "object_ids":
        ids = body["object_ids"]
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids) or len(ids) > 10_000:
            raise HoldError("'object_ids' must be a list of up to 10 000 object ids")
        return "objects", {"object_ids": sorted(set(ids))}
    if given[0] == "case_ref":
        if not isinstance(body["case_ref"], str):
            raise HoldError("'case_ref' must be a string")
        return "case", {"case_ref": body["case_ref"]}
    query = body["query"]
    if not isinstance(query, dict) or not query or set(query) - set(QUERY_FIELDS):
        raise HoldError(f"'query' must be an object using only {', '.join(QUERY_FIELDS)}")
    for key in ("from", "to"):
        if key in query:
            try:
                datetime.fromisoformat(str(query[key]).replace("Z", "+00:00"))
            except ValueError:
                raise HoldError(f"query '{key}' must be an ISO 8601 time") from None
    if not all(isinstance(v, str) for v in query.values()):
        raise HoldError("query values must be strings")
    return "query", dict(query)


def covers(hold: dict, row: dict) -> bool:
    """Whether an active hold covers the object ``row`` (same tenant assumed)."""
    selector = hold["selector"]
    if hold["scope"] == "objects":
        return row["id"] in selector["object_ids"]
    if hold["scope"] == "case":
        return row["case_ref"] == selector["case_ref"]
    for key, value in selector.items():
        if key in ("from", "to"):
            bound = datetime.fromisoformat(value.replace("Z", "+00:00"))
            at = row["timeline_at"]
            if (key == "from" and at < bound) or (key == "to" and at >= bound):
                return False
        elif row.get(key) != value:
            return False
    return True


def active_holds(connection: Connection, tenant: str) -> list[dict]:
    rows = connection.execute(select(HOLDS).where(HOLDS.c.tenant == tenant, HOLDS.c.released_at.is_(None))
                              .order_by(HOLDS.c.created_at)).mappings()
    return [dict(r) for r in rows]


def holds_on(connection: Connection, row: dict) -> list[str]:
    """Ids of the active holds covering an object."""
    return [h["id"] for h in active_holds(connection, row["tenant"]) if covers(h, row)]


def insert_hold(connection: Connection, hold: dict) -> None:
    connection.execute(insert(HOLDS), hold)


def release_hold(connection: Connection, hold_id: str, by: str, at: datetime) -> int:
    return connection.execute(update(HOLDS).where(HOLDS.c.id == hold_id, HOLDS.c.released_at.is_(None))
                              .values(released_by=by, released_at=at)).rowcount


def hold_view(hold: dict) -> dict:
    return {"id": hold["id"], "tenant": hold["tenant"], "scope": hold["scope"], "selector": hold["selector"],
            "reason": hold["reason"], "reference": hold["reference"], "created_by": hold["created_by"],
            "created_at": iso_z(hold["created_at"]), "released_by": hold["released_by"],
            "released_at": iso_z(hold["released_at"]), "active": hold["released_at"] is None}
