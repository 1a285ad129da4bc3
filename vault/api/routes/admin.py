"""``/v1/admin``: forced re-sealing, the crypto inventory and fixity audits (admin only)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.access import Caller, CurrentVault
from vault.api.security import journal, request_id
from vault.catalog.formats import formats_held
from vault.evidence.status import crypto_inventory
from vault.limits import INT64_MAX
from vault.journal.entries import AccessEvent, Action
from vault.evidence.scheduler import SealingBusy
from vault.timestamping.client import TsaUnavailable
from vault.api.sandbox_answers import JSONResponse
from vault_verify.asn1 import algorithm_name

router = APIRouter(default_response_class=JSONResponse, prefix="/v1/admin", tags=["admin"])


class ResealRequest(BaseModel):
    kind: Literal["seal", "timestamp-renewal", "hash-tree-renewal"] = Field(
        description="seal: seal pending deposits now; timestamp-renewal: renew every open chain now; "
                    "hash-tree-renewal: start a new chain with `hash` for every object (RFC 4998 §5.2)")
    hash: str | None = Field(default=None, description="target algorithm of a hash-tree renewal, e.g. sha512")


@router.post("/reseal", responses=PROBLEM_RESPONSES)
async def reseal(principal: Caller, vault: CurrentVault, body: ResealRequest, request: Request):
    """Force a seal pass, a timestamp renewal or a hash-tree renewal now; answers what was done."""
    target = None
    if body.kind == "hash-tree-renewal":
        if not body.hash:
            raise Problem(422, "invalid-reseal", "Invalid re-seal request", "hash-tree-renewal needs 'hash', e.g. sha512")
        try:
            target = algorithm_name(body.hash)
        except ValueError as exc:
            raise Problem(422, "invalid-reseal", "Invalid re-seal request", str(exc)) from None
        if target in vault.sealer.policy.weak:
            raise Problem(422, "invalid-reseal", "Invalid re-seal request", f"{body.hash} is marked weak")
    await journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=principal.tenant,
                                       action=Action.RESEAL, request_id=request_id(request),
                                       detail={"requested": body.kind, "hash": target}))

    def run() -> dict:
        if body.kind == "seal":
            return {"batches": vault.seal_scheduler.seal_all_pending()}
        vault.seal_scheduler.seal_all_pending()
        if body.kind == "timestamp-renewal":
            return vault.sealer.renew_timestamps(force=True).as_dict()
        return vault.sealer.renew_hash_trees(target).as_dict()

    try:
        result = await run_in_threadpool(vault.seal_scheduler.exclusive, run)
    except TsaUnavailable as exc:
        raise Problem(503, "tsa-unavailable", "TSA unavailable", str(exc), headers={"Retry-After": "30"}) from None
    except SealingBusy as exc:
        raise Problem(409, "busy", "Busy", str(exc), headers={"Retry-After": "5"}) from None
    return {"kind": body.kind, **result}


@router.get("/crypto-inventory", responses=PROBLEM_RESPONSES)
async def inventory(principal: Caller, vault: CurrentVault, request: Request):
    """Objects per hash algorithm, TSA certificates and their expiry, renewals due, seal lag, alerts; and the PRONOM
    formats held over every tenant (``formats``: as ``GET /v1/formats``), so format obsolescence is watched too."""
    return await inventory_report(vault)


async def inventory_report(vault) -> dict:
    """The crypto inventory with the formats held over every tenant; the API's and the console's."""
    found = await run_in_threadpool(crypto_inventory, vault.sealer, vault.seal_scheduler.state, vault.clock.now())
    return {**found, "formats": await run_in_threadpool(formats_held, vault.reader, None)}


class AuditRequest(BaseModel):
    sample: int | None = Field(default=None, ge=1, le=INT64_MAX, description="audit this many blobs, least recently verified "
                                                               "first (default: every blob)")


@router.post("/audits", responses=PROBLEM_RESPONSES)
async def run_audit(principal: Caller, vault: CurrentVault, body: AuditRequest, request: Request):
    """Re-read every copy of every blob (or a sample) now, repair what is bad, and answer the summary."""
    return await run_in_threadpool(vault.copies.audit, body.sample)


@router.get("/audits/status", responses=PROBLEM_RESPONSES)
async def audit_status(principal: Caller, vault: CurrentVault, request: Request):
    """Stores, quorum, copies per store with their oldest verification, the last audit, alerts."""
    return await run_in_threadpool(vault.copies.status)
