"""Group commit: one writer thread runs many small units of work in one transaction and one commit.

A caller's future resolves only after the transaction holding its unit has committed, so an answer never claims a
write the database could still lose; one fsync serves a whole batch.

Units write through :func:`stage` instead of executing their INSERTs: on the fast path the writer sends each
table's staged rows at once at the end of the batch, so a batch of a hundred deposits costs a handful of
statements (each statement releases and re-takes the GIL, which under load costs far more than the statement
itself). The rows go straight to the driver through the columns' own bind processors, in multi-row statements
(:func:`vault.db.multirow.execute_many`, on SQLite and PostgreSQL): SQLAlchemy's per-row parameter handling cost
more than the database's insert. If anything in the fast path fails, the transaction is rolled back and the
batch is replayed on the safe path: every unit in its own SAVEPOINT with its rows executed at once, so one
unit's failure (a unique-key race, say) fails that unit alone.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterator

from sqlalchemy import Connection, Engine, Insert

from vault.db.multirow import execute_many
from vault.db.outage import outage_reason
from vault.db.pipeline import together
from vault.storage.headroom import is_out_of_space

log = logging.getLogger(__name__)

Unit = Callable[[Connection], Any]
BatchHook = Callable[[Connection], None]

_STOP = object()
_EXPECT_POLL = 0.0005  # seconds between looks at the announced units while a commit is delayed
_SEQUENCES = "vault.sequences"
_STAGED = "vault.staged"
_CARRIED = "vault.carried"
_NOW = "vault.now"
_BATCH_STATE = (_SEQUENCES, _NOW, "vault.journal.appender")  # per-transaction caches, dropped at batch start and on rollback


def _forget(connection: Connection) -> None:
    for key in _BATCH_STATE:
        connection.info.pop(key, None)
    state = connection.info.get(_CARRIED)
    if state is not None:
        state.clear()


def carried(connection: Connection) -> dict[str, Any] | None:
    """Inside a writer transaction, state its units keep for the writer's next transaction (the journal's right
    edge): it reaches that transaction only if this one commits and no unit of it rolled back. None outside."""
    return connection.info.get(_CARRIED)


class WriterStopped(RuntimeError):
    pass


def next_in_sequence(connection: Connection, name: str, query) -> int:
    """The next value of a dense sequence (journal seq, seal seq) within the writer's transaction.

    The first call in a batch reads ``query`` (the current maximum + 1); later calls count in memory. The counters
    are forgotten at each batch start and whenever a unit rolls back, so a failed unit leaves no gap and rows
    written by another process between batches are seen.
    """
    counters = connection.info.setdefault(_SEQUENCES, {})
    value = counters.get(name)
    if value is None:
        value = connection.execute(query).scalar_one()
    counters[name] = value + 1
    return value


def transaction_time(connection: Connection, clock) -> datetime:
    """``clock.now()``, read once per writer transaction: the units of one batch share it (and whatever is
    derived from it, memoized by identity). Outside the writer, the clock's time at each call."""
    if connection.info.get(_CARRIED) is None:
        return clock.now()
    now = connection.info.get(_NOW)
    if now is None:
        now = connection.info[_NOW] = clock.now()
    return now


def stage(connection: Connection, statement: Insert, row: dict[str, Any]) -> None:
    """Insert ``row`` as part of the current unit: batched on the fast path, at once on the safe path."""
    staged = connection.info.get(_STAGED)
    if staged is None:
        connection.execute(statement, row)
    else:
        staged[statement].append(row)


def stage_rows(connection: Connection, statement: Insert, rows: list[dict[str, Any]]) -> None:
    """:func:`stage` for several rows of one statement."""
    staged = connection.info.get(_STAGED)
    if staged is None:
        connection.execute(statement, rows)
    else:
        staged[statement].extend(rows)


