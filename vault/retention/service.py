"""Retention use cases: start events, policy reassignment, legal holds, and four-eyes disposal.

Nothing leaves the archive early: an object is *due* only once its retention end has passed, under a policy whose
final action is ``destroy`` (``review`` objects go to a review list, ``keep`` objects never come due), and while
no legal hold covers it. Destruction takes two different people — one archivist proposes a batch, another approves
it — and time: keys too recent take no part, and an approved batch waits out a notice period during which it can
be vetoed (:mod:`vault.retention.safeguards`). Each step re-checks every object, so a hold set after the proposal
still stops the destruction. Executing a
batch erases the personal fields the object's policy names, keeps a tombstone (id, digests, policy, dates, a
pseudonym of the case reference), deletes the bytes from the store unless another living object shares them, and
signs a certificate listing all of it with the journal indexes of proposal, approval and execution.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from sqlalchemy import Connection, Engine, and_, delete, insert, select, update

from vault.auth.roles import Principal
from vault.catalog.index import rekey_erased
from vault.clock import iso_z
from vault.db.tables import ArchivedObject, ConsentEvent, DisposalBatch, DisposalItem, ValidationReport
from vault.db.writer import BatchWriter
from vault.ids import uuid7
from vault.journal.alerts import DISPOSAL_APPROVED, HOLD_RELEASED, raise_alert
from vault.journal.entries import AccessEvent, Action, append_entry
from vault.journal.pseudonyms import PREFIX as PSEUDONYM_PREFIX
from vault.retention.certificate import sign_certificate
from vault.sandbox import marked
from vault.retention.holds import active_holds, covers, holds_on, insert_hold, release_hold
from vault.retention.policy import PolicyBook
from vault.retention.waiting import batch_list
from vault.retention.safeguards import Refusal, approval_refusal, execution_refusal, veto_refusal
from vault.evidence.metadata_store import next_version
from vault.rectification.erasure import erase_values
from vault.retention.truth import disagreement, flag_mismatches, mismatched

OBJECTS = ArchivedObject.__table__
BATCHES = DisposalBatch.__table__
ITEMS = DisposalItem.__table__
REPORTS = ValidationReport.__table__
CONSENTS = ConsentEvent.__table__
COLUMN_FIELDS = ("sender", "recipient", "filename", "contract_number")
DISPOSAL_REASON = "disposal"  # the reason of the erasure markers a destruction writes


class RetentionRefused(Exception):
    """A retention action is not allowed; ``status``/``slug``/``title`` become the problem+json answer."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail, self.extra = status, slug, title, detail, extra

    @classmethod
    def check(cls, refusal: Refusal | None) -> None:
        if refusal is not None:
            raise cls(refusal.status, refusal.slug, refusal.title, refusal.detail, **refusal.extra)


