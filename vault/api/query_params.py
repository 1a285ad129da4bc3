"""Query strings hold only the parameters a route declares: any other name is refused with 422 (issue 21).

A misspelt filter (``caseref=``) silently ignored would answer every object the caller may see, as if it had
matched. Routes add :data:`KnownQuery` (or :data:`KnownQueryAndExtra`, which also lets ``extra.<name>`` through
for :func:`extra_filters` to check against the policies) to their dependencies; the names they accept are read
from the route's own signature (and its ``openapi_extra``: vault.api.query_model), so a new parameter needs no second
list. The caller is authenticated and authorized
first (the ``Caller`` dependency, resolved once per request): an anonymous or unauthorized request learns nothing
about which parameters a route takes.
"""

from __future__ import annotations


from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant

from vault.api.access import Caller
from vault.api.problems import Problem
from vault.api.query_model import declared_names

EXTRA = "extra."
MAX_EXTRA_FILTERS = 8
_DECLARED: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for each in dependant.dependencies:
        names |= _query_names(each)
    return names


def _declared(request: Request) -> frozenset[str]:
    route = request.scope["route"]
    names = _DECLARED.get(id(route))
    if names is None:  # FastAPI's parameters, and those a model declares (vault.api.query_model)
        names = _DECLARED[id(route)] = frozenset(_query_names(route.dependant) | declared_names(route.openapi_extra))
    return names


def _refuse(request: Request, extra: bool) -> None:
    declared = _declared(request)
    unknown = sorted({name for name in request.query_params
                      if name not in declared and not (extra and name.startswith(EXTRA))})
    if unknown:
        known = sorted(declared) + ([f"{EXTRA}<name>"] if extra else [])
        raise Problem(422, "unknown-parameter", "Unknown query parameter",
                      f"unknown query parameter(s) {', '.join(unknown)}; this route accepts {', '.join(known)}",
                      parameters=unknown, errors=[{"field": n, "problem": "unknown parameter"} for n in unknown])


async def _known(request: Request, _caller: Caller) -> None:
    _refuse(request, extra=False)


async def _known_and_extra(request: Request, _caller: Caller) -> None:
    _refuse(request, extra=True)


KnownQuery = Depends(_known)
KnownQueryAndExtra = Depends(_known_and_extra)


def extra_filters(request: Request, declared: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """The ``extra.<name>=value`` filters of the query; 422 naming any ``<name>`` no policy declares indexable."""
    given = [(key[len(EXTRA):], value) for key, value in request.query_params.multi_items() if key.startswith(EXTRA)]
    undeclared = sorted({f"{EXTRA}{name}" for name, _ in given if name not in declared})
    if undeclared:
        raise Problem(422, "unknown-parameter", "Unknown query parameter",
                      f"{', '.join(undeclared)}: no policy declares this extra field indexable (indexed_extra); "
                      f"searchable: {', '.join(sorted(EXTRA + n for n in declared)) or 'none'}",
                      parameters=undeclared, errors=[{"field": n, "problem": "not indexable"} for n in undeclared])
    if len(given) > MAX_EXTRA_FILTERS or any(not value or len(value) > 256 for _, value in given):
        raise Problem(422, "invalid-request", "Invalid request",
                      f"give at most {MAX_EXTRA_FILTERS} extra.<name> filters, each of 1 to 256 characters")
    return tuple(given)


