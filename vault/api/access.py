"""The one authorization table: every HTTP route, the permissions it needs, and so the roles that may call it.

Routes never name a role: they declare ``principal: Caller``, and :func:`current_caller` authenticates the bearer
key (RFC 6750 §2.1) and checks the permissions this table gives the matched route; the roles come from
:data:`vault.auth.roles.GRANTS`. What a route does with a tenant (an object's, a hold's, a batch's) it checks
itself against the caller's scope. :func:`check_table` makes the application refuse to start when a route is
missing from the table, when the table names a route that does not exist, or when a route's use of ``Caller``
disagrees with the table (a public route that authenticates, or a protected one that does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Iterable

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPBearer

from vault.api.security import authenticate, authorize, get_vault
from vault.app import Vault
from vault.auth.roles import GRANTS, PLATFORM_ONLY, Permission, Principal, Role

P = Permission


@dataclass(frozen=True)
class RouteRule:
    """``method path`` needs every permission of ``permissions`` (none: a public route, no key asked)."""

    method: str
    path: str
    permissions: tuple[Permission, ...]

    @property
    def public(self) -> bool:
        return not self.permissions

    @property
    def roles(self) -> frozenset[Role]:
        """The roles whose grants hold every permission of the route."""
        return frozenset(r for r, grants in GRANTS.items() if set(self.permissions) <= grants)

    @property
    def platform_only(self) -> bool:
        """Only keys whose scope is every tenant (``*``) may call it."""
        return any(p in PLATFORM_ONLY for p in self.permissions)


def _rules(*rows: tuple[str, str, tuple[Permission, ...]]) -> dict[tuple[str, str], RouteRule]:
    return {(method, path): RouteRule(method, path, permissions) for method, path, permissions in rows}


PUBLIC: tuple[Permission, ...] = ()

ROUTES: dict[tuple[str, str], RouteRule] = _rules(
    # deposits, metadata, content, search (docs/api.md "Objects")
    ("POST", "/v1/objects", (P.DEPOSIT,)),
    ("GET", "/v1/objects", (P.SEARCH,)),
    ("GET", "/v1/objects/count", (P.SEARCH,)),
    ("GET", "/v1/objects/{object_id}", (P.READ_METADATA,)),
    ("GET", "/v1/objects/{object_id}/content", (P.READ_CONTENT,)),
    ("GET", "/v1/objects/{object_id}/validation-report", (P.READ_METADATA,)),
    ("GET", "/v1/objects/{object_id}/receipt", (P.READ_METADATA,)),
    ("GET", "/v1/objects/{object_id}/metadata-record", (P.READ_METADATA,)),
    ("GET", "/v1/objects/{object_id}/disclosures", (P.READ_METADATA,)),
    ("GET", "/v1/objects/{object_id}/metadata-records", (P.READ_METADATA,)),
    ("GET", "/v1/objects/{object_id}/metadata-records/{version}/evidence-record", (P.READ_METADATA,)),
    ("POST", "/v1/objects/{object_id}/corrections", (P.RECTIFY_METADATA,)),
    ("POST", "/v1/objects/{object_id}/erasure", (P.RECTIFY_METADATA,)),
    ("POST", "/v1/objects/{object_id}/restriction", (P.RESTRICT_PROCESSING,)),
    ("DELETE", "/v1/objects/{object_id}/restriction", (P.RESTRICT_PROCESSING,)),
    ("GET", "/v1/objects/{object_id}/evidence-record", (P.EXPORT_EVIDENCE,)),
    ("GET", "/v1/objects/{object_id}/report", (P.EXPORT_EVIDENCE,)),
    ("GET", "/v1/objects/{object_id}/package", (P.EXPORT_EVIDENCE, P.READ_CONTENT)),
    ("GET", "/v1/cases/{case_ref:path}", (P.SEARCH,)),
    ("GET", "/v1/cases/{case_ref:path}/report", (P.EXPORT_EVIDENCE, P.SEARCH)),
    ("GET", "/v1/cases/{case_ref:path}/package", (P.EXPORT_EVIDENCE, P.READ_CONTENT, P.SEARCH)),
    ("GET", "/v1/packages", (P.EXPORT_EVIDENCE, P.READ_CONTENT, P.SEARCH)),
    ("GET", "/v1/alerts", (P.SEARCH,)),
    ("GET", "/v1/kpis", (P.READ_KPIS,)),
    ("GET", "/v1/formats", (P.READ_KPIS,)),
    ("GET", "/v1/consents/{subject:path}", (P.READ_METADATA, P.SEARCH)),
    ("POST", "/v1/validate", (P.EXPORT_EVIDENCE,)),
    # the ETSI TS 119 512 binding (vault/api/routes/etsi.py, docs/etsi-119512.md): the REST routes' permissions
    ("POST", "/etsi/119512/v1/RetrieveInfo", (P.READ_POLICIES,)),
    ("POST", "/etsi/119512/v1/PreservePO", (P.DEPOSIT,)),
    ("POST", "/etsi/119512/v1/RetrievePO", (P.READ_CONTENT, P.EXPORT_EVIDENCE)),
    ("POST", "/etsi/119512/v1/DeletePO", (P.DISPOSE,)),
    ("POST", "/etsi/119512/v1/UpdatePOC", (P.RECTIFY_METADATA,)),
    ("POST", "/etsi/119512/v1/RetrieveTrace", (P.READ_JOURNAL,)),
    ("POST", "/etsi/119512/v1/ValidateEvidence", (P.EXPORT_EVIDENCE,)),
    ("POST", "/etsi/119512/v1/Search", (P.SEARCH,)),
    # retention, holds, four-eyes disposal
    ("GET", "/v1/policies", (P.READ_POLICIES,)),
    ("PATCH", "/v1/objects/{object_id}/retention-start", (P.MANAGE_RETENTION,)),
    ("POST", "/v1/objects/{object_id}/policy", (P.MANAGE_RETENTION,)),
    ("DELETE", "/v1/objects/{object_id}", (P.READ_METADATA,)),
    ("POST", "/v1/holds", (P.MANAGE_HOLDS,)),
    ("GET", "/v1/holds", (P.READ_RETENTION,)),
    ("GET", "/v1/holds/{hold_id}", (P.READ_RETENTION,)),
    ("DELETE", "/v1/holds/{hold_id}", (P.MANAGE_HOLDS,)),
    ("GET", "/v1/disposal/due", (P.READ_RETENTION,)),
    ("POST", "/v1/disposal/batches", (P.DISPOSE,)),
    ("GET", "/v1/disposal/batches", (P.READ_RETENTION,)),
    ("GET", "/v1/disposal/batches/{batch_id}", (P.READ_RETENTION,)),
    ("POST", "/v1/disposal/batches/{batch_id}/approve", (P.DISPOSE,)),
    ("POST", "/v1/disposal/batches/{batch_id}/execute", (P.DISPOSE,)),
    ("POST", "/v1/disposal/batches/{batch_id}/veto", (P.VETO_DISPOSAL,)),
    ("GET", "/v1/disposal/batches/{batch_id}/certificate", (P.READ_RETENTION,)),
    ("GET", "/v1/disposal/batches/{batch_id}/certificate.pdf", (P.READ_RETENTION,)),
    ("GET", "/v1/archive/key", PUBLIC),
    # keys
    ("POST", "/v1/keys", (P.MANAGE_KEYS,)),
    ("GET", "/v1/keys", (P.MANAGE_KEYS,)),
    ("GET", "/v1/keys/{key_id}", (P.MANAGE_KEYS,)),
    ("DELETE", "/v1/keys/{key_id}", (P.MANAGE_KEYS,)),
    ("POST", "/v1/keys/{key_id}/rotate", (P.MANAGE_KEYS,)),
    # the journal (docs/journal.md): auditors; erasure is a platform operation
    ("GET", "/journal/checkpoint", (P.READ_JOURNAL,)),
    ("GET", "/journal/tile/{path:path}", (P.READ_JOURNAL,)),
    ("GET", "/v1/journal/key", (P.READ_JOURNAL,)),
    ("GET", "/v1/journal/anchors", (P.READ_JOURNAL,)),
    ("GET", "/v1/journal/handovers", (P.READ_JOURNAL,)),
    ("GET", "/v1/journal/proof/inclusion", (P.READ_JOURNAL,)),
    ("GET", "/v1/journal/proof/consistency", (P.READ_JOURNAL,)),
    ("GET", "/v1/journal/entries", (P.READ_JOURNAL,)),
    ("GET", "/v1/journal/export", (P.READ_JOURNAL,)),
    ("POST", "/v1/journal/erasures", (P.ERASE_PERSONAL_DATA,)),
    # platform operations
    ("POST", "/v1/admin/reseal", (P.MANAGE_SEALS,)),
    ("GET", "/v1/admin/crypto-inventory", (P.MANAGE_SEALS,)),
    ("POST", "/v1/admin/audits", (P.MANAGE_SEALS,)),
    ("GET", "/v1/admin/audits/status", (P.MANAGE_SEALS,)),
    ("POST", "/v1/sandbox/clock", (P.MANAGE_SEALS,)),  # platform admin; 404 outside a sandbox (docs/sandbox.md)
    # public: trust material anyone needs to verify a proof offline, and the service's own state
    ("GET", "/v1/tsa/roots", PUBLIC),
    ("GET", "/v1/tsa/crl", PUBLIC),
    ("POST", "/v1/tsa", PUBLIC),
    ("GET", "/health", PUBLIC),
    ("GET", "/ready", PUBLIC),
    ("GET", "/metrics", PUBLIC),
    ("GET", "/docs", PUBLIC),  # Swagger UI from local assets (vault/api/docs_ui.py)
    # the console (vault/console, docs/console.md): a signed-in session instead of a bearer key, the same rules as
    # the API route each page stands for
    ("GET", "/", PUBLIC),  # → /ui/
    ("GET", "/ui/", PUBLIC),  # → the first page the session's key allows, or sign-in
    ("GET", "/ui/sign-in", PUBLIC),
    ("POST", "/ui/sign-in", PUBLIC),
    ("POST", "/ui/sign-out", PUBLIC),
    ("GET", "/ui/search", (P.SEARCH,)),
    ("GET", "/ui/cases/{case_ref:path}", (P.SEARCH,)),
    ("GET", "/ui/objects/{object_id}", (P.READ_METADATA,)),
    ("GET", "/ui/objects/{object_id}/content", (P.READ_CONTENT,)),
    ("GET", "/ui/objects/{object_id}/evidence-record", (P.EXPORT_EVIDENCE,)),
    ("GET", "/ui/objects/{object_id}/package", (P.EXPORT_EVIDENCE, P.READ_CONTENT)),
    ("GET", "/ui/holds", (P.READ_RETENTION,)),
    ("POST", "/ui/holds", (P.MANAGE_HOLDS,)),
    ("POST", "/ui/holds/{hold_id}/release", (P.MANAGE_HOLDS,)),
    ("GET", "/ui/disposal", (P.READ_RETENTION,)),
    ("POST", "/ui/disposal/batches", (P.DISPOSE,)),
    ("GET", "/ui/disposal/batches/{batch_id}", (P.READ_RETENTION,)),
    ("POST", "/ui/disposal/batches/{batch_id}/approve", (P.DISPOSE,)),
    ("POST", "/ui/disposal/batches/{batch_id}/execute", (P.DISPOSE,)),
    ("POST", "/ui/disposal/batches/{batch_id}/veto", (P.VETO_DISPOSAL,)),
    ("GET", "/ui/disposal/batches/{batch_id}/certificate.pdf", (P.READ_RETENTION,)),
    ("GET", "/ui/journal", (P.READ_JOURNAL,)),
    ("POST", "/ui/journal/verify", (P.READ_JOURNAL,)),
    ("GET", "/ui/journal/export.zip", (P.READ_JOURNAL,)),
    ("GET", "/ui/keys", (P.MANAGE_KEYS,)),
    ("POST", "/ui/keys", (P.MANAGE_KEYS,)),
    ("POST", "/ui/keys/{key_id}/revoke", (P.MANAGE_KEYS,)),
    ("POST", "/ui/keys/{key_id}/rotate", (P.MANAGE_KEYS,)),
    ("GET", "/ui/policies", (P.READ_POLICIES,)),
    ("GET", "/ui/inventory", (P.MANAGE_SEALS,)),
    ("GET", "/ui/alerts", (P.SEARCH,)),
    ("GET", "/ui/kpis", (P.READ_KPIS,)),
)
"""(method, path template) → rule. The authorization-matrix test walks this table."""


def rule_for(request: Request) -> RouteRule:
    """The rule of the route that matched ``request`` (a route not in the table never starts: see check_table)."""
    return ROUTES[(request.method, request.scope["route"].path)]


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer vault_…` (docs/security.md)")


async def current_caller(request: Request, _credentials: Annotated[object, Depends(_bearer)]) -> Principal:
    """The authenticated caller, holding every permission the route's rule names (401/403, journaled)."""
    principal = await authenticate(request)
    for permission in rule_for(request).permissions:
        await authorize(request, principal, permission)
    request.state.principal = principal  # for the middlewares that measure (vault.api.observe)
    return principal


