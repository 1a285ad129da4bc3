"""Deposit outcomes, counted as they are answered: ``stored`` (2xx), ``refused`` (4xx: the client's request was
wrong or not allowed) and ``failed`` (5xx and 507: the archive could not store a valid deposit — a technical
failure in the sense of the LRE providers' indicators).

Two views of the same events: cumulative counts by tenant and outcome (``vault_deposits_total``) and per-second
counts over the last hour, all tenants together, for rates over a sliding window (the technical-failure alert).
Thread-safe; nothing here does I/O.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Callable

OUTCOMES = ("stored", "refused", "failed")
HORIZON = 3600  # seconds of per-second history kept for window queries


def outcome_of(status: int) -> str:
    """The outcome a deposit answered with ``status`` counts as."""
    if status < 400:
        return "stored"
    if status < 500 and status != 507:
        return "refused"
    return "failed"


class DepositOutcomes:
    def __init__(self, clock: Callable[[], float] = time.monotonic, horizon: int = HORIZON):
        self._clock = clock
        self._horizon = horizon
        self._lock = threading.Lock()
        self._totals: Counter[tuple[str, str]] = Counter()
        self._seconds: dict[int, Counter[str]] = {}  # counts by outcome of each second that had deposits

    def record(self, tenant: str, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown deposit outcome {outcome!r}")
        second = int(self._clock())
        with self._lock:
            self._totals[(tenant, outcome)] += 1
            counts = self._seconds.get(second)
            if counts is None:
                counts = self._seconds[second] = Counter()
                if len(self._seconds) > self._horizon:  # forget the seconds past the horizon
                    for old in [s for s in self._seconds if s <= second - self._horizon]:
                        del self._seconds[old]
            counts[outcome] += 1

    def totals(self) -> dict[tuple[str, str], int]:
        """Deposits since start, by (tenant, outcome)."""
        with self._lock:
            return dict(self._totals)

    def window(self, seconds: float) -> dict[str, int]:
        """Deposits answered in the last ``seconds`` (at most the horizon), by outcome (every outcome present)."""
        now = int(self._clock())
        oldest = now - min(int(seconds), self._horizon) + 1
        result = dict.fromkeys(OUTCOMES, 0)
        with self._lock:
            for held, counts in self._seconds.items():
                if oldest <= held <= now:
                    for outcome, count in counts.items():
                        result[outcome] += count
        return result
