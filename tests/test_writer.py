"""The group-commit writer: one failing unit fails alone, answers come only after the commit."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from vault.db.engine import make_engine
from vault.db.writer import BatchWriter

META = MetaData()
ITEMS = Table("items", META, Column("id", Integer, primary_key=True, autoincrement=False), Column("name", String(20)))


@pytest.fixture
def engine(database_url, tmp_path):
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url, writer=True)
    META.create_all(engine)
    yield engine
    engine.dispose()


def count(engine):
    with engine.connect() as connection:
        return len(connection.execute(select(ITEMS)).all())


def test_a_failing_unit_does_not_sink_its_batch(engine):
    gate = threading.Event()
    writer = BatchWriter(engine, max_batch=100)
    writer.submit(lambda c: gate.wait(5))  # holds the writer so the next units share one batch
    futures = [writer.submit(lambda c, i=i: c.execute(insert(ITEMS).values(id=i % 3, name=str(i))) and i)
               for i in range(6)]
    gate.set()
    results = []
    for future in futures:
        try:
            results.append(future.result(10))
        except IntegrityError:
            results.append("dup")
    writer.close()
    assert results == [0, 1, 2, "dup", "dup", "dup"]
    assert count(engine) == 3


def test_many_threads_all_committed(engine):
    writer = BatchWriter(engine, max_batch=32)
    threads = [threading.Thread(target=lambda n=n: writer.run(lambda c: c.execute(insert(ITEMS).values(id=n))))
               for n in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert count(engine) == 200


def test_a_failed_commit_fails_every_unit(engine, monkeypatch):
    writer = BatchWriter(engine, before_batch=lambda c: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError, match="disk full"):
        writer.run(lambda c: c.execute(insert(ITEMS).values(id=1)))
    writer.close()
    assert count(engine) == 0


def test_the_barrier_finishes_before_the_commit_and_its_failure_fails_the_batch(engine):
    import time

    order = []

    def slow_barrier():
        time.sleep(0.05)
        order.append("barrier done")

    writer = BatchWriter(engine, barrier=slow_barrier)
    writer.run(lambda c: (c.execute(insert(ITEMS).values(id=1)), order.append("unit ran")))
    assert order == ["unit ran", "barrier done"] and count(engine) == 1

    def failing_barrier():
        raise OSError("disk gone")

    failing = BatchWriter(engine, barrier=failing_barrier)
    with pytest.raises(OSError, match="disk gone"):
        failing.run(lambda c: c.execute(insert(ITEMS).values(id=2)))
    failing.close()
    writer.close()
    assert count(engine) == 1


def test_the_barrier_is_skipped_when_no_name_waits_for_it(engine, tmp_path):
    """A batch that names no new blob (journal entries only) wakes no barrier thread; one after a blob name was
    published runs the barrier (the real file store's own flag)."""
    from vault.storage.filesystem import FileBlobStore

    store = FileBlobStore(tmp_path / "blobs", defer_name_sync=True)
    synced = []

    def barrier():
        synced.append(store.names_pending())
        store.sync_names()

    writer = BatchWriter(engine, barrier=barrier, barrier_pending=store.names_pending)
    try:
        writer.run(lambda c: c.execute(insert(ITEMS).values(id=1)))
        assert synced == []
        blob = store.writer()
        blob.write(b"a blob whose name must be durable before the row naming it")
        blob.commit()
        assert store.names_pending()
        writer.run(lambda c: c.execute(insert(ITEMS).values(id=2)))
        assert synced == [True] and not store.names_pending()
        writer.run(lambda c: c.execute(insert(ITEMS).values(id=3)))
        assert synced == [True]
    finally:
        writer.close()
    assert count(engine) == 3


def test_commit_delay_waits_for_announced_units_only(engine):
    batches = []
    writer = BatchWriter(engine, max_batch=100, commit_delay=0.5,
                         before_batch=lambda c: batches.append(time.monotonic()))
    try:
        started = time.monotonic()
        for i in (1, 2, 3):  # nothing announced: no waiting at all
            writer.run(lambda c, i=i: c.execute(insert(ITEMS).values(id=i)))
        assert time.monotonic() - started < 0.4

        def announced_then_submitted():
            with writer.expecting():
                time.sleep(0.1)  # a deposit still arriving
                return writer.submit(lambda c: c.execute(insert(ITEMS).values(id=5)))

        before = len(batches)
        late = []
        with writer.expecting():
            thread = threading.Thread(target=lambda: late.append(announced_then_submitted()))
            thread.start()
            time.sleep(0.02)
            first = writer.submit(lambda c: c.execute(insert(ITEMS).values(id=4)))
        first.result(5)
        thread.join(5)
        late[0].result(5)
        assert len(batches) == before + 1  # the first unit waited for the announced one: one transaction

        def announced_then_given_up():
            with writer.expecting():
                time.sleep(0.05)  # e.g. a refused deposit: nothing is submitted

        quitter = threading.Thread(target=announced_then_given_up)
        quitter.start()
        time.sleep(0.01)
        started = time.monotonic()
        writer.run(lambda c: c.execute(insert(ITEMS).values(id=6)))
        assert time.monotonic() - started < 0.4  # the wait ends when the announcement is withdrawn
        quitter.join(5)
    finally:
        writer.close()
    assert count(engine) == 6


def test_the_commit_delay_is_a_setting_in_milliseconds():
    from vault.settings import Settings, SettingsError

    assert Settings.from_env({}).commit_delay_ms == 2
    assert Settings.from_env({"VAULT_COMMIT_DELAY_MS": "0"}).commit_delay_ms == 0
    for bad in ("-1", "two"):
        with pytest.raises(SettingsError, match="VAULT_COMMIT_DELAY_MS"):
            Settings.from_env({"VAULT_COMMIT_DELAY_MS": bad})


def test_an_outage_is_logged_once_when_it_begins_and_once_when_it_ends(engine, caplog):
    """A database away fails every batch; a retrying client makes hundreds a minute. The log says it once, then
    once more when batches commit again, with how many failed meanwhile (issue 19)."""
    from sqlalchemy.exc import OperationalError

    away = threading.Event()
    away.set()

    def before_batch(_connection):
        if away.is_set():
            raise OperationalError("SELECT 1", {}, Exception("connection refused\nDETAIL: more"))

    writer = BatchWriter(engine, before_batch=before_batch)
    try:
        for n in range(5):
            with pytest.raises(OperationalError):
                writer.run(lambda c, n=n: c.execute(insert(ITEMS).values(id=900 + n, name=f"lost {n}")))
        away.clear()
        writer.run(lambda c: c.execute(insert(ITEMS).values(id=999, name="back")))
    finally:
        writer.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "vault.db.writer"]
    assert len(lines) == 2, lines
    assert "the database is unavailable (connection refused)" in lines[0] and not caplog.records[0].exc_info
    assert "commit again" in lines[1] and "4 more batch(es)" in lines[1], lines
