"""The one way to read restricted personal values (GDPR art. 18, issue 22): the ``Vault-Access-Reason`` request
header, honoured for archivists only, on every read route that shows them (object, search, case and timeline,
disclosures). The reason goes into the read's journal entry (``detail.access_reason``)."""

from __future__ import annotations

from fastapi import Request

from vault.auth.roles import Principal
from vault.retention.restriction import MAX_REASON, may_reveal

HEADER = "Vault-Access-Reason"


def access_reason(request: Request, principal: Principal) -> str | None:
    """The reason the caller states, when it may reveal restricted values with it (an archivist), else None."""
    reason = (request.headers.get(HEADER) or "").strip()[:MAX_REASON]
    return reason if may_reveal(principal, reason) else None


def reason_detail(reason: str | None) -> dict:
    """What a read's journal entry adds for a stated reason."""
    return {"access_reason": reason} if reason else {}
