"""``POST /v1/objects/{id}/corrections`` and ``/erasure``: rectify an object's business metadata (GDPR art. 16) and
erase personal values (art. 17) without breaking a proof (issue 22, docs/metadata-record.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from vault.api.access import Caller, CurrentVault
from vault.api.problems import Problem
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.security import get_vault, journal, request_id
from vault.auth.roles import Principal
from vault.journal.entries import AccessEvent, Action, Outcome
from vault.rectification.changes import Refused
from vault.rectification.service import RectificationService

router = APIRouter(default_response_class=JSONResponse, prefix="/v1/objects", tags=["objects"])
REASON = Field(min_length=1, max_length=2000, pattern=r"\S", description="why (required)")


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    changes: dict[str, Any] = Field(description="{field: new value}: case_ref, contract_number, sender, recipient, "
                                                "filename, event_type, event_time, etsi_event, extra.<name> "
                                                "(null removes)")
    reason: str = REASON


class Erasure(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: list[str] = Field(min_length=1, max_length=64, description="personal fields erasable under the "
                                                                        "object's policy (erasable_fields)")
    reason: str = REASON


def _service(vault) -> RectificationService:
    return RectificationService(vault.writer, vault.policies, vault.clock, vault.pseudonyms,
                                vault.copies.extend_retention)


async def _visible(request: Request, principal: Principal, object_id: str) -> None:
    """404 for an object the caller cannot see (none, or another tenant's: its existence is not revealed)."""
    row = await run_in_threadpool(get_vault(request).catalog.get, object_id)
    if row is None or not principal.sees_tenant(row["tenant"]):
        await journal(request, AccessEvent(
            actor=principal.key_id, role=principal.role.value, tenant=row["tenant"] if row else principal.tenant,
            action=Action.ACCESS_DENIED if row else Action.READ_METADATA, outcome=Outcome.DENIED if row else
            Outcome.NOT_FOUND, object_ids=(row["id"],) if row else (), request_id=request_id(request),
            detail={"object_id": object_id[:64], "route": request.url.path[:200]}))
        raise Problem(404, "unknown-object", "Unknown object", f"no object with id {object_id!r}")


async def _run(function, *args):
    try:
        return await run_in_threadpool(function, *args)
    except Refused as exc:
        raise Problem(exc.status, exc.slug, exc.title, exc.detail, **exc.extra) from None


async def correct_object(request: Request, principal: Principal, vault, object_id: str, changes: dict[str, Any],
                         reason: str) -> dict:
    """The correction every face runs (this route, ETSI UpdatePOC): 404 (journaled) for an object the caller cannot
    see, then :meth:`RectificationService.correct`, its refusals as problem+json; ``{object_id, version, sha256}``.
    The visibility check reads before the writer's transaction: a probe for another tenant's ids never takes it."""
    await _visible(request, principal, object_id)
    return await _run(_service(vault).correct, principal, object_id, changes, reason, request_id(request))


@router.post("/{object_id}/corrections", status_code=201, responses={
    201: {"description": "The new record version: {object_id, version, sha256}"}, **PROBLEM_RESPONSES})
async def correct(principal: Caller, vault: CurrentVault, object_id: str, body: Correction, request: Request):
    """Rectify business metadata (archivist): the row and search use the new values at once, and the next metadata
    record version, linked to the one before by hash and carrying the sealed reason, is sealed in a later batch."""
    return JSONResponse(await correct_object(request, principal, vault, object_id, body.changes, body.reason),
                        status_code=201)


@router.post("/{object_id}/erasure", responses={200: {"description": "{object_id, erased, erased_at}"},
                                                **PROBLEM_RESPONSES})
async def erase(principal: Caller, vault: CurrentVault, object_id: str, body: Erasure, request: Request):
    """Erase personal values (archivist): their salts and clear values go from the database; the record's
    commitments, the evidence records and the journal stay, and still verify."""
    await _visible(request, principal, object_id)
    return await _run(_service(vault).erase, principal, object_id, body.fields, body.reason, request_id(request))
