"""The life of an alert, as Prometheus evaluates alerting rules: inactive → pending (the condition holds, for less
than the rule's ``for``) → firing → resolved (the condition no longer holds). A pending alert whose condition
stops holding goes back to inactive without a word; firing and resolved are the transitions people are told of.

Pure: :func:`step` takes the alerts known so far and one reading and returns the new alerts and the ones to
notify. Times are plain seconds from the caller's clock; wall-clock instants are given alongside for the payload.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from vault.monitoring.rules import Labels, Reading, Rule


@dataclass(frozen=True)
class Alert:
    name: str
    labels: Labels  # the rule instance's own labels (e.g. (("tsa", "https://tsa.example"),)), without alertname
    severity: str
    summary: str
    description: str
    state: str  # pending | firing | resolved
    active_since: float  # the caller's seconds when the condition started holding
    starts_at: datetime | None = None  # wall clock, when it fired
    ends_at: datetime | None = None  # wall clock, when it resolved

    @property
    def key(self) -> tuple[str, Labels]:
        return self.name, self.labels


@dataclass(frozen=True)
class Evaluation:
    alerts: dict[tuple[str, Labels], Alert]  # pending or firing now
    changed: list[Alert]  # fired or resolved by this evaluation: the ones to notify
    broken: list[str]  # rules whose condition raised (their alerts keep their state)


def step(alerts: dict[tuple[str, Labels], Alert], rules: tuple[Rule, ...], reading: Reading,
         wall: datetime) -> Evaluation:
    """Evaluate every rule once against ``reading`` (``wall``: the same instant on the wall clock). A rule whose
    condition raises is skipped for this round and named in ``broken``, so one broken metric never silences the
    others."""
    kept: dict[tuple[str, Labels], Alert] = {}
    changed: list[Alert] = []
    broken: list[str] = []
    for rule in rules:
        try:
            holding = rule.condition(reading)
        except Exception:  # noqa: BLE001 — see the docstring
            kept.update({key: alert for key, alert in alerts.items() if key[0] == rule.name})
            broken.append(rule.name)
            continue
        for labels, description in holding.items():
            known = alerts.get((rule.name, labels))
            if known is None or known.state == "resolved":
                known = Alert(rule.name, labels, rule.severity, rule.summary, description, "pending", reading.now)
            else:
                known = replace(known, description=description)
            if known.state == "pending" and reading.now - known.active_since >= rule.for_seconds:
                known = replace(known, state="firing", starts_at=wall)
                changed.append(known)
            kept[known.key] = known
        for key, alert in alerts.items():
            if key[0] == rule.name and key[1] not in holding and alert.state == "firing":
                changed.append(replace(alert, state="resolved", ends_at=wall))
    return Evaluation(kept, changed, broken)
