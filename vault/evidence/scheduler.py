"""The embedded seal scheduler: seals pending deposits every ``interval`` seconds or as soon as ``batch_max`` wait,
checks renewals periodically, and backs off exponentially while the TSA is unreachable.

Deposits never wait for it: a deposit is acknowledged as "seal pending" and sealed by the next batch. The state
it keeps (last success, last error, consecutive failures) feeds ``GET /v1/admin/crypto-inventory`` and
``GET /metrics``.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import OperationalError

from vault.db.outage import outage_reason

from vault.evidence.sealing import Sealer
from vault.timestamping.client import TsaUnavailable

log = logging.getLogger(__name__)
MAX_BACKOFF = 300.0


class SealingBusy(RuntimeError):
    """Another process holds the seal or renewal job."""


@dataclass
class SchedulerState:
    last_seal_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    batches_sealed: int = 0
    last_renewal_check_at: datetime | None = None


class SealScheduler:
    def __init__(self, sealer: Sealer, clock, interval: float, renewal_check_interval: float = 3600.0,
                 tick: float = 1.0):
        self.sealer = sealer
        self.clock = clock
        self.interval = interval
        self.renewal_check_interval = renewal_check_interval
        self.tick = tick
        self.state = SchedulerState()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.RLock()  # one sealing pass at a time (scheduler, admin endpoint, CLI in process)
        self.job_locks = None  # vault.jobs.coordination.JobLocks: one pass at a time across processes
        self._thread: threading.Thread | None = None
        self._next_attempt = 0.0
        self._last_pass = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="vault-sealer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)

    def kick(self) -> None:
        """Seal now instead of at the next interval (used after a burst of deposits and by tests)."""
        self._next_attempt = 0.0
        self._last_pass = 0.0
        self._wake.set()

    def _job(self, kind: str):
        return self.job_locks.hold(kind) if self.job_locks is not None else nullcontext(True)

    def exclusive(self, action):
        """Run ``action()`` while no other seal or renewal pass runs, in this process or another (admin requests);
        raises :class:`SealingBusy` when another process holds the job."""
        with self._lock, self._job("renewal") as mine:
            if not mine:
                raise SealingBusy("another vault process is re-sealing right now; retry in a moment")
            return action()

    def seal_all_pending(self) -> list[str]:
        """Seal every pending deposit, then every pending metadata record version, batch after batch; raises
        TsaUnavailable when the TSA is down."""
        sealed = []
        with self._lock, self._job("seal") as mine:
            if not mine:  # another process (API replica or worker) is sealing: it will take these deposits too
                return sealed
            try:
                while (batch := self.sealer.seal_pending()) is not None:
                    sealed.append(batch)
                while (batch := self.sealer.seal_records()) is not None:  # record versions sealed apart
                    sealed.append(batch)
            except TsaUnavailable as exc:
                self._failed(exc)
                raise
            self._succeeded(len(sealed))
        return sealed

    def _succeeded(self, batches: int) -> None:
        self.state.consecutive_failures = 0
        self.state.batches_sealed += batches
        if batches:
            self.state.last_seal_at = self.clock.now()

    def _failed(self, exc: Exception) -> None:
        self.state.consecutive_failures += 1
        self.state.last_error = str(exc)
        self.state.last_error_at = self.clock.now()

    def backoff_seconds(self) -> float:
        if not self.state.consecutive_failures:
            return 0.0
        return min(self.interval * 2 ** (self.state.consecutive_failures - 1), MAX_BACKOFF)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.tick)
            self._wake.clear()
            if self._stop.is_set():
                return
            now = time.monotonic()
            if now < self._next_attempt:
                continue
            try:
                due = now - self._last_pass >= self.interval
                if not due:
                    pending, _oldest = self.sealer.pending_count()
                    due = pending >= self.sealer.policy.batch_max
                if due:
                    self._last_pass = now
                    self.seal_all_pending()
                    self._check_renewals()
            except TsaUnavailable as exc:
                delay = self.backoff_seconds()
                self._next_attempt = time.monotonic() + delay
                log.warning("sealing postponed %.0f s: %s", delay, exc)
            except OperationalError as exc:  # the database went away: retried at the next interval
                self._next_attempt = time.monotonic() + self.interval
                log.warning("seal scheduler pass postponed: the database is unavailable (%s)",
                            outage_reason(exc))
            except Exception:  # a bug must not kill the scheduler thread
                log.exception("seal scheduler pass failed")
                self._next_attempt = time.monotonic() + self.interval

    def _check_renewals(self) -> None:
        now = self.clock.now()
        last = self.state.last_renewal_check_at
        if last is not None and (now - last).total_seconds() < self.renewal_check_interval:
            return
        with self._lock, self._job("renewal") as mine:
            if not mine:
                return
            report = self.sealer.renew_timestamps()
            if report.batches:
                log.info("timestamp renewal: %d chains in %d batches", report.renewed, len(report.batches))
            on_weak = [a for a in self.sealer.objects_by_newest_algorithm() if a in self.sealer.policy.weak]
            if on_weak:
                target = self.sealer.policy.sealing_algorithm()
                report = self.sealer.renew_hash_trees(target)
                log.info("hash-tree renewal to %s: %d objects", target, report.renewed)
        self.state.last_renewal_check_at = now
