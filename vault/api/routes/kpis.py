"""``GET /v1/kpis``: the LRE indicators of a tenant over a period, from the folded proofs (docs/kpis.md)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from vault.api.access import Caller, CurrentVault
from vault.api.problems import Problem
from vault.api.routes.objects import scope_tenant
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.security import journal, request_id
from vault.auth.roles import Permission
from vault.clock import iso_z
from vault.journal.entries import AccessEvent, Action
from vault.limits import ArchiveTime

router = APIRouter(default_response_class=JSONResponse, tags=["cases"])
MAX_PERIOD = timedelta(days=3660)


@router.get("/v1/kpis", responses=PROBLEM_RESPONSES)
async def kpis(principal: Caller, vault: CurrentVault, request: Request,
               period_from: ArchiveTime | None = Query(default=None, alias="from",
                                                       description="start (inclusive); default: 30 days before to"),
               period_to: ArchiveTime | None = Query(default=None, alias="to", description="end (exclusive); default: now"),
               tenant: str | None = Query(default=None, max_length=64)):
    """Sendings, delivery, refusal, negligence and technical-failure rates, acceptance delays (mean, p50, p90) and
    overdue cases of the sendings dated in [from, to): a tenant key sees its tenant, an all-tenant key the one it
    names or every tenant together."""
    return JSONResponse(await kpi_report(request, principal, vault, period_from, period_to, tenant))


async def kpi_report(request: Request, principal, vault, period_from, period_to, tenant: str | None) -> dict:
    """The indicators of ``tenant`` (or the caller's) over [from, to), journaled as ``kpis_view``: the API's answer
    and the console's KPI page."""
    scope = await scope_tenant(request, principal, Permission.READ_KPIS, tenant)
    end = period_to or vault.clock.now()
    start = period_from or end - timedelta(days=30)
    if start >= end or end - start > MAX_PERIOD:
        raise Problem(422, "invalid-period", "Invalid period",
                      f"'from' must be before 'to' and the period at most {MAX_PERIOD.days} days")
    # the durable journal append and the computation overlap: the answer leaves only once both are done
    answer, _ = await asyncio.gather(
        run_in_threadpool(vault.kpis.report, scope, start, end),
        journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=scope,
                                     action=Action.KPIS_VIEW, request_id=request_id(request),
                                     detail={"from": iso_z(start), "to": iso_z(end)})))
    return answer
