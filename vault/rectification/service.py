"""Corrections and erasures of an object's business metadata (issue 22), each one transaction through the writer.

A correction (GDPR art. 16, ETSI TS 119 512 UpdatePOC) updates the row and its search keys and writes the next
metadata record version, linked by hash to the one before and carrying ``{"correction": {"reason", "fields"}}``;
it is sealed in a later batch like any later version. An erasure (art. 17) deletes the salts and clear values of
fields the object's policy lists as ``erasable_fields`` (:mod:`vault.rectification.erasure`). Both are journaled
with field names only, never values: a correction's reason in clear (it is sealed in the record anyway: it must
name no person), an erasure's reason as a keyed pseudonym (kind ``erasure_reason``: it may name the requester).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Connection, select, update

from vault.auth.roles import Principal
from vault.catalog.index import rekey_erased
from vault.clock import iso_z
from vault.db.tables import ArchivedObject
from vault.db.writer import BatchWriter
from vault.evidence.metadata_store import next_version, record_bytes
from vault.journal.entries import AccessEvent, Action, append_entry
from vault.rectification.changes import Refused, corrected_row
from vault.rectification.erasure import erase_values
from vault.retention.policy import PolicyBook

OBJECTS = ArchivedObject.__table__
ERASURE_PERSONAL = ("erasure_reason",)
"""The pseudonym kind of an erasure's reason in the journal (erasable by ``POST /v1/journal/erasures``)."""


@dataclass
class RectificationService:
    writer: BatchWriter
    policies: PolicyBook
    clock: Any
    pseudonyms: Any  # vault.journal.pseudonyms.Pseudonymizer
    extend_retention: Callable[[str, Any], None] | None = None  # vault.storage.copies.Copies.extend_retention

    def correct(self, principal: Principal, object_id: str, changes: dict[str, Any], reason: str,
                request_id: str | None) -> dict:
        """Rectify ``changes`` ({field: value}) of the object; ``{"object_id", "version", "sha256"}`` of the new
        record version. Refused (:class:`Refused`) with nothing changed when any field or value is wrong."""
        now = self.clock.now()

        def unit(connection: Connection) -> tuple[dict, dict]:
            row, policy = self._living(connection, object_id, "corrected")
            updates = corrected_row(row, changes, policy)
            connection.execute(update(OBJECTS).where(OBJECTS.c.id == object_id).values(
                **updates, **rekey_erased(connection, row, updates, self.policies)))
            fields = sorted(changes)
            version = next_version(connection, object_id, {**row, **updates}, policy.personal_fields, policy.start,
                                   now, correction={"reason": reason, "fields": fields},
                                   renewed=[f for f in fields if f in policy.personal_fields])
            if version is None:
                raise Refused(409, "no-metadata-record", "No metadata record",
                              f"object {object_id} has no metadata record to correct (an imported object gets its "
                              "record in a later release)")
            digest = hashlib.sha256(record_bytes(connection, object_id, version)).hexdigest()
            append_entry(connection, self._event(principal, Action.METADATA_CORRECTED, row, request_id,
                                                 fields=fields, version=version, record_sha256=digest,
                                                 reason=reason), now)
            return {"object_id": object_id, "version": version, "sha256": digest}, {**row, **updates}

        answer, row = self.writer.run(unit)
        if self.extend_retention is not None and "retention_until" in row and row["retention_until"]:
            self.extend_retention(row["sha256"], row["retention_until"])
        return answer

    def erase(self, principal: Principal, object_id: str, fields: list[str], reason: str,
              request_id: str | None) -> dict:
        """Erase the values of ``fields`` (each erasable under the object's policy version, else 422 naming
        those that are not); ``{"object_id", "erased", "erased_at"}``."""
        now = self.clock.now()

        def unit(connection: Connection) -> dict:
            row, policy = self._living(connection, object_id, "erased")
            wanted = sorted(set(fields))
            refused = [f for f in wanted if f not in policy.erasable_fields]
            if refused:
                raise Refused(422, "not-erasable", "Field not erasable",
                              f"{', '.join(refused)} may not be erased under policy {policy.key} (erasable: "
                              f"{', '.join(policy.erasable_fields) or 'none'}); the archive keeps them under GDPR "
                              "art. 17(3)(e)", fields=refused, erasable=list(policy.erasable_fields))
            values = erase_values(connection, row, wanted, reason, now)
            if values:
                connection.execute(update(OBJECTS).where(OBJECTS.c.id == object_id).values(
                    **values, **rekey_erased(connection, row, values, self.policies)))
            append_entry(connection, self._event(
                principal, Action.PERSONAL_DATA_ERASED, row, request_id, fields=wanted,
                reason=self.pseudonyms.record(connection, ERASURE_PERSONAL[0], reason, now)), now)
            return {"object_id": object_id, "erased": wanted, "erased_at": iso_z(now)}

        return self.writer.run(unit)

    def _living(self, connection: Connection, object_id: str, what: str):
        row = connection.execute(select(OBJECTS).where(OBJECTS.c.id == object_id)).mappings().first()
        if row is None:
            raise Refused(404, "unknown-object", "Unknown object", f"no object with id {object_id!r}")
        if row["destroyed_at"] is not None:
            raise Refused(409, "destroyed", "Destroyed",
                          f"object {object_id} was destroyed on {iso_z(row['destroyed_at'])}: its metadata can no "
                          f"longer be {what}")
        policy = self.policies.version(row["policy_id"], row["policy_version"])
        if policy is None:
            raise Refused(409, "unknown-policy", "Unknown policy version",
                          f"policy {row['policy_id']}@{row['policy_version']} of object {object_id} is not known to "
                          "this vault")
        return dict(row), policy

    @staticmethod
    def _event(principal: Principal, action: Action, row: dict, request_id: str | None, **detail) -> AccessEvent:
        return AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=row["tenant"], action=action,
                           object_ids=(row["id"],), request_id=request_id, detail=detail)
