"""The journal's read side: the latest signed checkpoint and the note verifier key (auditor and admin).

Tiles (c2sp.org/tlog-tiles), proofs and entry queries come in the next slice of the journal issue.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from vault.api.problems import Problem
from vault.api.schemas import PROBLEM_RESPONSES
from vault.api.security import authenticate, authorize, get_vault
from vault.auth.roles import Permission, Principal
from vault.journal.checkpoints import latest_checkpoint

router = APIRouter(tags=["journal"])
TEXT = {200: {"content": {"text/plain": {}}}}


@router.get("/journal/checkpoint", responses={**TEXT, **PROBLEM_RESPONSES})
async def checkpoint(request: Request, principal: Principal = Depends(authenticate)):
    """The newest checkpoint as a C2SP signed note (c2sp.org/tlog-checkpoint)."""
    await authorize(request, principal, Permission.READ_JOURNAL)
    latest = await run_in_threadpool(latest_checkpoint, get_vault(request).reader)
    if latest is None:
        raise Problem(404, "no-checkpoint", "No checkpoint yet", "the journal has not been checkpointed yet; retry in a few seconds")
    return PlainTextResponse(latest["note"], headers={"Cache-Control": "no-cache"})


@router.get("/v1/journal/key", responses={**TEXT, **PROBLEM_RESPONSES})
async def verifier_key(request: Request, principal: Principal = Depends(authenticate)):
    """The note verifier key of the checkpoints: ``<name>+<key hash>+<base64 key>`` (c2sp.org/signed-note)."""
    await authorize(request, principal, Permission.READ_JOURNAL)
    return PlainTextResponse(get_vault(request).checkpointer.signer.verifier.vkey() + "\n")
