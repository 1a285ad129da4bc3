"""Admin pages: API keys (issue with the secret shown once, list, revoke, rotate), policies (read-only), the
crypto inventory, alerts and KPIs.

Each calls the helper or the route its API call runs — :func:`~vault.api.routes.keys.issue_key` and the
``/v1/keys`` routes (whose rules say who may issue or change which key: :func:`vault.auth.roles.issuance_refusal`),
``GET /v1/policies``, ``GET /v1/admin/crypto-inventory``, :func:`~vault.api.routes.lre.read_alerts`,
:func:`~vault.api.routes.kpis.kpi_report` — so it is refused, journaled and alerted alike.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from vault.api.problems import Problem
from vault.api.routes import keys as key_routes
from vault.api.routes.admin import inventory_report
from vault.api.routes.kpis import kpi_report
from vault.api.routes.lre import read_alerts
from vault.api.routes.retention import policy_listing
from vault.api.schemas import KeyRequest
from vault.api.security import get_vault
from vault.auth.roles import Role
from vault.console.guard import Visitor
from vault.console.pages.auditor import _day
from vault.console.render import page, translator
from vault.api.sandbox_answers import JSONResponse

router = APIRouter(default_response_class=JSONResponse, prefix="/ui", include_in_schema=False)
ROLES = [role.value for role in Role]


async def _keys_page(visitor, request: Request, issued: dict | None = None, status: int = 200):
    listing = await key_routes.key_listing(request, visitor, get_vault(request), None, False)
    return page(request, "keys.html", status=status, title=translator(request)("keys.title"), keys=listing,
                issued=issued, roles=ROLES, tenant_field=visitor.all_tenants, own_tenant=visitor.tenant,
                revoked=request.query_params.get("revoked"))


@router.get("/keys")
async def keys(visitor: Visitor, request: Request):
    return await _keys_page(visitor, request)


@router.post("/keys")
async def issue(visitor: Visitor, request: Request, role: str = Form(max_length=16),
                tenant: str = Form(default="", max_length=64), holder: str = Form(default="", max_length=200),
                label: str = Form(default="", max_length=200)):
    """Issue a key; the answer page shows its secret this once (it is stored only as a hash)."""
    try:
        body = KeyRequest(role=role, tenant=tenant.strip() or visitor.tenant, holder=holder.strip() or None,
                          label=label.strip() or None)
    except ValidationError as exc:
        raise Problem(422, "invalid-key-request", "Invalid key request",
                      "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    issued = await key_routes.issue_key(request, visitor, get_vault(request), body)
    return await _keys_page(visitor, request, issued=issued, status=201)


@router.post("/keys/{key_id}/revoke")
async def revoke(visitor: Visitor, key_id: str, request: Request):
    await key_routes.revoke_managed_key(request, visitor, get_vault(request), key_id)
    return RedirectResponse(f"/ui/keys?revoked={key_id}", status_code=303)


@router.post("/keys/{key_id}/rotate")
async def rotate(visitor: Visitor, key_id: str, request: Request):
    """A new secret for the key, shown this once; the old one works for ``VAULT_KEY_ROTATION_OVERLAP``."""
    rotated = await key_routes.rotate_managed_key(request, visitor, get_vault(request), key_id, None)
    return await _keys_page(visitor, request, issued={**rotated, "rotated": True})


@router.get("/policies")
async def policies(visitor: Visitor, request: Request):
    listing = policy_listing(get_vault(request))
    return page(request, "admin.html", title=translator(request)("policies.title"), sections=[
        {"heading": f"{p['id']} v{p['version']}" + (" ✓" if p["in_force"] else ""), "value": p}
        for p in listing])


@router.get("/inventory")
async def inventory(visitor: Visitor, request: Request):
    found = await inventory_report(get_vault(request))
    return page(request, "admin.html", title=translator(request)("inventory.title"),
                sections=[{"heading": name, "value": value} for name, value in found.items()])


@router.get("/alerts")
async def alerts(visitor: Visitor, request: Request, tenant: str | None = Query(default=None, max_length=64)):
    found = await read_alerts(request, visitor, get_vault(request), tenant or None, 100)
    return page(request, "admin.html", title=translator(request)("alerts.title"),
                sections=[{"heading": translator(request)(f"alerts.{name}"), "value": value}
                          for name, value in found.items() if name != "chain"])


@router.get("/kpis")
async def kpis(visitor: Visitor, request: Request, since: str = Query(default="", alias="from", max_length=10),
               until: str = Query(default="", alias="to", max_length=10),
               tenant: str = Query(default="", max_length=64)):
    """The indicators over [from, to] (whole days; default: the last 30 days)."""
    end = _day(until, "to")
    report = await kpi_report(request, visitor, get_vault(request), _day(since, "from"),
                              end + timedelta(days=1) if end else None, tenant.strip() or None)
    return page(request, "admin.html", title=translator(request)("kpis.title"), period_form=True,
                period={"from": since, "to": until, "tenant": tenant}, tenant_field=visitor.all_tenants,
                sections=[{"heading": name, "value": value} for name, value in report.items()])
