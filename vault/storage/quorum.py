"""The copy quorum of one deposit: how many stores must hold a blob before the deposit is acknowledged
(``VAULT_COPY_QUORUM``), settled once by the upload that decides it, with no thread waiting for it."""

from __future__ import annotations

import threading
from concurrent.futures import Future


class QuorumNotReached(RuntimeError):
    def __init__(self, quorum: int, got: int, failures: list[str]):
        super().__init__(f"only {got} of the {quorum} copies required could be made: {'; '.join(failures)}")
        self.quorum, self.got, self.failures = quorum, got, failures


class QuorumWait:
    """The quorum of one deposit's copies, settled once: ``result`` holds the rows when ``quorum`` stores hold the
    blob, :class:`QuorumNotReached` as soon as the uploads still running cannot reach it."""

    def __init__(self, quorum: int, rows: list[dict], pending: int):
        self.quorum, self.rows, self.pending, self.failures = quorum, rows, pending, []
        self.result: Future[list[dict]] = Future()
        self._lock = threading.Lock()
        self._settle()

    def add(self, row: dict | None, failure: str | None) -> bool:
        """Count one ended upload; False when the quorum was already settled (the caller records it itself)."""
        with self._lock:
            if self.result.done():
                return False
            self.pending -= 1
            if row is not None:
                self.rows.append(row)
            else:
                self.failures.append(failure)
            self._settle()
            return True

    def _settle(self) -> None:
        if len(self.rows) >= self.quorum:
            self.result.set_result(list(self.rows))
        elif len(self.rows) + self.pending < self.quorum:
            self.result.set_exception(QuorumNotReached(self.quorum, len(self.rows), self.failures))
