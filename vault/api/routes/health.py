"""Liveness (``/health``), readiness (``/ready``) and ``/metrics``; no key needed, nothing journaled."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from vault.api.access import CurrentVault
from vault.api.sandbox_answers import JSONResponse
from vault.monitoring.collect import collect
from vault.monitoring.exposition import CONTENT_TYPE, render
from vault.monitoring.families import FAMILIES

router = APIRouter(default_response_class=JSONResponse, tags=["health"])


@router.get("/health")
async def health():
    """The process is up. No version: this route needs no key, and a version tells a scanner which flaws to try
    (the operator reads it with ``vault --version`` or the package manager)."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(vault: CurrentVault, request: Request):
    """The database answers, the blob store is writable, the disk keeps its headroom (``VAULT_MIN_FREE_BYTES``), the
    vault is not read-only nor forked, and enough stores answer for the copy quorum; 503 otherwise, naming the
    failing check. ``degraded`` (still 200: the service answers, deposits wait for their seal, other copies serve)
    while a fixity alert is open, the TSA is unreachable, a store does not answer or blobs are below the quorum."""
    checks = await run_in_threadpool(vault.ready)
    # only a check that says "degraded" keeps the answer 200; any other value than "ok" fails it
    failing = any(value != "ok" and not value.startswith("degraded") for value in checks.values())
    status = "failing" if failing else "ok" if all(value == "ok" for value in checks.values()) else "degraded"
    return JSONResponse({"status": status, "checks": checks}, status_code=503 if failing else 200)


@router.get("/metrics", responses={200: {"content": {"text/plain": {}}}})
async def metrics(vault: CurrentVault, request: Request):
    """Prometheus text exposition (format 0.0.4) of :func:`vault.monitoring.collect.collect`: deposits by tenant
    and outcome, request and TSA latencies, seal lag and backlog, renewals, journal, checkpoint and anchor ages,
    fixity, copies, disk, disposal batches, security alerts (docs/monitoring.md)."""
    samples = await run_in_threadpool(collect, vault)
    return PlainTextResponse(render(samples, FAMILIES), media_type=CONTENT_TYPE)
