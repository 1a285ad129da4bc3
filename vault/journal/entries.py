"""Access-journal entries and the one function that appends them.

Every journaled action in vault goes through :func:`append_entry`, inside the database transaction of the action
itself where there is one (a deposit and its entry commit together or not at all). Each entry is a leaf of the
RFC 6962 Merkle log of :mod:`vault.journal.log`; ``seq`` is dense from 0 and is the leaf index.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any, Callable, Sequence

from sqlalchemy import Connection, insert

from vault.db.tables import JournalEntry
from vault.db.writer import stage_rows, transaction_time
from vault.journal.log import INSERT_HASH, LogAppender, entry_json, entry_time

_TABLE = JournalEntry.__table__


class Action(str, Enum):
    DEPOSIT = "deposit"
    READ_METADATA = "metadata_read"
    READ_CONTENT = "content_read"
    SEARCH = "search"
    LIST = "list"
    CASE_VIEW = "case_view"
    ACCESS_DENIED = "access_denied"
    KEY_CREATED = "key_created"
    PSEUDONYM_ERASED = "pseudonym_erased"
    SEAL = "seal"
    RESEAL = "reseal"
    EVIDENCE_EXPORT = "evidence_export"
    PACKAGE_EXPORT = "package_export"
    POLICY_LOAD = "policy_load"
    POLICY_REASSIGNED = "policy_reassigned"
    RETENTION_START = "retention_start_recorded"
    HOLD_SET = "hold_set"
    HOLD_RELEASED = "hold_released"
    DESTRUCTION_PROPOSED = "destruction_proposed"
    DESTRUCTION_APPROVED = "destruction_approved"
    DESTRUCTION_DONE = "destruction_done"
    DESTRUCTION_REFUSED = "destruction_refused"
    FIXITY_AUDIT = "fixity_audit"
    COPY_REPAIRED = "copy_repaired"
    VALIDATION_REPORT_READ = "validation_report_read"
    ALERTS_VIEW = "alerts_view"
    CONSENT_QUERY = "consent_query"
    RECEIPT_READ = "receipt_read"
    REPORT_READ = "report_read"
    IMPORT = "import"


class Outcome(str, Enum):
    OK = "ok"
    DENIED = "denied"
    NOT_FOUND = "not_found"


@dataclass(slots=True)
class AccessEvent:
    """What one journal entry says, before it has a place in the log. Treated as immutable once made (a plain
    slotted class: a frozen dataclass takes twice as long to build, and every request builds one)."""

    actor: str
    action: Action
    outcome: Outcome = Outcome.OK
    role: str | None = None
    tenant: str | None = None
    object_ids: tuple[str, ...] = ()
    request_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


_INSERT = insert(_TABLE)  # built once: building Core constructs per call costs more than executing them


def append_entry(connection: Connection, event: AccessEvent, at: datetime) -> int:
    """Append ``event`` within the caller's transaction and return its sequence number (its Merkle leaf index)."""
    return append_entries(connection, (event,), at)[0]


def append_entries(connection: Connection, events: Sequence[AccessEvent], at: datetime) -> list[int]:
    """Append ``events`` at time ``at`` within the caller's transaction; their sequence numbers, consecutive.

    Each row keeps the entry's canonical bytes (the leaf) and, as columns for queries, its time, actor and
    action; the stored subtree hashes a leaf completes (one leaf in 256) are staged with it.
    """
    if not events:
        return []
    appender = LogAppender.of(connection)
    time = entry_time(at)
    rows, hash_rows, seqs = [], [], []
    for event in events:
        action = event.action.value
        entry = entry_json(appender.size, time, event.actor, event.role, event.tenant, action, list(event.object_ids),
                           event.outcome.value, event.request_id, event.detail)
        seq, completed = appender.append(entry)
        rows.append({"seq": seq, "at": at, "actor": event.actor, "action": action, "entry": entry})
        hash_rows += completed
        seqs.append(seq)
    stage_rows(connection, _INSERT, rows)
    if hash_rows:
        stage_rows(connection, INSERT_HASH, hash_rows)
    return seqs


