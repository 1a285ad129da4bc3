"""An acknowledged deposit survives ``kill -9`` of the server: deposit in a loop, crash at a random moment,
restart, and find every acknowledged object with its digests and bytes intact."""

from __future__ import annotations

import json
import random
import threading

import httpx
import pytest

from tests.conftest import fresh_pg_database
from tests.faults.crash import (Acknowledged, check_everything_survived, depositor, journal_seqs, journal_verify,
                                run_until_killed)
from tests.server_process import ServerProcess, deposit

pytestmark = [pytest.mark.slow, pytest.mark.serial(
    "kill -9 at a random moment of a deposit loop, then restarts: a busy neighbour moves the kill")]


def crash_rounds(data_dir, rounds: int, env: dict | None = None, seed: int = 2026) -> dict:
    rng = random.Random(seed)
    acknowledged: Acknowledged = {}
    key = None
    for round_number in range(rounds):
        server = ServerProcess(data_dir, env=env).start()
        key = key or server.new_key("depositor", "acme")
        work = depositor(server, key, rng, str(round_number), acknowledged, threading.Lock())
        run_until_killed(server, work, 4, rng, 0.05, 0.6)
    return {"acknowledged": acknowledged, "key": key}


def test_acknowledged_deposits_survive_kill_9_on_sqlite(tmp_path):
    data_dir = tmp_path / "data"
    result = crash_rounds(data_dir, rounds=20)
    check_everything_survived(data_dir, result)
    leftovers = list((data_dir / "blobs" / "tmp").iterdir())
    assert all(path.suffix == ".part" for path in leftovers)  # only uploads cut off mid-way; swept after the grace


@pytest.mark.postgres
def test_acknowledged_deposits_survive_kill_9_on_postgresql(tmp_path):
    with fresh_pg_database() as url:
        env = {"VAULT_DATABASE_URL": url}
        result = crash_rounds(tmp_path / "data", rounds=5, env=env, seed=5)
        check_everything_survived(tmp_path / "data", result, env=env)


def test_journal_survives_crashes_whole_and_verifiable(tmp_path):
    from sqlalchemy import create_engine, text

    data_dir = tmp_path / "data"
    crash_rounds(data_dir, rounds=3, seed=11)
    seqs = journal_seqs(data_dir)
    engine = create_engine(f"sqlite:///{data_dir / 'vault.db'}")
    with engine.connect() as connection:
        objects = connection.execute(text("SELECT COUNT(*), MIN(seal_seq), MAX(seal_seq) FROM archived_objects")).one()
    engine.dispose()
    assert seqs == list(range(len(seqs)))
    assert objects[1] == 0 and objects[2] == objects[0] - 1
    with ServerProcess(data_dir, env={"VAULT_CHECKPOINT_INTERVAL": "1"}):  # a checkpoint after the crashes
        import time
        time.sleep(2.5)
    report = journal_verify(data_dir)
    assert report["ok"] and report["entries"] >= len(seqs) and report["signed_checkpoints"] >= 1


def test_acknowledged_reads_are_journaled_across_kill_9(tmp_path):
    """Reads are journaled through the shared writer units: a read answered 200 has its entry committed, so a
    kill -9 at any moment loses none of them and leaves no gap."""
    from sqlalchemy import create_engine, text

    data_dir = tmp_path / "data"
    rng = random.Random(17)
    answered: set[str] = set()
    lock = threading.Lock()
    key = object_id = None
    for round_number in range(6):
        server = ServerProcess(data_dir).start()
        if key is None:
            key = server.new_key("depositor", "acme")
            with server.client(key) as http:
                object_id = deposit(http, b"read me often").json()["id"]

        def reader(worker: int, stop: threading.Event) -> None:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
                n = 0
                while not stop.is_set():
                    rid = f"read-{round_number}-{worker}-{n}"
                    n += 1
                    try:
                        response = http.get(f"/v1/objects/{object_id}", headers={"X-Request-Id": rid})
                    except httpx.HTTPError:
                        return  # the server died under us: this read was never answered
                    if response.status_code == 200:
                        with lock:
                            answered.add(rid)

        run_until_killed(server, reader, 6, rng, 0.1, 0.6)
    assert len(answered) > 100
    engine = create_engine(f"sqlite:///{data_dir / 'vault.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT seq, entry FROM journal_entries ORDER BY seq")).all()
    engine.dispose()
    assert [seq for seq, _entry in rows] == list(range(len(rows)))
    missing = answered - {json.loads(entry)["request_id"] for _seq, entry in rows}
    assert not missing, f"{len(missing)} answered reads have no journal entry after kill -9"
