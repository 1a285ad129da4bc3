"""Retention over HTTP: policies, start events, reassignment, refused deletions, legal holds, four-eyes disposal."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.sandbox_answers import ArtifactJSON, JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.access import Caller, CurrentVault
from vault.api.security import authorize, deny, get_vault, journal, request_id
from vault.auth.roles import Permission, Principal
from vault.clock import iso_z
from vault.documents.jws import public_jwk, thumbprint
from vault.journal.entries import AccessEvent, Action, Outcome
from vault.limits import INT64_MAX, ArchiveTime
from vault.retention.certificate import key_id, public_key_text
from vault.retention.holds import HOLDS, HoldError, hold_view, selector_for
from vault.retention.service import RetentionRefused

router = APIRouter(default_response_class=JSONResponse, tags=["retention"])



async def _call(function, *args):
    try:
        return await run_in_threadpool(function, *args)
    except RetentionRefused as exc:
        raise Problem(exc.status, exc.slug, exc.title, exc.detail, **exc.extra) from None


async def _act(request: Request, principal: Principal, function, *args):
    """Run a disposal step as ``principal``; a refusal of the person (403: same holder, key too recent) is
    journaled like any other access refusal."""
    try:
        return await run_in_threadpool(function, principal, *args, request_id(request))
    except RetentionRefused as exc:
        if exc.status == 403:
            await deny(request, principal, exc.detail, permission=Permission.DISPOSE, slug=exc.slug, title=exc.title,
                       extra=exc.extra)
        raise Problem(exc.status, exc.slug, exc.title, exc.detail, **exc.extra) from None


# The helpers below check only the tenant of what they find: the route's permissions were checked by its Caller
# dependency from the authorization table (vault/api/access.py).
async def _object(request: Request, principal: Principal, object_id: str, permission: Permission) -> dict:
    row = await run_in_threadpool(get_vault(request).catalog.get, object_id)
    if row is None:
        raise Problem(404, "unknown-object", "Unknown object", f"no object with id {object_id!r}")
    await authorize(request, principal, permission, tenant=row["tenant"], object_ids=(row["id"],))
    return row


async def _tenant(request: Request, principal: Principal, permission: Permission, wanted: str | None) -> str:
    if principal.all_tenants:
        if not wanted:
            raise Problem(422, "missing-tenant", "Missing tenant", "this key works across tenants: give 'tenant'")
        return wanted
    await authorize(request, principal, permission, tenant=wanted or principal.tenant)
    return principal.tenant


def _retention_view(row: dict) -> dict:
    return {"id": row["id"], "policy": row["policy_id"], "policy_version": row["policy_version"],
            "retention_start": iso_z(row["retention_start"]), "retention_until": iso_z(row["retention_until"])}


@router.get("/v1/policies", responses=PROBLEM_RESPONSES)
async def policies(principal: Caller, vault: CurrentVault, request: Request):
    """Every policy version known, the ones in force (used for new deposits) marked."""
    return {"policies": policy_listing(vault)}


def policy_listing(vault) -> list[dict]:
    """Every policy version known, the ones in force marked; the API's and the console's."""
    book = vault.policies
    return [{**p.describe(), "in_force": book.get(p.id) is p} for p in book.versions()]


class RetentionStart(BaseModel):
    at: ArchiveTime = Field(description="when the start event (e.g. the contract's end) happened, ISO 8601 with offset")


@router.patch("/v1/objects/{object_id}/retention-start", responses=PROBLEM_RESPONSES)
async def retention_start(principal: Caller, vault: CurrentVault, object_id: str, body: RetentionStart, request: Request):
    """Record the event a policy's retention runs from (archivist); the object comes due only from then on."""
    await _object(request, principal, object_id, Permission.MANAGE_RETENTION)
    row = await _call(vault.retention.record_start, principal, object_id, body.at, request_id(request))
    return _retention_view(row)