class BatchWriter:
    """Single-writer group commit over ``engine``; ``before_batch`` runs first in each transaction (e.g. a lock)."""

    def __init__(self, engine: Engine, *, max_batch: int = 256, before_batch: BatchHook | None = None,
                 barrier: Callable[[], None] | None = None, commit_delay: float = 0.0,
                 barrier_pending: Callable[[], bool] | None = None):
        """``barrier`` runs in a helper thread while each batch executes and must finish before its commit (the
        blob store's durability barrier: the filesystem flush overlaps the SQL work instead of preceding it).

        ``commit_delay`` (seconds) is PostgreSQL's ``commit_delay`` with ``commit_siblings``: while callers have
        announced units still on their way (:meth:`expecting`: a deposit being received), the writer waits up to
        that long for them before it begins, so that one transaction, one fsync and one barrier serve more of
        them; with nothing announced it never waits. On two cores, 2 ms took deposit batches from ~2.5 to ~9
        deposits and cut the server's CPU per deposit by about a tenth (bench/ingest.py)."""
        self._engine = engine
        self._max_batch = max_batch
        self._commit_delay = commit_delay
        self._expected = 0
        self._expected_lock = threading.Lock()
        self._before_batch = before_batch
        self._barrier = barrier
        self._barrier_pending = barrier_pending
        self._barrier_pool = ThreadPoolExecutor(1, thread_name_prefix="vault-barrier") if barrier else None
        self._queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="vault-db-writer", daemon=True)
        self._stopped = False
        self._carried: dict[str, Any] = {}
        self._failing: tuple[str, int] | None = None  # (why, batches failed since the first) while batches fail
        self._thread.start()

    def submit(self, unit: Unit) -> "Future[Any]":
        if self._stopped:
            raise WriterStopped("the database writer is stopped")
        future: Future[Any] = Future()
        self._queue.put((unit, future))
        return future

    @contextmanager
    def expecting(self) -> Iterator[None]:
        """Announce a unit that will be submitted before the block ends (or not at all, if it fails)."""
        with self._expected_lock:
            self._expected += 1
        try:
            yield
        finally:
            with self._expected_lock:
                self._expected -= 1

    def run(self, unit: Unit, timeout: float | None = 60) -> Any:
        """Submit and wait (for synchronous callers)."""
        return self.submit(unit).result(timeout)

    def close(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
            if self._barrier_pool:
                self._barrier_pool.shutdown(wait=True)

    def _take_batch(self) -> tuple[list[tuple[Unit, Future]], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch = [first]
        deadline = time.monotonic() + self._commit_delay if self._commit_delay and self._expected else None
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                if deadline is None or not self._expected:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:  # in short slices: stop waiting as soon as nothing more is announced
                    item = self._queue.get(timeout=min(left, _EXPECT_POLL))
                except queue.Empty:
                    continue
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self) -> None:
        while True:
            batch, stop = self._take_batch()
            batch = [(unit, future) for unit, future in batch if future.set_running_or_notify_cancel()]
            if batch:
                self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[Unit, Future]]) -> None:
        try:
            results = self._fast(batch)
        except Exception:
            log.debug("fast path failed for a batch of %d; replaying unit by unit", len(batch), exc_info=True)
        else:
            self._condition_over()
            for (_unit, future), result in zip(batch, results):
                future.set_result(result)
            return
        try:
            outcomes = self._safe(batch)
        except Exception as exc:  # the transaction itself failed: nothing of this batch was written
            if is_out_of_space(exc):  # an operator's condition, told in one line (and /ready says it too)
                self._condition(f"the disk is full ({exc.__class__.__name__})", len(batch))
            elif (reason := outage_reason(exc)) is not None:  # the database went away: one line, no traceback
                self._condition(f"the database is unavailable ({reason})", len(batch))
            else:
                log.exception("database batch of %d units failed", len(batch))
            for _unit, future in batch:
                future.set_exception(exc)
            return
        self._condition_over()
        for (_unit, future), (ok, value) in zip(batch, outcomes):
            (future.set_result if ok else future.set_exception)(value)

    def _condition(self, what: str, units: int) -> None:
        """A batch failed for an operator's condition (full disk, database away): said once when it begins, not
        once per batch (a retrying client makes hundreds a minute); :meth:`_condition_over` says when it ends."""
        kind = what.split(" (")[0]
        if self._failing is None or self._failing[0] != kind:
            log.error("database batch of %d units failed: %s; further failures for the same reason are counted, "
                      "and logged when it ends", units, what)
            self._failing = (kind, 0)
        else:
            self._failing = (kind, self._failing[1] + 1)

    def _condition_over(self) -> None:
        if self._failing is not None:
            kind, more = self._failing
            self._failing = None
            log.warning("database batches commit again (%s before, %d more batch(es) failed since the first)", kind,
                        more)

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One batch's transaction, with fresh per-batch caches and the state carried from the last commit."""
        state, self._carried = self._carried, {}  # given back only once this transaction has committed
        with self._engine.begin() as connection:
            _forget(connection)
            connection.info.pop(_STAGED, None)
            connection.info[_CARRIED] = state
            try:
                if self._before_batch:
                    self._before_batch(connection)
                yield connection
            finally:
                connection.info.pop(_CARRIED, None)
        self._carried = state

    def _start_barrier(self) -> "Future[None] | None":
        """The barrier, started in its thread — unless ``barrier_pending`` says it has nothing to do (a batch of
        journal entries names no blob: no thread to wake)."""
        if self._barrier_pool is None or (self._barrier_pending is not None and not self._barrier_pending()):
            return None
        return self._barrier_pool.submit(self._barrier)

    @staticmethod
    def _await_barrier(barrier: "Future[None] | None") -> None:
        if barrier is not None:
            barrier.result()  # raises inside the transaction: nothing of the batch commits

    def _fast(self, batch: list[tuple[Unit, Future]]) -> list[Any]:
        barrier = self._start_barrier()
        with self._transaction() as connection:
            staged: dict[Insert, list[dict]] = defaultdict(list)
            connection.info[_STAGED] = staged
            try:
                results = [unit(connection) for unit, _future in batch]
            finally:
                connection.info.pop(_STAGED, None)
            filled = [(statement, rows) for statement, rows in staged.items() if rows]
            with together(connection, len(filled)):  # PostgreSQL: one round trip for them all
                for statement, rows in filled:
                    execute_many(connection, statement, rows)
            self._await_barrier(barrier)
        return results

    def _safe(self, batch: list[tuple[Unit, Future]]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        barrier = self._start_barrier()
        with self._transaction() as connection:
            for unit, _future in batch:
                savepoint = connection.begin_nested()
                try:
                    result = unit(connection)
                    savepoint.commit()
                    outcomes.append((True, result))
                except Exception as exc:  # the unit's own failure: roll back its savepoint only
                    savepoint.rollback()
                    _forget(connection)
                    outcomes.append((False, exc))
            self._await_barrier(barrier)
        return outcomes
