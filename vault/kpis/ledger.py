"""The KPI ledger: per-case facts and per-span counts folded from the deposits in order, and the queries over them.

The fold follows ``seal_seq`` from its own watermark (:mod:`vault.jobs.follower`), like the case tracker: each pass
reads the new deposits once, updates the facts of the cases they touch (``kpi_cases``) and adds the difference
each case makes to the spans of hours that contain its ``at`` (``kpi_spans``, ``kpi_span_delays``; per tenant and
for all tenants, :mod:`vault.kpis.spans`) — additive deltas, so a late receipt moves a sending from pending to
delivered where its sending is counted. A query reads the whole hours of the period as at most ~30 spans and its
partial first and last hours from ``kpi_cases`` by the ``(tenant, at)`` / ``(at)`` indexes: its cost is bounded by
the spans and one hour's cases at each end, never by the catalog or the length of the period. Readers are current
to the last fold (every second in the embedded default).

Failed deposits live in memory (``vault.deposit_outcomes``); every process adds what it counted since its last
flush to ``kpi_failed_deposits`` (per tenant and UTC day) every second, so the KPI survives restarts.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import Engine, Table, and_, bindparam, func, or_, select

from vault.clock import iso_z
from vault.db.tables import ArchivedObject, KpiCase, KpiFailedDeposit, KpiSpan, KpiSpanDelay, TrackerState
from vault.jobs.follower import BackgroundFold, dialect_insert, follow, rows_by_case, under_lock
from vault.kpis.measures import COUNTS, FACTS, Totals, case_at, contribution, facts_of, indicators
from vault.kpis.spans import ALL_TENANTS, cover, hour_of, hour_start, roll_up, whole_hours
from vault.lre.events import reports_technical_failure
from vault.monitoring.samples import Sample

OBJECTS = ArchivedObject.__table__
CASES, SPANS, DELAYS, FAILED = KpiCase.__table__, KpiSpan.__table__, KpiSpanDelay.__table__, KpiFailedDeposit.__table__
STATE = TrackerState.__table__
WATERMARK = "kpis"
BATCH = 20_000
FACT_OF_EVENT = {"sending": "sent_at", "receipt": "receipt_at", "refusal": "refusal_at", "negligence": "negligence_at"}
ROLLING = timedelta(days=30)


def day_of(at: datetime) -> str:
    return at.astimezone(timezone.utc).date().isoformat()


class KpiLedger:
    """``engine`` reads; ``fold_engine`` (writer-mode) folds in :meth:`catch_up` and flushes failed deposits in
    :meth:`persist_failed_deposits`; ``outcomes`` is the process's ``DepositOutcomes``; ``overdue(tenant)`` counts the
    overdue cases (the case tracker's)."""

    def __init__(self, engine: Engine, clock, outcomes, overdue: Callable[[str | None], int], locks=None,
                 fold_engine: Engine | None = None):
        self.engine = engine
        self.fold_engine = fold_engine or engine
        self._clock = clock
        self.outcomes = outcomes
        self.overdue = overdue
        self.locks = locks
        self._flushed: Counter[str] = Counter()
        self._flush_lock = threading.Lock()
        self.follower = BackgroundFold("kpis", self.catch_up)
        self.persister = BackgroundFold("kpi-failed-deposits", self.persist_failed_deposits)

    # --- folding ------------------------------------------------------------------------------------------------

    def catch_up(self) -> int:
        """Fold every deposit made since the last pass; returns how many were read."""
        return under_lock(self.locks, "kpis", lambda: follow(
            self.fold_engine, WATERMARK, lambda start, limit: self._deposits(start).limit(limit),
            lambda row: row.seal_seq, self._fold, BATCH))

    @staticmethod
    def _deposits(start: int):
        return (select(OBJECTS.c.seal_seq, OBJECTS.c.tenant, OBJECTS.c.case_ref, OBJECTS.c.event_type,
                       OBJECTS.c.timeline_at, OBJECTS.c.extracted)
                .where(OBJECTS.c.seal_seq >= start).order_by(OBJECTS.c.seal_seq))

    @staticmethod
    def _fact(row) -> str | None:
        if row.event_type in FACT_OF_EVENT:
            return FACT_OF_EVENT[row.event_type]
        evidence = (row.extracted or {}).get("evidence_event")
        name = evidence.get("value") if isinstance(evidence, dict) else None
        return "failure_at" if reports_technical_failure(name, row.event_type) else None

    def _fold(self, connection, rows) -> None:
        touched: dict[tuple[str, str], list[tuple[str, datetime]]] = defaultdict(list)
        for row in rows:
            fact = self._fact(row)
            if fact is not None:
                touched[(row.tenant, row.case_ref)].append((fact, row.timeline_at))
        if not touched:
            return
        stored = rows_by_case(connection, CASES, list(touched))
        counts_by_hour: Counter = Counter()
        delays: Counter = Counter()
        changed = []
        for (tenant, case_ref), events in touched.items():
            row = stored.get((tenant, case_ref))
            old = {f: getattr(row, f) for f in FACTS if getattr(row, f) is not None} if row is not None else {}
            new = facts_of([*old.items(), *events])
            if new == old:
                continue
            for facts, sign in ((old, -1), (new, 1)):
                at = case_at(facts)
                if at is None:
                    continue
                counts, bucket = contribution(facts)
                for name, n in counts.items():
                    counts_by_hour[(tenant, hour_of(at), name)] += sign * n
                if bucket is not None:
                    delays[(tenant, hour_of(at), bucket)] += sign
            changed.append({"tenant": tenant, "case_ref": case_ref, "at": case_at(new),
                            **{f: new.get(f) for f in FACTS}})
        if changed:
            statement = dialect_insert(connection, CASES)
            connection.execute(statement.on_conflict_do_update(
                index_elements=[CASES.c.tenant, CASES.c.case_ref],
                set_={k: statement.excluded[k] for k in ("at", *FACTS)}), changed)
        _add(connection, SPANS, ("tenant", "level", "start"), COUNTS, span_rows(counts_by_hour))
        _add(connection, DELAYS, ("tenant", "level", "start", "bucket"), ("count",), delay_rows(delays))

    def persist_failed_deposits(self) -> int:
        """Add the failed deposits counted in this process since the last call to today's rows; returns how many."""
        with self._flush_lock:
            delta = {tenant: n - self._flushed[tenant] for (tenant, outcome), n in self.outcomes.totals().items()
                     if outcome == "failed" and n > self._flushed[tenant]}
            if not delta:
                return 0
            day = day_of(self._clock.now())
            with self.fold_engine.begin() as connection:
                _add(connection, FAILED, ("tenant", "day"), ("failed",),
                     [{"tenant": t, "day": day, "failed": n} for t, n in delta.items()])
            self._flushed.update(delta)
            return sum(delta.values())

    def start(self, interval: float = 1.0, fold: bool = True) -> None:
        """Flush failed deposits (every process) and, when ``fold``, fold deposits every ``interval`` seconds."""
        self.persister.start(interval)
        if fold:
            self.follower.start(interval)

    def stop(self) -> None:
        self.follower.stop()
        self.persister.stop()
        try:
            self.persist_failed_deposits()
        except Exception:  # noqa: BLE001 — derived counts; at worst the last second's failures are not persisted
            pass

    # --- reading ------------------------------------------------------------------------------------------------

    def totals(self, tenant: str | None, start: datetime, end: datetime) -> dict[str, Totals]:
        """Summed counts per tenant of the cases dated in [start, end) (``tenant`` None: each tenant)."""
        with self.engine.connect() as connection:
            return self._read(connection, tenant, start, end, by_tenant=True)

    def summed(self, tenant: str | None, start: datetime, end: datetime) -> Totals:
        """Summed counts of ``tenant`` (None: all tenants together, from their ``*`` spans) over [start, end)."""
        with self.engine.connect() as connection:
            return self._read(connection, tenant, start, end, by_tenant=False).get(tenant, Totals())

    def _read(self, connection, tenant, start, end, by_tenant: bool) -> dict[str | None, Totals]:
        first, last = whole_hours(start, end)
        edges = [(start, end)] if first >= last else [(start, hour_start(first)), (hour_start(last), end)]
        out: dict[str | None, Totals] = defaultdict(Totals)
        key = (lambda row: row.tenant) if by_tenant else (lambda row: tenant)

        def scoped(query, table):
            return query if tenant is None else query.where(table.c.tenant == tenant)

        if first < last:
            spans = cover(first, last)
            every = by_tenant and tenant is None  # each tenant's own spans, not the archive's
            params = {"tenant": tenant or ALL_TENANTS,
                      **{f"level{i}": level for i, (level, _) in enumerate(spans)},
                      **{f"start{i}": at for i, (_, at) in enumerate(spans)}}
            for row in connection.execute(_over_spans(SPANS, len(spans), every), params):
                out[key(row)].add_counts(row)
            for row in connection.execute(_over_spans(DELAYS, len(spans), every), params):
                out[key(row)].histogram[row.bucket] += int(row.n)
        for low, high in edges:
            if low >= high:
                continue
            query = select(CASES.c.tenant, *(CASES.c[f] for f in FACTS)).where(CASES.c.at >= low, CASES.c.at < high)
            for row in connection.execute(scoped(query, CASES)):
                counts, bucket = contribution({f: getattr(row, f) for f in FACTS})
                out[key(row)].add_counts(dict(counts), bucket)
        query = (select(FAILED.c.tenant, func.sum(FAILED.c.failed).label("n"))
                 .where(FAILED.c.day >= day_of(start), FAILED.c.day <= day_of(end - timedelta(microseconds=1)))
                 .group_by(FAILED.c.tenant))
        for row in connection.execute(scoped(query, FAILED)):
            out[key(row)].failed_deposits += int(row.n)
        return dict(out)

    def report(self, tenant: str | None, start: datetime, end: datetime) -> dict[str, Any]:
        """The KPIs of docs/kpis.md for ``tenant`` (None: all tenants together) over [start, end)."""
        summed = self.summed(tenant, start, end)
        with self.engine.connect() as connection:
            folded = connection.execute(select(STATE.c.position).where(STATE.c.name == WATERMARK)).scalar() or 0
        return {"tenant": tenant, "from": iso_z(start), "to": iso_z(end), **indicators(summed),
                "overdue_cases": self.overdue(tenant), "folded_deposits": folded}

    def samples(self, now: datetime | None = None, window: timedelta = ROLLING, tenants: int = 100) -> list[Sample]:
        """The KPI gauges per tenant over the last ``window`` (default 30 days), for ``/metrics`` and alert rules:
        ``vault_kpi_sendings``, ``vault_kpi_{delivery,refusal,negligence,technical_failure}_rate`` and
        ``vault_kpi_acceptance_delay_seconds{quantile="0.5"|"0.9"}`` (a rate with no denominator is left out), for
        the ``tenants`` tenants with the most sendings (rates cannot be summed into an ``other`` series)."""
        end = now or self._clock.now()
        out = []
        busiest = sorted(self.totals(None, end - window, end).items(),
                         key=lambda item: (-indicators(item[1])["sendings"], item[0]))[:tenants]
        for tenant, totals in sorted(busiest):
            kpi = indicators(totals)
            out.append(Sample.of("vault_kpi_sendings", kpi["sendings"], tenant=tenant))
            for name in ("delivery_rate", "refusal_rate", "negligence_rate", "technical_failure_rate"):
                if kpi[name] is not None:
                    out.append(Sample.of(f"vault_kpi_{name}", kpi[name], tenant=tenant))
            for quantile in ("0.5", "0.9"):
                value = kpi[f"p{quantile[2]}0_acceptance_delay_seconds"]
                if value is not None:
                    out.append(Sample.of("vault_kpi_acceptance_delay_seconds", value, tenant=tenant,
                                         quantile=quantile))
        return out


def _add(connection, table, keys: tuple[str, ...], counters: tuple[str, ...], rows: list[dict]) -> None:
    """Insert ``rows``, or add their ``counters`` to the rows already there (additive upsert)."""
    if not rows:
        return
    statement = dialect_insert(connection, table)
    connection.execute(statement.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c: table.c[c] + statement.excluded[c] for c in counters}), rows)


