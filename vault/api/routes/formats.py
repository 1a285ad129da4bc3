"""``GET /v1/formats``: the PRONOM formats held, with counts, so that format obsolescence can be watched."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from vault.api.access import Caller, CurrentVault
from vault.api.routes.objects import scope_tenant
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.security import journal, request_id
from vault.auth.roles import Permission
from vault.catalog.formats import formats_held
from vault.journal.entries import AccessEvent, Action

router = APIRouter(default_response_class=JSONResponse, tags=["objects"])


@router.get("/v1/formats", responses=PROBLEM_RESPONSES)
async def formats(principal: Caller, vault: CurrentVault, request: Request,
                  tenant: str | None = Query(default=None, max_length=64)):
    """Objects held per PRONOM PUID, version, media type and PDF/A claim (FIDO, vault.pronom), with how many are
    still ``pending`` identification and how many matched no signature: a tenant key sees its tenant, an
    all-tenant key the one it names or every tenant together. Journaled as ``formats_view``."""
    scope = await scope_tenant(request, principal, Permission.READ_KPIS, tenant)
    answer, _ = await asyncio.gather(
        run_in_threadpool(formats_held, vault.reader, scope),
        journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=scope,
                                     action=Action.FORMATS_VIEW, request_id=request_id(request))))
    return JSONResponse({"tenant": scope, **answer})
