"""Helpers for ``kill -9`` tests against a live server (tests/server_process.py): load it, crash it at a random
moment, restart it, and check that nothing acknowledged was lost and the journal has no gap."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.server_process import ServerProcess, deposit

Acknowledged = dict[str, tuple[str, str, int]]  # object id -> (sha256, sha512, size) from a 201 receipt


def run_during(work, workers: int, action) -> None:
    """``work(worker, stop)`` in ``workers`` threads while ``action()`` runs here, then stop them; the first failure
    raised in a thread (a wrong receipt, an unexpected status) is raised again here."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def guarded(worker: int) -> None:
        try:
            work(worker, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread below
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    try:
        action()
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    if failures:
        raise failures[0]


def run_until_killed(server, work, workers: int, rng, low: float, high: float) -> None:
    """``work(worker, stop)`` in ``workers`` threads until ``server`` is killed -9 at a random moment."""
    def kill() -> None:
        time.sleep(rng.uniform(low, high))
        server.kill9()

    run_during(work, workers, kill)


def depositor(server: ServerProcess, key: str, rng, tag: str, acknowledged: Acknowledged, lock: threading.Lock,
              answers: list | None = None, **metadata):
    """A ``work(worker, stop)`` that deposits random bytes until stopped or the server dies, recording every
    deposit answered 201 (after checking the receipt's digests) in ``acknowledged``, and every answer's
    (status, media type) in ``answers`` when given."""
    metadata.setdefault("case_ref", f"CRASH-{tag}")

    def work(worker: int, stop: threading.Event) -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
            n = 0
            while not stop.is_set():
                content = os.urandom(rng.randint(1, 16_384)) + f"{tag}/{worker}/{n}".encode()
                n += 1
                try:
                    response = deposit(http, content, **metadata)
                except httpx.HTTPError:
                    return  # the server died under us: this deposit was never acknowledged
                if answers is not None:
                    answers.append((response.status_code, response.headers.get("content-type", "").split(";")[0]))
                if response.status_code == 201:
                    receipt = response.json()
                    expected = (hashlib.sha256(content).hexdigest(), hashlib.sha512(content).hexdigest(), len(content))
                    assert (receipt["sha256"], receipt["sha512"], receipt["size"]) == expected
                    with lock:
                        acknowledged[receipt["id"]] = expected

    return work


def check_everything_survived(data_dir, result: dict, env: dict | None = None) -> None:
    """Restart on ``data_dir``: every acknowledged object is listed and readable with its digests and size, and
    ``/ready`` answers 200 ok. ``result`` holds ``acknowledged`` and the depositor's ``key``."""
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
        ready = http.get("/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "ok", ready.text


def journal_seqs(data_dir: Path) -> list[int]:
    """The journal's sequence numbers on an embedded (SQLite) data directory, in order."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{Path(data_dir) / 'vault.db'}")
    try:
        with engine.connect() as connection:
            return [row[0] for row in connection.execute(text("SELECT seq FROM journal_entries ORDER BY seq"))]
    finally:
        engine.dispose()


def journal_verify(data_dir: Path, env: dict | None = None) -> dict:
    """``vault journal verify --data-dir --json`` (with ``env`` settings, e.g. VAULT_DATABASE_URL); asserts it
    exits 0 and answers its report."""
    done = subprocess.run([sys.executable, "-m", "vault.cli.main", "journal", "verify", "--data-dir", str(data_dir),
                           "--json"], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"], report
    return report
