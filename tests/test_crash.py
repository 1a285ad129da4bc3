"""An acknowledged deposit survives ``kill -9`` of the server: deposit in a loop, crash at a random moment,
restart, and find every acknowledged object with its digests and bytes intact."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import random
import threading
import time

import httpx
import pytest

from tests.conftest import fresh_pg_database
from tests.server_process import ServerProcess, deposit

pytestmark = pytest.mark.slow


def run_until_killed(server, work, workers: int, rng, low: float, high: float) -> None:
    """``work(worker, stop)`` in ``workers`` threads until ``server`` is killed -9 at a random moment."""
    stop = threading.Event()
    threads = [threading.Thread(target=work, args=(w, stop)) for w in range(workers)]
    for thread in threads:
        thread.start()
    time.sleep(rng.uniform(low, high))
    server.kill9()
    stop.set()
    for thread in threads:
        thread.join(15)


def crash_rounds(data_dir, rounds: int, env: dict | None = None, seed: int = 2026) -> dict:
    rng = random.Random(seed)
    acknowledged: dict[str, tuple[str, str, int]] = {}  # id -> (sha256, sha512, size)
    key = None
    for round_number in range(rounds):
        server = ServerProcess(data_dir, env=env).start()
        key = key or server.new_key("depositor", "acme")
        lock = threading.Lock()

        def depositor(worker: int, stop: threading.Event) -> None:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
                n = 0
                while not stop.is_set():
                    content = os.urandom(rng.randint(1, 16_384)) + f"{round_number}/{worker}/{n}".encode()
                    n += 1
                    try:
                        response = deposit(http, content, case_ref=f"CRASH-{round_number}")
                    except httpx.HTTPError:
                        return  # the server died under us: this deposit was never acknowledged
                    if response.status_code == 201:
                        receipt = response.json()
                        expected = (hashlib.sha256(content).hexdigest(), hashlib.sha512(content).hexdigest(), len(content))
                        assert (receipt["sha256"], receipt["sha512"], receipt["size"]) == expected
                        with lock:
                            acknowledged[receipt["id"]] = expected

        run_until_killed(server, depositor, 4, rng, 0.05, 0.6)
    return {"acknowledged": acknowledged, "key": key}


def check_everything_survived(data_dir, result: dict, env: dict | None = None) -> None:
    acknowledged = result["acknowledged"]
    assert len(acknowledged) > 0
    with ServerProcess(data_dir, env=env) as server, server.client(result["key"]) as http:
        listed, cursor = set(), None
        while True:
            page = http.get("/v1/objects", params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
            listed |= {item["id"] for item in page["items"]}
            cursor = page["next_cursor"]
            if not cursor:
                break
        missing = set(acknowledged) - listed
        assert not missing, f"{len(missing)} acknowledged deposits lost after kill -9"
        for object_id, (sha256, sha512, size) in acknowledged.items():
            meta = http.get(f"/v1/objects/{object_id}").json()
            assert (meta["sha256"], meta["sha512"], meta["size"]) == (sha256, sha512, size)
            content = http.get(f"/v1/objects/{object_id}/content").content
            assert hashlib.sha256(content).hexdigest() == sha256 and len(content) == size
        journal_ok = http.get("/ready").json()
        assert journal_ok["status"] == "ok"


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
    engine = create_engine(f"sqlite:///{data_dir / 'vault.db'}")
    with engine.connect() as connection:
        seqs = [row[0] for row in connection.execute(text("SELECT seq FROM journal_entries ORDER BY seq"))]
        objects = connection.execute(text("SELECT COUNT(*), MIN(seal_seq), MAX(seal_seq) FROM archived_objects")).one()
    engine.dispose()
    assert seqs == list(range(len(seqs)))
    assert objects[1] == 0 and objects[2] == objects[0] - 1
    with ServerProcess(data_dir, env={"VAULT_CHECKPOINT_INTERVAL": "1"}):  # a checkpoint after the crashes
        import time
        time.sleep(2.5)
    done = subprocess.run([sys.executable, "-m", "vault.cli.main", "journal", "verify", "--data-dir", str(data_dir),
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
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
