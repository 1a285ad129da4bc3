"""Legal holds: the active holds of the visitor's tenant, a form to set one on a case or an object, release.

Setting and releasing call the API's own helpers (:func:`~vault.api.routes.retention.place_hold`,
:func:`~vault.api.routes.retention.release_hold`): same checks, same journal entries (``hold_set``,
``hold_released``).
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from vault.api.problems import Problem
from vault.api.routes import retention
from vault.api.security import get_vault
from vault.console.guard import Visitor
from vault.console.render import page, translator
from vault.api.sandbox_answers import JSONResponse

router = APIRouter(default_response_class=JSONResponse, prefix="/ui/holds", include_in_schema=False)


@router.get("")
async def holds(visitor: Visitor, request: Request):
    listing = await retention.hold_listing(visitor, get_vault(request), active=True)
    return page(request, "holds.html", title=translator(request)("holds.title"), holds=listing,
                tenant_field=visitor.all_tenants, created=request.query_params.get("created"),
                released=request.query_params.get("released"))


@router.post("")
async def set_hold(visitor: Visitor, request: Request, reason: str = Form(max_length=2000),
                   reference: str = Form(max_length=256), case_ref: str = Form(default="", max_length=256),
                   object_id: str = Form(default="", max_length=64), tenant: str = Form(default="", max_length=64)):
    """A hold on a whole case, or on one object: exactly one of the two."""
    try:
        body = retention.HoldRequest(tenant=tenant.strip() or None, reason=reason.strip(), reference=reference.strip(),
                                     case_ref=case_ref.strip() or None,
                                     object_ids=[object_id.strip()] if object_id.strip() else None)
    except ValidationError as exc:
        raise Problem(422, "invalid-hold", "Invalid hold",
                      "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    hold = await retention.place_hold(request, visitor, get_vault(request), body)
    return RedirectResponse(f"/ui/holds?created={hold['id']}", status_code=303)


@router.post("/{hold_id}/release")
async def release(visitor: Visitor, hold_id: str, request: Request):
    await retention.lift_hold(request, visitor, get_vault(request), hold_id)
    return RedirectResponse(f"/ui/holds?released={hold_id}", status_code=303)
