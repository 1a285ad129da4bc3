"""Restriction of processing of an object's personal values (GDPR art. 18, issue 22).

A restricted object keeps its content, record, commitments and disclosures, but every view of it (the API's
object, search, case and disclosure answers, the console, new packages) shows its personal fields (the policy's
``personal_fields`` at restriction time) as null with ``"restricted": true``. Only an archivist who states why
(the ``Vault-Access-Reason`` request header, journaled with the read) sees them. Restriction and lifting are
journaled (``restriction_set``, ``restriction_lifted``). The state is the ``restriction`` column of
``archived_objects``: ``{"fields", "reason", "at", "by"}``, or null. Format: docs/metadata-record.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, null, select, update

from vault.auth.roles import Principal, Role
from vault.clock import iso_z
from vault.db.tables import ArchivedObject
from vault.journal.entries import AccessEvent, Action, append_entry
from vault.retention.policy import DEFAULT_PERSONAL_FIELDS

OBJECTS = ArchivedObject.__table__
MAX_REASON = 2000


class RestrictionRefused(Exception):
    def __init__(self, status: int, slug: str, title: str, detail: str):
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail


def restricted_fields(row: dict) -> tuple[str, ...]:
    """The fields hidden from the row's views (none when the object is not restricted)."""
    restriction = row.get("restriction")
    return tuple(restriction.get("fields") or ()) if isinstance(restriction, dict) else ()


def hide(view: dict[str, Any], fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``view`` (an object view: columns by name, ``extra`` a dict) with ``fields`` (``sender``, ``extra.<name>``
    …) set to null; a new dict, ``view`` untouched."""
    hidden = dict(view)
    extra = dict(hidden.get("extra") or {})
    for name in fields:
        if name.startswith("extra."):
            if name[len("extra."):] in extra:
                extra[name[len("extra."):]] = None
        elif name in hidden:
            hidden[name] = None
    if "extra" in hidden:
        hidden["extra"] = extra
    return hidden


def may_reveal(principal: Principal, reason: str | None) -> bool:
    """Whether ``principal`` sees restricted values: only an archivist who gives a reason (art. 18(2))."""
    return principal.role == Role.ARCHIVIST and bool(reason and reason.strip())


@dataclass
class Restrictions:
    """Set and lift restrictions, each in one transaction with its journal entry."""

    writer: Any  # vault.db.writer.BatchWriter
    policies: Any  # vault.retention.policy.PolicyBook
    clock: Any

    def restrict(self, principal: Principal, object_id: str, reason: str, request_id: str | None) -> dict:
        """Restrict the object's personal fields; 409 when it already is."""
        def unit(connection: Connection) -> dict:
            row = self._row(connection, principal, object_id)
            if row["restriction"] is not None:
                raise RestrictionRefused(409, "already-restricted", "Already restricted",
                                         f"processing of {object_id}'s personal values is already restricted since "
                                         f"{row['restriction'].get('at')}; lift it first to restate it")
            policy = self.policies.version(row["policy_id"], row["policy_version"])
            fields = sorted(policy.personal_fields if policy is not None else DEFAULT_PERSONAL_FIELDS)
            now = self.clock.now()
            restriction = {"fields": fields, "reason": reason, "at": iso_z(now), "by": principal.person}
            connection.execute(update(OBJECTS).where(OBJECTS.c.id == object_id).values(restriction=restriction))
            self._journal(connection, principal, Action.RESTRICTION_SET, row, request_id,
                          {"reason": reason, "fields": fields})
            return {**row, "restriction": restriction}
        return self.writer.run(unit)

    def lift(self, principal: Principal, object_id: str, reason: str, request_id: str | None) -> dict:
        """Lift the object's restriction; 409 when it has none."""
        def unit(connection: Connection) -> dict:
            row = self._row(connection, principal, object_id)
            if row["restriction"] is None:
                raise RestrictionRefused(409, "not-restricted", "Not restricted",
                                         f"processing of {object_id}'s personal values is not restricted")
            connection.execute(update(OBJECTS).where(OBJECTS.c.id == object_id).values(restriction=null()))  # SQL NULL, not JSON null
            self._journal(connection, principal, Action.RESTRICTION_LIFTED, row, request_id,
                          {"reason": reason, "fields": restricted_fields(row)})
            return {**row, "restriction": None}
        return self.writer.run(unit)

    @staticmethod
    def _row(connection: Connection, principal: Principal, object_id: str) -> dict:
        row = connection.execute(select(OBJECTS).where(OBJECTS.c.id == object_id)).mappings().first()
        if row is None or not principal.sees_tenant(row["tenant"]):  # another tenant's object is not named
            raise RestrictionRefused(404, "unknown-object", "Unknown object", f"no object with id {object_id!r}")
        return dict(row)

    def _journal(self, connection: Connection, principal: Principal, action: Action, row: dict,
                 request_id: str | None, detail: dict) -> None:
        append_entry(connection, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=row["tenant"],
                                             action=action, object_ids=(row["id"],), request_id=request_id,
                                             detail={**detail, "fields": list(detail["fields"])}), self.clock.now())
