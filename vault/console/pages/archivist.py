"""Archivist pages: search by case reference, a case's timeline with its completeness, an object, its download.

Each page calls the helper its API route calls, so it is authorized by the same table and journaled as the same
event: the search as ``search``/``list``, the case as ``case_view``, the object as ``read_metadata`` (with its
seal chain, copies and fixity findings), the download as ``read_content``, the evidence record as
``evidence_export`` and the package as ``package_export``.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from vault.api.routes import evidence, packages
from vault.api.routes.cases import read_case
from vault.api.routes.objects import content_response, visible_object
from vault.api.security import get_vault
from vault.auth.roles import Permission
from vault.console import search as console_search
from vault.console.guard import Visitor
from vault.console.render import page, translator
from vault.deposit.receipt import object_view
from vault.evidence.status import seal_chain
from vault.journal.entries import Action
from vault.retention.holds import active_holds, covers, hold_view
from vault.storage.copies import copies_of
from vault.storage.fixity import alerts_of
from vault.api.sandbox_answers import JSONResponse

router = APIRouter(default_response_class=JSONResponse, prefix="/ui", include_in_schema=False)


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

    def facts():
        with vault.reader.connect() as connection:
            return {"holds": [hold_view(h) for h in active_holds(connection, row["tenant"]) if covers(h, row)],
                    "chain": seal_chain(connection, row["seal_seq"]), "copies": copies_of(connection, row["sha256"]),
                    "findings": alerts_of(connection, row["sha256"])}

    return page(request, "object.html", title=translator(request)("object.title", id=object_id),
                obj=object_view(row), **await run_in_threadpool(facts),
                may_download=visitor.may(Permission.READ_CONTENT),
                may_export=visitor.may(Permission.EXPORT_EVIDENCE),
                may_package=visitor.may(Permission.EXPORT_EVIDENCE) and visitor.may(Permission.READ_CONTENT))


@router.get("/objects/{object_id}/content")
async def download(visitor: Visitor, object_id: str, request: Request):
    """The bytes, exactly as ``GET /v1/objects/{id}/content`` serves and journals them."""
    return await content_response(request, visitor, get_vault(request), object_id)


@router.get("/objects/{object_id}/evidence-record")
async def evidence_record(visitor: Visitor, object_id: str, request: Request):
    """The ``.ers``, exactly as ``GET /v1/objects/{id}/evidence-record`` serves and journals it."""
    return await evidence.evidence_record_answer(request, visitor, get_vault(request), object_id, None)


@router.get("/objects/{object_id}/package")
async def package(visitor: Visitor, object_id: str, request: Request):
    """The object's BagIt package, exactly as ``GET /v1/objects/{id}/package`` serves and journals it."""
    return await packages.object_package_answer(request, visitor, object_id)
