"""Case completeness kept up to date from the deposits, in deposit order, for alerts and metrics.

The tracker follows ``seal_seq`` (the dense deposit ordinal) from a watermark, so it reads each deposit once and
costs the deposit path nothing. Per case it keeps the earliest time of each event type and, from the expected
chain (:mod:`vault.cases.chains`), whether the case is complete and when its first missing step falls due. A
case is *overdue* when it is not complete and that time has passed: ``GET /v1/alerts`` lists them. When the
chain definition changes, every stored status is recomputed from the kept event times (no object is re-read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from vault.cases.chains import Chain, evaluate
from vault.clock import iso_z, parse_iso
from vault.db.tables import ArchivedObject, CaseStatus, TrackerState
from vault.jobs.follower import BackgroundFold, dialect_insert, follow, rows_by_case, under_lock

OBJECTS = ArchivedObject.__table__
STATUS = CaseStatus.__table__
STATE = TrackerState.__table__
WATERMARK = "cases"
BATCH = 20_000


@dataclass(frozen=True)
class Alert:
    tenant: str
    case_ref: str
    missing: list[str]
    due_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"type": "case-overdue", "tenant": self.tenant, "case_ref": self.case_ref,
                "missing": self.missing, "due_at": iso_z(self.due_at)}


class CaseTracker:
    """``engine`` reads; ``fold_engine`` (writer-mode: ``BEGIN IMMEDIATE`` on SQLite) folds, only in :meth:`catch_up`,
    which the background follower (:meth:`start`, or ``vault worker``) calls and no read path does. Readers answer
    from the folded statuses plus the deposits past the watermark, read in one transaction, so they are current
    without writing (issue 19: a fold on a read path failed with "database is locked" under concurrent deposits)."""

    def __init__(self, engine: Engine, chain: Chain, clock, locks=None, fold_engine: Engine | None = None):
        self.engine = engine
        self.chain = chain
        self._clock = clock
        self.locks = locks
        self.fold_engine = fold_engine or engine
        self.follower = BackgroundFold("cases", self.catch_up)

    def catch_up(self) -> int:
        """Fold every deposit made since the last pass into ``case_status``; returns how many were read."""
        return under_lock(self.locks, "cases", self._catch_up)

    def start(self, interval: float = 1.0) -> None:
        """Fold in the background every ``interval`` seconds (the follower; readers only read)."""
        self.follower.start(interval)

    def stop(self) -> None:
        self.follower.stop()

    def _catch_up(self) -> int:
        with self.fold_engine.begin() as connection:
            self._recompute_stale(connection)
        return follow(self.fold_engine, WATERMARK, lambda start, limit: self._deposits(start).limit(limit),
                      lambda row: row.seal_seq, self._fold, BATCH)

    @staticmethod
    def _deposits(start: int):
        return (select(OBJECTS.c.seal_seq, OBJECTS.c.tenant, OBJECTS.c.case_ref, OBJECTS.c.event_type,
                       OBJECTS.c.timeline_at).where(OBJECTS.c.seal_seq >= start).order_by(OBJECTS.c.seal_seq))

    def _merged(self, connection, rows) -> dict[tuple[str, str], tuple[dict[str, datetime], Any]]:
        """Per case the deposits in ``rows`` touch: its earliest time of each chain event, the stored ones merged in,
        and its stored status row (None for a new case)."""
        chain_events = {e for step in self.chain.steps for e in step.events}
        touched: dict[tuple[str, str], dict[str, datetime]] = {}
        for row in rows:
            events = touched.setdefault((row.tenant, row.case_ref), {})
            if row.event_type in chain_events:
                seen = events.get(row.event_type)
                if seen is None or row.timeline_at < seen:
                    events[row.event_type] = row.timeline_at
        stored = rows_by_case(connection, STATUS, list(touched))
        out = {}
        for key, events in touched.items():
            row = stored.get(key)
            merged = {k: parse_iso(v) for k, v in row.first_events.items()} if row is not None else {}
            for event, at in events.items():
                if event not in merged or at < merged[event]:
                    merged[event] = at
            out[key] = (merged, row)
        return out

    def _fold(self, connection, rows) -> None:
        now = self._clock.now()
        for key, (merged, _row) in self._merged(connection, rows).items():
            self._write(connection, key, merged, now)

    def _write(self, connection, key: tuple[str, str], first_events: dict[str, datetime], now: datetime) -> None:
        result = evaluate(self.chain, first_events, now)
        values = {"tenant": key[0], "case_ref": key[1], "chain": self.chain.fingerprint,
                  "first_events": {k: iso_z(v) for k, v in sorted(first_events.items())},
                  "complete": not result.missing, "due_at": result.due_at}
        statement = dialect_insert(connection, STATUS).values(**values)
        connection.execute(statement.on_conflict_do_update(
            index_elements=[STATUS.c.tenant, STATUS.c.case_ref],
            set_={k: statement.excluded[k] for k in ("first_events", "chain", "complete", "due_at")}))

    def _recompute_stale(self, connection) -> None:
        """Statuses computed with another chain definition are recomputed from their kept event times."""
        now = self._clock.now()
        while True:
            stale = connection.execute(select(STATUS.c.tenant, STATUS.c.case_ref, STATUS.c.first_events)
                                       .where(STATUS.c.chain != self.chain.fingerprint).limit(1000)).all()
            if not stale:
                return
            for row in stale:
                self._write(connection, (row.tenant, row.case_ref),
                            {k: parse_iso(v) for k, v in row.first_events.items()}, now)

    def _overdue(self, connection, tenant: str | None, limit: int | None) -> tuple[list[Alert], int]:
        """The overdue cases (at most ``limit``, by due time) and how many there are: the folded statuses, with every
        case the deposits past the watermark touch re-evaluated from its stored event times merged with theirs."""
        now = self._clock.now()
        position = connection.execute(select(STATE.c.position).where(STATE.c.name == WATERMARK)).scalar() or 0
        tail = [row for row in connection.execute(self._deposits(position)).all()
                if tenant is None or row.tenant == tenant]
        fresh: list[Alert] = []
        was_overdue = 0
        for (t, c), (merged, row) in self._merged(connection, tail).items():
            if row is not None and not row.complete and row.due_at is not None and row.due_at <= now:
                was_overdue += 1
            result = evaluate(self.chain, merged, now)
            if result.missing and result.due_at is not None and result.due_at <= now:
                fresh.append(Alert(t, c, result.missing, result.due_at))
        query = select(STATUS).where(STATUS.c.complete.is_(False), STATUS.c.due_at <= now)
        if tenant is not None:
            query = query.where(STATUS.c.tenant == tenant)
        count = connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        count += len(fresh) - was_overdue
        if limit == 0:
            return [], count
        touched = {(a.tenant, a.case_ref) for a in fresh} | {(row.tenant, row.case_ref) for row in tail}
        rows = connection.execute(query.order_by(STATUS.c.due_at, STATUS.c.tenant, STATUS.c.case_ref)
                                  .limit(limit + len(touched))).mappings().all()
        out = [Alert(row["tenant"], row["case_ref"],
                     evaluate(self.chain, {k: parse_iso(v) for k, v in row["first_events"].items()}, now).missing,
                     row["due_at"])
               for row in rows if (row["tenant"], row["case_ref"]) not in touched]
        return sorted(out + fresh, key=lambda a: (a.due_at, a.tenant, a.case_ref))[:limit], count

    def alerts(self, tenant: str | None, limit: int = 500) -> list[Alert]:
        """Overdue cases (not complete, first missing step due before now), by due time, at most ``limit``;
        current to the last committed deposit. Writes nothing."""
        with self.engine.connect() as connection:
            return self._overdue(connection, tenant, limit)[0]

    def overdue_count(self, tenant: str | None = None) -> int:
        """How many cases (of ``tenant``, None: all) are overdue, current to the last committed deposit. Writes
        nothing."""
        with self.engine.connect() as connection:
            return self._overdue(connection, tenant, 0)[1]

