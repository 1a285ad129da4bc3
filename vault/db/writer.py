"""Group commit: one writer thread runs many small units of work in one transaction and one commit.

Each unit runs inside its own SAVEPOINT, so one unit's failure (a unique-constraint race, say) fails that unit
alone. A caller's future resolves only after the transaction holding its unit has committed, so an answer never
claims a write the database could still lose. One fsync then serves a whole batch of deposits.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

Unit = Callable[[Connection], Any]
BatchHook = Callable[[Connection], None]

_STOP = object()


class WriterStopped(RuntimeError):
    pass


class BatchWriter:
    """Single-writer group commit over ``engine``; ``before_batch`` runs first in each transaction (e.g. a lock)."""

    def __init__(self, engine: Engine, *, max_batch: int = 256, before_batch: BatchHook | None = None):
        self._engine = engine
        self._max_batch = max_batch
        self._before_batch = before_batch
        self._queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="vault-db-writer", daemon=True)
        self._stopped = False
        self._thread.start()

    def submit(self, unit: Unit) -> "Future[Any]":
        if self._stopped:
            raise WriterStopped("the database writer is stopped")
        future: Future[Any] = Future()
        self._queue.put((unit, future))
        return future

    def run(self, unit: Unit, timeout: float | None = 60) -> Any:
        """Submit and wait (for synchronous callers)."""
        return self.submit(unit).result(timeout)

    def close(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._queue.put(_STOP)
            self._thread.join(timeout=30)

    def _take_batch(self) -> tuple[list[tuple[Unit, Future]], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch = [first]
        stop = False
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
                break
            batch.append(item)
        return batch, stop

    def _run(self) -> None:
        while True:
            batch, stop = self._take_batch()
            if batch:
                self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[Unit, Future]]) -> None:
        outcomes: list[tuple[Future, bool, Any]] = []
        try:
            with self._engine.begin() as connection:
                if self._before_batch:
                    self._before_batch(connection)
                for unit, future in batch:
                    if not future.set_running_or_notify_cancel():
                        continue
                    savepoint = connection.begin_nested()
                    try:
                        result = unit(connection)
                        savepoint.commit()
                        outcomes.append((future, True, result))
                    except Exception as exc:  # the unit's own failure: roll back its savepoint only
                        savepoint.rollback()
                        outcomes.append((future, False, exc))
        except Exception as exc:  # the commit itself failed: nothing in this batch was written
            log.exception("database batch of %d units failed", len(batch))
            for _unit, future in batch:
                if not future.done():
                    if future.running():
                        future.set_exception(exc)
                    else:
                        future.set_running_or_notify_cancel() and future.set_exception(exc)
            return
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
