"""Access-journal entries and the one function that appends them.

Every journaled action in vault goes through :func:`append_entry`, inside the database transaction of the action
itself where there is one (a deposit and its entry commit together or not at all). Each entry is a leaf of the
RFC 6962 Merkle log of :mod:`vault.journal.log`; ``seq`` is dense from 0 and is the leaf index.
"""

from __future__ import annotations

import asyncio
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
from vault_verify.canonical import CanonicalError

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
    KEY_REVOKED = "key_revoked"
    KEY_ROTATED = "key_rotated"
    KEYS_READ = "keys_read"
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
    DESTRUCTION_VETOED = "destruction_vetoed"
    FIXITY_AUDIT = "fixity_audit"
    COPY_REPAIRED = "copy_repaired"
    VALIDATION_REPORT_READ = "validation_report_read"
    METADATA_RECORD_READ = "metadata_record_read"
    DISCLOSURES_READ = "disclosures_read"
    ALERTS_VIEW = "alerts_view"
    KPIS_VIEW = "kpis_view"
    CONSENT_QUERY = "consent_query"
    RECEIPT_READ = "receipt_read"
    REPORT_READ = "report_read"
    IMPORT = "import"
    FORK_ACCEPTED = "journal_fork_accepted"
    KEYS_ACCEPTED = "identity_keys_accepted"
    RECORD_MISMATCH = "record_mismatch"  # an object row disagrees with its sealed metadata record (issue 22)
    METADATA_CORRECTED = "metadata_corrected"  # a rectification: the next record version (GDPR art. 16)
    PERSONAL_DATA_ERASED = "personal_data_erased"  # salts and clear values of personal fields erased (art. 17)
    RESTRICTION_SET = "restriction_set"  # processing of an object's personal values restricted (GDPR art. 18)
    RESTRICTION_LIFTED = "restriction_lifted"
    FORMATS_VIEW = "formats_view"  # GET /v1/formats (issue 23)
    SERVICE_INFO_VIEW = "service_info_view"  # ETSI TS 119 512 RetrieveInfo (issue 23)
    TRACE_READ = "trace_read"  # ETSI TS 119 512 RetrieveTrace: an object's journal entries
    EVIDENCE_VALIDATED = "evidence_validated"  # ValidateEvidence / POST /v1/validate of an uploaded ER or package
    SANDBOX_CLOCK_MOVED = "sandbox_clock_moved"  # POST /v1/sandbox/clock (issue 23)


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
    action; the stored subtree hashes a leaf completes (one leaf in 256) are staged with it. Every entry is
    serialized before any is appended: if one has no canonical form (CanonicalError), the log and the
    transaction are left as they were.
    """
    if not events:
        return []
    appender = LogAppender.of(connection)
    time, base = entry_time(at), appender.size
    prepared = []
    for i, event in enumerate(events):
        action = event.action.value
        prepared.append((event.actor, action, entry_json(
            base + i, time, event.actor, event.role, event.tenant, action, list(event.object_ids),
            event.outcome.value, event.request_id, event.detail)))
    rows, hash_rows, seqs = [], [], []
    for actor, action, entry in prepared:
        seq, completed = appender.append(entry)
        rows.append({"seq": seq, "at": at, "actor": actor, "action": action, "entry": entry})
        hash_rows += completed
        seqs.append(seq)
    stage_rows(connection, _INSERT, rows)
    if hash_rows:
        stage_rows(connection, INSERT_HASH, hash_rows)
    return seqs


class Ticket:
    """A caller's place in the journal: its sequence number (or, for :meth:`AccessJournal.record_many`, its list)
    once the transaction holding its entries has committed. ``ticket.result(timeout)`` waits for it in a thread;
    ``await ticket`` in a coroutine.

    Many callers share one future, that of the writer unit appending their events together; each ticket reads its
    own part of the unit's answer. The events are written even if their caller stops waiting: a cancelled request
    cancels its wait, not its entry (the access may already have been served, so its trace stays)."""

    __slots__ = ("future", "_first", "_count")

    def __init__(self, future: Future, first: int | None = None, count: int | None = None):
        """``first``: where the caller's sequence numbers start in the future's list (None: the future's result is
        the caller's own answer); ``count``: how many (None: one, answered as an int)."""
        self.future, self._first, self._count = future, first, count

    def _part(self, answer: Any) -> Any:
        first = self._first
        if first is None:
            return answer
        mine = answer[first] if self._count is None else answer[first:first + self._count]
        refused = mine if self._count is None else (mine[0] if mine else None)
        if isinstance(refused, Exception):  # this caller's events were refused; the others of its group were not
            raise refused
        return mine

    def result(self, timeout: float | None = None) -> Any:
        return self._part(self.future.result(timeout))

    def __await__(self):
        answer = yield from asyncio.shield(asyncio.wrap_future(self.future)).__await__()
        return self._part(answer)


class _Group:
    """Events waiting together for one writer unit, and the future its callers' tickets read (an event with
    personal values has a group of its own). It is closed when its unit first runs: later events start another."""

    __slots__ = ("events", "requests", "future")

    def __init__(self):
        self.events: list[AccessEvent] = []
        self.requests: list[tuple[int, int]] = []  # (first, count) of each caller's events
        self.future: Future = Future()
        self.future.set_running_or_notify_cancel()  # a caller can stop waiting, but not withdraw its event


class AccessJournal:
    """Records events that have no transaction of their own (reads, searches, denials) via the group-commit writer.

    Events without personal values share writer units, like a group commit inside the group commit: they join the
    open group (up to ``batch_max`` events; a request is never split), whose unit appends them all when the writer
    runs it, and each caller's ticket reads its sequence numbers from the group's one answer once that unit's
    transaction has committed. A writer unit per event cost about as much again as the entry itself (its queue
    item, its own look at the tree), and a future per caller a fifth of the rest (bench/journal.py). A caller
    whose event has no canonical form (CanonicalError) is refused alone: its ticket raises, and the rest of its
    group is appended.
    """

    def __init__(self, submit: Callable[[Callable[[Connection], Any]], Future], clock, pseudonyms=None,
                 batch_max: int = 256):
        """``batch_max``: the most events one group holds (more start another group, which the writer may take
        in its next transaction): answered callers then get to work while the writer commits the others."""
        self._submit = submit
        self._clock = clock
        self._pseudonyms = pseudonyms
        self._batch_max = batch_max
        self._lock = threading.Lock()
        self._open: _Group | None = None

    def record(self, event: AccessEvent, personal: dict[str, str] | None = None) -> Ticket:
        """Append ``event``; each ``personal`` value (e.g. a search term) goes into ``detail["filters"]`` only as
        a keyed pseudonym, its clear value into the erasable pseudonym table. An event with personal values has
        a writer unit of its own: whatever its values do to the database, they cannot fail other callers."""
        if not personal:
            return self._join((event,), None)

        def unit(connection: Connection) -> int:
            at = transaction_time(connection, self._clock)
            filters = dict(event.detail.get("filters", {}))
            for name, value in personal.items():
                filters[name] = self._pseudonyms.record(connection, name, value, at)
            return append_entry(connection, replace(event, detail={**event.detail, "filters": filters}), at)

        own = _Group()
        self._submit_into(unit, own.future)
        return Ticket(own.future)

    def record_many(self, events: Sequence[AccessEvent]) -> Ticket:
        """Append ``events`` together: one transaction, consecutive sequence numbers, one answer once all are
        durable (the parts of one export, say). They carry no personal values."""
        return self._join(events, len(events))

    def _join(self, events: Sequence[AccessEvent], count: int | None) -> Ticket:
        size = len(events)
        with self._lock:
            group = self._open
            fresh = group is None or (group.events and len(group.events) + size > self._batch_max)
            if fresh:
                group = self._open = _Group()
            first = len(group.events)
            group.events.extend(events)
            group.requests.append((first, size))
        if fresh:
            self._submit_group(group)
        return Ticket(group.future, first, count)

    def _submit_group(self, group: _Group) -> None:
        """Submit the writer unit that appends ``group``'s events (the writer runs it again on its safe path if the
        fast one fails: it appends the same events then)."""

        def unit(connection: Connection) -> list:
            with self._lock:
                if self._open is group:
                    self._open = None  # closed: events from now on go to another group
            at = transaction_time(connection, self._clock)
            try:
                return append_entries(connection, group.events, at)
            except CanonicalError:  # some caller's event has no canonical form: refuse that caller alone
                answers: list = []
                for first, count in group.requests:
                    try:
                        answers += append_entries(connection, group.events[first:first + count], at)
                    except CanonicalError as refused:
                        answers += [refused] * count
                return answers

        if not self._submit_into(unit, group.future):  # nothing of this group will be written
            with self._lock:
                if self._open is group:
                    self._open = None

    def _submit_into(self, unit: Callable[[Connection], Any], future: Future) -> bool:
        """Submit ``unit``, whose outcome becomes ``future``'s; False (and ``future`` failed) if the writer is
        stopped."""
        try:
            self._submit(unit).add_done_callback(lambda done: _settle(future, done))
        except Exception as exc:
            future.set_exception(exc)
            return False
        return True


def _settle(future: Future, done: Future) -> None:
    """Give ``future`` the outcome of the writer's ``done``."""
    failure = done.exception()
    if failure is not None:
        future.set_exception(failure)
    else:
        future.set_result(done.result())
