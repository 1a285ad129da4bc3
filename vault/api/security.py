"""Bearer API keys (RFC 6750 §2.1) and role/tenant checks; every refusal is journaled before it is answered."""

from __future__ import annotations

from typing import Iterable, NoReturn

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from vault.api.problems import Problem
from vault.app import Vault
from vault.auth.roles import GRANTS, Permission, Principal
from vault.journal.entries import AccessEvent, Action, Outcome
from vault.storage.headroom import is_out_of_space


def get_vault(request: Request) -> Vault:
    return request.app.state.vault


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def journal(request: Request, event: AccessEvent, personal: dict[str, str] | None = None) -> int:
    """Append an entry and wait until it is durable (an access is never served untraced: when the journal cannot
    be written, 503)."""
    try:
        return await get_vault(request).journal.record(event, personal)
    except (OSError, SQLAlchemyError) as exc:
        raise journal_unavailable(exc) from None


def journal_in_thread(vault: Vault, event: AccessEvent, personal: dict[str, str] | None = None) -> int:
    """:func:`journal` for a step already running in a worker thread (never on the event loop: it blocks until
    the entry is durable): the same entry and the same 503, without a hop back to the loop to wait for it."""
    try:
        return vault.journal.record(event, personal).result()
    except (OSError, SQLAlchemyError) as exc:
        raise journal_unavailable(exc) from None


async def journal_all(request: Request, events: list[AccessEvent]) -> list[int]:
    """Append ``events`` in one transaction (consecutive entries) and wait until they are durable (else 503)."""
    try:
        return await get_vault(request).journal.record_many(events)
    except (OSError, SQLAlchemyError) as exc:
        raise journal_unavailable(exc) from None


def journal_unavailable(exc: BaseException) -> Problem:
    """A consultation that cannot be traced is refused: 503, the request not served."""
    why = "the archive's disk is full" if is_out_of_space(exc) else f"the journal database failed ({exc.__class__.__name__})"
    return Problem(503, "journal-unavailable", "Access journal unavailable",
                   f"the request was refused because its access could not be journaled: {why}; retry later",
                   retry_after=30)


def route_family(request: Request) -> str:
    """The first two path segments (``/v1/objects``): enough to audit, free of ids and case references."""
    return "/".join(request.url.path.split("/")[:3])


async def authenticate(request: Request) -> Principal:
    """FastAPI dependency: the caller's principal, or 401 (journaled)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    principal = None
    if scheme.lower() == "bearer" and token.strip():
        principal = get_vault(request).keys.resolve(token.strip())
    if principal is None:
        await journal(request, AccessEvent(
            actor="anonymous", action=Action.ACCESS_DENIED, outcome=Outcome.DENIED, request_id=request_id(request),
            detail={"reason": "missing or unknown API key", "method": request.method, "route": route_family(request)}))
        raise Problem(401, "unauthorized", "Unauthorized",
                      "missing or unknown API key: send 'Authorization: Bearer <key>'",
                      headers={"WWW-Authenticate": 'Bearer realm="vault"'})
    return principal


async def authorize(request: Request, principal: Principal, permission: Permission, *, tenant: str | None = None,
                    object_ids: Iterable[str] = ()) -> None:
    """403 (journaled) unless ``principal`` holds ``permission`` and may see ``tenant``."""
    if principal.may(permission) and (tenant is None or principal.sees_tenant(tenant)):
        return
    if not principal.may(permission):
        reason = (f"role {principal.role.value} may not {permission.value}" if permission not in GRANTS[principal.role]
                  else f"{permission.value} is a platform operation: it needs a key whose tenant is '*'")
        await deny(request, principal, reason, permission=permission, object_ids=object_ids)
    # Another tenant's resource: the refusal is filed under that tenant, whose auditors must see every attempt on
    # its data; the caller's own tenant learns nothing of the other's identifiers from its journal view.
    await deny(request, principal, f"key is bound to tenant {principal.tenant!r}", permission=permission,
               object_ids=object_ids, tenant=tenant)


async def deny(request: Request, principal: Principal, reason: str, *, permission: Permission | None = None,
               object_ids: Iterable[str] = (), slug: str = "forbidden", title: str = "Forbidden",
               extra: dict | None = None, tenant: str | None = None) -> NoReturn:
    """Journal the refusal with the caller (under ``tenant``, default the caller's), then answer 403 with ``reason``
    (and ``extra`` members)."""
    detail = {"reason": reason, "method": request.method, "route": route_family(request)}
    if permission is not None:
        detail["permission"] = permission.value
    await journal(request, AccessEvent(
        actor=principal.key_id, role=principal.role.value, tenant=tenant or principal.tenant,
        action=Action.ACCESS_DENIED, outcome=Outcome.DENIED, object_ids=tuple(object_ids),
        request_id=request_id(request), detail=detail))
    raise Problem(403, slug, title, reason, **(extra or {}))
