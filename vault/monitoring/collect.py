"""``collect(vault)``: every figure ``/metrics`` exposes, as :class:`~vault.monitoring.samples.Sample` values that
the in-process alert rules read too. Each source is cheap on a 10⁶-object archive: counts kept in memory, indexed
or small-table queries, and (renewals) a value recomputed at most every :data:`RENEWALS_MAX_AGE` seconds.

To add figures (the KPI gauges, ``vault_kpi_*``): write ``def source(vault) -> list[Sample]``, append it to
:data:`SOURCES` and declare its families in vault.monitoring.families.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any, Callable

from vault.journal.alerts import alert_counts
from vault.journal.anchors import latest_anchor_time
from vault.journal.checkpoints import latest_checkpoint
from vault.journal.entries import Action
from vault.journal.log import action_count, journal_size
from vault.monitoring.samples import Sample
from vault.retention.waiting import waiting_counts
from vault.storage.fixity import bytes_by_store, missing_by_store, open_counts, sightings

OTHER_TENANT = "other"
RENEWALS_MAX_AGE = 300.0  # seconds: the renewal check itself runs hourly
OVERDUE_AFTER = timedelta(days=1)  # a chain due longer than this (24 hourly checks) is overdue


class TtlCache:
    """Values recomputed at most every ``max_age`` seconds (thread-safe; one computation at a time per key)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, max_age: float, compute: Callable[[], Any]) -> Any:
        with self._lock:
            held = self._values.get(key)
            if held is not None and self._monotonic() - held[0] < max_age:
                return held[1]
            value = compute()
            self._values[key] = (self._monotonic(), value)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def bounded_tenants(totals: dict[tuple[str, str], int], limit: int) -> dict[tuple[str, str], int]:
    """Deposit totals with at most ``limit`` tenants by name, the first ones seen (``totals`` keeps first-seen
    order, so a tenant once named stays named and no series jumps to ``other``); the rest summed as ``other``."""
    named: set[str] = set()
    bounded: dict[tuple[str, str], int] = {}
    for (tenant, outcome), count in totals.items():
        if tenant not in named and len(named) < limit and tenant != OTHER_TENANT:
            named.add(tenant)
        key = (tenant if tenant in named else OTHER_TENANT, outcome)
        bounded[key] = bounded.get(key, 0) + count
    return bounded


def renewal_backlog(due_chains: list, due_imported: list, policy, now: datetime) -> tuple[int, int]:
    """(chains due for renewal, of which overdue): this archive's chains due longer than :data:`OVERDUE_AFTER`
    or whose newest token's TSA certificate expired (RFC 4998 §5.2)."""
    overdue = sum(1 for _start, _chain, newest in due_chains
                  if newest.tsa_not_after <= now
                  or policy.renewal_due(newest.gen_time, newest.tsa_not_after) <= now - OVERDUE_AFTER)
    return len(due_chains) + len(due_imported), overdue


def requests(vault) -> list[Sample]:
    totals = bounded_tenants(vault.deposit_outcomes.totals(), vault.settings.metrics_tenants)
    out = [Sample.of("vault_deposits_total", n, tenant=tenant, outcome=outcome)
           for (tenant, outcome), n in sorted(totals.items())]
    out += [Sample.of("vault_technical_failures_total", n, problem=slug)
            for slug, n in sorted(vault.technical_failures.items())]
    return out + vault.request_latency.samples("vault_http_request_duration_seconds")


def sealing(vault) -> list[Sample]:
    pending, oldest = vault.sealer.pending_count()
    state = vault.seal_scheduler.state
    now = vault.clock.now()

    def backlog() -> tuple[int, int]:
        sealer = vault.sealer
        return renewal_backlog(sealer.due_chains(), sealer.due_imported_chains(), sealer.policy, vault.clock.now())

    due, overdue = vault.metrics_cache.get("renewals", RENEWALS_MAX_AGE, backlog)
    return [Sample.of("vault_seal_pending", pending),
            Sample.of("vault_seal_lag_seconds", round((now - oldest).total_seconds(), 3) if oldest else 0.0),
            Sample.of("vault_seal_consecutive_failures", state.consecutive_failures),
            Sample.of("vault_seal_batches_total", state.batches_sealed),
            Sample.of("vault_renewals_due", due), Sample.of("vault_renewals_overdue", overdue)]


