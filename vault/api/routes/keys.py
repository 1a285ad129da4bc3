"""``/v1/keys``: issue API keys (admin only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.schemas import PROBLEM_RESPONSES, KeyIssued, KeyRequest
from vault.api.security import authenticate, authorize, get_vault, request_id
from vault.auth.keys import KeyRequestError, insert_key
from vault.auth.roles import Permission, Principal, Role
from vault.journal.entries import AccessEvent, Action, append_entry

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", status_code=201, responses={201: {"model": KeyIssued}, **PROBLEM_RESPONSES})
async def create_key(body: KeyRequest, request: Request, principal: Principal = Depends(authenticate)):
    """Issue a key with a role and a tenant; the secret is in this answer only."""
    await authorize(request, principal, Permission.MANAGE_KEYS)
    vault = get_vault(request)
    rid = request_id(request)

    def unit(connection):
        issued = insert_key(connection, role=Role(body.role), tenant=body.tenant, now=vault.clock.now(),
                            created_by=principal.key_id, label=body.label)
        append_entry(connection, AccessEvent(
            actor=principal.key_id, role=principal.role.value, tenant=body.tenant, action=Action.KEY_CREATED,
            request_id=rid, detail={"key_id": issued.key_id, "role": issued.role.value}), vault.clock.now())
        return issued

    try:
        issued = await run_in_threadpool(vault.writer.run, unit)
    except KeyRequestError as exc:
        raise Problem(422, "invalid-key-request", "Invalid key request", str(exc)) from None
    return JSONResponse({"key_id": issued.key_id, "key": issued.secret, "role": issued.role.value,
                         "tenant": issued.tenant}, status_code=201)