@dataclass
class RetentionService:
    reader: Engine
    writer: BatchWriter
    policies: PolicyBook
    clock: Any
    pseudonym: Callable[[str, str], str]
    delete_everywhere: Callable[[str], list[dict]]
    archive_key: Any
    pdf_identity: Callable[[], tuple[Any, Any]] | None = None
    timestamp: Callable[[bytes], bytes] | None = None
    copies: Any = None  # mirrors retention ends and holds onto the S3 locks (vault.storage.copies.Copies)
    pdf_validation_data: Callable[[], Any] | None = None  # -> vault.documents.pdf.ValidationData | None (B-LT)
    pseudonyms: Any = None  # vault.journal.pseudonyms.Pseudonymizer: a hold's reference and reason in the journal
    key_min_age: timedelta = timedelta(days=7)  # VAULT_DISPOSAL_KEY_MIN_AGE
    notice: timedelta = timedelta(days=7)  # VAULT_DISPOSAL_NOTICE
    sandbox: bool = False  # VAULT_SANDBOX: certificates say "SANDBOX — no probative value" (vault.sandbox)

    # -- helpers -------------------------------------------------------------------------------------------------

    def _row(self, connection: Connection, object_id: str) -> dict:
        row = connection.execute(select(OBJECTS).where(OBJECTS.c.id == object_id)).mappings().first()
        if row is None:
            raise RetentionRefused(404, "unknown-object", "Unknown object", f"no object with id {object_id!r}")
        return dict(row)

    def _event(self, principal: Principal, action: Action, tenant: str | None, object_ids: Iterable[str] = (),
               request_id: str | None = None, **detail) -> AccessEvent:
        return AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=tenant, action=action,
                           object_ids=tuple(object_ids), request_id=request_id, detail=detail)

    def final_action(self, row: dict) -> str:
        policy = self.policies.version(row["policy_id"], row["policy_version"])
        return policy.final_action if policy else "review"  # an unknown version is never destroyed unseen

    def why_not_due(self, connection: Connection, row: dict, now: datetime) -> str | None:
        """None when the object may be destroyed now, else the reason in one sentence."""
        if row["destroyed_at"] is not None:
            return "already destroyed"
        disagrees = disagreement(connection, row, self.policies)
        if disagrees:  # never act on a row its sealed record contradicts (issue 22): it may have been shortened
            return disagrees
        if row["retention_until"] is None:
            return "its retention has not started: its start event is not recorded yet"
        if row["retention_until"] > now:
            return f"under retention until {iso_z(row['retention_until'])}"
        action = self.final_action(row)
        if action != "destroy":
            return f"its policy's final action is '{action}', not destroy"
        held = holds_on(connection, row)
        if held:
            return f"under legal hold {', '.join(held)}"
        return None

    # -- start events and reassignment ------------------------------------------------------------------------

    def record_start(self, principal: Principal, object_id: str, at: datetime, request_id: str | None) -> dict:
        def unit(connection: Connection) -> dict:
            row = self._row(connection, object_id)
            if row["retention_start"] is not None:
                raise RetentionRefused(409, "retention-started", "Retention already started",
                                       f"retention of {object_id} runs from {iso_z(row['retention_start'])}; a "
                                       "recorded start never moves (it could only shorten or lengthen it unseen)")
            policy = self.policies.version(row["policy_id"], row["policy_version"])
            earliest, latest = policy.event_time_window(self.clock.now())
            if not earliest <= at <= latest:  # as for a deposit's event time: nobody makes a proof due early
                raise RetentionRefused(422, "retention-start-out-of-range", "Retention start out of range",
                                       f"a start event is recorded when it happens: from {iso_z(earliest)} "
                                       f"(max_backdate {policy.max_backdate.text} of policy {policy.key}) to "
                                       f"{iso_z(latest)}", earliest=iso_z(earliest), latest=iso_z(latest))
            until = policy.duration.after(at)
            connection.execute(update(OBJECTS).where(OBJECTS.c.id == object_id)
                               .values(retention_start=at, retention_until=until))
            append_entry(connection, self._event(principal, Action.RETENTION_START, row["tenant"], [object_id],
                                                 request_id, start=iso_z(at), until=iso_z(until)), self.clock.now())
            return {**row, "retention_start": at, "retention_until": until}

        row = self.writer.run(unit)
        self._extend_locks(row)
        return row

    def _extend_locks(self, row: dict) -> None:
        if self.copies is not None:
            self.copies.extend_retention(row["sha256"], row["retention_until"])

    def reassign(self, principal: Principal, object_id: str, policy_id: str, version: int | None,
                 request_id: str | None) -> dict:
        target = self.policies.get(policy_id) if version is None else self.policies.version(policy_id, version)
        if target is None:
            raise RetentionRefused(422, "unknown-policy", "Unknown policy",
                                   f"no policy {policy_id!r}{'' if version is None else f' version {version}'}")

        def unit(connection: Connection) -> dict:
            row = self._row(connection, object_id)
            if row["destroyed_at"] is not None:
                raise RetentionRefused(410, "destroyed", "Destroyed", f"object {object_id} was destroyed")
            start = row["retention_start"]
            if target.start == "deposit":
                start = row["deposited_at"]
            elif target.start == "event_time":
                start = row["event_time"] or start
            until = target.duration.after(start) if start else None
            current = row["retention_until"]
            if current is not None and (until is None or until < current):
                raise RetentionRefused(409, "retention-shortened", "Retention would be shortened",
                                       f"{target.key} would end retention of {object_id} "
                                       f"{'with no date' if until is None else 'on ' + iso_z(until)}, before its "
                                       f"current end {iso_z(current)}: retention is extended, never shortened",
                                       retention_until=iso_z(current))
            changed = {"policy_id": target.id, "policy_version": target.version, "retention_start": start,
                       "retention_until": until}
            connection.execute(update(OBJECTS).where(OBJECTS.c.id == object_id).values(**changed))
            # the metadata record follows: its next version states the new policy (the row stays its record's)
            next_version(connection, object_id, {**row, **changed}, target.personal_fields, target.start,
                         self.clock.now())
            append_entry(connection, self._event(
                principal, Action.POLICY_REASSIGNED, row["tenant"], [object_id], request_id,
                **{"from": f"{row['policy_id']}@{row['policy_version']}", "to": target.key,
                   "until": iso_z(until)}), self.clock.now())
            return {**row, **changed}

        row = self.writer.run(unit)
        self._extend_locks(row)
        return row

    # -- legal holds ---------------------------------------------------------------------------------------------

    def set_hold(self, principal: Principal, tenant: str, scope: str, selector: dict, reason: str, reference: str,
                 request_id: str | None) -> dict:
        now = self.clock.now()
        hold = {"id": str(uuid7()), "tenant": tenant, "scope": scope, "selector": selector, "reason": reason,
                "reference": reference, "created_by": principal.key_id, "created_at": now, "released_by": None,
                "released_at": None}

        def unit(connection: Connection) -> dict:
            insert_hold(connection, hold)
            ids = selector.get("object_ids", [])
            free_text = {name: self.pseudonyms.record(connection, f"hold_{name}", hold[name], now)
                         for name in ("reference", "reason")}
            append_entry(connection, self._event(principal, Action.HOLD_SET, tenant, ids[:1000], request_id,
                                                 hold=hold["id"], scope=scope, **free_text), now)
            return hold

        hold = self.writer.run(unit)
        self._mirror_holds(hold, on=True)
        return hold

    def _mirror_holds(self, hold: dict, on: bool) -> None:
        """Set (or, where no other hold still covers the object, clear) the storage's legal hold of each copy."""
        if self.copies is None or not self.copies.replicas:
            return
        with self.reader.connect() as connection:
            rows = connection.execute(select(OBJECTS).where(OBJECTS.c.tenant == hold["tenant"],
                                                            OBJECTS.c.destroyed_at.is_(None))).mappings().all()
            remaining = [] if on else active_holds(connection, hold["tenant"])
        for row in rows:
            if covers(hold, row) and (on or not any(covers(other, row) for other in remaining)):
                self.copies.mirror_hold(row["sha256"], on)

    def release(self, principal: Principal, hold: dict, request_id: str | None) -> dict:
        now = self.clock.now()

        def unit(connection: Connection) -> dict:
            if not release_hold(connection, hold["id"], principal.key_id, now):
                raise RetentionRefused(409, "hold-released", "Hold already released",
                                       f"hold {hold['id']} was released on {iso_z(hold['released_at'])}")
            # the pseudonym only: recording the clear value again would undo an erasure made since the hold was set
            reference = self.pseudonyms.pseudonym("hold_reference", hold["reference"])
            index = append_entry(connection, self._event(principal, Action.HOLD_RELEASED, hold["tenant"], (),
                                                         request_id, hold=hold["id"], reference=reference), now)
            raise_alert(connection, at=now, tenant=hold["tenant"], kind=HOLD_RELEASED, actor=principal.key_id,
                        subject=hold["id"], journal_index=index)
            return {**hold, "released_by": principal.key_id, "released_at": now}

        released = self.writer.run(unit)
        self._mirror_holds(released, on=False)
        return released

    # -- disposal ------------------------------------------------------------------------------------------------

    def due(self, tenant: str | None, policy_id: str | None = None) -> dict[str, list[dict]]:
        """Objects whose retention ended: ``destroy`` (due), ``review`` (to review), ``held`` (due but held)."""
        now = self.clock.now()
        query = select(OBJECTS).where(OBJECTS.c.destroyed_at.is_(None), OBJECTS.c.retention_until.is_not(None),
                                      OBJECTS.c.retention_until <= now).order_by(OBJECTS.c.retention_until)
        if tenant is not None:
            query = query.where(OBJECTS.c.tenant == tenant)
        if policy_id is not None:
            query = query.where(OBJECTS.c.policy_id == policy_id)
        out: dict[str, list[dict]] = {"destroy": [], "review": [], "held": [], "mismatch": []}
        flagged: dict[str, list[str]] = {}
        with self.reader.connect() as connection:
            holds: dict[str, list[dict]] = {}
            for row in connection.execute(query).mappings():
                row = dict(row)
                action = self.final_action(row)
                if action == "keep":
                    continue
                tenant_holds = holds.setdefault(row["tenant"], active_holds(connection, row["tenant"]))
                held = [h["id"] for h in tenant_holds if covers(h, row)]
                item = {"id": row["id"], "tenant": row["tenant"], "policy": f"{row['policy_id']}@{row['policy_version']}",
                        "retention_until": iso_z(row["retention_until"]), "action": action, "holds": held}
                fields = mismatched({row["id"]: disagreement(connection, row, self.policies) or ""}).get(row["id"])
                if fields:
                    flagged[row["id"]] = fields
                    out["mismatch"].append({**item, "mismatches": fields})
                    continue
                out["held" if held else action].append(item)
        self._flag(flagged)
        return out

    def _flag(self, found: dict[str, list[str]]) -> None:
        if found:
            self.writer.run(lambda connection: flag_mismatches(connection, found, self.clock.now()))

    def _run_refusing(self, unit: Callable[[Connection], Any]) -> Any:
        """Run a disposal step; when it is refused for rows that disagree with their records, flag them in a unit of
        their own (the refused step's transaction is rolled back) before the refusal goes up."""
        try:
            return self.writer.run(unit)
        except RetentionRefused as refusal:
            self._flag(mismatched(refusal.extra.get("refused") or {}))
            raise

    def propose(self, principal: Principal, tenant: str, object_ids: list[str], request_id: str | None) -> dict:
        now = self.clock.now()
        batch_id = str(uuid7())

        def unit(connection: Connection) -> dict:
            refused = {}
            for object_id in object_ids:
                row = connection.execute(select(OBJECTS).where(OBJECTS.c.id == object_id)).mappings().first()
                reason = "no such object in this tenant" if row is None or row["tenant"] != tenant else \
                    self.why_not_due(connection, dict(row), now)
                if reason:
                    refused[object_id] = reason
            if refused:
                raise RetentionRefused(409, "not-due", "Not due for destruction",
                                       f"{len(refused)} of {len(object_ids)} objects may not be destroyed now",
                                       refused=refused)
            index = append_entry(connection, self._event(principal, Action.DESTRUCTION_PROPOSED, tenant, object_ids,
                                                         request_id, batch=batch_id), now)
            batch = {"id": batch_id, "tenant": tenant, "status": "proposed", "proposed_by": principal.key_id,
                     "proposed_holder": principal.person, "proposed_at": now, "proposal_index": index}
            connection.execute(insert(BATCHES), batch)
            connection.execute(insert(ITEMS), [{"batch_id": batch_id, "object_id": i} for i in object_ids])
            return self._batch_view(connection, batch_id)

        return self._run_refusing(unit)

    def batches(self, tenant: str | None, limit: int) -> list[dict]:
        """The newest disposal batches of ``tenant`` (None: every tenant's), with state and object count."""
        with self.reader.connect() as connection:
            return batch_list(connection, tenant, self.clock.now(), limit)

    def batch(self, batch_id: str) -> dict:
        with self.reader.connect() as connection:
            return self._batch_view(connection, batch_id)

    def _batch_view(self, connection: Connection, batch_id: str) -> dict:
        row = connection.execute(select(BATCHES).where(BATCHES.c.id == batch_id)).mappings().first()
        if row is None:
            raise RetentionRefused(404, "unknown-batch", "Unknown disposal batch", f"no disposal batch {batch_id!r}")
        ids = connection.execute(select(ITEMS.c.object_id).where(ITEMS.c.batch_id == batch_id)
                                 .order_by(ITEMS.c.object_id)).scalars().all()
        view = {k: (iso_z(v) if isinstance(v, datetime) else v) for k, v in dict(row).items() if k != "certificate"}
        return {**view, "object_ids": list(ids), "certificate_ready": row["certificate"] is not None}

    def _recheck(self, connection: Connection, batch: dict, now: datetime) -> list[dict]:
        rows = [self._row(connection, i) for i in batch["object_ids"]]
        refused = {r["id"]: reason for r in rows if (reason := self.why_not_due(connection, r, now))}
        if refused:
            raise RetentionRefused(409, "not-due", "Not due for destruction any more",
                                   f"{len(refused)} objects of batch {batch['id']} may not be destroyed now "
                                   "(a hold or a retention change since the proposal); propose a new batch",
                                   refused=refused)
        return rows

    def approve(self, principal: Principal, batch_id: str, request_id: str | None) -> dict:
        now = self.clock.now()

        def unit(connection: Connection) -> dict:
            batch = self._batch_view(connection, batch_id)
            RetentionRefused.check(approval_refusal(batch, principal, now, self.key_min_age))
            self._recheck(connection, batch, now)
            after = now + self.notice
            index = append_entry(connection, self._event(principal, Action.DESTRUCTION_APPROVED, batch["tenant"],
                                                         batch["object_ids"], request_id, batch=batch_id,
                                                         executable_after=iso_z(after)), now)
            connection.execute(update(BATCHES).where(BATCHES.c.id == batch_id).values(
                status="approved", approved_by=principal.key_id, approved_holder=principal.person, approved_at=now,
                approval_index=index, executable_after=after))
            raise_alert(connection, at=now, tenant=batch["tenant"], kind=DISPOSAL_APPROVED, actor=principal.key_id,
                        subject=batch_id, journal_index=index)
            return self._batch_view(connection, batch_id)

        return self._run_refusing(unit)

    def veto(self, principal: Principal, batch_id: str, reason: str, request_id: str | None) -> dict:
        """Stop a proposed or approved batch for good (an archivist or auditor of its tenant). The journal keeps a
        pseudonym of the reason, never its text; the batch keeps the text for its readers."""
        now = self.clock.now()

        def unit(connection: Connection) -> dict:
            batch = self._batch_view(connection, batch_id)
            RetentionRefused.check(veto_refusal(batch))
            index = append_entry(connection, self._event(principal, Action.DESTRUCTION_VETOED, batch["tenant"],
                                                         batch["object_ids"], request_id, batch=batch_id,
                                                         reason=self.pseudonym("veto_reason", reason)), now)
            connection.execute(update(BATCHES).where(BATCHES.c.id == batch_id).values(
                status="vetoed", vetoed_by=principal.key_id, vetoed_at=now, veto_index=index, veto_reason=reason))
            return self._batch_view(connection, batch_id)

        return self.writer.run(unit)

    def execute(self, principal: Principal, batch_id: str, request_id: str | None) -> dict:
        """Destroy an approved batch and return its signed certificate (idempotent after a crash)."""
        now = self.clock.now()

        def destroy(connection: Connection) -> list[dict]:
            batch = self._batch_view(connection, batch_id)
            if batch["status"] == "executed":
                return [self._row(connection, i) for i in batch["object_ids"]]
            RetentionRefused.check(execution_refusal(batch, principal, now, self.key_min_age))
            rows = self._recheck(connection, batch, now)
            index = append_entry(connection, self._event(principal, Action.DESTRUCTION_DONE, batch["tenant"],
                                                         batch["object_ids"], request_id, batch=batch_id), now)
            for row in rows:
                erased = self._erasure(connection, row, now)
                connection.execute(update(OBJECTS).where(OBJECTS.c.id == row["id"]).values(
                    **erased, **rekey_erased(connection, row, erased, self.policies), status="destroyed",
                    destroyed_at=now))
                # the validation report names signers and the consent event proves nothing without its record
                connection.execute(delete(REPORTS).where(REPORTS.c.object_id == row["id"]))
                connection.execute(delete(CONSENTS).where(CONSENTS.c.object_id == row["id"]))
            connection.execute(update(BATCHES).where(BATCHES.c.id == batch_id).values(
                status="executed", executed_by=principal.key_id, executed_at=now, execution_index=index))
            return rows

        rows = self._run_refusing(destroy)
        copies = {}
        with self.reader.connect() as connection:
            for row in rows:
                sharing = connection.execute(select(OBJECTS.c.id).where(
                    and_(OBJECTS.c.sha256 == row["sha256"], OBJECTS.c.destroyed_at.is_(None))).limit(1)).first()
                if sharing is not None:
                    copies[row["id"]] = [{"store": "all", "result": "kept: the same bytes belong to "
                                          f"object {sharing.id}, still under retention"}]
                else:
                    copies[row["id"]] = self.delete_everywhere(row["sha256"])
        return self.writer.run(lambda c: self._certify(c, batch_id, rows, copies))

    def _erasure(self, connection: Connection, row: dict, now: datetime) -> dict:
        """The row's values after destruction: the policy's personal fields erased as an erasure request erases
        them (disclosures deleted, markers written: :func:`vault.rectification.erasure.erase_values`), the case
        reference pseudonymised, what was read from the content and the signers' names dropped."""
        policy = self.policies.version(row["policy_id"], row["policy_version"])
        fields = policy.personal_fields if policy else COLUMN_FIELDS
        values: dict[str, Any] = {"case_ref": self.pseudonym("case_ref", row["case_ref"])
                                  if not row["case_ref"].startswith(PSEUDONYM_PREFIX) else row["case_ref"]}
        values.update(erase_values(connection, row, [f for f in fields if f in COLUMN_FIELDS or
                                                     f.startswith("extra.")], DISPOSAL_REASON, now))
        values.setdefault("extra", dict(row["extra"] or {}))
        values["extracted"] = {}  # what was read from the content (e.g. a message id) goes with it
        values["validation"] = [{**v, "signer": None} for v in row.get("validation") or []]  # verdicts stay
        return values

    def _certify(self, connection: Connection, batch_id: str, rows: list[dict], copies: dict) -> dict:
        existing = connection.execute(select(BATCHES.c.certificate).where(BATCHES.c.id == batch_id)).scalar_one()
        if existing:
            return json.loads(existing)
        batch = self._batch_view(connection, batch_id)
        objects = []
        for row in rows:
            stored = self._row(connection, row["id"])
            objects.append({
                "id": row["id"], "sha256": row["sha256"], "sha512": row["sha512"], "size": row["size"],
                "policy": f"{row['policy_id']}@{row['policy_version']}", "deposited_at": iso_z(row["deposited_at"]),
                "retention_start": iso_z(row["retention_start"]), "retention_until": iso_z(row["retention_until"]),
                "case_ref_pseudonym": stored["case_ref"], "journal_index_of_deposit": row["journal_index"],
                "copies": copies.get(row["id"], []),
            })
        certificate = {
            "type": "vault destruction certificate", "version": 1, "batch": batch_id, "tenant": batch["tenant"],
            "proposal": {"by": batch["proposed_by"], "at": batch["proposed_at"], "journal_index": batch["proposal_index"]},
            "approval": {"by": batch["approved_by"], "at": batch["approved_at"], "journal_index": batch["approval_index"]},
            "execution": {"by": batch["executed_by"], "at": batch["executed_at"],
                          "journal_index": batch["execution_index"]},
            "objects": objects,
        }
        signed = sign_certificate(marked(certificate, self.sandbox), self.archive_key)
        connection.execute(update(BATCHES).where(BATCHES.c.id == batch_id).values(certificate=json.dumps(signed)))
        return signed

    def certificate(self, batch_id: str) -> dict | None:
        with self.reader.connect() as connection:
            self._batch_view(connection, batch_id)
            text = connection.execute(select(BATCHES.c.certificate).where(BATCHES.c.id == batch_id)).scalar_one()
        return json.loads(text) if text else None

    def certificate_pdf(self, batch_id: str) -> bytes | None:
        """The certificate rendered as PDF and signed (PAdES B-T with the archive's TSA, B-LT with the built-in
        one) when asked."""
        from vault.retention.pdf import certificate_pdf

        signed = self.certificate(batch_id)
        if signed is None:
            return None
        cert, key = self.pdf_identity()
        return certificate_pdf(signed, cert, key, self.timestamp, self.pdf_validation_data)
