"""``/v1/objects/{id}/metadata-record`` and ``/disclosures``: the sealed metadata record of an object and the
salts and values that open its personal fields' commitments; ``/metadata-records``: its version history, and each
version's evidence record (issue 22, docs/metadata-record.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from vault.api.access import Caller, CurrentVault
from vault.api.access_reason import access_reason, reason_detail
from vault.api.problems import Problem
from vault.api.routes.objects import visible_object
from vault.api.routes.evidence import ERS_MEDIA_TYPE, read_off_loop
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES
from vault.auth.roles import Permission
from vault.clock import iso_z
from vault.evidence.metadata_record import still_shown
from vault.evidence.metadata_store import record_bytes
from vault.evidence.record_seals import assemble_version, history
from vault.journal.entries import Action
from vault.limits import INT64_MAX
from vault.retention.restriction import restricted_fields

router = APIRouter(default_response_class=JSONResponse, prefix="/v1/objects", tags=["objects"])


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



@router.get("/{object_id}/metadata-records", responses={200: {"description": "The record's versions, oldest first"},
                                                        **PROBLEM_RESPONSES})
async def get_metadata_records(principal: Caller, vault: CurrentVault, object_id: str, request: Request):
    """Every version of the object's metadata record: ``{version, previous, sha256, created_at, correction,
    sealed: {batch, gen_time} | null}`` (``sealed`` null while the version waits for its seal)."""
    row = await visible_object(request, principal, object_id, Permission.READ_METADATA, Action.METADATA_RECORD_READ,
                               {"history": True})
    versions = await read_off_loop(vault, history, row)
    for v in versions:
        v["created_at"] = iso_z(v["created_at"])
        if v["sealed"] is not None:
            v["sealed"]["gen_time"] = iso_z(v["sealed"]["gen_time"])
    return JSONResponse({"object_id": row["id"], "versions": versions})


def _version_record(connection, row: dict, version: int):
    record = record_bytes(connection, row["id"], version)
    if record is None:
        return None, None
    return record, assemble_version(connection, row["id"], version, record, row["seal_seq"])


@router.get("/{object_id}/metadata-records/{version}/evidence-record", responses={
    200: {"content": {ERS_MEDIA_TYPE: {}}, "description": "The DER EvidenceRecord (RFC 4998 §3) of the data group "
                                                          "(content, that version)"},
    409: {"description": "That version is not sealed yet (problem+json, type record-seal-pending)"},
    **PROBLEM_RESPONSES})
async def get_version_evidence_record(principal: Caller, vault: CurrentVault, object_id: str,
                                      version: Annotated[int, Path(ge=1, le=INT64_MAX)],
                                      request: Request):
    """The evidence record proving version ``version`` of the object's metadata record with its content (an RFC
    4998 §4.2 data group): for version 1 sealed with the content, the object's own evidence record."""
    row = await visible_object(request, principal, object_id, Permission.READ_METADATA, Action.METADATA_RECORD_READ,
                               {"version": version, "evidence_record": True})
    record, assembled = await read_off_loop(vault, _version_record, row, version)
    if record is None:
        raise Problem(404, "no-metadata-record-version", "No such metadata record version",
                      f"object {object_id} has no metadata record version {version}; "
                      f"GET /v1/objects/{object_id}/metadata-records lists them")
    if assembled is None:
        raise Problem(409, "record-seal-pending", "Record seal pending",
                      f"version {version} of the metadata record is not sealed yet: it is sealed in the next seal "
                      f"pass (every {vault.settings.seal_interval:g} s while the TSA answers); retry later",
                      headers={"Retry-After": str(max(1, int(vault.settings.seal_interval)))})
    headers = {"Content-Disposition": f'attachment; filename="{row["id"]}-record-v{version}.ers"',
               "Cache-Control": "private, no-store"}
    return Response(assembled.der, media_type=ERS_MEDIA_TYPE, headers=headers)
