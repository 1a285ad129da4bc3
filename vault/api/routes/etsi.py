"""``/etsi/119512/v1/<Operation>``: the ETSI TS 119 512 preservation protocol as JSON over HTTP (vault.etsi), and
``POST /v1/validate`` (ValidateEvidence). Every operation is a POST of its request message; it runs the service
the REST API runs, under the same authorization table and journal. A failure answers the REST API's status and
problem+json document with the specification's ``result`` (major/minor URIs) added (docs/etsi-119512.md)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from vault.api.access import Caller, CurrentVault
from vault.api.problems import Problem
from vault.api.routes import rectification, retention
from vault.api.routes.evidence import read_off_loop
from vault.api.routes.objects import insufficient_storage, refused_deposit, scope_tenant, visible_object
from vault.api.routes.search import find_objects
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.security import journal, request_id
from vault.auth.roles import Permission, Principal
from vault.catalog.search import SearchFilters
from vault.crypto.digests import Digests
from vault.deposit.metadata import MetadataError
from vault.deposit.service import DepositRejected, FilePart
from vault.etsi import messages as m
from vault.etsi.names import normalise
from vault.etsi.profiles import ERS_MEDIA_TYPE, EVIDENCE_FORMAT, policy_of, profiles
from vault.etsi.validation import validate_evidence
from vault.evidence.assemble import assemble
from vault.journal.entries import AccessEvent, Action
from vault.journal.listing import EntryQuery
from vault.journal.visible import visible_page
from vault.storage.verified_read import ContentUnavailable

router = APIRouter(default_response_class=JSONResponse, tags=["etsi-119512"])
BASE = "/etsi/119512/v1"
MAX_INLINE = 16 * 1024 * 1024  # larger objects: GET /v1/objects/{id}/content
Message = Body(..., description="the operation's request message (ETSI TS 119 512 clause 5.3, JSON)")


async def _answer(body: dict, run) -> JSONResponse:
    """Run one operation on the request with the specification's JSON names (XML names accepted, vault.etsi.names):
    a malformed message is a 422 RequesterError; every problem carries ``result`` (and ``reqId``)."""
    request = normalise(body)
    try:
        answer = await run(request)
    except m.MessageError as exc:
        raise Problem(422, exc.slug, "Invalid message" if exc.slug == "invalid-message" else "Not supported",
                      str(exc), result=m.error_result(422, exc.slug, str(exc)),
                      **({"reqId": request["reqId"]} if isinstance(request.get("reqId"), str) else {})) from None
    except Problem as exc:
        exc.extensions.setdefault("result", m.error_result(exc.status, exc.slug, exc.detail))
        if isinstance(request.get("reqId"), str):
            exc.extensions.setdefault("reqId", request["reqId"])
        raise
    return answer if isinstance(answer, JSONResponse) else JSONResponse(answer)


def _event(principal: Principal, request: Request, action: Action, tenant: str | None, **detail) -> AccessEvent:
    return AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=tenant, action=action,
                       request_id=request_id(request), detail=detail)


@router.post(f"{BASE}/RetrieveInfo", responses=PROBLEM_RESPONSES)
async def retrieve_info(principal: Caller, vault: CurrentVault, request: Request, body: dict[str, Any] = Message):
    """RetrieveInfo (clause 5.3.2): the preservation profiles, one per retention policy in force."""
    async def run(body):
        only = m.text(body, "pro", required=False, max_length=512)
        if body.get("stat", "active") not in ("active", "inactive", "all"):
            raise m.MessageError("stat must be active, inactive or all (clause 5.4.8)")
        if body.get("stat") == "inactive":  # every profile of a policy in force is active
            return m.response(body, pro=[])
        found = profiles(vault.policies, vault.settings.tsa_policy, only)
        if only and not found:
            raise Problem(404, "unknown-profile", "Unknown profile", f"no profile {only!r} here")
        await journal(request, _event(principal, request, Action.SERVICE_INFO_VIEW, principal.tenant))
        return m.response(body, pro=found)
    return await _answer(body, run)


@router.post(f"{BASE}/PreservePO", responses=PROBLEM_RESPONSES)
async def preserve_po(principal: Caller, vault: CurrentVault, request: Request, body: dict[str, Any] = Message):
    """PreservePO (clause 5.3.3): deposit one ``po``; ``poId`` is the object id, the receipt is in ``optOut``."""
    async def run(body):
        item = m.submission(body, lambda uri: policy_of(uri, vault.policies.ids()))
        refusal = await run_in_threadpool(vault.writable)
        if refusal:
            raise insufficient_storage(vault, f"the deposit was not stored: {refusal}")
        try:
            outcome = await run_in_threadpool(_deposit, vault, principal, item, request_id(request))
        except (MetadataError, DepositRejected) as exc:
            raise await refused_deposit(request, principal, exc) from None
        return m.response(body, outputs={"vault:Receipt": outcome.receipt}, poId=outcome.receipt["id"])
    return await _answer(body, run)


def _deposit(vault, principal: Principal, item: m.Submission, request_id_: str | None):
    meta = vault.deposits.validate(principal, item.metadata)
    writer = vault.store.writer()
    try:
        writer.write(item.content)
    except BaseException:
        writer.abort()
        raise
    return vault.deposits.accept(principal, meta, FilePart(writer, item.filename, item.media_type), None, request_id_)


@router.post(f"{BASE}/RetrievePO", responses=PROBLEM_RESPONSES)
async def retrieve_po(principal: Caller, vault: CurrentVault, request: Request, body: dict[str, Any] = Message):
    """RetrievePO (clause 5.3.4): ``po`` holds the object's bytes and/or its RFC 4998 evidence record as a second
    object (``sor``, clause 5.4.9; embedded evidence is not offered)."""
    async def run(body):
        poid = m.text(body, "poId", max_length=64)
        subject = m.subject_of_retrieval(body)
        if subject == "POwithEmbeddedEvidence":
            raise Problem(422, "unsupported-subject", "Unsupported subject", "evidence is never embedded here: ask "
                          "for POwithDetachedEvidence (the PO and its evidence record side by side)")
        answer = m.response(body, po=[])
        if subject != "Evidence":
            answer["po"].append(await _po(request, principal, vault, poid))
        if subject != "PO":
            row = await visible_object(request, principal, poid, Permission.EXPORT_EVIDENCE, Action.EVIDENCE_EXPORT)
            record = await read_off_loop(vault, assemble, row["seal_seq"])
            if record is None:
                raise Problem(409, "seal-pending", "Seal pending", "the object is not sealed yet: its evidence "
                              "record exists once its seal batch is timestamped; retry later")
            answer["po"].append({"id": f"{poid}.ers", "formatId": EVIDENCE_FORMAT, "mimeType": ERS_MEDIA_TYPE,
                                 "binaryData": {"value": m.encode(record.der)}})
        return answer
    return await _answer(body, run)


async def _po(request: Request, principal: Principal, vault, poid: str) -> dict:
    row = await visible_object(request, principal, poid, Permission.READ_CONTENT, Action.READ_CONTENT)
    if row.get("destroyed_at") is not None:
        raise Problem(410, "destroyed", "Destroyed", f"the content of {poid} was destroyed after its retention")
    if row["size"] > MAX_INLINE:
        raise Problem(413, "too-large-inline", "Too large to inline",
                      f"{poid} is {row['size']} bytes: stream it from GET /v1/objects/{poid}/content")

    def read() -> bytes:
        return b"".join(vault.copies.read_content(Digests(row["sha256"], row["sha512"], row["size"]), poid).chunks)
    try:
        data = await run_in_threadpool(read)
    except ContentUnavailable as exc:
        raise Problem(503, "storage-unavailable", "Storage unavailable", f"no good copy of {poid} can be read now: "
                      f"{exc}") from None
    found = {"id": row["filename"], "mimeType": row["media_type"], "binaryData": {"value": m.encode(data)}}
    return {k: v for k, v in found.items() if v is not None}


@router.post(f"{BASE}/DeletePO", status_code=202, responses=PROBLEM_RESPONSES)
async def delete_po(principal: Caller, vault: CurrentVault, request: Request, body: dict[str, Any] = Message):
    """DeletePO (clause 5.3.5) is the four-eyes disposal: the first call proposes a batch (answer Pending with
    ``vault:BatchID``), a call naming that batch in ``optIn`` approves it (another archivist). ``mod`` (clause
    5.4.2) is ``SubDOsAndEvidence``: vault destroys the content and keeps no evidence of it in the object."""
    async def run(body):
        poid = m.text(body, "poId", max_length=64)
        if body.get("mod", "SubDOsAndEvidence") not in ("SubDOsAndEvidence", "OnlySubDOs"):
            raise m.MessageError("mod must be OnlySubDOs or SubDOsAndEvidence (clause 5.4.2)")
        batch_id = m.options(body).get("vault:BatchID")
        if batch_id is not None:
            batch = await retention.approve_batch(request, principal, vault,
                                                  m.text({"id": batch_id}, "id", max_length=64))
        else:
            row = await run_in_threadpool(vault.catalog.get, poid)
            if row is None or not principal.sees_tenant(row["tenant"]):
                raise Problem(404, "unknown-object", "Unknown object", f"no object with id {poid!r}")
            batch = await retention.propose_batch(request, principal, vault,
                                                  retention.Proposal(tenant=row["tenant"], object_ids=[poid]))
        return JSONResponse(m.response(body, m.PENDING, message="destruction needs a second archivist and the "
                                       "notice period", outputs={"vault:BatchID": batch["id"], "vault:Batch": batch},
                                       poId=poid), status_code=202)
    return await _answer(body, run)


@router.post(f"{BASE}/UpdatePOC", responses=PROBLEM_RESPONSES)
async def update_poc(principal: Caller, vault: CurrentVault, request: Request, body: dict[str, Any] = Message):
    """UpdatePOC (clause 5.3.6) is the metadata correction (``POST /v1/objects/{id}/corrections``): the changes
    and reason in ``optIn`` (``vault:Changes``, ``vault:Reason``); ``versionId`` the new record version."""
    async def run(body):
        poid = m.text(body, "poId", max_length=64)
        extra = m.options(body)
        try:
            correction = rectification.Correction(changes=extra.get("vault:Changes"), reason=extra.get("vault:Reason"))
        except ValidationError as exc:
            raise m.MessageError("optIn needs vault:Changes (an object) and vault:Reason (text): "
                                 + "; ".join(e["msg"] for e in exc.errors())) from None
        done = await rectification.correct_object(request, principal, vault, poid, correction.changes,
                                                  correction.reason)
        return m.response(body, versionId=str(done["version"]), outputs={"vault:Record": done})
    return await _answer(body, run)


@router.post(f"{BASE}/RetrieveTrace", responses=PROBLEM_RESPONSES)
async def retrieve_trace(principal: Caller, vault: CurrentVault, request: Request, body: dict[str, Any] = Message):
    """RetrieveTrace (clause 5.3.7): ``trace``, the events (Table 18) of the journal entries naming the PO, oldest
    first (up to 1000)."""
    async def run(body):
        poid = m.text(body, "poId", max_length=64)
        await visible_object(request, principal, poid, Permission.READ_JOURNAL, Action.TRACE_READ)
        page, _, _ = await run_in_threadpool(visible_page, principal, vault.reader,
                                             EntryQuery(object_id=poid, limit=1000), False)
        return m.response(body, trace={"event": [m.event(json.loads(entry), poid) for _seq, entry in page.entries]})
    return await _answer(body, run)


@router.post(f"{BASE}/Search", responses=PROBLEM_RESPONSES)
async def search(principal: Caller, vault: CurrentVault, request: Request, body: dict[str, Any] = Message):
    """Search (clause 5.3.9): ``fi`` is the query string of ``GET /v1/objects``; the answer's ``poId``\\ s."""
    async def run(body):
        terms = m.search_terms(body)
        tenant = m.options(body).get("vault:Tenant")
        scope = await scope_tenant(request, principal, Permission.SEARCH, tenant if isinstance(tenant, str) else None)
        page = await find_objects(request, principal, SearchFilters(tenant=scope, **terms), None, 1000)
        return m.response(body, poId=[item["id"] for item in page["items"]])
    return await _answer(body, run)


@router.post(f"{BASE}/ValidateEvidence", responses=PROBLEM_RESPONSES)
async def validate(principal: Caller, vault: CurrentVault, request: Request, body: dict[str, Any] = Message):
    """ValidateEvidence (clause 5.3.8): verify an uploaded evidence record with data or digests, or a package."""
    return await _answer(body, lambda message: _validate(principal, vault, request, message))


@router.post("/v1/validate", responses=PROBLEM_RESPONSES, tags=["evidence"])
async def validate_v1(principal: Caller, vault: CurrentVault, request: Request, body: dict[str, Any] = Message):
    """ValidateEvidence (ETSI TS 119 512 clause 5.3.8) in the REST API: the same request and answer."""
    return await _answer(body, lambda message: _validate(principal, vault, request, message))


async def _validate(principal: Principal, vault, request: Request, body: dict) -> dict:
    answer, valid = await run_in_threadpool(validate_evidence, body, vault.tsa_roots(),
                                            vault.checkpointer.signer.verifier.vkey())
    await journal(request, _event(principal, request, Action.EVIDENCE_VALIDATED, principal.tenant, valid=valid))
    return answer
