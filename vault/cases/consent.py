"""Whether an LRE case had the recipient's valid prior consent at the sending (issue 22).

An electronic registered letter to a non-professional recipient needs that person's prior consent to receive it
electronically (eIDAS art. 44 as the French CPCE art. L.100 and R.53-1 apply it: "le destinataire non
professionnel […] a exprimé son consentement"). A case says who the recipient is with ``recipient_type``
(``consumer`` or ``professional``) and may name the consent record with ``consent_ref`` on any of its objects
(the sending's first). Without ``consent_ref`` the consent registry is asked for the recipient's state for the
LRE purpose (``VAULT_LRE_CONSENT_PURPOSE``). Consent is valid when the latest opt-in or opt-out at or before the
sending's event time is an opt-in: a consent given later, or withdrawn before, is not. The check is made in the
case's tenant only, so a ``consent_ref`` of another tenant is "not found".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vault.clock import iso_z, parse_iso

CONSUMER, PROFESSIONAL = "consumer", "professional"


def _carrier(rows: list[dict]) -> dict | None:
    """The object that speaks for the case's sending: the first sending, else the first object naming a recipient
    type or a consent."""
    sendings = [r for r in rows if r["event_type"] == "sending"]
    named = [r for r in rows if r.get("recipient_type") or r.get("consent_ref")]
    return (sendings or named or [None])[0]


def _first(rows: list[dict], name: str, prefer: dict | None) -> Any:
    if prefer is not None and prefer.get(name) is not None:
        return prefer[name]
    return next((r[name] for r in rows if r.get(name) is not None), None)


def case_consent(rows: list[dict], registry, purpose: str, now: datetime) -> dict:
    """The consent section of a case view: ``required`` (a consumer recipient), ``valid``, ``at`` (the sending's
    event time, or now before the sending), how it was found (``consent_ref`` or ``registry``), the ``reason``
    in one sentence and the deciding ``proof`` (object id, digests, seal time, subject pseudonym, purpose)."""
    carrier = _carrier(rows)
    recipient_type = _first(rows, "recipient_type", carrier)
    consent_ref = _first(rows, "consent_ref", carrier)
    recipient = _first(rows, "recipient", carrier)
    tenant = (carrier or rows[0])["tenant"]
    sent = carrier is not None and carrier["event_type"] == "sending"
    at = carrier["timeline_at"] if sent else now
    section = {"required": recipient_type == CONSUMER, "recipient_type": recipient_type, "at": iso_z(at),
               "at_source": "sending" if sent else "now", "consent_ref": consent_ref}
    if consent_ref is not None:
        found = _by_reference(registry, tenant, consent_ref, recipient, at)
    elif recipient_type is None:
        found = _nothing("the case names neither a consent record (consent_ref) nor a recipient type")
    elif recipient is None:
        found = _nothing("the case names no recipient whose consent could be looked up")
    else:
        found = _by_lookup(registry, tenant, recipient, purpose, at)
    section.update(found)
    if not section["required"] and recipient_type == PROFESSIONAL:
        section["reason"] = "a professional recipient: no consent is required; " + section["reason"]
    return section


def _nothing(reason: str) -> dict:
    return {"lookup": None, "valid": False, "proof": None, "reason": reason}


def _by_reference(registry, tenant: str, consent_ref: str, recipient: str | None, at: datetime) -> dict:
    proof = registry.proof(tenant, consent_ref)
    answer = {"lookup": "consent_ref", "valid": False, "proof": proof}
    if proof is None:
        return {**answer, "reason": f"consent_ref {consent_ref} names no consent record of this tenant"}
    if recipient is not None and registry.subject_pseudonym(recipient) != proof["subject_pseudonym"]:
        return {**answer, "reason": f"consent record {consent_ref} is not the recipient's"}
    if proof["event_type"] != "consent":
        return {**answer, "reason": f"consent record {consent_ref} is a withdrawal, not a consent"}
    if parse_iso(proof["event_time"]) > at:
        return {**answer, "reason": f"consent record {consent_ref} was given at {proof['event_time']}, after the "
                                    f"sending ({iso_z(at)})"}
    state = registry.state_of(tenant, proof["subject_pseudonym"], proof["purpose"], at)
    if state.state != "granted":
        return {**answer, "reason": _withdrawn(state, at)}
    return {**answer, "valid": True, "reason": f"consent record {consent_ref} ({proof['purpose']}) was given at "
                                               f"{proof['event_time']} and not withdrawn by {iso_z(at)}"}


def _by_lookup(registry, tenant: str, recipient: str, purpose: str, at: datetime) -> dict:
    state = registry.state(tenant, recipient, purpose, at)
    decided = registry.proof(tenant, state.proof["object_id"]) if state.proof else None
    answer = {"lookup": "registry", "purpose": purpose, "valid": state.state == "granted", "proof": decided}
    if state.state == "granted":
        return {**answer, "reason": f"the recipient's consent for {purpose!r} (record {decided['object_id']}, "
                                    f"{decided['event_time']}) was in force at {iso_z(at)}"}
    if state.state == "withdrawn":
        return {**answer, "reason": _withdrawn(state, at)}
    return {**answer, "reason": f"no consent of the recipient for {purpose!r} is on record at or before {iso_z(at)}"}


def _withdrawn(state, at: datetime) -> str:
    return (f"the consent for {state.purpose!r} was withdrawn at {state.proof['event_time']} (record "
            f"{state.proof['object_id']}), before the sending ({iso_z(at)})")


def with_consent(completeness: dict, consent: dict) -> dict:
    """``completeness`` (:meth:`vault.cases.chains.Completeness.as_dict`) with the consent step: a consumer
    recipient without valid consent makes the case incomplete, the reason listed under ``reasons``."""
    if not consent["required"] or consent["valid"]:
        return {**completeness, "reasons": []}
    status = completeness["status"] if completeness["status"] != "complete" else "incomplete"
    return {**completeness, "status": status, "missing": [*completeness["missing"], "consent"],
            "reasons": [f"consent: the recipient is a consumer and {consent['reason']}"]}
