"""``kill -9`` of the live server while each kind of write is running (issue 19, fault suite): deposits alone, seal
passes, a forced timestamp renewal (``POST /v1/admin/reseal``), journal anchors, package export streams and a
disposal execution. Depositors run throughout; the server is killed at a random moment, restarted, and then:
every acknowledged deposit is readable with its digests, the journal has no gap and ``vault journal verify``
passes, and ``/ready`` answers 200.

The kill lands at a random moment while the phase's work runs continuously (seal and anchor intervals of a tenth of
a second, back-to-back renewals and exports), so each case exercises a crash inside that phase most of the time,
not on every run at one chosen instruction.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from tests.faults.crash import (Acknowledged, check_everything_survived, depositor, journal_seqs, journal_verify,
                                run_until_killed)
from tests.server_process import ROOT, ServerProcess, deposit

pytestmark = [pytest.mark.slow, pytest.mark.serial(
    "kill -9 at a random moment of a phase whose intervals are tenths of a second: a busy neighbour moves the kill")]

DEPOSITORS = 3
DUE_POLICY = """id = "fault-due"
version = 1
title = "Proofs whose ten years ran out before they were deposited (fault tests only)"
legal_basis = "Test fixture: back-dated event times make objects due for disposal at once."
duration = "P10Y"
start = "event_time"
final_action = "destroy"
max_backdate = "P20Y"
"""


def _loop(server: ServerProcess, key: str, stop: threading.Event, call) -> None:
    """``call(http)`` again and again until stopped or the server dies."""
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        while not stop.is_set():
            try:
                call(http)
            except httpx.HTTPError:
                return  # the server died under us


def _reseal(server: ServerProcess, _tmp: Path, _due: list):
    def call(http):
        response = http.post("/v1/admin/reseal", json={"kind": "timestamp-renewal"})
        assert response.status_code in (200, 409), response.text  # 409: a scheduled seal pass holds the lock
    return server.admin_key, call


def _export(server: ServerProcess, _tmp: Path, _due: list):
    def call(http):
        with http.stream("GET", "/v1/cases/CRASH-load/package") as response:
            assert response.status_code == 200, response.read()
            for _chunk in response.iter_bytes():
                pass
    return server.new_key("depositor", "acme"), call


def _dispose(server: ServerProcess, _tmp: Path, due: list):
    """Objects due at once (event time eleven years back under a ten-year policy), proposed by one archivist and
    approved by another; the side worker executes the batch (once: a later call answers the certificate again)."""
    proposer = server.new_key("archivist", "acme", holder="ann@acme.example")
    approver = server.new_key("archivist", "acme", holder="bob@acme.example")
    long_ago = (datetime.now(timezone.utc) - timedelta(days=11 * 366)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with server.client(server.new_key("depositor", "acme")) as http:
        for n in range(120):
            receipt = deposit(http, f"due {n}".encode() * 50, case_ref="DUE-1", policy="fault-due",
                              event_time=long_ago)
            assert receipt.status_code == 201, receipt.text
            due.append(receipt.json()["id"])
    with server.client(proposer) as http:
        batch = http.post("/v1/disposal/batches", json={"object_ids": due})
        assert batch.status_code == 201, batch.text
        batch_id = batch.json()["id"]
    with server.client(approver) as http:
        approved = http.post(f"/v1/disposal/batches/{batch_id}/approve")
        assert approved.status_code == 200, approved.text
    due.append(batch_id)

    started = threading.Event()

    def call(http):
        if not started.is_set():  # let the depositors get going first: the kill must find acknowledged deposits
            time.sleep(0.4)
            started.set()
        executed = http.post(f"/v1/disposal/batches/{batch_id}/execute")
        assert executed.status_code == 200, executed.text
    return proposer, call


FAST_SEALS = {"VAULT_SEAL_INTERVAL": "0.1"}
DISPOSAL = {"VAULT_DISPOSAL_NOTICE": "PT0S", "VAULT_DISPOSAL_KEY_MIN_AGE": "PT0S"}
PHASES = {  # phase -> (settings, side worker factory or None)
    "deposit": ({}, None),
    "seal": (FAST_SEALS, None),
    "reseal": ({"VAULT_SEAL_INTERVAL": "0.5"}, _reseal),
    "anchor": ({"VAULT_ANCHOR_INTERVAL": "0.1", "VAULT_CHECKPOINT_INTERVAL": "1"}, None),
    "export": (FAST_SEALS, _export),
    "disposal": (DISPOSAL, _dispose),
}


@pytest.mark.parametrize("phase", list(PHASES))
def test_nothing_acknowledged_is_lost_when_killed(tmp_path, phase):
    settings, side = PHASES[phase]
    policies = tmp_path / "policies"
    policies.mkdir()
    for path in (ROOT / "policies").glob("*.toml"):
        (policies / path.name).write_text(path.read_text())
    (policies / "fault-due.toml").write_text(DUE_POLICY)
    env = {**settings, "VAULT_POLICIES_DIR": str(policies)}
    data_dir = tmp_path / "data"
    rng = random.Random(f"kill9-{phase}")
    acknowledged: Acknowledged = {}
    due: list[str] = []

    server = ServerProcess(data_dir, env=env).start()
    key = server.new_key("depositor", "acme")
    deposits = depositor(server, key, rng, "load", acknowledged, threading.Lock())
    side_key, side_call = side(server, tmp_path, due) if side else (None, None)
    if phase in ("reseal", "export"):  # something sealed to renew, something to export, before the kill
        with server.client(key) as http:
            assert deposit(http, b"first", case_ref="CRASH-load").status_code == 201
        with server.client() as http:
            assert http.post("/v1/admin/reseal", json={"kind": "seal"}).status_code == 200

    def work(worker: int, stop: threading.Event) -> None:
        if side_call and worker == DEPOSITORS:
            _loop(server, side_key, stop, side_call)
        else:
            deposits(worker, stop)

    low, high = (0.42, 0.6) if phase == "disposal" else (0.5, 1.5)  # disposal: just after its execute began
    run_until_killed(server, work, DEPOSITORS + (1 if side else 0), rng, low, high)
    assert "Traceback" not in server.output()

    check_everything_survived(data_dir, {"acknowledged": acknowledged, "key": key}, env=env)
    if phase == "disposal":
        _finish_disposal(data_dir, env, due)
    seqs = journal_seqs(data_dir)
    assert seqs == list(range(len(seqs))), "a gap in the journal after kill -9"
    assert journal_verify(data_dir)["entries"] == len(seqs)


def _finish_disposal(data_dir: Path, env: dict, due: list) -> None:
    """After the crash the execution either happened whole or not at all: executing again completes it (or answers
    the same certificate) and every object of the batch is then destroyed, its content gone."""
    *objects, batch_id = due
    with ServerProcess(data_dir, env=env) as server:
        executor = server.new_key("archivist", "acme", holder="carol@acme.example")
        with server.client(executor) as http:
            executed = http.post(f"/v1/disposal/batches/{batch_id}/execute")
            assert executed.status_code == 200, executed.text
            assert sorted(item["id"] for item in executed.json()["certificate"]["objects"]) == sorted(objects)
            for object_id in objects:
                assert http.get(f"/v1/objects/{object_id}/content").status_code == 410
