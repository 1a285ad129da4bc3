"""Expected chains of events, and the completeness of a case against one (pure functions, no I/O).

The default is the LRE chain of eIDAS art. 44 and the French Code des postes et des communications
électroniques (art. L.100, R.53-1 to R.53-4): the sender's deposit, the sending (first presentation to the
recipient), then one outcome — receipt (accepted), refusal, or negligence when the recipient did not accept
within 15 days. A step's deadline runs from the event time of the step before it; a missing step past its
deadline makes the case ``overdue``, before it ``incomplete``. Times are the events' own ``event_time`` (the
deposit time only for objects deposited without one).

An operator can replace the chain with a TOML file (``VAULT_CASE_CHAIN``)::

    id = "lre"
    title = "LRE sending"
    [[steps]]
    name = "deposit"
    events = ["deposit"]
    [[steps]]
    name = "sending"
    events = ["sending"]
    due = "P2D"            # after the step before
    [[steps]]
    name = "outcome"
    events = ["receipt", "refusal", "negligence"]
    due = "P16D"           # 15 days to accept, then 1 day for the negligence evidence
    [steps.earliest]
    negligence = "P15D"    # a negligence proof earlier than this after the step before is an anomaly
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Mapping

from vault.clock import iso_z
from vault.db.tables import EVENT_TYPES
from vault.retention.period import Period, PeriodError

COMPLETE, INCOMPLETE, OVERDUE = "complete", "incomplete", "overdue"


class ChainError(ValueError):
    """A chain definition that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Step:
    name: str
    events: tuple[str, ...]
    due: timedelta | None = None
    due_text: str | None = None
    earliest: Mapping[str, timedelta] = field(default_factory=dict)


@dataclass(frozen=True)
class Chain:
    id: str
    title: str
    steps: tuple[Step, ...]

    @property
    def fingerprint(self) -> str:
        """Identifies this definition, so that stored statuses computed with another one are recomputed."""
        shape = [[s.name, list(s.events), s.due_text, sorted((k, v.total_seconds()) for k, v in s.earliest.items())]
                 for s in self.steps]
        digest = hashlib.sha256(json.dumps([self.id, shape]).encode()).hexdigest()[:12]
        return f"{self.id}:{digest}"[:64]


@dataclass(frozen=True)
class Completeness:
    status: str
    missing: list[str]
    due_at: datetime | None
    anomalies: list[str]
    steps: list[dict]

    def as_dict(self) -> dict:
        return {"status": self.status, "missing": self.missing, "due_at": iso_z(self.due_at),
                "anomalies": self.anomalies, "steps": self.steps}


LRE_CHAIN = Chain("lre", "LRE sending (eIDAS art. 44): deposit, sending, then receipt, refusal or negligence", (
    Step("deposit", ("deposit",)),
    Step("sending", ("sending",), timedelta(days=2), "P2D"),
    Step("outcome", ("receipt", "refusal", "negligence"), timedelta(days=16), "P16D",
         {"negligence": timedelta(days=15)}),
))


def load_chain(path: Path | None) -> Chain:
    """The chain in ``path`` (TOML, see the module docstring), or the default LRE chain when ``path`` is None."""
    if path is None:
        return LRE_CHAIN
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ChainError(f"{path}: {exc}") from None
    return parse_chain(data, str(path))


def parse_chain(data: dict, where: str = "chain") -> Chain:
    if not isinstance(data.get("id"), str) or not data["id"]:
        raise ChainError(f"{where}: 'id' must be a non-empty string")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ChainError(f"{where}: 'steps' must be a non-empty list of tables")
    steps = []
    for n, raw in enumerate(raw_steps):
        at = f"{where}: steps[{n}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise ChainError(f"{at}: each step needs a 'name'")
        events = raw.get("events")
        if not isinstance(events, list) or not events or any(e not in EVENT_TYPES for e in events):
            raise ChainError(f"{at}: 'events' must list event types among {', '.join(EVENT_TYPES)}")
        due = _duration(raw.get("due"), f"{at}.due")
        if due is not None and n == 0:
            raise ChainError(f"{at}: the first step has no step before it to run a deadline from")
        earliest = raw.get("earliest", {})
        if not isinstance(earliest, dict) or any(e not in events for e in earliest):
            raise ChainError(f"{at}.earliest: keys must be events of this step")
        steps.append(Step(raw["name"], tuple(events), due, raw.get("due"),
                          {k: _duration(v, f"{at}.earliest.{k}") for k, v in earliest.items()}))
    return Chain(data["id"], str(data.get("title", data["id"])), tuple(steps))


def _duration(text, where: str) -> timedelta | None:
    if text is None:
        return None
    try:
        return Period.parse(text).exact()
    except PeriodError as exc:
        raise ChainError(f"{where}: {exc}") from None


def first_events(rows) -> dict[str, datetime]:
    """The earliest time of each event type among a case's objects (``event_type``, ``timeline_at``)."""
    first: dict[str, datetime] = {}
    for row in rows:
        at = row["timeline_at"]
        if row["event_type"] not in first or at < first[row["event_type"]]:
            first[row["event_type"]] = at
    return first


def evaluate(chain: Chain, first_events: Mapping[str, datetime], now: datetime) -> Completeness:
    """Completeness of a case whose earliest event of each type is ``first_events`` (type → time), at ``now``.

    A step is present when any of its events is. The deadline of the first missing step runs from the time of the
    step before it (when that one is present); past it the case is overdue. Events out of order (an outcome
    before the sending) or too early (a negligence before 15 days) are anomalies: reported, never hidden.
    """
    missing, anomalies, steps = [], [], []
    due_at: datetime | None = None
    previous: datetime | None = None
    previous_name: str | None = None
    for step in chain.steps:
        present = {e: first_events[e] for e in step.events if e in first_events}
        at = min(present.values()) if present else None
        deadline = previous + step.due if previous is not None and step.due is not None else None
        steps.append({"step": step.name, "events": list(step.events), "present": sorted(present),
                      "at": iso_z(at), "due_at": iso_z(deadline)})
        if at is None:
            missing.append(step.name)
            if deadline is not None and due_at is None:
                due_at = deadline
        elif previous is not None:
            if at < previous:
                anomalies.append(f"{step.name} ({iso_z(at)}) is earlier than {previous_name} ({iso_z(previous)})")
            for event, minimum in step.earliest.items():
                if event in present and present[event] < previous + minimum:
                    anomalies.append(f"{event} at {iso_z(present[event])} is less than {_days(minimum)} after "
                                     f"{previous_name} ({iso_z(previous)})")
        if at is not None:
            previous, previous_name = at, step.name
    if not missing:
        status = COMPLETE
    elif due_at is not None and now >= due_at:
        status = OVERDUE
    else:
        status = INCOMPLETE
    return Completeness(status, missing, due_at if missing else None, anomalies, steps)


def _days(delta: timedelta) -> str:
    return f"{delta.days} days" if delta.days * 86400 == delta.total_seconds() else str(delta)