class AccessJournal:
    """Records events that have no transaction of their own (reads, searches, denials) via the group-commit writer.

    Events without personal values share one writer unit per batch, like a group commit inside the group commit:
    they wait in a list, the first one submits a unit that takes the whole list when the writer runs it, and each
    caller's future is answered once that unit's transaction has committed. A writer unit per event cost about
    as much again as the entry itself (its queue item, its future's state changes, its own look at the tree).
    """

    def __init__(self, submit: Callable[[Callable[[Connection], Any]], Future], clock, pseudonyms=None,
                 batch_max: int = 256):
        """``batch_max``: the most events one unit takes (the rest wait for the next one, which the writer takes
        in its next transaction): answered callers then get to work while the writer commits the others."""
        self._submit = submit
        self._clock = clock
        self._pseudonyms = pseudonyms
        self._batch_max = batch_max
        self._lock = threading.Lock()
        self._waiting: list[tuple[list[AccessEvent], Future, bool]] = []

    def record(self, event: AccessEvent, personal: dict[str, str] | None = None) -> "Future[int]":
        """Append ``event``; each ``personal`` value (e.g. a search term) goes into ``detail["filters"]`` only as
        a keyed pseudonym, its clear value into the erasable pseudonym table."""
        if not personal:
            return self._enqueue([event], True)

        def unit(connection: Connection) -> int:
            at = transaction_time(connection, self._clock)
            filters = dict(event.detail.get("filters", {}))
            for name, value in personal.items():
                filters[name] = self._pseudonyms.record(connection, name, value, at)
            return append_entry(connection, replace(event, detail={**event.detail, "filters": filters}), at)

        return self._submit(unit)

    def record_many(self, events: list[AccessEvent]) -> "Future[list[int]]":
        """Append ``events`` together: one transaction, consecutive sequence numbers, one answer once all are
        durable (the parts of one export, say). They carry no personal values."""
        return self._enqueue(list(events), False)

    def _enqueue(self, events: list[AccessEvent], single: bool) -> Future:
        future: Future = Future()
        with self._lock:
            self._waiting.append((events, future, single))
            if len(self._waiting) > 1:  # a unit is already on its way to the writer: it will take this one too
                return future
        self._submit_unit()
        return future

    def _take(self, limit: int | None = None) -> list[tuple[list[AccessEvent], Future, bool]]:
        """The waiting requests, oldest first, up to ``limit`` events (at least one request). If some are left
        waiting, a unit is submitted for them."""
        with self._lock:
            waiting = self._waiting
            cut, count = len(waiting), 0
            if limit is not None:
                for position, (events, _future, _single) in enumerate(waiting):
                    count += len(events)
                    if count >= limit:
                        cut = position + 1
                        break
            taken, self._waiting = waiting[:cut], waiting[cut:]
            left = bool(self._waiting)
        if left:
            self._submit_unit()
        return taken

    def _submit_unit(self) -> None:
        """Submit a writer unit appending every event waiting when it first runs (the writer runs it again on its
        safe path if the fast one fails: it appends the same events then). Their callers are answered when the
        writer answers the unit, once its transaction has committed."""
        taken: list[tuple[list[AccessEvent], Future, bool]] | None = None

        def unit(connection: Connection) -> list[int]:
            nonlocal taken
            if taken is None:  # callers that gave up (a cancelled request) are left out, as the writer does
                taken = [item for item in self._take(self._batch_max) if item[1].set_running_or_notify_cancel()]
            return append_entries(connection, [event for events, _f, _s in taken for event in events],
                                  transaction_time(connection, self._clock))

        def answer(done: Future) -> None:
            failure = done.exception()
            if failure is not None:
                for _events, future, _single in taken or ():
                    future.set_exception(failure)
                return
            seqs, position = done.result(), 0
            for events, future, single in taken:
                count = len(events)
                future.set_result(seqs[position] if single else seqs[position:position + count])
                position += count

        try:
            self._submit(unit).add_done_callback(answer)
        except Exception as exc:  # the writer is stopped: nothing waiting will be written
            for _events, waiting, _single in self._take():
                if waiting.set_running_or_notify_cancel():
                    waiting.set_exception(exc)
