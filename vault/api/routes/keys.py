"""``/v1/keys``: issue, list, read, rotate and revoke API keys, each inside the caller's scope.

A key's tenant is its scope (``*``: the whole platform). A tenant admin manages the keys of its own tenant only
and never an admin key; a platform admin manages every key (:func:`vault.auth.roles.issuance_refusal`). Every step
is journaled, and issuing a privileged key raises an alert.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES, KeyIssued, KeyRequest
from vault.api.access import Caller, CurrentVault
from vault.api.security import authorize, deny, get_vault, journal, request_id
from vault.auth.keys import KEYS, KeyRequestError, UnknownKey, get_key, insert_key, key_view, list_keys, revoke_key, \
    rotate_key
from vault.auth.roles import ALL_TENANTS, PERSONAL_ROLES, Permission, Principal, Role, issuance_refusal
from vault.clock import iso_z
from vault.journal.alerts import PRIVILEGED_KEY_ISSUED, PRIVILEGED_KEY_ROTATED, raise_alert
from vault.journal.entries import AccessEvent, Action, append_entry
from vault.retention.period import Period, PeriodError

router = APIRouter(default_response_class=JSONResponse, prefix="/v1/keys", tags=["keys"])
MAX_OVERLAP = timedelta(days=30)


@router.post("", status_code=201, responses={201: {"model": KeyIssued}, **PROBLEM_RESPONSES})
async def create_key(principal: Caller, vault: CurrentVault, body: KeyRequest, request: Request):
    """Issue a key with a role, a scope (tenant) and, for people, a holder; the secret is in this answer only."""
    issued = await issue_key(request, principal, vault, body)
    return JSONResponse(issued, status_code=201, headers={"Location": f"/v1/keys/{issued['key_id']}"})


async def issue_key(request: Request, principal: Principal, vault, body: KeyRequest) -> dict:
    """Issue the key ``body`` asks for if the caller may (:func:`~vault.auth.roles.issuance_refusal`), journaled as
    ``key_created`` (and alerted when privileged): the API's ``POST /v1/keys`` and the console's Keys page."""
    role = Role(body.role)
    refusal = issuance_refusal(principal, role, body.tenant)
    if refusal:
        await deny(request, principal, refusal, permission=Permission.MANAGE_KEYS)
    rid = request_id(request)

    def unit(connection):
        now = vault.clock.now()
        issued = insert_key(connection, role=role, tenant=body.tenant, now=now, created_by=principal.key_id,
                            label=body.label, holder=body.holder, expires_at=body.expires_at)
        index = append_entry(connection, AccessEvent(
            actor=principal.key_id, role=principal.role.value, tenant=body.tenant, action=Action.KEY_CREATED,
            request_id=rid, detail={"key_id": issued.key_id, "role": issued.role.value,
                                    "scope": issued.tenant, "privileged": issued.role in PERSONAL_ROLES,
                                    "expires_at": iso_z(issued.expires_at)}), now)
        if issued.role in PERSONAL_ROLES:
            raise_alert(connection, at=now, tenant=issued.tenant, kind=PRIVILEGED_KEY_ISSUED, actor=principal.key_id,
                        subject=issued.key_id, journal_index=index)
        return issued

    try:
        issued = await run_in_threadpool(vault.writer.run, unit)
    except KeyRequestError as exc:
        raise Problem(422, "invalid-key-request", "Invalid key request", str(exc)) from None
    return {"key_id": issued.key_id, "key": issued.secret, "role": issued.role.value, "tenant": issued.tenant,
            "holder": issued.holder, "expires_at": iso_z(issued.expires_at)}


@router.get("", responses=PROBLEM_RESPONSES)
async def keys(principal: Caller, vault: CurrentVault, request: Request,
               tenant: str | None = Query(default=None, max_length=64),
               revoked: bool = Query(default=False, description="also list revoked keys")):
    """The keys the caller manages (its tenant's; every tenant's for a platform admin), never their secrets."""
    return {"keys": await key_listing(request, principal, vault, tenant, revoked)}


async def key_listing(request: Request, principal: Principal, vault, tenant: str | None, revoked: bool) -> list[dict]:
    """The keys ``principal`` manages (of ``tenant`` for a platform admin, revoked ones too when ``revoked``), the
    reading journaled; the API's and the console's."""
    await authorize(request, principal, Permission.MANAGE_KEYS, tenant=tenant)
    scope = tenant if principal.all_tenants else principal.tenant

    def read():
        with vault.reader.connect() as connection:
            return list_keys(connection, scope, include_revoked=revoked)

    rows = await run_in_threadpool(read)
    await journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=scope,
                                       action=Action.KEYS_READ, request_id=request_id(request),
                                       detail={"count": len(rows)}))
    return [key_view(r) for r in rows]


async def _managed_key(request: Request, principal: Principal, key_id: str, *, to_change: bool) -> dict:
    """The key ``key_id`` if the caller may see it (its scope) or change it (it could issue it, or it is its own)."""
    vault = get_vault(request)

    def read():
        with vault.reader.connect() as connection:
            return get_key(connection, key_id)

    try:
        row = await run_in_threadpool(read)
    except UnknownKey:
        raise Problem(404, "unknown-key", "Unknown key", f"no key with id {key_id[:64]!r}") from None
    if not principal.sees_tenant(row["tenant"]):
        await deny(request, principal, f"key is bound to tenant {principal.tenant!r}", permission=Permission.MANAGE_KEYS)
    if to_change and row["id"] != principal.key_id:
        refusal = issuance_refusal(principal, Role(row["role"]), row["tenant"])
        if refusal:
            await deny(request, principal, refusal, permission=Permission.MANAGE_KEYS)
    return row


@router.get("/{key_id}", responses=PROBLEM_RESPONSES)
async def key(principal: Caller, key_id: str, request: Request):
    row = await _managed_key(request, principal, key_id, to_change=False)
    await journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=row["tenant"],
                                       action=Action.KEYS_READ, request_id=request_id(request),
                                       detail={"key_id": row["id"]}))
    return key_view(row)


@router.delete("/{key_id}", responses=PROBLEM_RESPONSES)
async def revoke(principal: Caller, vault: CurrentVault, key_id: str, request: Request):
    """Revoke a key: it stops working on every replica within 5 seconds. The last platform admin key stays."""
    return await revoke_managed_key(request, principal, vault, key_id)


async def revoke_managed_key(request: Request, principal: Principal, vault, key_id: str) -> dict:
    """The revocation every face runs (this route, the console): 404 unknown, refusals journaled, 409 for the last
    platform admin key, the revocation journaled in its transaction; the key's view."""
    row = await _managed_key(request, principal, key_id, to_change=True)
    rid = request_id(request)

    def unit(connection):
        now = vault.clock.now()
        if row["role"] == Role.ADMIN.value and row["tenant"] == ALL_TENANTS and row["revoked_at"] is None:
            others = connection.execute(
                select(func.count()).select_from(KEYS).where(KEYS.c.role == Role.ADMIN.value)
                .where(KEYS.c.tenant == ALL_TENANTS).where(KEYS.c.revoked_at.is_(None)).where(KEYS.c.id != key_id)
            ).scalar_one()
            if not others:
                raise Problem(409, "last-admin", "Last platform admin",
                              "this is the only platform admin key left: issue another before revoking it")
        revoked = revoke_key(connection, key_id, now)
        append_entry(connection, AccessEvent(
            actor=principal.key_id, role=principal.role.value, tenant=row["tenant"], action=Action.KEY_REVOKED,
            request_id=rid, detail={"key_id": key_id, "role": row["role"], "scope": row["tenant"]}), now)
        return revoked

    revoked = await run_in_threadpool(vault.writer.run, unit)
    vault.keys.forget()
    return key_view(revoked)


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap: str | None = Field(default=None, max_length=32, description="how long the current secret keeps working "
                                "(ISO 8601 duration, at most P30D); default VAULT_KEY_ROTATION_OVERLAP")


