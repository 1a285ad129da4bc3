"""``/v1/cases/{case_ref}``: every proof of one sending, as a timeline."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.routes.objects import scope_tenant
from vault.api.schemas import PROBLEM_RESPONSES, CaseTimeline
from vault.api.security import authenticate, get_vault, journal, request_id
from vault.auth.roles import Permission, Principal
from vault.deposit.receipt import object_view
from vault.journal.entries import AccessEvent, Action, Outcome

router = APIRouter(prefix="/v1/cases", tags=["cases"])


@router.get("/{case_ref:path}", responses={200: {"model": CaseTimeline}, **PROBLEM_RESPONSES})
async def case_timeline(case_ref: str, request: Request, principal: Principal = Depends(authenticate),
                        tenant: str | None = Query(default=None, max_length=64)):
    """All objects of one case in event-time order (deposit time for objects without an event time)."""
    if not case_ref or len(case_ref) > 256:
        raise Problem(422, "invalid-request", "Invalid request", "case_ref must be 1 to 256 characters")
    scope = await scope_tenant(request, principal, Permission.SEARCH, tenant)
    rows, truncated = await run_in_threadpool(get_vault(request).catalog.case, scope, case_ref)
    await journal(request, AccessEvent(
        actor=principal.key_id, role=principal.role.value, tenant=scope, action=Action.CASE_VIEW,
        outcome=Outcome.OK if rows else Outcome.NOT_FOUND, object_ids=tuple(r["id"] for r in rows),
        request_id=request_id(request), detail={"count": len(rows)}), {"case_ref": case_ref})
    if not rows:
        raise Problem(404, "unknown-case", "Unknown case", "no object with this case reference is visible to this key")
    return JSONResponse({"case_ref": case_ref, "count": len(rows), "truncated": truncated,
                         "objects": [object_view(r) for r in rows]})
