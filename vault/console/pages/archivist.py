"""Archivist pages: search by case reference, a case's timeline with its completeness, an object, its download.

Each page calls the helper its API route calls, so it is authorized by the same table and journaled as the same
event: the search as ``search``/``list``, the case as ``case_view``, the object as ``read_metadata``, the download
as ``read_content``.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from vault.api.routes.cases import read_case
from vault.api.routes.objects import content_response, visible_object
from vault.api.security import get_vault
from vault.auth.roles import Permission
from vault.console import search as console_search
from vault.console.guard import Visitor
from vault.console.render import page, translator
from vault.deposit.receipt import object_view
from vault.journal.entries import Action
from vault.retention.holds import active_holds, covers, hold_view

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/search")
async def search(visitor: Visitor, request: Request, cursor: str | None = Query(default=None, max_length=200)):
    values = console_search.form_values(request)
    results = await console_search.run(request, visitor, values, cursor) if values or cursor else None
    return page(request, "search.html", title=translator(request)("search.title"), values=values,
                choices=console_search.CHOICES, results=results, tenant_field=visitor.all_tenants)


@router.get("/cases/{case_ref:path}")
async def case(visitor: Visitor, case_ref: str, request: Request,
               tenant: str | None = Query(default=None, max_length=64)):
    view = await read_case(request, visitor, get_vault(request), case_ref, tenant)
    return page(request, "case.html", title=translator(request)("case.title", case_ref=case_ref), case=view)


@router.get("/objects/{object_id}")
async def object_page(visitor: Visitor, object_id: str, request: Request):
    vault = get_vault(request)
    row = await visible_object(request, visitor, object_id, Permission.READ_METADATA, Action.READ_METADATA)

    def holds():
        with vault.reader.connect() as connection:
            return [hold_view(h) for h in active_holds(connection, row["tenant"]) if covers(h, row)]

    return page(request, "object.html", title=translator(request)("object.title", id=object_id),
                obj=object_view(row), holds=await run_in_threadpool(holds),
                may_download=visitor.may(Permission.READ_CONTENT))


@router.get("/objects/{object_id}/content")
async def download(visitor: Visitor, object_id: str, request: Request):
    """The bytes, exactly as ``GET /v1/objects/{id}/content`` serves and journals them."""
    return await content_response(request, visitor, get_vault(request), object_id)
