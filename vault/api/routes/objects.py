"""``/v1/objects``: deposit, metadata, content (search: vault.api.routes.search)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from vault.api.disposition import content_headers
from vault.api.multipart import read_deposit_form
from vault.api.part_headers import is_media_type
from vault.api.problems import Problem
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import (DEPOSIT_FORM_SCHEMA, PROBLEM_RESPONSES, ObjectMetadata, Receipt,
                                problem_responses)
from vault.api.access import Caller, CurrentVault
from vault.api.access_reason import access_reason, reason_detail
from vault.api.security import authorize, deny, get_vault, journal, request_id
from vault.auth.roles import Permission, Principal
from vault.catalog.formats import format_of
from vault.crypto.digests import Digests
from vault.deposit.metadata import MetadataError, MetadataTooLarge
from vault.deposit.receipt import object_view
from vault.sandbox import marked
from vault.deposit.service import DepositOutcome, DepositRejected, FilePart
from vault.journal.entries import AccessEvent, Action, Outcome
from vault.storage.copies import QuorumNotReached
from vault.storage.headroom import is_out_of_space
from vault.storage.verified_read import ContentUnavailable, StreamAborted

router = APIRouter(default_response_class=JSONResponse, prefix="/v1/objects", tags=["objects"])
log = logging.getLogger(__name__)


def _rejected(exc: DepositRejected) -> Problem:
    return Problem(exc.status, exc.slug, exc.title, exc.detail, **exc.extra)


def insufficient_storage(vault, detail: str) -> Problem:
    """507 (RFC 4918 §11.5): the server's disk, not the request, is at fault; counted as a technical failure."""
    vault.technical_failures["insufficient-storage"] += 1
    return Problem(507, "insufficient-storage", "Insufficient storage",
                   f"{detail}; nothing was stored, retry once the operator has freed space", retry_after=60)


@router.post("", status_code=201, openapi_extra=DEPOSIT_FORM_SCHEMA,
             responses={201: {"model": Receipt, "description": "Stored; the receipt"}, **PROBLEM_RESPONSES})
async def deposit(principal: Caller, vault: CurrentVault, request: Request,
                  idempotency_key: str | None = Header(default=None, max_length=200)):
    """Archive one proof file with its business metadata and answer the receipt once it is durable."""
    settings = vault.settings

    def prepare():
        try:
            meta = vault.deposits.validate(principal, form.metadata)
        except BaseException:
            form.discard()
            raise
        part = FilePart(form.writer, form.filename, form.media_type) if form.writer else None
        return vault.deposits.prepare(principal, meta, part, idempotency_key)

    refusal = vault.writable() if not vault.read_only else await run_in_threadpool(vault.writable)
    if refusal:
        raise insufficient_storage(vault, f"the deposit was not stored: {refusal}")
    try:
        with vault.writer.expecting():  # a unit on its way: the group commit may wait a moment for it
            form = await read_deposit_form(request, vault.store.writer, settings.max_upload_bytes,
                                           settings.max_metadata_bytes)
            small = (form.writer is not None and vault.store.defer_data_sync(form.writer.size)
                     and not vault.deposits.reads_content(form.writer.head()))
            # a small blob needs no fsync of its own (the batch's syncfs covers it): no thread hop for it
            prepared = prepare() if small and not idempotency_key else await run_in_threadpool(prepare)
            if getattr(prepared, "copying", None) is not None:  # the quorum's uploads, awaited without a thread
                with contextlib.suppress(QuorumNotReached):  # record() answers it: 503, nothing recorded
                    await asyncio.wrap_future(prepared.copying)
            recorded = None if isinstance(prepared, DepositOutcome) else vault.deposits.record(prepared, request_id(request))
        if recorded is None:
            outcome = prepared
        else:
            try:  # awaited on the event loop: no thread waits for the group commit
                outcome = prepared.outcome(await asyncio.wrap_future(recorded))
            except IntegrityError:
                outcome = await run_in_threadpool(vault.deposits.after_conflict, prepared)
    except (MetadataError, DepositRejected) as exc:
        raise await refused_deposit(request, principal, exc) from None
    except Exception as exc:
        if not is_out_of_space(exc):
            raise
        vault.headroom.forget()
        raise insufficient_storage(vault, "the deposit was not stored: the archive's disk is full") from None
    headers = {"Location": f"/v1/objects/{outcome.receipt['id']}"}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(marked(outcome.receipt, vault.settings.sandbox), status_code=201, headers=headers)