@router.post("/{key_id}/rotate", responses=PROBLEM_RESPONSES)
async def rotate(principal: Caller, vault: CurrentVault, key_id: str, request: Request,
                 body: Rotation | None = None):
    """A new secret for the key (same id, holder, role and scope); the old one works for the overlap only."""
    return await rotate_managed_key(request, principal, vault, key_id, body.overlap if body else None)


async def rotate_managed_key(request: Request, principal: Principal, vault, key_id: str,
                             overlap_text: str | None) -> dict:
    """The rotation every face runs (this route, the console): the overlap (``overlap_text``, default
    VAULT_KEY_ROTATION_OVERLAP) checked, then the key as :func:`revoke_managed_key`, 409 for a revoked one, the
    rotation journaled; the key's view with its new secret (``key``), shown this once."""
    overlap = _overlap(overlap_text if overlap_text is not None else vault.settings.key_rotation_overlap)
    row = await _managed_key(request, principal, key_id, to_change=True)
    if row["revoked_at"] is not None:
        raise Problem(409, "key-revoked", "Key revoked", f"key {key_id} was revoked; issue a new one")
    rid = request_id(request)

    def unit(connection):
        now = vault.clock.now()
        rotated, secret = rotate_key(connection, key_id, now, overlap)
        index = append_entry(connection, AccessEvent(
            actor=principal.key_id, role=principal.role.value, tenant=row["tenant"], action=Action.KEY_ROTATED,
            request_id=rid, detail={"key_id": key_id, "role": row["role"], "overlap_seconds": int(overlap.total_seconds())}),
            now)
        if Role(row["role"]) in PERSONAL_ROLES and key_id != principal.key_id:  # someone else gets its new secret
            raise_alert(connection, at=now, tenant=row["tenant"], kind=PRIVILEGED_KEY_ROTATED, actor=principal.key_id,
                        subject=key_id, journal_index=index)
        return rotated, secret

    try:
        rotated, secret = await run_in_threadpool(vault.writer.run, unit)
    except UnknownKey:
        raise Problem(409, "key-revoked", "Key revoked", f"key {key_id} was revoked; issue a new one") from None
    vault.keys.forget()
    return {**key_view(rotated), "key": secret}


def _overlap(text: str) -> timedelta:
    try:
        overlap = Period.parse(text).exact()
    except PeriodError as exc:
        raise Problem(422, "invalid-overlap", "Invalid overlap", str(exc)) from None
    if overlap > MAX_OVERLAP:
        raise Problem(422, "invalid-overlap", "Invalid overlap", "an overlap is at most P30D")
    return overlap
