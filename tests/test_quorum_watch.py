"""``/ready``'s count of blobs below the copy quorum, kept incrementally (vault.storage.quorum_watch): each run reads
the deposits past its ``seal_seq`` watermark and the blobs it found short, and always equals the full pass.

Blobs below the quorum are made as in production: a vault at quorum one whose RGW copy fails (injected, as in
tests/test_copies_parallel.py) acknowledges deposits with the local copy alone; counted against quorum two (the
operator raising ``VAULT_COPY_QUORUM``), those are short and the others, copied to RGW, are not."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, update
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.test_copies import copies_of, deposit, s3_url
from tests.test_copies_parallel import wait_for
from vault.api.app import create_app
from vault.app import Vault
from vault.storage import quorum_watch
from vault.storage.copy_health import under_quorum
from vault.storage.quorum_watch import OBJECTS, QuorumWatch


@pytest.fixture
def quorum_one(tmp_path, database_url, rgw):
    vault = Vault.open(make_settings(tmp_path, database_url, stores=(s3_url(rgw, f"vault-{uuid.uuid4().hex[:12]}"),),
                                     copy_quorum=1), sweep_in_background=False, background_jobs=False)
    yield vault, Api(TestClient(create_app(vault)), ADMIN_KEY)
    vault.close()


def deposit_copied(vault, api, content: bytes) -> str:
    sha256 = deposit(api, content)["sha256"]
    wait_for(lambda: "rgw" in copies_of(vault, sha256))  # the copy beyond quorum one, recorded in the background
    return sha256


def deposit_local_only(vault, api, content: bytes) -> str:
    s3, calls = vault.copies.by_name("rgw"), []

    def down(*args, **kwargs):
        calls.append(args)
        raise ConnectionError("RGW stopped (injected)")

    real, s3.copy_from = s3.copy_from, down
    try:
        sha256 = deposit(api, content)["sha256"]
        wait_for(lambda: calls)  # the copy beyond quorum one was tried, and failed
    finally:
        s3.copy_from = real
    assert set(copies_of(vault, sha256)) == {vault.store.name}
    return sha256


def both(vault, watch: QuorumWatch) -> tuple[int, int]:
    with vault.reader.connect() as connection:
        return watch.run(connection), under_quorum(connection, watch.quorum)


def test_the_incremental_count_equals_the_full_pass_run_after_run(quorum_one):
    vault, api = quorum_one
    for i in range(3):
        deposit_copied(vault, api, f"copied {i}".encode())
    short = [deposit_local_only(vault, api, f"local only {i}".encode()) for i in range(3)]
    watch = QuorumWatch(2)
    assert both(vault, watch) == (3, 3) and watch.complete and watch.position == 6
    short.append(deposit_local_only(vault, api, b"a new deposit below the quorum"))
    deposit_copied(vault, api, b"a new deposit at the quorum")
    assert both(vault, watch) == (4, 4) and watch.position == 8  # the new short deposit is seen on the next run
    destroyed = short.pop()  # what a disposal leaves: a tombstone row, no copy
    vault.writer.run(lambda c: c.execute(update(OBJECTS).where(OBJECTS.c.sha256 == destroyed)
                                         .values(destroyed_at=datetime.now(timezone.utc))))
    vault.copies.delete_everywhere(destroyed)
    assert both(vault, watch) == (3, 3) and destroyed not in watch.short
    report = vault.copies.complete_missing()  # the copy job completes the others
    assert not report.failed and all("rgw" in copies_of(vault, sha256) for sha256 in short)
    assert both(vault, watch) == (0, 0) and watch.short == set()


def test_a_run_reads_only_the_deposits_past_its_watermark(quorum_one):
    vault, api = quorum_one
    for i in range(4):
        deposit_copied(vault, api, f"old {i}".encode())
    short = deposit_local_only(vault, api, b"short")
    watch = QuorumWatch(2)
    assert both(vault, watch) == (1, 1)
    deposit_local_only(vault, api, b"new 1")
    deposit_copied(vault, api, b"new 2")
    statements, start = [], watch.position
    with vault.reader.connect() as connection:
        event.listen(connection, "before_cursor_execute",
                     lambda conn, cursor, sql, params, context, many: statements.append((sql, params)))
        assert watch.run(connection) == 2
    selects = [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2  # the short blob checked again, then one range read of the new deposits
    recheck, advance = selects
    assert short in str(recheck[1])
    with vault.reader.connect() as connection:
        rows = connection.exec_driver_sql(advance[0], advance[1]).all()
        assert [row[0] for row in rows] == [start, start + 1]  # the two new deposits, nothing older
        if connection.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + advance[0], advance[1]))
            assert "SEARCH archived_objects USING INDEX ux_objects_seal_seq (seal_seq>?)" in plan, plan
            assert "SCAN archived_objects" not in plan, plan
        else:  # a tiny table is cheaper to scan: ask whether the index range serves the query at all
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + advance[0], advance[1]))
            assert "ux_objects_seal_seq" in plan and "Index Cond" in plan, plan
            connection.rollback()


def test_the_first_pass_goes_in_chunks_and_is_not_ok_until_complete(quorum_one, monkeypatch):
    vault, api = quorum_one
    short = {deposit_local_only(vault, api, f"short {i}".encode()) for i in range(3)}
    for i in range(2):
        deposit_copied(vault, api, f"copied {i}".encode())
    monkeypatch.setattr(quorum_watch, "CHUNK", 2)
    ticks = iter(range(0, 1000, int(quorum_watch.BUDGET)))  # every look at the clock: the budget is spent
    watch = QuorumWatch(2, monotonic=lambda: next(ticks))
    runs = []
    while not watch.complete:
        with vault.reader.connect() as connection:
            runs.append((watch.run(connection), watch.position))
        assert len(runs) < 10
    assert runs[:3] == [(2, 2), (3, 4), (3, 5)] and watch.short == short
    with vault.reader.connect() as connection:
        assert under_quorum(connection, 2) == 3


def test_ready_reports_blobs_below_a_raised_quorum_until_the_copy_job_completes_them(tmp_path, database_url, rgw):
    from tests.test_ready import ready_until

    stores = (s3_url(rgw, f"vault-{uuid.uuid4().hex[:12]}"),)
    first = Vault.open(make_settings(tmp_path, database_url, stores=stores, copy_quorum=1),
                       sweep_in_background=False, background_jobs=False)
    try:
        api = Api(TestClient(create_app(first)), ADMIN_KEY)
        deposit_local_only(first, api, b"one copy")
        deposit_copied(first, api, b"two copies")
    finally:
        first.close()
    raised = Vault.open(make_settings(tmp_path, database_url, stores=stores, copy_quorum=2, ready_probe_interval=1),
                        sweep_in_background=False, background_jobs=False)
    try:
        api = Api(TestClient(create_app(raised)), ADMIN_KEY)
        answer = ready_until(api, "copies", lambda v: v != "ok")
        assert answer.status_code == 200, answer.text
        assert answer.json()["checks"]["copies"].startswith("degraded: 1 blob(s) held by fewer than 2 stores")
        assert not raised.copies.complete_missing().failed
        assert ready_until(api, "copies", lambda v: v == "ok").json()["checks"]["copies"] == "ok"
    finally:
        raised.close()
