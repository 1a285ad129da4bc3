"""``/v1/cases/{case_ref}``: every proof of one sending, as a timeline."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.routes.objects import scope_tenant
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES, CaseTimeline
from vault.api.access import Caller, CurrentVault
from vault.api.security import journal, request_id
from vault.auth.roles import Permission, Principal
from vault.cases.chains import evaluate, first_events
from vault.cases.consent import case_consent, with_consent
from vault.clock import iso_z
from vault.api.access_reason import access_reason, reason_detail
from vault.deposit.receipt import object_view
from vault.journal.entries import AccessEvent, Action, Outcome

router = APIRouter(default_response_class=JSONResponse, prefix="/v1/cases", tags=["cases"])


@router.get("/{case_ref:path}", responses={200: {"model": CaseTimeline}, **PROBLEM_RESPONSES})
async def case_timeline(principal: Caller, vault: CurrentVault, case_ref: str, request: Request,
                        tenant: str | None = Query(default=None, max_length=64)):
    """All objects of one case in event-time order (deposit time for objects without an event time)."""
    return JSONResponse(await read_case(request, principal, vault, case_ref, tenant))


async def read_case(request: Request, principal: Principal, vault, case_ref: str, tenant: str | None) -> dict:
    """The case's timeline and completeness (:func:`case_view`), journaled as ``case_view`` with the reference
    pseudonymised; 404 when no object of the case is visible to ``principal``."""
    if not case_ref or len(case_ref) > 256:
        raise Problem(422, "invalid-request", "Invalid request", "case_ref must be 1 to 256 characters")
    scope = await scope_tenant(request, principal, Permission.SEARCH, tenant)
    rows, truncated = await run_in_threadpool(vault.catalog.case, scope, case_ref)
    reason = access_reason(request, principal)
    await journal(request, AccessEvent(
        actor=principal.key_id, role=principal.role.value, tenant=scope, action=Action.CASE_VIEW,
        outcome=Outcome.OK if rows else Outcome.NOT_FOUND, object_ids=tuple(r["id"] for r in rows),
        request_id=request_id(request), detail={"count": len(rows), **reason_detail(reason)}), {"case_ref": case_ref})
    if not rows:
        raise Problem(404, "unknown-case", "Unknown case", "no object with this case reference is visible to this key")
    return await timeline(vault, case_ref, rows, truncated, reveal=reason is not None)


async def timeline(vault, case_ref: str, rows: list[dict], truncated: bool, reveal: bool = False) -> dict:
    """:func:`case_view` of a case's ``rows``, with its consent checked in the consent registry."""
    now = vault.clock.now()
    consent = await run_in_threadpool(case_consent, rows, vault.consents, vault.settings.lre_consent_purpose, now)
    return case_view(case_ref, rows, truncated, vault.cases.chain, now, consent, reveal=reveal)


def case_view(case_ref: str, rows: list[dict], truncated: bool, chain, now, consent: dict,
              reveal: bool = False) -> dict:
    """The timeline (events in event-time order, each with its proof's digests, format and signature verdicts),
    the recipient's consent at the sending (:func:`vault.cases.consent.case_consent`) and the completeness of the
    case against the expected chain, computed from the events' own times, consent included for a consumer;
    restricted personal values hidden unless ``reveal`` (vault.retention.restriction)."""
    events = [{**object_view(r, reveal=reveal), "at": iso_z(r["timeline_at"]),
               "time_source": "event_time" if r["event_time"] is not None else "deposit"} for r in rows]
    completeness = with_consent(evaluate(chain, first_events(rows), now).as_dict(), consent)
    return {"case_ref": case_ref, "count": len(rows), "truncated": truncated, "chain": chain.id,
            "events": events, "consent": consent, "completeness": completeness}
