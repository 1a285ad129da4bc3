"""The journal's read side for auditors and admins: signed checkpoint, verifier key, C2SP tlog tiles,
RFC 6962 proofs and entry queries."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.sandbox_answers import JSONResponse
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.access import Caller, CurrentVault
from vault.api.security import deny, get_vault, request_id
from vault.catalog.queries import PERSONAL_FILTERS
from vault.catalog.search import EXTRA_KIND
from vault.auth.roles import Principal
from vault.limits import INT64_MAX, ArchiveTime
from vault.journal.checkpoints import latest_checkpoint
from vault.journal.entries import AccessEvent, Action, append_entry
from vault.journal.export import open_export, zip_name, zip_stream
from vault.journal.listing import BUNDLES_REFUSED, EntryQuery, entries_answer
from vault.journal.log import StoredHashes, journal_root, journal_size
from vault.journal.visible import NotInJournal, VaultSource, read_anchors, read_handovers, read_tile, visible_page
from vault.rectification.service import ERASURE_PERSONAL
from vault.retention.holds import HOLD_PERSONAL
from vault.journal.tiles import TileError, parse_path
from vault_verify.merkle import consistency_proof, inclusion_proof

router = APIRouter(default_response_class=JSONResponse, tags=["journal"])
TEXT = {200: {"content": {"text/plain": {}}}}
BINARY = {200: {"content": {"application/octet-stream": {}}}}
IMMUTABLE = {"Cache-Control": "private, max-age=31536000, immutable"}  # authenticated: no shared cache


@router.get("/journal/checkpoint", responses={**TEXT, **PROBLEM_RESPONSES})
async def checkpoint(principal: Caller, vault: CurrentVault, request: Request):
    """The newest checkpoint as a C2SP signed note (c2sp.org/tlog-checkpoint)."""
    latest = await run_in_threadpool(latest_checkpoint, vault.reader)
    if latest is None:
        raise Problem(404, "no-checkpoint", "No checkpoint yet", "the journal has not been checkpointed yet; retry in a few seconds")
    return PlainTextResponse(latest["note"], headers={"Cache-Control": "no-cache"})


@router.get("/v1/journal/key", responses={**TEXT, **PROBLEM_RESPONSES})
async def verifier_key(principal: Caller, vault: CurrentVault, request: Request):
    """The note verifier key of the checkpoints: ``<name>+<key hash>+<base64 key>`` (c2sp.org/signed-note)."""
    return PlainTextResponse(vault.checkpointer.signer.verifier.vkey() + "\n")


@router.get("/journal/tile/{path:path}", responses={**BINARY, **PROBLEM_RESPONSES})
async def tile(principal: Caller, vault: CurrentVault, path: str, request: Request):
    """A hash tile ``tile/<L>/<N>[.p/<W>]`` or an entry bundle ``tile/entries/<N>[.p/<W>]`` (c2sp.org/tlog-tiles)."""
    try:
        wanted = parse_path("tile/" + path)
    except TileError as exc:
        raise Problem(404, "unknown-tile", "Unknown tile", str(exc)) from None
    if wanted.is_entries and not principal.all_tenants:
        await deny(request, principal, BUNDLES_REFUSED)
    try:
        body = await run_in_threadpool(read_tile, vault.reader, wanted)
    except NotInJournal as exc:
        raise Problem(404, "unknown-tile", "Unknown tile", str(exc)) from None
    return Response(body, media_type="application/octet-stream", headers=IMMUTABLE)


async def _on_tree(request: Request, compute):
    """Run ``compute(connection, journal size, stored hashes)`` in a worker thread on one read transaction."""
    def run():
        with get_vault(request).reader.connect() as connection:
            return compute(connection, journal_size(connection), StoredHashes(connection))

    return await run_in_threadpool(run)


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


@router.get("/v1/journal/anchors", responses=PROBLEM_RESPONSES)
async def anchors(principal: Caller, vault: CurrentVault, request: Request,
                  after: int = Query(-1, ge=-1, le=INT64_MAX, description="only anchors with a greater seq")):
    """Checkpoints timestamped by the TSA, oldest first; token n covers SHA-256(checkpoint n ‖ token n-1)."""
    return {"anchors": await run_in_threadpool(read_anchors, vault.reader, after)}


@router.get("/v1/journal/handovers", responses=PROBLEM_RESPONSES)
async def handovers(principal: Caller, vault: CurrentVault, request: Request):
    """The journal key changes, oldest first, each with its handover checkpoint (co-signed by the old key when it
    was available), for an auditor who pinned an older key to follow the chain forward (docs/journal.md)."""
    return {"handovers": await run_in_threadpool(read_handovers, vault.reader)}


@router.get("/v1/journal/proof/inclusion", responses=PROBLEM_RESPONSES)
async def proof_inclusion(principal: Caller, request: Request, index: int = Query(ge=0, le=INT64_MAX),
                          size: int = Query(ge=1, le=INT64_MAX)):
    """RFC 6962 §2.1.1 audit path of entry ``index`` in the tree of ``size`` entries, with that tree's root."""
    found = await _on_tree(request, lambda connection, current, hashes: None if size > current or index >= size else (
        journal_root(connection, size, hashes), inclusion_proof(index, size, hashes.hash_at)))
    if found is None:
        raise Problem(422, "invalid-request", "Invalid request", "need index < size ≤ the journal's size")
    root, proof = found
    return JSONResponse({"index": index, "size": size, "root": base64.b64encode(root).decode(), "proof": _b64(proof)})


