"""``/v1/alerts`` (cases whose expected chain is overdue, and security alerts) and ``/v1/consents/{subject}``
(consent state at a date)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.routes.objects import scope_tenant
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.access import Caller, CurrentVault
from vault.api.security import journal, request_id
from vault.auth.roles import Permission
from vault.journal.alerts import recent_alerts
from vault.journal.entries import AccessEvent, Action
from vault.limits import ArchiveTime
from vault.storage.fixity import open_alerts

router = APIRouter(default_response_class=JSONResponse, tags=["cases"])


@router.get("/v1/alerts", responses=PROBLEM_RESPONSES)
async def alerts(principal: Caller, vault: CurrentVault, request: Request,
                 tenant: str | None = Query(default=None, max_length=64),
                 limit: int = Query(default=100, ge=1, le=500)):
    """Cases whose expected chain is incomplete past its deadline (``overdue``), oldest deadline first; and, for
    keys that may read them (archivists, auditors, admins), the tenant's security alerts newest first
    (``security``: privileged keys issued or rotated, destructions approved, holds released) and the open fixity
    alerts of the tenant's blobs (``fixity``: a copy corrupt or missing, or no good copy left)."""
    return JSONResponse(await read_alerts(request, principal, vault, tenant, limit))


async def read_alerts(request: Request, principal, vault, tenant: str | None, limit: int) -> dict:
    """Overdue cases, and security and fixity alerts for those who may read them, journaled as ``alerts_view``:
    the API's answer and the console's Alerts page."""
    scope = await scope_tenant(request, principal, Permission.SEARCH, tenant)
    found = await run_in_threadpool(vault.cases.alerts, scope, limit)
    answer = {"chain": vault.cases.chain.id, "alerts": [a.as_dict() for a in found]}
    detail = {"count": len(found)}
    if principal.may(Permission.READ_ALERTS):
        answer["security"], answer["fixity"] = await run_in_threadpool(_security_alerts, vault, scope, limit)
        detail["security"], detail["fixity"] = len(answer["security"]), len(answer["fixity"])
    await journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=scope,
                                       action=Action.ALERTS_VIEW, request_id=request_id(request), detail=detail))
    return answer


def _security_alerts(vault, tenant: str | None, limit: int) -> tuple[list[dict], list[dict]]:
    with vault.reader.connect() as connection:
        return recent_alerts(connection, tenant, limit), open_alerts(connection, tenant, limit)


@router.get("/v1/consents/{subject:path}", responses=PROBLEM_RESPONSES)
async def consent_state(principal: Caller, vault: CurrentVault, subject: str, request: Request,
                        purpose: str | None = Query(default=None, min_length=1, max_length=128),
                        at: ArchiveTime | None = Query(default=None),
                        tenant: str | None = Query(default=None, max_length=64)):
    """This person's consent state for ``purpose`` at ``at`` (default: now), with the proof that decides it and
    the history up to then. Without ``purpose``: the purposes on record for the person."""
    if not subject or len(subject) > 320:
        raise Problem(422, "invalid-request", "Invalid request", "subject must be 1 to 320 characters")
    scope = await scope_tenant(request, principal, Permission.SEARCH, tenant)
    when = at or vault.clock.now()
    if purpose is None:
        purposes = await run_in_threadpool(vault.consents.purposes, scope, subject)
        answer, ids = {"subject": vault.consents.subject_pseudonym(subject), "purposes": purposes}, ()
    else:
        state = await run_in_threadpool(vault.consents.state, scope, subject, purpose, when)
        answer, ids = state.as_dict(), tuple(h["object_id"] for h in state.history)
    await journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=scope,
                                       action=Action.CONSENT_QUERY, object_ids=ids, request_id=request_id(request),
                                       detail={"purpose": purpose}), {"subject": subject})
    return JSONResponse(answer)