def archive_state(vault) -> list[Sample]:
    """What the database says: journal, checkpoints, anchors, fixity, disposal batches, security alerts."""
    now = vault.clock.now()
    with vault.reader.connect() as connection:
        size = journal_size(connection)
        checkpoint = latest_checkpoint(connection)
        anchored = latest_anchor_time(connection)
        audits = action_count(connection, Action.FIXITY_AUDIT.value)
        seen, fixity, missing = sightings(connection), open_counts(connection), missing_by_store(connection)
        disposal = waiting_counts(connection, now)
        alerts = alert_counts(connection)
    out = [Sample.of("vault_journal_entries", size),
           Sample.of("vault_journal_unsigned_entries", size - (checkpoint["size"] if checkpoint else 0))]
    if checkpoint:
        out.append(Sample.of("vault_checkpoint_age_seconds", (now - checkpoint["created_at"]).total_seconds()))
    if anchored:
        out.append(Sample.of("vault_anchor_age_seconds", (now - anchored).total_seconds()))
    out.append(Sample.of("vault_fixity_audits_total", audits))
    out += [Sample.of("vault_fixity_failures_total", n, kind=kind) for kind, n in seen.items()]
    out += [Sample.of("vault_fixity_alerts_open", n, kind=kind) for kind, n in fixity.items()]
    out += [Sample.of("vault_copies_missing", missing.get(store.name, 0), store=store.name)
            for store in vault.copies.stores]
    out += [Sample.of("vault_disposal_batches", n, state=state) for state, n in disposal.items()]
    out += [Sample.of("vault_security_alerts_total", n, kind=kind) for kind, n in alerts.items()]
    return out


STORE_BYTES_MAX_AGE = 600.0  # seconds: a scan of the copies, so at most every 10 minutes


def store_bytes(vault) -> list[Sample]:
    """Bytes held by each store (the local files and every S3 bucket), from the copies the archive recorded."""
    def compute() -> dict[str, int]:
        with vault.reader.connect() as connection:
            return bytes_by_store(connection, vault.store.name, vault.copies.names)
    held = vault.metrics_cache.get("store-bytes", STORE_BYTES_MAX_AGE, compute)
    return [Sample.of("vault_store_bytes", held.get(store.name, 0), store=store.name) for store in vault.copies.stores]


def host(vault) -> list[Sample]:
    space = vault.headroom.space()
    return [Sample.of("vault_disk_free_bytes", space.free), Sample.of("vault_disk_size_bytes", space.total),
            Sample.of("vault_cases_overdue", vault.cases.overdue_count())]


def timestamping(vault) -> list[Sample]:
    return vault.tsa_meter.samples()


KPI_MAX_AGE = 60.0  # seconds: KPIs over 30 days move slowly, and each computation reads every tenant's days


def kpis(vault) -> list[Sample]:
    """The LRE KPI gauges per tenant over the last 30 days (docs/kpis.md), at most VAULT_METRICS_TENANTS tenants."""
    return vault.metrics_cache.get("kpis", KPI_MAX_AGE, lambda: vault.kpis.samples(
        tenants=vault.settings.metrics_tenants))


def notifications(vault) -> list[Sample]:
    return vault.notifier.samples() if vault.notifier is not None else []


SOURCES: list[Callable[[Any], list[Sample]]] = [requests, timestamping, sealing, archive_state, host, store_bytes,
                                                 kpis,
                                                 notifications]


def collect(vault) -> list[Sample]:
    """Every sample, source by source (blocking: call from a worker thread, not the event loop)."""
    return [sample for source in SOURCES for sample in source(vault)]