class Reassignment(BaseModel):
    policy: str
    version: int | None = Field(default=None, ge=1, le=INT64_MAX, description="default: the version in force")


@router.post("/v1/objects/{object_id}/policy", responses=PROBLEM_RESPONSES)
async def reassign(principal: Caller, vault: CurrentVault, object_id: str, body: Reassignment, request: Request):
    """Put an object under another policy version (archivist); refused when it would shorten its retention."""
    await _object(request, principal, object_id, Permission.MANAGE_RETENTION)
    row = await _call(vault.retention.reassign, principal, object_id, body.policy, body.version, request_id(request))
    return _retention_view(row)


@router.delete("/v1/objects/{object_id}", responses={409: {"description": "Under retention, held, or awaiting "
                                                           "four-eyes disposal"}, **PROBLEM_RESPONSES})
async def delete_object(principal: Caller, vault: CurrentVault, object_id: str, request: Request):
    """Objects are never deleted directly, by any role: destruction goes through four-eyes disposal."""
    row = await _object(request, principal, object_id, Permission.READ_METADATA)
    if row["destroyed_at"] is not None:
        raise Problem(410, "destroyed", "Destroyed", f"object {object_id} was destroyed on {iso_z(row['destroyed_at'])}")

    def reason():
        with vault.reader.connect() as connection:
            return vault.retention.why_not_due(connection, row, vault.clock.now())

    why = await run_in_threadpool(reason)
    await journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=row["tenant"],
                                       action=Action.DESTRUCTION_REFUSED, outcome=Outcome.DENIED,
                                       object_ids=(object_id,), request_id=request_id(request),
                                       detail={"reason": why or "direct deletion"}))
    if row["retention_until"] is None or row["retention_until"] > vault.clock.now():
        raise Problem(409, "retention-active", "Under retention",
                      f"object {object_id} is kept until "
                      f"{iso_z(row['retention_until']) or 'a date set once its retention start is recorded'}; "
                      "nobody can delete it before", retention_until=iso_z(row["retention_until"]))
    raise Problem(409, "disposal-required", "Destruction needs four-eyes disposal",
                  f"retention of {object_id} ended on {iso_z(row['retention_until'])}"
                  + (f", but {why}" if why else "")
                  + "; destruction goes through a disposal batch proposed by one archivist and approved by another "
                  "(POST /v1/disposal/batches)", retention_until=iso_z(row["retention_until"]))


class HoldRequest(BaseModel):
    tenant: str | None = None
    object_ids: list[str] | None = None
    case_ref: str | None = None
    query: dict[str, Any] | None = None
    reason: str = Field(min_length=1, max_length=2000)
    reference: str = Field(min_length=1, max_length=256, description="e.g. the court case or dispute number")


@router.post("/v1/holds", status_code=201, responses=PROBLEM_RESPONSES)
async def set_hold(principal: Caller, vault: CurrentVault, body: HoldRequest, request: Request):
    """Put objects, a whole case or a search under legal hold (archivist): none of them can be destroyed."""
    hold = await place_hold(request, principal, vault, body)
    return JSONResponse(hold, status_code=201, headers={"Location": f"/v1/holds/{hold['id']}"})


async def place_hold(request: Request, principal: Principal, vault, body: HoldRequest) -> dict:
    """Set the hold ``body`` describes (journaled by the retention service); the API's and the console's."""
    tenant = await _tenant(request, principal, Permission.MANAGE_HOLDS, body.tenant)
    try:
        scope, selector = selector_for(body.model_dump())
    except HoldError as exc:
        raise Problem(422, "invalid-hold", "Invalid hold", str(exc)) from None
    hold = await _call(vault.retention.set_hold, principal, tenant, scope, selector, body.reason, body.reference,
                       request_id(request))
    return hold_view(hold)


