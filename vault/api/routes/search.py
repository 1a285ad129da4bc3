"""``GET /v1/objects`` (search) and ``GET /v1/objects/count``: NF Z42-020 "search" and "count", with facets.

The filters are one dependency (:func:`search_filters`) shared with ``GET /v1/packages``, its parameters declared
once (:class:`SearchQuery`, validated in one call: vault.api.query_model); unknown query parameters are refused
(vault.api.query_params). Every answer is journaled with its filters, the free-text ones as pseudonyms, and is
limited to the tenant the key may see.
"""

from __future__ import annotations

from dataclasses import replace

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from vault.api.access import Caller, CurrentVault
from vault.api.problems import Problem
from vault.api.query_model import openapi_parameters, parse
from vault.api.query_params import KnownQueryAndExtra, extra_filters
from vault.api.routes.objects import scope_tenant
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES, ObjectCount, ObjectPage
from vault.api.security import get_vault, journal_in_thread, request_id
from vault.auth.roles import Permission, Principal
from vault.catalog.search import FACETS, NONE, BadCursor, SearchFilters
from vault.deposit.metadata import EventType, Kind
from vault.api.access_reason import access_reason, reason_detail
from vault.deposit.receipt import VIEW_COLUMNS, object_view
from vault.journal.entries import AccessEvent, Action
from vault.limits import ArchiveTime
from vault.lre.vocabulary import ETSI_EVENTS, MAX_NAME, etsi_event_of

router = APIRouter(default_response_class=JSONResponse, prefix="/v1/objects", tags=["objects"])
REFERENCE = "exact, case-insensitive; a trailing * asks for a prefix (LRE-2026*)"
PARTY = "exact, case-insensitive"


class SearchQuery(BaseModel):
    """The filters of a search as query parameters, declared once (vault.api.query_model)."""

    case_ref: str | None = Field(default=None, max_length=256, description=REFERENCE)
    contract_number: str | None = Field(default=None, max_length=256, description=REFERENCE)
    sender: str | None = Field(default=None, max_length=320, description=PARTY)
    recipient: str | None = Field(default=None, max_length=320, description=PARTY)
    event_type: EventType | None = None
    etsi_event: str | None = Field(default=None, max_length=MAX_NAME, description=(
        "evidence event in ETSI terms: an EN 319 522-1 event (ConsignmentAcceptance) or a TS 102 640-2 "
        "Type/Code (DeliveryNonDeliveryToRecipient/Delivery), case-insensitive; none: objects without one"))
    party: str | None = Field(default=None, max_length=320, description="sender or recipient; " + PARTY)
    kind: Kind | None = None
    verdict: Literal["valid", "invalid", "indeterminate", "none"] | None = Field(
        default=None, description="worst signature verdict; none: files without a signature")
    format: str | None = Field(default=None, max_length=255,
                               description="detected media type; none: files of no identified format")
    policy: str | None = Field(default=None, max_length=64, description="retention policy id")
    format_puid: str | None = Field(default=None, max_length=32, description=(
        "PRONOM PUID (fmt/354); none: no signature matched; pending: not identified yet"))
    period_from: ArchiveTime | None = Field(default=None, alias="from")
    period_to: ArchiveTime | None = Field(default=None, alias="to")
    tenant: str | None = Field(default=None, max_length=64)


FILTER_PARAMETERS = openapi_parameters(SearchQuery)
"""The ``openapi_extra`` of every route taking :data:`Filters`: their description in the OpenAPI document."""


async def search_filters(principal: Caller, vault: CurrentVault, request: Request) -> SearchFilters:
    """The filters of a search, scoped to the tenant the key may see; ``extra.<name>=`` for declared fields."""
    query = parse(SearchQuery, request.query_params)
    etsi_event = _etsi_event(query.etsi_event)
    scope = await scope_tenant(request, principal, Permission.SEARCH, query.tenant)
    extra = extra_filters(request, vault.policies.indexed_extra())
    return SearchFilters(
        tenant=scope, case_ref=query.case_ref, contract_number=query.contract_number, sender=query.sender,
        recipient=query.recipient, event_type=query.event_type, etsi_event=etsi_event,
        period_from=query.period_from, period_to=query.period_to, party=query.party, kind=query.kind,
        verdict=query.verdict, format=query.format, policy=query.policy, format_puid=query.format_puid, extra=extra)


Filters = Annotated[SearchFilters, Depends(search_filters)]


