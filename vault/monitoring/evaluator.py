"""The embedded alerting loop: every ``interval`` seconds (30 at most) read the samples and the deposit outcomes
over the alert window, step the rules' state machine, and hand each rule's fired or resolved alerts to the
:class:`~vault.monitoring.delivery.Notifier` as one Alertmanager payload.

Runs on a thread of its own: deposits never wait for it, and a failing read is logged once until it works again.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Callable

from vault.monitoring.alerting import Alert, step
from vault.monitoring.payload import webhook_payload
from vault.monitoring.rules import GROWTH_LOOKBACK, Labels, Reading, Rule
from vault.monitoring.samples import Sample

log = logging.getLogger("vault.alerts")
HISTORY_STEP = 15.0  # seconds between the earlier readings kept for increase() and growth rules


class AlertEvaluator:
    def __init__(self, rules: tuple[Rule, ...], samples: Callable[[], list[Sample]],
                 deposits: Callable[[], dict[str, int]], notify: Callable[[dict], None], instance: str,
                 interval: float, *, wall: Callable[[], datetime], monotonic: Callable[[], float] = time.monotonic):
        self.rules, self.interval, self.instance = rules, interval, instance
        self._samples, self._deposits, self._notify = samples, deposits, notify
        self._wall, self._monotonic = wall, monotonic
        self.alerts: dict[tuple[str, Labels], Alert] = {}
        self._history: list[tuple[float, list[Sample]]] = []
        self._reported: set[str] = set()  # problems logged and not yet gone: logged once per burst
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def evaluate(self) -> list[Alert]:
        """One evaluation; returns the alerts that fired or resolved (and were handed to the notifier)."""
        try:
            samples, deposits = self._samples(), self._deposits()
        except Exception as exc:  # noqa: BLE001 — a failing read skips this round, logged once until it works
            self._report("read", f"alert evaluation cannot read the metrics ({exc.__class__.__name__})")
            return []
        self._reported.discard("read")
        now = self._monotonic()
        evaluation = step(self.alerts, self.rules, Reading(now, samples, deposits, tuple(self._history)), self._wall())
        self.alerts = evaluation.alerts
        for name in evaluation.broken:
            self._report(name, f"alert rule {name} failed to evaluate; its alerts keep their state")
        self._reported -= {r.name for r in self.rules} - set(evaluation.broken)
        self._remember(now, samples)
        by_rule: dict[str, list[Alert]] = {}
        for alert in evaluation.changed:
            by_rule.setdefault(alert.name, []).append(alert)
            log.warning("alert %s %s: %s", alert.name, alert.state, alert.description)
        for alerts in by_rule.values():
            self._notify(webhook_payload(alerts, self.instance))
        return evaluation.changed

    def _remember(self, now: float, samples: list[Sample]) -> None:
        if not self._history or now - self._history[-1][0] >= HISTORY_STEP:
            self._history.append((now, samples))
        while self._history and self._history[0][0] < now - GROWTH_LOOKBACK - HISTORY_STEP:
            self._history.pop(0)

    def _report(self, key: str, message: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            log.warning(message)

    def firing(self) -> list[Alert]:
        return [alert for alert in self.alerts.values() if alert.state == "firing"]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="vault-alert-evaluator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.evaluate()
            except Exception:  # noqa: BLE001 — the loop outlives any bug in one round
                self._report("loop", "alert evaluation failed; retrying every interval")
            self._stop.wait(self.interval)
