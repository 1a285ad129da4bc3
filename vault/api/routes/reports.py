"""Probative-value reports: ``GET /v1/objects/{id}/report`` and ``GET /v1/cases/{case_ref}/report``, JSON or a
signed PDF. Every check is re-run when the report is made (docs/reports.md)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from vault.api.negotiation import choose, format_name, signed_pdf
from vault.api.problems import Problem
from vault.api.routes.cases import timeline
from vault.api.routes.objects import scope_tenant, visible_object
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.access import Caller, CurrentVault
from vault.api.security import get_vault, journal, request_id
from vault.auth.roles import Permission
from vault.journal.entries import AccessEvent, Action, Outcome

router = APIRouter(default_response_class=JSONResponse, tags=["reports"])
FORMATS = {"json": "application/json", "pdf": "application/pdf"}
RESPONSES = {200: {"content": {"application/json": {}, "application/pdf": {}},
                   "description": "The report (docs/schemas/probative-report.schema.json), or as a signed PDF"},
             406: {"description": "Neither JSON nor PDF accepted"},
             503: {"description": "PDF asked for and no TSA answered (problem+json, type tsa-unavailable)"},
             **PROBLEM_RESPONSES}
FormatQuery = Query(default=None, description="overrides Accept: json or pdf")


async def _answer(request: Request, report: dict, media: str, filename: str):
    headers = {"Cache-Control": "private, no-store"}
    if media == "application/json":
        return JSONResponse(report, headers=headers)
    pdf = await signed_pdf(get_vault(request).documents.report_pdf, report)
    return Response(pdf, media_type=media,
                    headers={**headers, "Content-Disposition": f'attachment; filename="{filename}.pdf"'})


@router.get("/v1/objects/{object_id}/report", responses=RESPONSES)
async def object_report(principal: Caller, vault: CurrentVault, object_id: str, request: Request,
                        format: Literal["json", "pdf"] | None = FormatQuery):
    """What the archive can prove about one object now: bytes re-hashed, evidence record verified, access history
    proven in the journal, copies re-read, retention recomputed, with the deposit-time signature verdicts."""
    media = choose(format, request.headers.get("accept"), FORMATS)
    row = await visible_object(request, principal, object_id, Permission.EXPORT_EVIDENCE, Action.REPORT_READ,
                               {"scope": "object", "format": format_name(media, FORMATS)})
    report = await run_in_threadpool(vault.documents.object_report, row)
    return await _answer(request, report, media, f"report-{row['id']}")


@router.get("/v1/cases/{case_ref:path}/report", responses=RESPONSES)
async def case_report(principal: Caller, vault: CurrentVault, case_ref: str, request: Request,
                      tenant: str | None = Query(default=None, max_length=64),
                      format: Literal["json", "pdf"] | None = FormatQuery):
    """The case's timeline and completeness, and the report of each of its objects (the first 200)."""
    if not case_ref or len(case_ref) > 256:
        raise Problem(422, "invalid-request", "Invalid request", "case_ref must be 1 to 256 characters")
    media = choose(format, request.headers.get("accept"), FORMATS)
    scope = await scope_tenant(request, principal, Permission.SEARCH, tenant)
    rows, truncated = await run_in_threadpool(vault.catalog.case, scope, case_ref)
    await journal(request, AccessEvent(
        actor=principal.key_id, role=principal.role.value, tenant=scope, action=Action.REPORT_READ,
        outcome=Outcome.OK if rows else Outcome.NOT_FOUND, object_ids=tuple(r["id"] for r in rows),
        request_id=request_id(request),
        detail={"scope": "case", "count": len(rows), "format": format_name(media, FORMATS)}), {"case_ref": case_ref})
    if not rows:
        raise Problem(404, "unknown-case", "Unknown case", "no object with this case reference is visible to this key")
    view = await timeline(vault, case_ref, rows, truncated)
    report = await run_in_threadpool(vault.documents.case_report, case_ref, view, rows)
    return await _answer(request, report, media, "case-report")
