"""``/v1/sandbox``: the sandbox's clock, moved forward by the platform admin (404 outside a sandbox; issue #23)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from vault.api.access import Caller, CurrentVault
from vault.api.problems import Problem
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.security import journal, request_id
from vault.clock import iso_z
from vault.journal.entries import AccessEvent, Action
from vault.sandbox import NOTICE, SandboxClock, SandboxError
from vault.api.sandbox_answers import JSONResponse

router = APIRouter(default_response_class=JSONResponse, prefix="/v1/sandbox", tags=["sandbox"])


class ClockAdvance(BaseModel):
    advance: str = Field(description="ISO 8601 duration to move the sandbox clock forward by, e.g. P11Y, P15D")


@router.post("/clock", responses=PROBLEM_RESPONSES)
async def advance_clock(principal: Caller, vault: CurrentVault, body: ClockAdvance, request: Request):
    """Move the sandbox clock forward (never back); the move is journaled as ``sandbox_clock_moved``."""
    clock = vault.clock
    if not isinstance(clock, SandboxClock):
        raise Problem(404, "not-found", "Not found", "this instance is not a sandbox (VAULT_SANDBOX is not set)")
    try:
        move = clock.advance(body.advance)
    except SandboxError as exc:
        raise Problem(422, "invalid-clock-move", "Invalid sandbox clock move", str(exc)) from None
    await journal(request, AccessEvent(actor=principal.key_id, role=principal.role.value, tenant=principal.tenant,
                                       action=Action.SANDBOX_CLOCK_MOVED, request_id=request_id(request),
                                       detail={"advance": body.advance, "from": iso_z(move.before),
                                               "to": iso_z(move.after)}))
    return {"sandbox": True, "notice": NOTICE, "advanced": body.advance, "before": iso_z(move.before),
            "now": iso_z(move.after), "offset_seconds": move.offset.total_seconds()}
