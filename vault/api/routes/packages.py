"""Export packages: ``/v1/objects/{id}/package``, ``/v1/cases/{case_ref}/package``, ``/v1/packages?<filters>``.

Each answer streams one ZIP holding one BagIt bag (docs/package.md). The export is journaled first — its entry
names every object and is itself in the package's journal excerpt, proven against a checkpoint signed for it.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.query_params import KnownQueryAndExtra
from vault.api.routes.objects import scope_tenant, visible_object
from vault.api.routes.search import FILTER_PARAMETERS, Filters
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.access import Caller, CurrentVault
from vault.api.security import get_vault, journal, journal_all, request_id
from vault.auth.roles import Permission, Principal
from vault.journal.entries import AccessEvent, Action, Outcome
from vault.db.snapshot import Snapshot
from vault.package.build import package_name, stream_package, whole_or_broken
from vault.package.child import PackageJob
from vault.package.sources import facts_of, package_sources, readers_of
from vault.api.sandbox_answers import JSONResponse

router = APIRouter(default_response_class=JSONResponse, tags=["packages"])
ZIP = {200: {"content": {"application/zip": {}}, "description": "One BagIt bag in a ZIP (docs/package.md)"}}
MAX_OBJECTS = 10_000
IDS_PER_ENTRY = 1000
CHILD_MIN_OBJECTS = 200  # from this size on, a package is built in a child process (vault.package.child)


async def _export(request: Request, principal: Principal, rows: list[dict], scope: dict, tenant: str | None):
    if len(rows) > MAX_OBJECTS:
        raise Problem(422, "too-many-objects", "Too many objects",
                      f"a package holds at most {MAX_OBJECTS} objects; narrow the query or use vault export-all")
    vault = get_vault(request)
    ids = [r["id"] for r in rows]
    parts = [ids[i:i + IDS_PER_ENTRY] for i in range(0, len(ids), IDS_PER_ENTRY)]
    # an entry stays far below the 64 KiB of a tlog entry bundle: a large export is journaled in parts, which
    # commit together as consecutive entries
    await journal_all(request, [AccessEvent(
        actor=principal.key_id, role=principal.role.value, tenant=tenant, action=Action.PACKAGE_EXPORT,
        object_ids=tuple(part), request_id=request_id(request),
        detail={"scope": scope["kind"], "count": len(rows), "part": n + 1, "parts": len(parts)})
        for n, part in enumerate(parts)])
    await run_in_threadpool(vault.checkpointer.checkpoint_now)  # so that the export entry is proven too
    created = vault.clock.now()
    name = package_name(scope, created)
    headers = {"Content-Disposition": f'attachment; filename="{name}.zip"',
               "Cache-Control": "private, no-store", "X-Package-Objects": str(len(rows)),
               "X-Package-Payload-Bytes": str(sum(r["size"] for r in rows if r.get("destroyed_at") is None))}
    facts = await run_in_threadpool(facts_of, vault)
    if len(rows) >= CHILD_MIN_OBJECTS:
        job = PackageJob(rows=rows, scope=scope, created=created, facts=facts,
                         database_url=vault.settings.effective_database_url, blob_root=vault.store.root,
                         keys_dir=vault.settings.effective_keys_dir,
                         store_settings=vault.settings if vault.settings.stores else None)
        stream = whole_or_broken(vault.package_builds.stream(job), name, lambda: None)
        return StreamingResponse(stream, media_type="application/zip", headers=headers)
    snapshot = await run_in_threadpool(Snapshot, vault.reader)  # after the checkpoint: it proves the export entry
    try:
        sources = await run_in_threadpool(package_sources, readers_of(vault), facts, rows, snapshot)
    except BaseException:
        snapshot.close()
        raise
    stream = whole_or_broken(stream_package(rows, scope, sources, created), name, snapshot.close)
    return StreamingResponse(stream, media_type="application/zip", headers=headers)


@router.get("/v1/objects/{object_id}/package", responses={**ZIP, **PROBLEM_RESPONSES})
async def object_package(principal: Caller, object_id: str, request: Request):
    """One object with everything that proves it."""
    return await object_package_answer(request, principal, object_id)


async def object_package_answer(request: Request, principal: Principal, object_id: str):
    """One object's package (visibility checked, the export journaled); the API's and the console's."""
    row = await visible_object(request, principal, object_id, Permission.EXPORT_EVIDENCE, Action.READ_METADATA)
    return await _export(request, principal, [row], {"kind": "object", "object_id": row["id"]}, row["tenant"])


@router.get("/v1/cases/{case_ref:path}/package", responses={**ZIP, **PROBLEM_RESPONSES})
async def case_package(principal: Caller, vault: CurrentVault, case_ref: str, request: Request,
                       tenant: str | None = Query(default=None, max_length=64)):
    """Every object of one case (in event-time order) with everything that proves them."""
    scope_tenant_ = await scope_tenant(request, principal, Permission.SEARCH, tenant)
    rows, truncated = await run_in_threadpool(vault.catalog.case, scope_tenant_, case_ref)
    if not rows:
        await journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=scope_tenant_,
                                           action=Action.PACKAGE_EXPORT, outcome=Outcome.NOT_FOUND,
                                           request_id=request_id(request)), {"case_ref": case_ref})
        raise Problem(404, "unknown-case", "Unknown case", "no object with this case reference is visible to this key")
    if truncated:
        raise Problem(422, "too-many-objects", "Too many objects",
                      f"the case has more than {MAX_OBJECTS} objects; export it with vault export-all")
    return await _export(request, principal, rows, {"kind": "case", "case_ref": case_ref}, scope_tenant_)


@router.get("/v1/packages", responses={**ZIP, **PROBLEM_RESPONSES}, dependencies=[KnownQueryAndExtra],
            openapi_extra=FILTER_PARAMETERS)
async def query_package(principal: Caller, vault: CurrentVault, request: Request, filters: Filters):
    """The objects a search with these filters finds (at most 10 000), with everything that proves them."""
    if not filters.used():
        raise Problem(422, "invalid-request", "Invalid request", "give at least one filter (e.g. case_ref or from)")
    catalog = vault.catalog
    rows, cursor = [], None
    while len(rows) <= MAX_OBJECTS:
        page = await run_in_threadpool(catalog.search, filters, cursor, 500)
        rows.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    scope = {"kind": "query", "filters": {name: str(filters.value(name)) for name in filters.used()}}
    return await _export(request, principal, rows, scope, filters.tenant)
