"""A probe run in the background at most every ``interval`` seconds, whose last verdict is read without waiting.

``/ready`` must answer at once even when what it watches hangs (a TSA that accepts the connection and never
answers, a store behind a dead route): the probe runs on its own thread, one at a time, and a run that takes
longer than ``timeout`` is itself the verdict.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


class CachedProbe:
    """``verdict()`` returns the last answer of ``probe()`` (a ``/ready`` check value: ``ok``, ``degraded: …``,
    ``failing: …``) and starts a new run when that answer is older than ``interval`` seconds."""

    def __init__(self, name: str, probe: Callable[[], str], interval: float, timeout: float,
                 monotonic: Callable[[], float] = time.monotonic, first: str = "ok"):
        self.name, self._probe, self.interval, self.timeout = name, probe, interval, timeout
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._verdict, self._at = first, float("-inf")
        self._running_since: float | None = None

    def verdict(self) -> str:
        now = self._monotonic()
        with self._lock:
            running = self._running_since
            if running is None and now - self._at >= self.interval:
                self._running_since = now
                threading.Thread(target=self._run, name=f"vault-probe-{self.name}", daemon=True).start()
            verdict = self._verdict
        if running is not None and now - running > self.timeout:
            return f"degraded: {self.name} did not answer within {self.timeout:g} s"
        return verdict

    def note(self, verdict: str) -> None:
        """Take a verdict seen elsewhere (a real exchange that just succeeded or failed) as a fresh probe."""
        with self._lock:
            self._verdict, self._at = verdict, self._monotonic()

    def _run(self) -> None:
        try:
            verdict = self._probe()
        except Exception as exc:  # noqa: BLE001 — a probe that breaks says so in the verdict, not in a traceback
            verdict = f"degraded: {self.name} probe failed: {exc.__class__.__name__}: {exc}"
        with self._lock:
            self._verdict, self._at, self._running_since = verdict, self._monotonic(), None
