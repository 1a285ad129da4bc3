"""The console's search: the form's fields to :class:`~vault.catalog.queries.SearchFilters`, and the one call to
the search the API runs (:func:`vault.api.routes.search.find_objects`, journaled alike).

This module is the only place the console touches search: when the catalog gains case-insensitive and prefix
matching, counts and facets (issue #21), the new filters go in :data:`FIELDS` and :func:`run`, and the facets
in the ``facets`` entry of its answer, which ``templates/search.html`` already shows when present.
"""

from __future__ import annotations

from datetime import datetime, time, timezone

from fastapi import Request

from vault.api.problems import Problem
from vault.api.routes.objects import scope_tenant
from vault.api.routes.search import find_objects
from vault.auth.roles import Permission, Principal
from vault.catalog.queries import SearchFilters
from vault.db.tables import EVENT_TYPES, OBJECT_KINDS

PAGE_SIZE = 25
FACETS = ("event_type", "kind", "verdict")  # counted over every match, shown beside the results
TEXT_FIELDS = ("case_ref", "contract_number", "party")
CHOICES = {"event_type": tuple(EVENT_TYPES), "kind": tuple(OBJECT_KINDS),
           "verdict": ("valid", "invalid", "indeterminate", "none")}
FIELDS = TEXT_FIELDS + tuple(CHOICES) + ("from", "to", "tenant")


def _day(text: str, end: bool) -> datetime:
    """A ``YYYY-MM-DD`` of the date picker as the start (or end) of that day in UTC."""
    day = datetime.strptime(text, "%Y-%m-%d").date()
    return datetime.combine(day, time.max if end else time.min, tzinfo=timezone.utc)


def form_values(request: Request) -> dict[str, str]:
    """The filled-in fields of the search form (query string), each at most 320 characters."""
    return {name: request.query_params[name].strip()[:320] for name in FIELDS
            if request.query_params.get(name, "").strip()}


async def run(request: Request, principal: Principal, values: dict[str, str], cursor: str | None) -> dict:
    """One page of results for ``values`` (``items``, ``next_cursor``; later ``count`` and ``facets``)."""
    for name, allowed in CHOICES.items():
        if name in values and values[name] not in allowed:
            raise Problem(422, "invalid-request", "Invalid request", f"{name}: not one of {', '.join(allowed)}")
    try:
        period = {f"period_{n}": _day(values[n], n == "to") for n in ("from", "to") if n in values}
    except ValueError:
        raise Problem(422, "invalid-request", "Invalid request", "from/to: a date as YYYY-MM-DD") from None
    tenant = await scope_tenant(request, principal, Permission.SEARCH, values.get("tenant"))
    filters = SearchFilters(tenant=tenant, **{n: values.get(n) for n in TEXT_FIELDS + tuple(CHOICES)}, **period)
    return await find_objects(request, principal, filters, cursor, PAGE_SIZE, facets=FACETS)
