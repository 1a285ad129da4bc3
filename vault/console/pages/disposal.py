"""Four-eyes disposal: what is due, a proposal, its approval by another archivist after which the notice period
runs, a veto, the execution, and the signed destruction certificate.

Every step calls the coroutine the API route of the same step runs (vault/api/routes/retention.py), never the route
itself: the same refusals (same person, key too recent, notice period) and the same journal entries.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse

from vault.api.problems import Problem
from vault.api.routes import retention
from vault.api.security import get_vault
from vault.auth.roles import Permission
from vault.console.guard import Visitor
from vault.console.render import page, translator
from vault.api.sandbox_answers import JSONResponse

router = APIRouter(default_response_class=JSONResponse, prefix="/ui/disposal", include_in_schema=False)


@router.get("")
async def due(visitor: Visitor, request: Request, tenant: str | None = Query(default=None, max_length=64)):
    vault = get_vault(request)
    listing = await retention.due_listing(request, visitor, vault, tenant, None)
    batches = await retention.batch_listing(request, visitor, vault, tenant or None, 100)
    return page(request, "disposal.html", title=translator(request)("disposal.title"), due=listing, batches=batches,
                tenant=tenant or "", tenant_field=visitor.all_tenants, may_propose=visitor.may(Permission.DISPOSE))


@router.post("/batches")
async def propose(visitor: Visitor, request: Request, tenant: str = Form(default="", max_length=64)):
    ids = [str(v) for v in (await request.form()).getlist("object_id")][:100_000]
    body = retention.Proposal(tenant=tenant or None, object_ids=ids)
    batch = await retention.propose_batch(request, visitor, get_vault(request), body)
    return RedirectResponse(f"/ui/disposal/batches/{batch['id']}", status_code=303)


@router.get("/batches/{batch_id}")
async def batch(visitor: Visitor, batch_id: str, request: Request):
    vault = get_vault(request)
    view = await retention.read_batch(request, visitor, batch_id)
    certificate = (await retention.signed_certificate(request, visitor, vault, batch_id)
                   if view["certificate_ready"] else None)
    return page(request, "batch.html", title=translator(request)("batch.title"), batch=view, certificate=certificate,
                may_dispose=visitor.may(Permission.DISPOSE), may_veto=visitor.may(Permission.VETO_DISPOSAL))


@router.post("/batches/{batch_id}/approve")
async def approve(visitor: Visitor, batch_id: str, request: Request):
    await retention.approve_batch(request, visitor, get_vault(request), batch_id)
    return RedirectResponse(f"/ui/disposal/batches/{batch_id}", status_code=303)


@router.post("/batches/{batch_id}/execute")
async def execute(visitor: Visitor, batch_id: str, request: Request):
    await retention.execute_batch(request, visitor, get_vault(request), batch_id)
    return RedirectResponse(f"/ui/disposal/batches/{batch_id}", status_code=303)


@router.post("/batches/{batch_id}/veto")
async def veto(visitor: Visitor, batch_id: str, request: Request, reason: str = Form(max_length=2000)):
    if not reason.strip():
        raise Problem(422, "invalid-request", "Invalid request", "reason: say why the batch is vetoed")
    await retention.veto_batch(request, visitor, get_vault(request), batch_id, reason.strip())
    return RedirectResponse(f"/ui/disposal/batches/{batch_id}", status_code=303)


@router.get("/batches/{batch_id}/certificate.pdf")
async def certificate_pdf(visitor: Visitor, batch_id: str, request: Request):
    return await retention.certificate_pdf_answer(request, visitor, get_vault(request), batch_id)
