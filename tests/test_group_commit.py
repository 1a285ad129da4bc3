"""Group commit of concurrent deposits, on SQLite and on PostgreSQL alike: one transaction and multi-row INSERTs for
a whole group, every row and journal entry written in order, and a failing unit failing alone."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert, select, text

from vault.db.engine import make_engine
from vault.db.multirow import execute_many
from vault.db.tables import ArchivedObject

GROUP = 12


class Statements:
    """Counts what the writer's engine sends: transactions committed, savepoints, INSERT statements by table."""

    def __init__(self, engine):
        self.commits = self.savepoints = 0
        self.inserts: list[tuple[str, int]] = []  # (table, rows in the statement or executemany)
        self.compiled = 0  # INSERTs SQLAlchemy compiled and bound row by row (not sent to the driver directly)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "savepoint", self._savepoint)
        event.listen(engine, "before_cursor_execute", self._execute)

    def _commit(self, _connection):
        self.commits += 1

    def _savepoint(self, _connection, _name):
        self.savepoints += 1

    def _execute(self, _connection, _cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO "):
            rows = len(parameters) if executemany else statement.count("), (") + 1
            self.inserts.append((statement.split()[2], rows))
            self.compiled += context.compiled is not None


def deposit_together(vault, depositor, contents: list[bytes], headers=lambda n: None) -> list:
    """Deposit ``contents`` concurrently while the writer is held, so that all of them reach it as one group."""
    gate = threading.Event()
    vault.writer.submit(lambda connection: gate.wait(30))
    answers: list = [None] * len(contents)

    def one(n: int) -> None:
        answers[n] = depositor.deposit(contents[n], case_ref=f"GROUP-{contents.index(contents[n])}", headers=headers(n))
    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(contents))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while vault.writer._queue.qsize() < len(contents) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert vault.writer._queue.qsize() == len(contents), "every deposit waits for the writer"
    gate.set()
    for thread in threads:
        thread.join(30)
    return answers


def journal_objects(vault) -> list[tuple[int, str]]:
    """(journal index, object id) of every deposit, in journal order, read back from the entries themselves."""
    with vault.reader.connect() as connection:
        entries = connection.execute(text("SELECT seq, entry FROM journal_entries ORDER BY seq")).all()
    assert [seq for seq, _ in entries] == list(range(len(entries))), "the journal has no gap"
    decoded = [(seq, json.loads(bytes(entry))) for seq, entry in entries]
    return [(seq, e["objects"][0]) for seq, e in decoded if e["action"] == "deposit"]


def test_concurrent_deposits_commit_as_one_group_of_multi_row_inserts(vault, depositor):
    statements = Statements(vault.writer_engine)
    answers = deposit_together(vault, depositor, [f"%PDF-1.7 group {n}".encode() for n in range(GROUP)])
    assert [a.status_code for a in answers] == [201] * GROUP, [a.text for a in answers if a.status_code != 201]
    assert statements.commits == 2  # the gate's transaction, then one for the whole group
    assert statements.savepoints == 0  # the fast path: no unit replayed alone
    assert statements.compiled == 0  # every staged row went straight to the driver
    rows_by_table: dict[str, list[int]] = {}
    for table, rows in statements.inserts:
        rows_by_table.setdefault(table, []).append(rows)
    assert rows_by_table["archived_objects"] == [GROUP]  # one statement for the group's rows, not one per row
    assert len(rows_by_table["journal_entries"]) == 1 and rows_by_table["journal_entries"][0] >= GROUP
    receipts = {a.json()["id"]: a.json()["journal_index"] for a in answers}
    deposited = dict((object_id, seq) for seq, object_id in journal_objects(vault))
    assert {object_id: deposited[object_id] for object_id in receipts} == receipts  # each receipt names its entry
    with vault.reader.connect() as connection:
        stored = dict(connection.execute(select(ArchivedObject.id, ArchivedObject.journal_index)).all())
    assert {object_id: stored[object_id] for object_id in receipts} == receipts


def test_a_failing_unit_in_a_group_fails_only_its_own_deposit(vault, depositor):
    """Two deposits of one group race on one Idempotency-Key: the multi-row INSERT fails, the group is replayed
    unit by unit, the loser alone fails (and answers with the winner's receipt); the others are stored."""
    statements = Statements(vault.writer_engine)
    contents = [f"%PDF-1.7 race {n}".encode() for n in range(GROUP)]
    contents[1] = contents[0]  # same content and key: a retry arriving before the first answer
    answers = deposit_together(vault, depositor, contents,
                               headers=lambda n: {"Idempotency-Key": "race" if n < 2 else f"own-{n}"})
    assert [a.status_code for a in answers] == [201] * GROUP, [a.text for a in answers if a.status_code != 201]
    assert answers[0].json() == answers[1].json()  # the loser replays the winner's receipt
    assert statements.savepoints >= GROUP  # the safe path ran, one savepoint per unit
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == GROUP - 1
    deposited = [object_id for _seq, object_id in journal_objects(vault)]
    assert sorted(deposited[-(GROUP - 1):]) == sorted(ids)  # no entry of the failed unit, and no gap
    assert vault.catalog.count() == GROUP - 1


META = MetaData()
ROWS = Table("rows", META, Column("id", Integer, primary_key=True, autoincrement=False), Column("name", String(20)))


@pytest.mark.parametrize("count", [1, 7, 40, 300])
def test_execute_many_sends_multi_row_statements_on_both_engines(database_url, tmp_path, count):
    """The fast path is not SQLite's alone: a few statements for any number of rows, never one per row."""
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = make_engine(database_url, writer=True)
    META.create_all(engine)
    statements = Statements(engine)
    with engine.begin() as connection:
        execute_many(connection, insert(ROWS), [{"id": n, "name": f"r{n}"} for n in range(count)])
    with engine.connect() as connection:
        assert connection.execute(select(ROWS.c.id).order_by(ROWS.c.id)).scalars().all() == list(range(count))
    assert sum(rows for _table, rows in statements.inserts) == count
    assert len(statements.inserts) <= 4  # 300 = 256 + 32 + the rest: no statement per row
    assert statements.compiled == 0  # nor SQLAlchemy's per-row parameter handling
    engine.dispose()
