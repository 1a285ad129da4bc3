"""Liveness (``/health``), readiness (``/ready``) and ``/metrics``; no key needed, nothing journaled."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from vault.api.access import CurrentVault
from vault.journal.alerts import alert_counts
from vault.storage.fixity import open_counts

router = APIRouter(tags=["health"])


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
    """Prometheus text exposition: the seal lag (deposits waiting for a timestamp), sealing failures, overdue cases,
    security alerts by kind, open fixity alerts by kind, technical failures by problem, free disk space."""
    pending, oldest = await run_in_threadpool(vault.sealer.pending_count)
    state = vault.seal_scheduler.state
    lag = (vault.clock.now() - oldest).total_seconds() if oldest else 0.0
    overdue = await run_in_threadpool(vault.cases.overdue_count)
    alerts, fixity = await run_in_threadpool(_alert_counts, vault)
    lines = [
        "# HELP vault_seal_pending Deposits stored but not yet sealed by a timestamped batch.",
        "# TYPE vault_seal_pending gauge",
        f"vault_seal_pending {pending}",
        "# HELP vault_seal_lag_seconds Age of the oldest deposit waiting for its seal.",
        "# TYPE vault_seal_lag_seconds gauge",
        f"vault_seal_lag_seconds {lag:.3f}",
        "# HELP vault_seal_consecutive_failures Seal attempts failed in a row (TSA unreachable or refusing).",
        "# TYPE vault_seal_consecutive_failures gauge",
        f"vault_seal_consecutive_failures {state.consecutive_failures}",
        "# HELP vault_seal_batches_total Seal batches made by this process.",
        "# TYPE vault_seal_batches_total counter",
        f"vault_seal_batches_total {state.batches_sealed}",
        "# HELP vault_cases_overdue Cases whose expected chain of events is incomplete past its deadline.",
        "# TYPE vault_cases_overdue gauge",
        f"vault_cases_overdue {overdue}",
        "# HELP vault_security_alerts_total Security alerts raised (privileged key issued or rotated, destruction "
        "approved, hold released).",
        "# TYPE vault_security_alerts_total counter",
        *(f'vault_security_alerts_total{{kind="{kind}"}} {count}' for kind, count in alerts.items()),
        "# HELP vault_technical_failures_total Requests refused for a fault of the server, not of the client "
        "(insufficient-storage: the disk is below VAULT_MIN_FREE_BYTES or full).",
        "# TYPE vault_technical_failures_total counter",
        *(f'vault_technical_failures_total{{problem="{slug}"}} {count}'
          for slug, count in sorted(vault.technical_failures.items())),
        "# HELP vault_disk_free_bytes Free bytes on the data filesystem (measured at most a second ago).",
        "# TYPE vault_disk_free_bytes gauge",
        f"vault_disk_free_bytes {vault.headroom.space().free}",
        "# HELP vault_fixity_alerts_open Fixity alerts open now (a copy corrupt or missing, no good copy left).",
        "# TYPE vault_fixity_alerts_open gauge",
        *(f'vault_fixity_alerts_open{{kind="{kind}"}} {count}' for kind, count in fixity.items()),
    ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def _alert_counts(vault) -> tuple[dict[str, int], dict[str, int]]:
    with vault.reader.connect() as connection:
        return alert_counts(connection), open_counts(connection)
