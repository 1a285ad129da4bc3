"""Evidence of one object: its RFC 4998 evidence record and its receipt with the seal state."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.routes.objects import visible_object
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.security import authenticate, get_vault
from vault.auth.roles import Permission, Principal
from vault.deposit.receipt import receipt_from_row
from vault.evidence.assemble import assemble
from vault.evidence.status import seal_state
from vault.journal.entries import Action

router = APIRouter(prefix="/v1/objects", tags=["evidence"])
ERS_MEDIA_TYPE = "application/vnd.vault.ers"


async def _read(vault, query, *args):
    """Run ``query(connection, *args)`` on a reader connection, off the event loop."""

    def run():
        with vault.reader.connect() as connection:
            return query(connection, *args)

    return await run_in_threadpool(run)


@router.get("/{object_id}/evidence-record", responses={
    200: {"content": {ERS_MEDIA_TYPE: {}}, "description": "The DER EvidenceRecord (RFC 4998 §3)"},
    409: {"description": "Not sealed yet (problem+json, type seal-pending)"}, **PROBLEM_RESPONSES})
async def evidence_record(object_id: str, request: Request, principal: Principal = Depends(authenticate)):
    """The object's evidence record, derived from its seal batches and every renewal since; 409 while pending."""
    row = await visible_object(request, principal, object_id, Permission.EXPORT_EVIDENCE, Action.EVIDENCE_EXPORT)
    vault = get_vault(request)
    record = await _read(vault, assemble, row["seal_seq"])
    if record is None:
        raise Problem(409, "seal-pending", "Seal pending",
                      "the object is stored but not sealed yet: its evidence record exists once its seal batch is "
                      f"timestamped (every {vault.settings.seal_interval:g} s while the TSA answers); retry later",
                      headers={"Retry-After": str(max(1, int(vault.settings.seal_interval)))})
    headers = {"Content-Disposition": f'attachment; filename="{row["id"]}.ers"', "Cache-Control": "private, no-store"}
    return Response(record.der, media_type=ERS_MEDIA_TYPE, headers=headers)


@router.get("/{object_id}/receipt", responses=PROBLEM_RESPONSES)
async def receipt(object_id: str, request: Request, principal: Principal = Depends(authenticate)):
    """The deposit receipt with the object's current seal state (seal time, batch id, token genTime)."""
    row = await visible_object(request, principal, object_id, Permission.READ_METADATA, Action.READ_METADATA)
    seal = await _read(get_vault(request), seal_state, row["seal_seq"])
    return JSONResponse({**receipt_from_row(row), "seal": seal})
