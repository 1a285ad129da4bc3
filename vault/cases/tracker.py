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

from sqlalchemy import Engine, and_, func, or_, select

from vault.cases.chains import Chain, evaluate
from vault.clock import iso_z, parse_iso
from vault.db.tables import ArchivedObject, CaseStatus
from vault.jobs.follower import dialect_insert, follow, under_lock

OBJECTS = ArchivedObject.__table__
STATUS = CaseStatus.__table__
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
    def __init__(self, engine: Engine, chain: Chain, clock, locks=None):
        self.engine = engine
        self.chain = chain
        self._clock = clock
        self.locks = locks

    def catch_up(self) -> int:
        """Fold every deposit made since the last pass into ``case_status``; returns how many were read."""
        return under_lock(self.locks, "cases", self._catch_up)

    def _catch_up(self) -> int:
        with self.engine.begin() as connection:
            self._recompute_stale(connection)
        return follow(self.engine, WATERMARK, lambda start, limit: (
            select(OBJECTS.c.seal_seq, OBJECTS.c.tenant, OBJECTS.c.case_ref, OBJECTS.c.event_type,
                   OBJECTS.c.timeline_at).where(OBJECTS.c.seal_seq >= start).order_by(OBJECTS.c.seal_seq)
            .limit(limit)), lambda row: row.seal_seq, self._fold, BATCH)

    def _fold(self, connection, rows) -> None:
        chain_events = {e for step in self.chain.steps for e in step.events}
        touched: dict[tuple[str, str], dict[str, datetime]] = {}
        for row in rows:
            events = touched.setdefault((row.tenant, row.case_ref), {})
            if row.event_type in chain_events:
                seen = events.get(row.event_type)
                if seen is None or row.timeline_at < seen:
                    events[row.event_type] = row.timeline_at
        keys = list(touched)
        stored = {}
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            condition = or_(*(and_(STATUS.c.tenant == t, STATUS.c.case_ref == c) for t, c in part))
            for found in connection.execute(select(STATUS.c.tenant, STATUS.c.case_ref, STATUS.c.first_events)
                                            .where(condition)):
                stored[(found.tenant, found.case_ref)] = {k: parse_iso(v) for k, v in found.first_events.items()}
        now = self._clock.now()
        for key, events in touched.items():
            merged = dict(stored.get(key, {}))
            for event, at in events.items():
                if event not in merged or at < merged[event]:
                    merged[event] = at
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

    def alerts(self, tenant: str | None, limit: int = 500, after: tuple[str, str] | None = None) -> list[Alert]:
        """Overdue cases (not complete, first missing step due before now), by due time, at most ``limit``."""
        now = self._clock.now()
        query = (select(STATUS).where(STATUS.c.complete.is_(False), STATUS.c.due_at <= now)
                 .order_by(STATUS.c.due_at, STATUS.c.tenant, STATUS.c.case_ref).limit(limit))
        if tenant is not None:
            query = query.where(STATUS.c.tenant == tenant)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        out = []
        for row in rows:
            result = evaluate(self.chain, {k: parse_iso(v) for k, v in row["first_events"].items()}, now)
            out.append(Alert(row["tenant"], row["case_ref"], result.missing, row["due_at"]))
        return out

    def overdue_count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(STATUS).where(
                STATUS.c.complete.is_(False), STATUS.c.due_at <= self._clock.now())).scalar_one()
