""""Verify the journal now": the whole-journal check of ``vault journal verify --data-dir``, in the background.

:func:`vault.journal.audit.audit_journal` recomputes every leaf and stored hash of the live journal and checks them
against every signed checkpoint and TSA anchor (RFC 6962, RFC 3161). On a large journal that takes a while, so each
console session runs at most one such check in a thread of its own and the Journal page shows its progress (entries
recomputed out of the journal's size when it started) until its report is in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from vault.journal.audit import audit_journal
from vault_verify.replay import JournalReport
from vault.journal.log import journal_size


@dataclass
class Verification:
    """One run: ``done`` of ``total`` entries recomputed; ``report`` once finished, ``error`` if it could not run."""

    total: int
    done: int = 0
    report: JournalReport | None = None
    error: str | None = None
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        return not self._finished.is_set()

    @property
    def percent(self) -> int:
        return 100 if not self.running else min(99, (100 * self.done) // max(self.total, 1))

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)


def _tsa_roots(vault) -> list:
    """The roots the service trusts and every root that issued one of its tokens (as ``vault journal verify``)."""
    return vault.tsa_roots() or None


class Verifications:
    """The latest verification of each console session (by session id)."""

    def __init__(self):
        self._runs: dict[str, Verification] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Verification | None:
        with self._lock:
            return self._runs.get(session_id or "")

    def start(self, session_id: str, vault) -> Verification:
        """Start a check for this session, unless one is still running (that one is answered)."""
        with self._lock:
            current = self._runs.get(session_id)
            if current is not None and current.running:
                return current
            with vault.reader.connect() as connection:
                run = Verification(total=journal_size(connection))
            self._runs[session_id] = run

        def work():
            try:
                run.report = audit_journal(vault.reader, vault.checkpointer.signer.verifier,
                                           tsa_roots=_tsa_roots(vault), progress=lambda n: setattr(run, "done", n))
                run.done = run.report.size
            except Exception as exc:  # a database gone away: the page says so, the thread ends cleanly
                run.error = f"{type(exc).__name__}: {exc}"
            finally:
                run._finished.set()

        threading.Thread(target=work, name="console-journal-verify", daemon=True).start()
        return run

    def forget(self, session_id: str | None) -> None:
        with self._lock:
            self._runs.pop(session_id or "", None)