async def refused_deposit(request: Request, principal: Principal, exc: MetadataError | DepositRejected) -> Problem:
    """The problem answering a refused deposit (also ETSI PreservePO's); a refusal of the caller (403, e.g. a
    deposit for another tenant) is journaled like every refused access."""
    if isinstance(exc, MetadataTooLarge):
        return Problem(413, "metadata-too-large", "Metadata too large", str(exc))
    if isinstance(exc, MetadataError):
        return Problem(422, "invalid-metadata", "Invalid metadata", str(exc), errors=exc.errors)
    if exc.status == 403:
        await deny(request, principal, exc.detail, permission=Permission.DEPOSIT, slug=exc.slug, title=exc.title)
    return _rejected(exc)


async def visible_object(request: Request, principal: Principal, object_id: str, permission: Permission,
                          action: Action, detail: dict | None = None) -> dict:
    vault = get_vault(request)
    row = await run_in_threadpool(vault.catalog.get, object_id)
    if row is None:
        await journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=principal.tenant,
                                           action=action, outcome=Outcome.NOT_FOUND, request_id=request_id(request),
                                           detail={"object_id": object_id[:64]}))
        raise Problem(404, "unknown-object", "Unknown object", f"no object with id {object_id!r}")
    await authorize(request, principal, permission, tenant=row["tenant"], object_ids=(row["id"],))
    await journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=row["tenant"],
                                       action=action, object_ids=(row["id"],), request_id=request_id(request),
                                       detail=detail or {}))
    return row


@router.get("/{object_id}", responses={200: {"model": ObjectMetadata}, **PROBLEM_RESPONSES})
async def get_metadata(principal: Caller, object_id: str, request: Request):
    """An object's metadata, digests and retention."""
    reason = access_reason(request, principal)
    row = await visible_object(request, principal, object_id, Permission.READ_METADATA, Action.READ_METADATA,
                               reason_detail(reason))
    view = object_view(row, reveal=reason is not None)
    view["format"].update(await run_in_threadpool(format_of, get_vault(request).reader, row["id"]))
    return JSONResponse(view)


@router.get("/{object_id}/content", responses={200: {"content": {"application/octet-stream": {}},
                                                     "description": "The stored bytes"}, **PROBLEM_RESPONSES,
                                                **problem_responses({
                                                    502: "No stored copy matches the recorded digests",
                                                    503: "No store holding the bytes can be read now"})})
async def get_content(principal: Caller, vault: CurrentVault, object_id: str, request: Request):
    """The stored bytes, streamed, with ``Repr-Digest`` (RFC 9530) and ``Digest`` (RFC 3230) headers."""
    return await content_response(request, principal, vault, object_id)


async def content_response(request: Request, principal: Principal, vault, object_id: str) -> Response:
    """The verified stream of an object's bytes, journaled as ``read_content`` (the API's and the console's
    "Download")."""
    row = await visible_object(request, principal, object_id, Permission.READ_CONTENT, Action.READ_CONTENT)
    if row.get("destroyed_at") is not None:
        raise Problem(410, "destroyed", "Destroyed",
                      f"the content of {object_id} was destroyed on {row['destroyed_at'].isoformat()} after its "
                      "retention ended (four-eyes disposal); its tombstone and evidence record remain")
    digests = Digests(row["sha256"], row["sha512"], row["size"])
    try:
        content = await run_in_threadpool(vault.copies.read_content, digests, row["id"])
    except ContentUnavailable as exc:
        raise _unavailable(object_id, exc) from None
    # a row stored before part headers were checked may hold a type no response can carry
    media_type = row["media_type"] if is_media_type(row["media_type"]) else "application/octet-stream"
    headers = {
        "Content-Length": str(row["size"]),
        "Repr-Digest": digests.repr_digest_header(),
        "Digest": digests.legacy_digest_header(),
        "ETag": f'"{row["sha256"]}"',
        "Cache-Control": "private, no-store",
        **content_headers(media_type, row["filename"]),
    }
    return VerifiedStreamingResponse(content.chunks, media_type=media_type, headers=headers)


