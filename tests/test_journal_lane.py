"""AccessJournal's shared writer units: events without personal values wait together and one writer unit appends
them all; each caller is answered with its own sequence numbers once the transaction has committed."""

from __future__ import annotations

import json
import threading
from concurrent.futures import CancelledError
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
        futures = []
        for i in range(40):
            n = t * 1000 + i
            if i % 10 == 9:
                futures.append((n, journal.record_many([event(n, request_id=f"r{n}.{k}") for k in range(3)])))
            else:
                futures.append((n, journal.record(event(n))))
        for n, future in futures:
            answers[n] = future.result(30)

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


def test_a_unit_takes_at_most_batch_max_events_and_leaves_the_rest_to_the_next(engine):
    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK, batch_max=4)
    gate = writer.hold()
    futures = [journal.record(event(n)) for n in range(6)]
    many = journal.record_many([event(n) for n in range(6, 9)])
    futures += [journal.record(event(n)) for n in range(9, 11)]
    assert writer.units == 1  # one unit waits in the writer's queue for all of them
    gate.set()
    assert [f.result(10) for f in futures] == [0, 1, 2, 3, 4, 5, 9, 10]
    assert many.result(10) == [6, 7, 8]
    # 4 events, then 4 (a request is never split: 4, 5 and the 3 of record_many), then the last 2
    assert writer.units == 3
    writer.writer.close()
    assert [e["request_id"] for e in logged(engine)] == [f"r{n}" for n in range(11)]


def test_a_cancelled_caller_is_left_out(engine):
    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK)
    gate = writer.hold()
    futures = [journal.record(event(n)) for n in range(3)]
    assert futures[1].cancel()  # a request that went away before the writer got to it
    gate.set()
    assert futures[0].result(10) == 0 and futures[2].result(10) == 1
    with pytest.raises(CancelledError):
        futures[1].result(1)
    writer.writer.close()
    assert [e["request_id"] for e in logged(engine)] == ["r0", "r2"]


def test_a_failed_fast_path_appends_the_waiting_events_once(engine):
    """A unit failing in the same batch sends the writer to its safe path, which runs the journal's unit again."""
    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK)
    gate = writer.hold()
    futures = [journal.record(event(n)) for n in range(3)]

    def failing(connection):
        raise RuntimeError("refused")

    failed = writer.writer.submit(failing)
    later = journal.record(event(3))  # waits with the others: the unit has not run yet
    gate.set()
    assert [f.result(10) for f in futures + [later]] == [0, 1, 2, 3]
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
    assert logged(engine) == []


def test_events_left_waiting_when_the_writer_stops_are_failed_not_forgotten(engine):
    writer = CountingWriter(engine)
    journal = AccessJournal(writer.submit, CLOCK, batch_max=2)
    gate = writer.hold()
    futures = [journal.record(event(n)) for n in range(3)]

    writer.refusing = True  # the follow-up unit for the third event cannot be submitted any more
    gate.set()
    assert [f.result(10) for f in futures[:2]] == [0, 1]
    with pytest.raises(WriterStopped):
        futures[2].result(10)
    writer.writer.close()
    assert [e["request_id"] for e in logged(engine)] == ["r0", "r1"]