async def _hold(request: Request, principal: Principal, hold_id: str, permission: Permission) -> dict:
    vault = get_vault(request)

    def read():
        from sqlalchemy import select

        with vault.reader.connect() as connection:
            row = connection.execute(select(HOLDS).where(HOLDS.c.id == hold_id)).mappings().first()
        return dict(row) if row else None

    hold = await run_in_threadpool(read)
    if hold is None:
        raise Problem(404, "unknown-hold", "Unknown hold", f"no hold {hold_id!r}")
    await authorize(request, principal, permission, tenant=hold["tenant"])
    return hold


@router.get("/v1/holds", responses=PROBLEM_RESPONSES)
async def list_holds(principal: Caller, vault: CurrentVault, request: Request,
                     active: bool = Query(True, description="only holds not released")):
    return {"holds": await hold_listing(principal, vault, active)}


async def hold_listing(principal: Principal, vault, active: bool) -> list[dict]:
    """The holds of the tenants ``principal`` sees (only those not released when ``active``), oldest first; the
    API's and the console's."""

    def read():
        from sqlalchemy import select

        query = select(HOLDS).order_by(HOLDS.c.created_at)
        if active:
            query = query.where(HOLDS.c.released_at.is_(None))
        if not principal.all_tenants:
            query = query.where(HOLDS.c.tenant == principal.tenant)
        with vault.reader.connect() as connection:
            return [hold_view(dict(r)) for r in connection.execute(query).mappings()]

    return await run_in_threadpool(read)


@router.get("/v1/holds/{hold_id}", responses=PROBLEM_RESPONSES)
async def get_hold(principal: Caller, hold_id: str, request: Request):
    return hold_view(await _hold(request, principal, hold_id, Permission.READ_RETENTION))


@router.delete("/v1/holds/{hold_id}", responses=PROBLEM_RESPONSES)
async def release_hold(principal: Caller, vault: CurrentVault, hold_id: str, request: Request):
    """Release a hold (archivist); its objects follow their retention again."""
    return await lift_hold(request, principal, vault, hold_id)


async def lift_hold(request: Request, principal: Principal, vault, hold_id: str) -> dict:
    """The release every face runs (this route, the console): 404 for an unknown hold, the tenant check (journaled),
    then the release, journaled by the retention service; the hold."""
    hold = await _hold(request, principal, hold_id, Permission.MANAGE_HOLDS)
    released = await _call(vault.retention.release, principal, hold, request_id(request))
    return hold_view(released)


@router.get("/v1/disposal/due", responses=PROBLEM_RESPONSES)
async def due(principal: Caller, vault: CurrentVault, request: Request, policy: str | None = None,
              tenant: str | None = None):
    """Objects whose retention ended: to destroy, to review, and those a legal hold keeps."""
    return await due_listing(request, principal, vault, tenant, policy)


async def due_listing(request: Request, principal: Principal, vault, tenant: str | None, policy: str | None) -> dict:
    """What is due in the tenant ``principal`` reads (of ``policy`` when given); the API's and the console's."""
    return await run_in_threadpool(vault.retention.due, await _read_scope(request, principal, tenant), policy)


async def _read_scope(request: Request, principal: Principal, tenant: str | None) -> str | None:
    """The tenant whose retention ``principal`` reads: ``tenant`` for a key of every tenant (None: all of them),
    else the key's own, and a refusal (journaled) when it asked for another one."""
    if tenant and not principal.sees_tenant(tenant):
        await authorize(request, principal, Permission.READ_RETENTION, tenant=tenant)
    return tenant if principal.all_tenants else principal.tenant


class Proposal(BaseModel):
    tenant: str | None = None
    object_ids: list[str] | None = Field(default=None, max_length=100_000)
    all_due: bool = Field(default=False, description="propose every object due for destruction (optionally of one policy)")
    policy: str | None = None


@router.post("/v1/disposal/batches", status_code=201, responses=PROBLEM_RESPONSES)
async def propose(principal: Caller, vault: CurrentVault, body: Proposal, request: Request):
    """Propose a destruction batch (archivist); another archivist must approve it."""
    batch = await propose_batch(request, principal, vault, body)
    return JSONResponse(batch, status_code=201, headers={"Location": f"/v1/disposal/batches/{batch['id']}"})


