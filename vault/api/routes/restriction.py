"""``/v1/objects/{id}/restriction``: restrict, and lift the restriction of, processing of an object's personal
values (GDPR art. 18, issue 22; vault.retention.restriction)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from vault.api.access import Caller, CurrentVault
from vault.api.problems import Problem
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.security import authorize, request_id
from vault.auth.roles import Permission
from vault.retention.restriction import MAX_REASON, RestrictionRefused, Restrictions

router = APIRouter(default_response_class=JSONResponse, prefix="/v1/objects", tags=["objects"])


class RestrictionReason(BaseModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="why (journaled)")


def _answer(row: dict) -> dict:
    restriction = row.get("restriction")
    return {"object_id": row["id"], "restricted": restriction is not None, "restriction": restriction}


async def _change(request: Request, principal, vault, object_id: str, reason: str, lift: bool) -> JSONResponse:
    row = await run_in_threadpool(vault.catalog.get, object_id)
    if row is None:
        raise Problem(404, "unknown-object", "Unknown object", f"no object with id {object_id!r}")
    await authorize(request, principal, Permission.RESTRICT_PROCESSING, tenant=row["tenant"], object_ids=(row["id"],))
    restrictions = Restrictions(vault.writer, vault.policies, vault.clock)
    try:
        row = await run_in_threadpool(restrictions.lift if lift else restrictions.restrict, principal, row["id"],
                                      reason, request_id(request))
    except RestrictionRefused as exc:
        raise Problem(exc.status, exc.slug, exc.title, exc.detail) from None
    return JSONResponse(_answer(row))


@router.post("/{object_id}/restriction", responses=PROBLEM_RESPONSES)
async def restrict(principal: Caller, vault: CurrentVault, object_id: str, body: RestrictionReason,
                   request: Request):
    """Restrict processing of the object's personal values (archivist): every view shows them as null, except to
    an archivist who states a reason in ``Vault-Access-Reason``."""
    return await _change(request, principal, vault, object_id, body.reason, lift=False)


@router.delete("/{object_id}/restriction", responses=PROBLEM_RESPONSES)
async def lift(principal: Caller, vault: CurrentVault, object_id: str, body: RestrictionReason, request: Request):
    """Lift the restriction (archivist, with a reason in the JSON body)."""
    return await _change(request, principal, vault, object_id, body.reason, lift=True)
