"""Read routes while deposits arrive (issue 19, item 1): a read path must never write. ``GET /v1/alerts`` and
``GET /metrics`` used to fold the case tracker (a write) on the reader's engine, so under concurrent deposits they
could fail with "database is locked". Two depositors and one reader against a live server on the embedded default
for ~10 s: every answer must be 200 and the server log must hold no traceback.

``VAULT_TEST_LOAD_SECONDS`` changes the run's length.
"""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest

from tests.server_process import ServerProcess, deposit

pytestmark = pytest.mark.serial("a load test: 10 s of concurrent deposits and reads would slow its neighbours and they it")

SECONDS = min(float(os.environ.get("VAULT_TEST_LOAD_SECONDS", "10")), 10.0)


@pytest.fixture
def server(tmp_path):
    with ServerProcess(tmp_path / "data", env={"VAULT_SEAL_INTERVAL": "1", "VAULT_CHECKPOINT_INTERVAL": "1"}) as live:
        yield live


def _depositor(server: ServerProcess, key: str, until: float, counts: list[int], errors: list[str], n: int) -> None:
    with server.client(key) as http:
        i = 0
        while time.monotonic() < until:
            i += 1  # a new case every few deposits: the tracker has statuses to write
            response = deposit(http, f"depositor {n} proof {i} ".encode() * 50, case_ref=f"READ-{n}-{i // 3}",
                               event_type="sending")
            if response.status_code != 201:
                errors.append(f"deposit {response.status_code}: {response.text[:200]}")
                return
            counts[n] += 1


def _reader(server: ServerProcess, key: str, until: float, answers: list[int], errors: list[str]) -> None:
    with server.client(key) as http:
        while time.monotonic() < until:
            for path in ("/v1/alerts", "/metrics"):
                try:
                    response = http.get(path, timeout=30)
                except httpx.HTTPError as exc:
                    errors.append(f"{path}: {exc!r}")
                    continue
                if response.status_code != 200:
                    errors.append(f"{path} {response.status_code}: {response.text[:200]}")
                answers.append(response.status_code)


def test_alerts_and_metrics_answer_while_deposits_commit(server):
    depositor = server.new_key("depositor", "acme")
    archivist = server.new_key("archivist", "acme")
    until = time.monotonic() + SECONDS
    counts, answers, errors = [0, 0], [], []
    threads = [threading.Thread(target=_depositor, args=(server, depositor, until, counts, errors, n))
               for n in range(2)]
    threads.append(threading.Thread(target=_reader, args=(server, archivist, until, answers, errors)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SECONDS + 120)
    assert not errors, errors[:5]
    assert sum(counts) > 20 and len(answers) > 20, (counts, len(answers))
    log = server.output()
    assert "Traceback" not in log and "database is locked" not in log, log[-3000:]