@lru_cache(maxsize=256)
def _over_spans(table: Table, spans: int, every_tenant: bool):
    """The sums over ``spans`` spans (bound ``level0``/``start0`` …) of ``table`` (``kpi_spans``: the counts per
    tenant; ``kpi_span_delays``: per tenant and bucket) for tenant ``:tenant`` — or, ``every_tenant``, for each
    tenant but ``:tenant`` (the ``*`` rows). Built once per shape: building the OR of ~30 terms costs more than
    running it."""
    if table is SPANS:
        query = select(table.c.tenant, *(func.sum(table.c[c]).label(c) for c in COUNTS)).group_by(table.c.tenant)
    else:
        query = (select(table.c.tenant, table.c.bucket, func.sum(table.c.count).label("n"))
                 .group_by(table.c.tenant, table.c.bucket))
    tenant = table.c.tenant != bindparam("tenant") if every_tenant else table.c.tenant == bindparam("tenant")
    return query.where(tenant, or_(*(and_(table.c.level == bindparam(f"level{i}"),
                                          table.c.start == bindparam(f"start{i}")) for i in range(spans))))


def span_rows(counts_by_hour: Counter) -> list[dict]:
    """The ``kpi_spans`` deltas for count deltas keyed ``(tenant, hour, count name)``."""
    rows: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for (tenant, level, start, name), n in roll_up(counts_by_hour).items():
        rows[(tenant, level, start)][name] += n
    return [{"tenant": t, "level": level, "start": start, **c} for (t, level, start), c in rows.items()]


def delay_rows(delays: Counter) -> list[dict]:
    """The ``kpi_span_delays`` deltas for delay-count deltas keyed ``(tenant, hour, bucket)``."""
    return [{"tenant": t, "level": level, "start": start, "bucket": b, "count": n}
            for (t, level, start, b), n in roll_up(delays).items()]
