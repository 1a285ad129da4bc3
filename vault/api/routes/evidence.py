"""Evidence of one object: its RFC 4998 evidence record and its receipt with the seal state (JSON, signed JWS, or
signed PDF)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from vault.api.negotiation import choose, format_name, signed_pdf
from vault.api.problems import Problem
from vault.api.routes.objects import visible_object
from vault.api.sandbox_answers import ArtifactJSON, JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.access import Caller, CurrentVault
from vault.api.access_reason import access_reason, reason_detail
from vault.auth.roles import Permission, Principal
from vault.documents.jws import COMPACT_MEDIA_TYPE, JSON_MEDIA_TYPE, flattened
from vault.evidence.assemble import assemble
from vault.evidence.imported import continued_record
from vault.journal.entries import Action
from vault.retention.restriction import hide, restricted_fields

router = APIRouter(default_response_class=JSONResponse, prefix="/v1/objects", tags=["evidence"])
ERS_MEDIA_TYPE = "application/vnd.vault.ers"
RECEIPT_FORMATS = {"json": "application/json", "jws": COMPACT_MEDIA_TYPE, "jws-json": JSON_MEDIA_TYPE,
                   "pdf": "application/pdf"}


async def read_off_loop(vault, query, *args):
    """Run ``query(connection, *args)`` on a reader connection, off the event loop."""

    def run():
        with vault.reader.connect() as connection:
            return query(connection, *args)

    return await run_in_threadpool(run)


@router.get("/{object_id}/evidence-record", responses={
    200: {"content": {ERS_MEDIA_TYPE: {}}, "description": "The DER EvidenceRecord (RFC 4998 §3)"},
    409: {"description": "Not sealed yet (problem+json, type seal-pending)"}, **PROBLEM_RESPONSES})
async def evidence_record(principal: Caller, vault: CurrentVault, object_id: str, request: Request,
                          source: Literal["import", "import-continued"] | None = Query(
                              default=None, description="import: the record the source archive made for an "
                                                        "object imported from its export package, verbatim; "
                                                        "import-continued: that record with this archive's "
                                                        "timestamp renewals of it appended (RFC 4998 §5.2)")):
    """The object's evidence record, derived from its seal batches and every renewal since; 409 while pending.
    With ``?source=import``, the evidence record another archive made before the object was imported here (404
    when there is none); with ``?source=import-continued``, the same record as this archive continues it."""
    return await evidence_record_answer(request, principal, vault, object_id, source)


async def evidence_record_answer(request: Request, principal: Principal, vault, object_id: str,
                                 source: str | None) -> Response:
    """The ``.ers`` answer (visibility checked and the export journaled); the API's and the console's."""
    row = await visible_object(request, principal, object_id, Permission.EXPORT_EVIDENCE, Action.EVIDENCE_EXPORT,
                               {"source": source} if source else None)
    if source is not None:
        return await _imported_record(vault, row, continued=source == "import-continued")
    record = await read_off_loop(vault, assemble, row["seal_seq"])
    if record is None:
        raise Problem(409, "seal-pending", "Seal pending",
                      "the object is stored but not sealed yet: its evidence record exists once its seal batch is "
                      f"timestamped (every {vault.settings.seal_interval:g} s while the TSA answers); retry later",
                      headers={"Retry-After": str(max(1, int(vault.settings.seal_interval)))})
    headers = {"Content-Disposition": f'attachment; filename="{row["id"]}.ers"', "Cache-Control": "private, no-store"}
    return Response(record.der, media_type=ERS_MEDIA_TYPE, headers=headers)


async def _imported_record(vault, row: dict, continued: bool) -> Response:
    imported = await run_in_threadpool(vault.catalog.imported_evidence, row["id"])
    if imported is None:
        raise Problem(404, "no-imported-evidence-record", "No imported evidence record",
                      f"{row['id']} was deposited in this archive, not imported from another one")
    if imported["der"] is None:
        raise Problem(404, "no-imported-evidence-record", "No imported evidence record",
                      f"{row['id']} was imported from {imported['source_archive']} (package {imported['package_name']}) "
                      "before that archive had sealed it: only this archive's own evidence record exists")
    der, renewals = bytes(imported["der"]), 0
    if continued:
        der, renewals = await read_off_loop(vault, continued_record, der, row["id"])
    name = "imported-continued" if continued else "imported"
    headers = {"Content-Disposition": f'attachment; filename="{row["id"]}-{name}.ers"',
               "Cache-Control": "private, no-store", "X-Source-Archive": imported["source_archive"],
               **({"X-Renewals-Here": str(renewals)} if continued else {})}
    return Response(der, media_type=ERS_MEDIA_TYPE, headers=headers)


@router.get("/{object_id}/receipt", responses={
    200: {"content": {"application/json": {}, COMPACT_MEDIA_TYPE: {}, JSON_MEDIA_TYPE: {}, "application/pdf": {}},
          "description": "The receipt: JSON; signed JWS (compact or JSON serialization); signed PDF"},
    406: {"description": "None of the formats asked for"}, **PROBLEM_RESPONSES})
async def receipt(principal: Caller, vault: CurrentVault, object_id: str, request: Request,
                  format: Literal["json", "jws", "jws-json", "pdf"] | None = Query(
                      default=None, description="overrides Accept: json, jws (compact JWS), jws-json, pdf")):
    """The deposit receipt with the object's current seal state (seal time, batch id, token genTime). ``Accept:
    application/jose`` (or ``?format=jws``) answers it signed with the archive's Ed25519 key as a compact JWS,
    ``application/jose+json`` as a JWS JSON serialization, ``application/pdf`` as a PDF signed by the archive. A
    restricted object's restricted values are null in it unless an archivist states a reason
    (``Vault-Access-Reason``)."""
    media = choose(format, request.headers.get("accept"), RECEIPT_FORMATS)
    reason = access_reason(request, principal)
    row = await visible_object(request, principal, object_id, Permission.READ_METADATA, Action.RECEIPT_READ,
                               {"format": format_name(media, RECEIPT_FORMATS), **reason_detail(reason)})
    if reason is None:
        row = hide(row, restricted_fields(row))  # GDPR art. 18: a restricted value is not issued again
    documents = vault.documents
    headers = {"Cache-Control": "private, no-store"}
    if media == "application/pdf":
        pdf = await signed_pdf(documents.receipt_pdf, row)
        return Response(pdf, media_type=media,
                        headers={**headers, "Content-Disposition": f'attachment; filename="receipt-{row["id"]}.pdf"'})
    if media == "application/json":
        return JSONResponse(await run_in_threadpool(documents.receipt, row), headers=headers)
    compact = await run_in_threadpool(documents.receipt_jws, row)
    if media == JSON_MEDIA_TYPE:
        return ArtifactJSON(flattened(compact), media_type=JSON_MEDIA_TYPE, headers=headers)  # signed: never marked
    return Response(compact, media_type=COMPACT_MEDIA_TYPE, headers=headers)
