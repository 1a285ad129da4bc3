"""``/v1/objects/{id}/metadata-record`` and ``/disclosures``: the sealed metadata record of an object and the
salts and values that open its personal fields' commitments (issue 22, docs/metadata-record.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from vault.api.access import Caller, CurrentVault
from vault.api.access_reason import access_reason, reason_detail
from vault.api.problems import Problem
from vault.api.routes.objects import visible_object
from vault.api.schemas import PROBLEM_RESPONSES
from vault.auth.roles import Permission
from vault.evidence.metadata_record import still_shown
from vault.journal.entries import Action
from vault.retention.restriction import restricted_fields

router = APIRouter(prefix="/v1/objects", tags=["objects"])


@router.get("/{object_id}/metadata-record", responses={
    200: {"content": {"application/json": {}}, "description": "The record's exact bytes (RFC 8785 JSON)"},
    **PROBLEM_RESPONSES})
async def get_metadata_record(principal: Caller, vault: CurrentVault, object_id: str, request: Request):
    """The object's metadata record, byte for byte as sealed with its content (RFC 4998 data group)."""
    row = await visible_object(request, principal, object_id, Permission.READ_METADATA, Action.METADATA_RECORD_READ)
    data = await run_in_threadpool(vault.catalog.metadata_record, row["id"])
    if data is None:
        raise Problem(404, "no-metadata-record", "No metadata record",
                      f"object {object_id} has no metadata record (imported objects get theirs in a later release)")
    return Response(data, media_type="application/json")


@router.get("/{object_id}/disclosures", responses={200: {"description": "Salts and values by field"},
                                                   **PROBLEM_RESPONSES})
async def get_disclosures(principal: Caller, vault: CurrentVault, object_id: str, request: Request):
    """The disclosures (field, salt, value) of the record's personal fields the object still shows: a value the
    archive no longer holds (erased at disposal) is not disclosed, nor a restricted one (GDPR art. 18) unless an
    archivist states a reason (``Vault-Access-Reason``)."""
    reason = access_reason(request, principal)
    row = await visible_object(request, principal, object_id, Permission.READ_METADATA, Action.DISCLOSURES_READ,
                               reason_detail(reason))
    found = await run_in_threadpool(vault.catalog.disclosures, row["id"])
    hidden = () if reason else restricted_fields(row)
    answer = {"object_id": row["id"], "disclosures": [d for d in found if still_shown(row, d["field"])
                                                      and d["field"] not in hidden]}
    if restricted_fields(row):
        answer["restricted"] = True
    return JSONResponse(answer)