async def propose_batch(request: Request, principal: Principal, vault, body: Proposal) -> dict:
    """Propose the batch ``body`` describes (journaled by the retention service); the API's and the console's."""
    tenant = await _tenant(request, principal, Permission.DISPOSE, body.tenant)
    ids = body.object_ids or []
    if body.all_due:
        listing = await run_in_threadpool(vault.retention.due, tenant, body.policy)
        ids = [item["id"] for item in listing["destroy"]]
    if not ids:
        raise Problem(422, "empty-batch", "Nothing to destroy",
                      "give 'object_ids', or 'all_due': true when objects are due (GET /v1/disposal/due)")
    return await _call(vault.retention.propose, principal, tenant, sorted(set(ids)), request_id(request))


@router.get("/v1/disposal/batches", responses=PROBLEM_RESPONSES)
async def list_batches(principal: Caller, vault: CurrentVault, request: Request,
                       tenant: str | None = Query(default=None, max_length=64),
                       limit: int = Query(default=100, ge=1, le=1000)):
    """Disposal batches, newest proposal first: state (proposed, notice, executable, executed, vetoed), proposer,
    approver, end of the notice period (``executable_after``) and object count."""
    return {"batches": await batch_listing(request, principal, vault, tenant, limit)}


async def batch_listing(request: Request, principal: Principal, vault, tenant: str | None, limit: int) -> list[dict]:
    """The batches ``principal`` may read (of ``tenant`` when given); the API's and the console's."""
    return await run_in_threadpool(vault.retention.batches, await _read_scope(request, principal, tenant), limit)


async def _batch(request: Request, principal: Principal, batch_id: str, permission: Permission) -> dict:
    batch = await _call(get_vault(request).retention.batch, batch_id)
    await authorize(request, principal, permission, tenant=batch["tenant"])
    return batch


@router.get("/v1/disposal/batches/{batch_id}", responses=PROBLEM_RESPONSES)
async def get_batch(principal: Caller, batch_id: str, request: Request):
    return await read_batch(request, principal, batch_id)


async def read_batch(request: Request, principal: Principal, batch_id: str) -> dict:
    """A batch ``principal`` may read: 404 for an unknown one, the tenant check (journaled); the API's and the
    console's."""
    return await _batch(request, principal, batch_id, Permission.READ_RETENTION)


@router.post("/v1/disposal/batches/{batch_id}/approve", responses=PROBLEM_RESPONSES)
async def approve(principal: Caller, vault: CurrentVault, batch_id: str, request: Request):
    """Approve a proposed batch (an archivist, another person than the proposer, with a key old enough); it may be
    executed once the notice period (VAULT_DISPOSAL_NOTICE) is over."""
    return await approve_batch(request, principal, vault, batch_id)


async def approve_batch(request: Request, principal: Principal, vault, batch_id: str) -> dict:
    """The approval every face runs (this route, the console, ETSI DeletePO): 404 for an unknown batch, the tenant
    check (journaled), then the second archivist's approval, a refusal of the person journaled; the batch."""
    await _batch(request, principal, batch_id, Permission.DISPOSE)
    return await _act(request, principal, vault.retention.approve, batch_id)


@router.post("/v1/disposal/batches/{batch_id}/execute", responses=PROBLEM_RESPONSES)
async def execute(principal: Caller, vault: CurrentVault, batch_id: str, request: Request):
    """Destroy an approved batch, once its notice period is over, on every copy and answer the signed destruction
    certificate."""
    return ArtifactJSON(await execute_batch(request, principal, vault, batch_id))  # signed: never marked


