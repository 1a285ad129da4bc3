"""Destruction takes two people and time: who may approve, execute or veto a disposal batch, and when.

Pure rules over a batch's view and the caller's :class:`~vault.auth.roles.Principal`; each returns None when the
step may go on, else a :class:`Refusal` that the service raises. Four eyes count *people* (key holders), not keys:
a tenant admin who issues itself two archivist keys is still one person. A key younger than the minimum age can
neither approve nor execute (a key issued for the occasion waits, and its issuing raised an alert); an approved
batch waits for the notice period, during which any archivist or auditor of the tenant may veto it for good.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vault.auth.roles import Principal
from vault.clock import iso_z, parse_iso


@dataclass(frozen=True)
class Refusal:
    status: int
    slug: str
    title: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)


def _vetoed(batch: dict) -> Refusal | None:
    if batch.get("vetoed_at"):
        return Refusal(409, "vetoed", "Vetoed", f"disposal batch {batch['id']} was vetoed on {batch['vetoed_at']}: "
                       "it can never be approved or executed; propose a new batch if destruction is still due")
    return None


def key_too_recent(principal: Principal, now: datetime, min_age: timedelta) -> Refusal | None:
    """A key younger than ``min_age`` (VAULT_DISPOSAL_KEY_MIN_AGE) takes no part in approving or executing."""
    if principal.created_at is not None and now - principal.created_at >= min_age:
        return None
    ready = iso_z(principal.created_at + min_age) if principal.created_at else None
    return Refusal(403, "key-too-recent", "Key too recent",
                   f"key {principal.key_id} was issued less than {_text(min_age)} ago: a new key can neither approve "
                   f"nor execute a destruction" + (f" before {ready}" if ready else ""), {"usable_from": ready})


def approval_refusal(batch: dict, principal: Principal, now: datetime, min_age: timedelta) -> Refusal | None:
    """Why ``principal`` may not approve ``batch`` now, or None: it must be proposed, not vetoed, proposed by
    another person, and the approving key old enough."""
    if refusal := _vetoed(batch):
        return refusal
    if batch["status"] != "proposed":
        return Refusal(409, "not-proposed", "Not awaiting approval", f"disposal batch {batch['id']} is {batch['status']}")
    proposer = batch.get("proposed_holder") or f"key:{batch['proposed_by']}"
    if proposer.casefold() == principal.person.casefold() or batch["proposed_by"] == principal.key_id:
        return Refusal(403, "same-holder", "Four eyes required",
                       "the holder of this key proposed this destruction and cannot approve it, whatever key they use: "
                       "another archivist (another person) must")
    return key_too_recent(principal, now, min_age)


def execution_refusal(batch: dict, principal: Principal, now: datetime, min_age: timedelta) -> Refusal | None:
    """Why ``principal`` may not execute ``batch`` now, or None: it must be approved, not vetoed, past its notice
    period, and the executing key old enough."""
    if refusal := _vetoed(batch):
        return refusal
    if batch["status"] != "approved":
        return Refusal(409, "not-approved", "Not approved", f"disposal batch {batch['id']} is {batch['status']}: a "
                       "second archivist must approve it first")
    if refusal := key_too_recent(principal, now, min_age):
        return refusal
    after = batch.get("executable_after")
    if after is not None and now < parse_iso(after):
        return Refusal(409, "notice-period", "Notice period running",
                       f"disposal batch {batch['id']} was approved on {batch['approved_at']} and may be executed from "
                       f"{after} on; until then any archivist or auditor of the tenant may veto it",
                       {"executable_after": after})
    return None


def veto_refusal(batch: dict) -> Refusal | None:
    """A batch may be vetoed until it is executed, once."""
    if refusal := _vetoed(batch):
        return refusal
    if batch["status"] == "executed":
        return Refusal(409, "executed", "Already executed", f"disposal batch {batch['id']} was executed on "
                       f"{batch['executed_at']}: there is nothing left to veto")
    return None


def _text(delta: timedelta) -> str:
    days, seconds = delta.days, delta.seconds
    if days and not seconds:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{delta.total_seconds() / 3600:g} hours"