current_caller.authorizes_by_table = True  # type: ignore[attr-defined]  # see _uses_caller

Caller = Annotated[Principal, Depends(current_caller)]
"""A route's caller, authenticated and authorized by the table."""

async def current_vault(request: Request) -> Vault:
    """The opened vault the application serves (async: a plain function dependency would cost a thread hop)."""
    return get_vault(request)


CurrentVault = Annotated[Vault, Depends(current_vault)]
"""The opened vault the application serves."""


def _uses_caller(route: APIRoute) -> bool:
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if getattr(dependant.call, "authorizes_by_table", False):  # the API's Caller, the console's Visitor
            return True
        pending.extend(dependant.dependencies)
    return False


def api_routes(app: FastAPI) -> Iterable[tuple[str, str, APIRoute]]:
    """(method, full path template, route) of every API route, routers included (FastAPI's own docs left out)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            for method in sorted(context.methods or ()):
                yield method, context.path, route


def check_table(app: FastAPI) -> None:
    """Refuse an application whose routes and table disagree (a route left out would be unprotected)."""
    seen = set()
    problems = []
    for method, path, route in api_routes(app):
        seen.add((method, path))
        rule = ROUTES.get((method, path))
        if rule is None:
            problems.append(f"{method} {path} is not in the authorization table (vault/api/access.py)")
        elif rule.public == _uses_caller(route):
            problems.append(f"{method} {path}: the table says {'public' if rule.public else 'protected'}, "
                            f"the route {'does' if _uses_caller(route) else 'does not'} take a Caller")
    problems += [f"{m} {p} is in the authorization table but no such route exists" for m, p in ROUTES if (m, p) not in seen]
    if problems:
        raise RuntimeError("; ".join(problems))