async def execute_batch(request: Request, principal: Principal, vault, batch_id: str) -> dict:
    """The execution every face runs (this route, the console): 404 for an unknown batch, the tenant check
    (journaled), then the destruction, a refusal of the person journaled; the signed destruction certificate."""
    await _batch(request, principal, batch_id, Permission.DISPOSE)
    return await _act(request, principal, vault.retention.execute, batch_id)


class Veto(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="why (kept with the batch; the journal keeps a "
                        "pseudonym of it, never the text)")


@router.post("/v1/disposal/batches/{batch_id}/veto", responses=PROBLEM_RESPONSES)
async def veto(principal: Caller, vault: CurrentVault, batch_id: str, body: Veto, request: Request):
    """Stop a proposed or approved batch for good (an archivist or auditor of its tenant, before execution)."""
    return await veto_batch(request, principal, vault, batch_id, body.reason)


async def veto_batch(request: Request, principal: Principal, vault, batch_id: str, reason: str) -> dict:
    """The veto every face runs (this route, the console): 404 for an unknown batch, the tenant check (journaled),
    then the veto with its ``reason``, a refusal of the person journaled; the batch."""
    await _batch(request, principal, batch_id, Permission.VETO_DISPOSAL)
    return await _act(request, principal, vault.retention.veto, batch_id, reason)


@router.get("/v1/disposal/batches/{batch_id}/certificate", responses=PROBLEM_RESPONSES)
async def certificate(principal: Caller, vault: CurrentVault, batch_id: str, request: Request):
    # the signed certificate as issued (a sandbox's says so inside): never marked
    return ArtifactJSON(await signed_certificate(request, principal, vault, batch_id))


async def signed_certificate(request: Request, principal: Principal, vault, batch_id: str) -> dict:
    """The signed destruction certificate of an executed batch ``principal`` may read (404 unknown, tenant check
    journaled, 409 not executed yet); the API's and the console's."""
    await _batch(request, principal, batch_id, Permission.READ_RETENTION)
    return _issued(await _call(vault.retention.certificate, batch_id), batch_id)


def _issued(certificate, batch_id: str):
    if certificate is None:
        raise Problem(409, "not-executed", "Not executed", f"disposal batch {batch_id} has no certificate yet")
    return certificate


@router.get("/v1/disposal/batches/{batch_id}/certificate.pdf",
            responses={200: {"content": {"application/pdf": {}}}, **PROBLEM_RESPONSES})
async def certificate_pdf(principal: Caller, vault: CurrentVault, batch_id: str, request: Request):
    """The certificate as a readable PDF signed by the archive (PAdES, with a signature timestamp)."""
    return await certificate_pdf_answer(request, principal, vault, batch_id)


async def certificate_pdf_answer(request: Request, principal: Principal, vault, batch_id: str) -> Response:
    """The PDF certificate as an attachment, checked as :func:`signed_certificate`; the API's and the console's."""
    await _batch(request, principal, batch_id, Permission.READ_RETENTION)
    pdf = _issued(await _call(vault.retention.certificate_pdf, batch_id), batch_id)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="destruction-{batch_id}.pdf"'})


@router.get("/v1/archive/key")
async def archive_key(vault: CurrentVault, request: Request):
    """The Ed25519 public key that signs destruction certificates and receipts (pin it when verifying one: raw
    base64, PEM, or a JWK whose ``kid`` is the RFC 7638 thumbprint the receipts' JWS header names), and the
    certificate that signs the archive's PDFs."""
    retention = vault.retention
    public_key = retention.archive_key.public_key()
    public = public_key_text(public_key)
    pdf_cert, _key = await run_in_threadpool(retention.pdf_identity)
    return {"algorithm": "Ed25519", "public_key": public, "key_id": key_id(public),
            "public_key_pem": public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode(),
            "jwk": {**public_jwk(public_key), "kid": thumbprint(public_key), "alg": "EdDSA", "use": "sig"},
            "pdf_signing_certificate": pdf_cert.public_bytes(Encoding.PEM).decode("ascii")}
