"""AccessJournal's shared writer units: events without personal values wait together and one writer unit appends
them all; each caller is answered with its own sequence numbers once the transaction has committed."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from vault.clock import FixedClock
from vault.db.engine import make_engine
from vault.db.migrate import upgrade
from vault.db.tables import JournalEntry
from vault.db.writer import BatchWriter, WriterStopped
from vault.journal.entries import AccessEvent, AccessJournal, Action
from vault.journal.log import StoredHashes, journal_root, journal_size
from vault.journal.merkle import leaf_hash, root_from_leaves
from vault_verify.canonical import CanonicalError

ENTRIES = JournalEntry.__table__
CLOCK = FixedClock(datetime(2026, 11, 29, 23, 0, tzinfo=timezone.utc))


@pytest.fixture
def engine(database_url, tmp_path):
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url, writer=True)
    upgrade(engine)
    yield engine
    engine.dispose()


class CountingWriter:
    """The real writer, counting the units it is given."""

    def __init__(self, engine, max_batch=256):
        self.writer = BatchWriter(engine, max_batch=max_batch)
        self.units = 0
        self.refusing = False

    def submit(self, unit):
        if self.refusing:
            raise WriterStopped("the database writer is stopped")
        self.units += 1
        return self.writer.submit(unit)

    def hold(self) -> threading.Event:
        """Keep the writer busy until the returned event is set: whatever is submitted meanwhile waits."""
        gate, started = threading.Event(), threading.Event()
        self.writer.submit(lambda connection: (started.set(), gate.wait(10)))
        assert started.wait(10)
        return gate


def event(n: int, **changes) -> AccessEvent:
    return AccessEvent(**{"actor": f"k{n % 3}", "role": "auditor", "tenant": "acme", "action": Action.READ_METADATA,
                          "object_ids": (f"o{n}",), "request_id": f"r{n}", **changes})


def logged(engine) -> list[dict]:
    with engine.connect() as connection:
        return [json.loads(bytes(r.entry)) for r in connection.execute(select(ENTRIES.c.entry).order_by(ENTRIES.c.seq))]


def test_concurrent_callers_each_get_their_own_entries(engine):
    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK, batch_max=64)
    answers: dict[int, object] = {}

    def caller(t: int) -> None:
        tickets = []
        for i in range(40):
            n = t * 1000 + i
            if i % 10 == 9:
                tickets.append((n, journal.record_many([event(n, request_id=f"r{n}.{k}") for k in range(3)])))
            else:
                tickets.append((n, journal.record(event(n))))
        for n, ticket in tickets:
            answers[n] = ticket.result(30)

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.writer.close()
    entries = logged(engine)
    assert len(entries) == 6 * (36 + 4 * 3)
    assert [e["seq"] for e in entries] == list(range(len(entries)))
    for n, answer in answers.items():
        if isinstance(answer, list):  # record_many: consecutive, in the order given
            assert answer == list(range(answer[0], answer[0] + 3))
            assert [entries[s]["request_id"] for s in answer] == [f"r{n}.{k}" for k in range(3)]
        else:
            assert entries[answer]["request_id"] == f"r{n}" and entries[answer]["objects"] == [f"o{n}"]
    assert writer.units < len(answers) / 2  # events shared units (each unit takes what waits when it runs)
    with engine.connect() as connection:
        assert journal_root(connection, journal_size(connection)) == root_from_leaves(
            [leaf_hash(json.dumps(e, separators=(",", ":"), sort_keys=True).encode()) for e in entries])


def test_a_group_holds_at_most_batch_max_events_and_the_rest_start_the_next(engine):
    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK, batch_max=4)
    gate = writer.hold()
    tickets = [journal.record(event(n)) for n in range(6)]
    many = journal.record_many([event(n) for n in range(6, 9)])
    tickets += [journal.record(event(n)) for n in range(9, 11)]
    # 4 events; then 4 and 5 (the 3 of record_many would make 5: a request is never split); then the 3 and 9;
    # then 10. Each group's unit is submitted when the group opens, and all of them wait behind the gate.
    assert writer.units == 4
    assert len({ticket.future for ticket in tickets + [many]}) == 4
    gate.set()
    assert [t.result(10) for t in tickets] == [0, 1, 2, 3, 4, 5, 9, 10]
    assert many.result(10) == [6, 7, 8]
    writer.writer.close()
    assert [e["request_id"] for e in logged(engine)] == [f"r{n}" for n in range(11)]


def test_a_group_is_closed_when_its_unit_runs(engine):
    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK)
    first = journal.record(event(0))
    assert first.result(10) == 0
    second = journal.record(event(1))  # the first group's unit has run: this one opens another
    assert second.future is not first.future and second.result(10) == 1
    assert writer.units == 2
    writer.writer.close()


def test_a_caller_that_stops_waiting_keeps_its_entry(engine):
    """A request cancelled while it waits for its entry (the client went away) cancels its wait, not the entry, nor
    the answers of the callers sharing its group."""
    import asyncio

    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK)
    gate = writer.hold()

    async def scenario():
        waiting = [asyncio.ensure_future(_awaited(journal.record(event(n)))) for n in range(3)]
        await asyncio.sleep(0.05)
        waiting[1].cancel()
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*waiting, return_exceptions=True)

    answers = asyncio.run(scenario())
    assert answers[0] == 0 and answers[2] == 2 and isinstance(answers[1], asyncio.CancelledError)
    assert not journal.record(event(3)).future.cancel()  # nor can a thread withdraw an event
    writer.writer.close()
    assert [e["request_id"] for e in logged(engine)] == ["r0", "r1", "r2", "r3"]


async def _awaited(ticket):
    return await ticket


def test_an_event_without_canonical_form_fails_its_caller_alone(engine):
    """A float in an event's detail (RFC 8785 entries carry none) refuses that request, every event of it, and
    nothing else of its group."""
    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK)
    gate = writer.hold()
    before = [journal.record(event(n)) for n in range(2)]
    refused = journal.record_many([event(2), event(3, detail={"ratio": 0.5})])
    lone = journal.record(event(4, actor="k\ud800"))  # not Unicode: no UTF-8 for it
    after = journal.record(event(5))
    assert len({t.future for t in before + [refused, lone, after]}) == 1  # one group
    gate.set()
    assert [t.result(10) for t in before] == [0, 1] and after.result(10) == 2
    for ticket in (refused, lone):
        with pytest.raises(CanonicalError):
            ticket.result(10)
    assert journal.record(event(6)).result(10) == 3  # the log goes on from the right size
    writer.writer.close()
    entries = logged(engine)
    assert [e["request_id"] for e in entries] == ["r0", "r1", "r5", "r6"]
    with engine.connect() as connection:
        assert journal_root(connection, journal_size(connection)) == root_from_leaves(
            [leaf_hash(json.dumps(e, separators=(",", ":"), sort_keys=True).encode()) for e in entries])


def test_a_failed_fast_path_appends_the_waiting_events_once(engine):
    """A unit failing in the same batch sends the writer to its safe path, which runs the journal's unit again."""
    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK)
    gate = writer.hold()
    tickets = [journal.record(event(n)) for n in range(3)]

    def failing(connection):
        raise RuntimeError("refused")

    failed = writer.writer.submit(failing)
    later = journal.record(event(3))  # waits with the others: the unit has not run yet
    gate.set()
    assert [f.result(10) for f in tickets + [later]] == [0, 1, 2, 3]
    with pytest.raises(RuntimeError):
        failed.result(10)
    writer.writer.close()
    entries = logged(engine)
    assert [e["request_id"] for e in entries] == ["r0", "r1", "r2", "r3"]
    with engine.connect() as connection:
        assert StoredHashes(connection).hash_at(2, 0) == root_from_leaves(
            [leaf_hash(json.dumps(e, separators=(",", ":"), sort_keys=True).encode()) for e in entries])


def test_a_stopped_writer_fails_the_waiting_callers(engine):
    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK)
    writer.writer.close()
    future = journal.record(event(1))
    with pytest.raises(WriterStopped):
        future.result(1)
    with pytest.raises(WriterStopped):
        journal.record_many([event(2)]).result(1)
    with pytest.raises(WriterStopped):  # an event with personal values, in a unit of its own
        journal.record(event(3), {"subject": "someone@example.org"}).result(1)
    assert logged(engine) == []


def test_a_group_that_cannot_be_submitted_fails_its_callers_and_the_next_event_starts_afresh(engine):
    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK, batch_max=2)
    gate = writer.hold()
    tickets = [journal.record(event(n)) for n in range(2)]
    writer.refusing = True  # the writer is stopping: the group opened for the third event cannot be submitted
    refused = journal.record(event(2))
    with pytest.raises(WriterStopped):
        refused.result(1)
    writer.refusing = False
    later = journal.record(event(3))  # not into the failed group
    gate.set()
    assert [t.result(10) for t in tickets] == [0, 1] and later.result(10) == 2
    writer.writer.close()
    assert [e["request_id"] for e in logged(engine)] == ["r0", "r1", "r3"]