@router.get("/v1/journal/proof/consistency", responses=PROBLEM_RESPONSES)
async def proof_consistency(principal: Caller, request: Request, old: int = Query(ge=1, le=INT64_MAX),
                            new: int = Query(ge=1, le=INT64_MAX)):
    """RFC 6962 §2.1.2 proof that the tree of ``new`` entries extends the tree of ``old`` entries."""
    found = await _on_tree(request, lambda connection, current, hashes: None if old > new or new > current else (
        journal_root(connection, old, hashes), journal_root(connection, new, hashes),
        consistency_proof(old, new, hashes.hash_at)))
    if found is None:
        raise Problem(422, "invalid-request", "Invalid request", "need 1 ≤ old ≤ new ≤ the journal's size")
    old_root, new_root, proof = found
    return JSONResponse({"old": old, "new": new, "old_root": base64.b64encode(old_root).decode(),
                         "new_root": base64.b64encode(new_root).decode(), "proof": _b64(proof)})


@router.get("/v1/journal/entries", responses=PROBLEM_RESPONSES)
async def entries(principal: Caller, vault: CurrentVault, request: Request,
                  start: int = Query(default=0, ge=0, le=INT64_MAX, alias="from"),
                  end: int | None = Query(default=None, ge=0, le=INT64_MAX, alias="to"),
                  object_id: str | None = Query(default=None, alias="object", max_length=64),
                  actor: str | None = Query(default=None, max_length=64), action: str | None = Query(default=None, max_length=48),
                  since: ArchiveTime | None = Query(default=None, description="entries journaled at or after"),
                  until: ArchiveTime | None = Query(default=None, description="entries journaled before"),
                  limit: int = Query(default=100, ge=1, le=1000),
                  proofs: bool = Query(default=False, description="inclusion proofs (always given to a tenant key)")):
    """Entries with ``from ≤ seq < to``, optionally by actor, action, object id or period, as their canonical JSON;
    a tenant's key sees its tenant's entries only, each with its RFC 6962 inclusion proof (docs/journal.md)."""
    page, excerpt, proofs = await journal_entries(
        principal, vault, EntryQuery(start, end, actor, action, object_id, None, limit, since, until), proofs)
    return JSONResponse(entries_answer(page, excerpt, proofs, principal.tenant))


async def journal_entries(principal: Principal, vault, query: EntryQuery, proofs: bool):
    """The page of ``query`` the caller may see (its tenant's entries only, always with proofs, for a tenant key):
    ``(page, excerpt or None, proofs given)``; the API's entries and the console's Journal page."""
    return await run_in_threadpool(visible_page, principal, vault.reader, query, proofs)


@router.get("/v1/journal/export", responses={200: {"content": {"application/zip": {}}}, **PROBLEM_RESPONSES})
async def export(principal: Caller, vault: CurrentVault, request: Request):
    """The offline export ``vault journal export`` writes, as one ZIP under ``vault-journal-<size>/`` (a tenant's
    key: the hash tiles and its own entries with their proofs, no entry bundle); ``vault journal verify`` replays
    it unpacked. Not journaled, like the reads it gathers."""
    return await export_response(principal, vault)


async def export_response(principal: Principal, vault) -> StreamingResponse:
    """The caller's journal export as a streamed ZIP (the API's and the console's download)."""
    try:
        opened = await run_in_threadpool(open_export, VaultSource(vault, principal))
    except NotInJournal as exc:
        raise Problem(404, "no-checkpoint", "No checkpoint yet", str(exc)) from None
    return StreamingResponse(zip_stream(opened), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{zip_name(opened)}.zip"', "Cache-Control": "no-store"})


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern=rf"^({'|'.join(PERSONAL_FILTERS + HOLD_PERSONAL + ERASURE_PERSONAL)}|{EXTRA_KIND})$",
                      description="every kind the journal pseudonymises: " + ", ".join(PERSONAL_FILTERS + HOLD_PERSONAL + ERASURE_PERSONAL)
                      + ", extra.<name>")
    value: str = Field(min_length=1, max_length=2000)  # a hold's reason is up to 2000 characters


@router.post("/v1/journal/erasures", responses=PROBLEM_RESPONSES)
async def erase_pseudonym(principal: Caller, vault: CurrentVault, body: ErasureRequest, request: Request):
    """Forget the clear value behind a journal pseudonym (a data subject's erasure request); the log is untouched."""
    rid = request_id(request)

    def unit(connection):
        name, removed = vault.pseudonyms.erase(connection, body.kind, body.value)
        append_entry(connection, AccessEvent(
            actor=principal.key_id, role=principal.role.value, tenant=principal.tenant, action=Action.PSEUDONYM_ERASED,
            request_id=rid, detail={"pseudonym": name, "kind": body.kind, "found": removed}), vault.clock.now())
        return name, removed

    name, removed = await run_in_threadpool(vault.writer.run, unit)
    return JSONResponse({"pseudonym": name, "erased": removed})