def _etsi_event(value: str | None) -> str | None:
    """The canonical name of an ``etsi_event`` filter (vault.lre.vocabulary), ``none``, or a 422 naming examples."""
    if value is None or value.strip().lower() == NONE:
        return None if value is None else NONE
    canonical = etsi_event_of(value)
    if canonical is None:
        raise Problem(422, "invalid-request", "Invalid request",
                      f"etsi_event: {value!r} is not an EN 319 522-1 event (e.g. ConsignmentAcceptance) nor a "
                      "TS 102 640-2 Type/Code (e.g. SubmissionAcceptanceRejection/Acceptance); see docs/lre.md",
                      known=list(ETSI_EVENTS))
    return canonical


def facet_names(facets: str | None = Query(default=None, max_length=200, description=(
        "comma-separated facets to count over every matching object: " + ",".join(FACETS)))) -> list[str]:
    names = [n.strip() for n in (facets or "").split(",") if n.strip()]
    unknown = sorted(set(names) - set(FACETS))
    if unknown:
        raise Problem(422, "invalid-request", "Invalid request",
                      f"facets: unknown facet(s) {', '.join(unknown)}; known: {', '.join(FACETS)}",
                      errors=[{"field": "facets", "problem": f"unknown facet {n}"} for n in unknown])
    return list(dict.fromkeys(names))


Facets = Annotated[list[str], Depends(facet_names)]


def _journaled(request: Request, principal: Principal, filters: SearchFilters, object_ids: tuple[str, ...],
               detail: dict) -> None:
    """Journal the search or count and wait until its entry is durable, in the worker thread the query ran in:
    one hop to a thread per request instead of one per step (the entry is still durable before the answer)."""
    clear, personal = filters.journal_view()
    journal_in_thread(get_vault(request), AccessEvent(
        actor=principal.key_id, role=principal.role.value, tenant=filters.tenant,
        action=Action.SEARCH if filters.used() else Action.LIST, object_ids=object_ids,
        request_id=request_id(request), detail={"filters": clear, **detail}), personal)


@router.get("", responses={200: {"model": ObjectPage}, **PROBLEM_RESPONSES}, dependencies=[KnownQueryAndExtra],
            openapi_extra=FILTER_PARAMETERS)
async def search(principal: Caller, vault: CurrentVault, request: Request, filters: Filters, facets: Facets,
                 sort: Literal["event_time", "-event_time", "deposited_at", "-deposited_at"] | None = Query(
                     default=None, description="event or deposit time, - for newest first; default: deposit order"),
                 cursor: str | None = Query(default=None, max_length=300),
                 limit: int = Query(default=50, ge=1, le=500)):
    """Objects matching every given filter, oldest deposit first (or in ``sort`` order), by pages
    (``next_cursor``); with ``facets``, the counts per value over every matching object."""
    return JSONResponse(await find_objects(request, principal, filters, cursor, limit, sort, facets))


async def find_objects(request: Request, principal: Principal, filters: SearchFilters, cursor: str | None,
                       limit: int, sort: str | None = None, facets: list[str] | tuple[str, ...] = ()) -> dict:
    """One page of the objects matching ``filters`` (already scoped to a tenant) and the ``facets`` asked for,
    journaled as the search (terms pseudonymised): what ``GET /v1/objects`` answers, and what the console's search
    page shows."""
    catalog = get_vault(request).catalog
    reason = access_reason(request, principal)
    filters = replace(filters, reveal_restricted=reason is not None)

    def run() -> dict:
        page = catalog.search(filters, cursor, limit, sort, VIEW_COLUMNS)
        answer = {"items": [object_view(r, reveal=reason is not None) for r in page.items],
                  "next_cursor": page.next_cursor}
        detail = {"count": len(page.items), **reason_detail(reason)}
        if facets:
            answer["facets"] = catalog.facets(filters, list(facets))
            detail["facets"] = list(facets)
        if sort:
            detail["sort"] = sort
        _journaled(request, principal, filters, tuple(r["id"] for r in page.items), detail)
        return answer

    try:
        return await run_in_threadpool(run)
    except BadCursor as exc:
        raise Problem(422, "invalid-cursor", "Invalid cursor", str(exc)) from None


@router.get("/count", responses={200: {"model": ObjectCount}, **PROBLEM_RESPONSES}, dependencies=[KnownQueryAndExtra],
            openapi_extra=FILTER_PARAMETERS)
async def count(principal: Caller, vault: CurrentVault, request: Request, filters: Filters, facets: Facets):
    """How many objects match every given filter (NF Z42-020 "count"); with ``facets``, the counts per value."""

    def run() -> dict:
        answer: dict = {"count": vault.catalog.search_count(filters)}
        detail: dict = {"counted": answer["count"]}
        if facets:
            answer["facets"] = vault.catalog.facets(filters, facets)
            detail["facets"] = facets
        _journaled(request, principal, filters, (), detail)
        return answer

    return JSONResponse(await run_in_threadpool(run))