def _unavailable(object_id: str, exc: ContentUnavailable) -> Problem:
    """No copy matches the recorded digests: 502 when a store gave wrong bytes or none, 503 when stores are down."""
    stores = [{"store": f.store, "problem": f.kind} for f in exc.findings] + \
        [{"store": u.split(":")[0], "problem": "unreachable"} for u in exc.unreachable]
    if exc.corrupt:
        return Problem(502, "content-corrupt", "Content corrupt",
                       f"no stored copy of {object_id} matches the SHA-256 recorded at deposit; the bytes are not "
                       "served, an alert is raised, and a repair needs a good copy", stores=stores)
    if exc.unreachable:
        return Problem(503, "storage-unavailable", "Storage unavailable",
                       f"no store holding {object_id} could be read now; retry later", stores=stores,
                       headers={"Retry-After": "30"})
    return Problem(502, "content-missing", "Content missing",
                   f"no store holds the bytes of {object_id} any more; an alert is raised", stores=stores)


class VerifiedStreamingResponse(StreamingResponse):
    """A stream whose body ends short of its ``Content-Length`` when the bytes fail their digest check late."""

    async def stream_response(self, send) -> None:
        try:
            await super().stream_response(send)
        except StreamAborted as exc:
            # no last chunk: the server closes the connection and the client sees an incomplete body
            log.error("content stream aborted: %s", exc)


@router.get("/{object_id}/validation-report", responses={
    200: {"content": {"application/json": {}, "application/xml": {}},
          "description": "The signature-validation report made at deposit (JSON; ETSI TS 119 102-2 XML on request)"},
    **PROBLEM_RESPONSES})
async def get_validation_report(principal: Caller, vault: CurrentVault, object_id: str, request: Request):
    """Every check behind the object's signature verdicts. ``Accept: application/xml`` asks for the ETSI TS
    119 102-2 report where the validator made one (PDF signatures)."""
    row = await visible_object(request, principal, object_id, Permission.READ_METADATA, Action.VALIDATION_REPORT_READ)
    report = await run_in_threadpool(vault.catalog.validation_report, row["id"])
    wants_xml = "xml" in request.headers.get("accept", "") and "json" not in request.headers.get("accept", "")
    if report is None:
        if row.get("destroyed_at") is not None:
            raise Problem(410, "destroyed", "Destroyed", f"the validation report of {object_id} was erased with its "
                          "content at disposal; the verdict summaries remain in the object's metadata")
        report = {"object_id": row["id"], "signatures": [], "worst": None,
                  "note": "no signature was found in this file at deposit"}
        if wants_xml:
            raise Problem(404, "no-etsi-report", "No ETSI report", "this object has no signature, so no ETSI report")
        return JSONResponse(report)
    if wants_xml:
        if report["etsi_report"] is None:
            raise Problem(404, "no-etsi-report", "No ETSI report",
                          "the validator of this format makes no ETSI TS 119 102-2 report; ask for JSON")
        return Response(report["etsi_report"], media_type="application/xml")
    return JSONResponse(report["report"])


async def scope_tenant(request: Request, principal: Principal, permission: Permission, tenant: str | None) -> str | None:
    """The tenant a read is limited to: the key's own, or the one asked for by an all-tenant key (None: all)."""
    await authorize(request, principal, permission, tenant=tenant)
    return tenant if principal.all_tenants else principal.tenant
