"""Liveness (``/health``) and readiness (``/ready``) probes; no key needed, nothing journaled."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vault import __version__
from vault.api.security import get_vault

router = APIRouter(tags=["health"])


@router.get("/health")
async def health():
    """The process is up."""
    return {"status": "ok", "version": __version__}


@router.get("/ready")
async def ready(request: Request):
    """The database answers and the blob store is writable; 503 otherwise."""
    checks = await run_in_threadpool(get_vault(request).ready)
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ok" if ok else "failing", "checks": checks}, status_code=200 if ok else 503)
