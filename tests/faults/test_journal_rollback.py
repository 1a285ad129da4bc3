"""A rolled-back journal tail is caught: anchors survive restarts, ``verify`` names the anchor, the server refuses
writes until ``vault journal accept-fork`` (journaled). Issue #19, item 6."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import ADMIN_KEY, ROOT, Api, make_settings
from tests.server_process import ServerProcess, deposit
from tests.test_journal_audit import tamper
from vault.api.app import create_app
from vault.app import Vault
from vault.db.engine import make_engine
from vault.journal.alerts import recent_alerts
from vault.journal.anchors import load_anchors
from vault.journal.fork import accept_fork, find_fork
from vault.journal.log import journal_size
from vault.settings import Settings

# Each process lives a start-up (~3 s) plus RESTART_EVERY, well under ANCHOR_INTERVAL: an anchorer whose timer began
# at process start would never anchor. The ratio 3 and the run of 2 intervals (≥ 2 anchors) are what the test needs;
# 12 s / 4 s prove it as 30 s / 10 s did, in 29 s of crashes instead of 65 s.
ANCHOR_INTERVAL = 12
RESTART_EVERY = 4


def vault_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vault.cli.main", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT),
                                            "VAULT_POLICIES_DIR": str(ROOT / "policies")})


def engine_of(data_dir):
    return make_engine(Settings.from_env({"VAULT_DATA_DIR": str(data_dir)}).effective_database_url)


def rows(data_dir, query: str) -> list:
    engine = engine_of(data_dir)
    try:
        with engine.connect() as connection:
            return connection.execute(text(query)).all()
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.serial("server restarts timed against the journal's anchor interval")
def test_rollback_is_caught_with_restarts_more_frequent_than_the_anchor_interval(tmp_path):
    data_dir = tmp_path / "data"
    env = {"VAULT_ANCHOR_INTERVAL": str(ANCHOR_INTERVAL), "VAULT_CHECKPOINT_INTERVAL": "1"}
    server = ServerProcess(data_dir, env=env)
    deposited, key = 0, None
    began = time.monotonic()
    while time.monotonic() - began < 2 * ANCHOR_INTERVAL + 5:  # a crash every RESTART_EVERY s: no clean shutdown anchors
        server.start()
        key = key or server.new_key("depositor", "acme")
        started = time.monotonic()
        with server.client(key) as http:
            while time.monotonic() - started < RESTART_EVERY:
                for _ in range(5):
                    assert deposit(http, f"rollback {deposited}".encode(), case_ref="RB-1").status_code == 201
                    deposited += 1
                time.sleep(0.5)
        server.kill9()
    anchors = rows(data_dir, "SELECT seq, checkpoint_size FROM journal_anchors ORDER BY seq")
    assert len(anchors) >= 2, f"restarts every {RESTART_EVERY} s must not stop anchoring: {anchors}"
    newest_seq, anchored = anchors[-1]
    size = rows(data_dir, "SELECT max(seq) + 1 FROM journal_entries")[0][0]
    assert vault_cli("journal", "verify", "--data-dir", str(data_dir)).returncode == 0

    # the attacker: drop the triggers, delete the tail (past the newest anchored size) and its checkpoints
    keep = anchored - 50
    engine = engine_of(data_dir)
    try:
        tamper(SimpleNamespace(writer_engine=engine), f"DELETE FROM journal_entries WHERE seq >= {keep}",
               f"DELETE FROM journal_hashes WHERE ((idx + 1) << level) > {keep}",
               f"DELETE FROM journal_checkpoints WHERE size > {keep}")
    finally:
        engine.dispose()
    assert size > keep
    verified = vault_cli("journal", "verify", "--data-dir", str(data_dir))
    assert verified.returncode == 1
    assert f"anchor {newest_seq}: anchors {anchored} entries but the log holds {keep}" in verified.stderr

    # the server starts, refuses writes naming the anchor and the lost size, still serves (journaled) reads
    with ServerProcess(data_dir, env=env) as forked, forked.client() as http, forked.client(key) as depositor:
        refused = deposit(depositor, b"after the fork", case_ref="RB-2")
        assert refused.status_code == 503 and refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["type"].endswith("journal-fork")
        assert (problem["anchor"], problem["lost_size"], problem["log_size"]) == (newest_seq, anchored, keep)
        assert http.get("/v1/objects", params={"case_ref": "RB-1"}).status_code == 200
        alerts = http.get("/v1/alerts").json()["security"]
        assert [a["subject"] for a in alerts if a["kind"] == "journal-fork"] == \
            [f"anchor {newest_seq}: {anchored} entries, log {keep}"]
        assert 'vault_security_alerts_total{kind="journal-fork"} 1' in http.get("/metrics").text
        assert "journal fork" in forked.output()

    assert vault_cli("journal", "accept-fork", "--data-dir", str(data_dir)).returncode != 0  # a reason is required
    accepted = vault_cli("journal", "accept-fork", "--data-dir", str(data_dir), "--json",
                         "--reason", "restored from backup after incident 42; tail lost")
    assert accepted.returncode == 0, accepted.stderr
    index = json.loads(accepted.stdout)["journal_index"]
    entry = json.loads(rows(data_dir, f"SELECT entry FROM journal_entries WHERE seq = {index}")[0][0])
    assert entry["action"] == "journal_fork_accepted"
    assert entry["detail"].pop("log_size") >= keep  # the reads served meanwhile were journaled on the surviving log
    assert entry["detail"] == {"anchor": newest_seq, "lost_size": anchored,
                               "reason": "restored from backup after incident 42; tail lost"}

    with ServerProcess(data_dir, env=env) as resumed, resumed.client(key) as depositor:
        assert deposit(depositor, b"after the acceptance", case_ref="RB-2").status_code == 201
    # the loss stays visible: acceptance does not make the lost anchored tree verify
    assert vault_cli("journal", "verify", "--data-dir", str(data_dir)).returncode == 1


def open_vault(settings, **options) -> tuple[Vault, Api]:
    vault = Vault.open(settings, sweep_in_background=False, **{"background_jobs": False, **options})
    return vault, Api(TestClient(create_app(vault)), ADMIN_KEY)


def test_a_fork_refuses_writes_until_accepted_then_anchoring_resumes(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url)
    vault, admin = open_vault(settings)
    key = admin.new_key("depositor", "acme")
    depositor = admin.as_key(key)
    first = depositor.deposit(b"before the anchor").json()["id"]
    vault.checkpointer.checkpoint_now()
    anchor = vault.anchorer.anchor_now()
    for i in range(3):
        assert depositor.deposit(f"after the anchor {i}".encode()).status_code == 201
    vault.checkpointer.checkpoint_now()
    keep = anchor.checkpoint_size - 3
    tamper(vault, f"DELETE FROM journal_entries WHERE seq >= {keep}",
           f"DELETE FROM journal_hashes WHERE ((idx + 1) << level) > {keep}",
           f"DELETE FROM journal_checkpoints WHERE size > {keep}")
    vault.close()

    vault, admin = open_vault(settings)
    try:
        assert vault.fork is not None and vault.fork.detail() == {"anchor": anchor.seq,
                                                                  "lost_size": anchor.checkpoint_size,
                                                                  "log_size": keep}
        refused = admin.as_key(key).deposit(b"during the fork")
        assert refused.status_code == 503 and refused.json()["type"] == "urn:vault:problem:journal-fork"
        assert admin.post("/v1/keys", json={"role": "depositor", "tenant": "acme"}).status_code == 503
        assert admin.get(f"/v1/objects/{first}").status_code == 200  # reads go on, journaled
        accepted_at = accept_fork(vault.journal, vault.fork, "restored from backup")
        assert accepted_at >= keep
    finally:
        vault.close()

    vault, admin = open_vault(settings)
    try:
        assert vault.fork is None
        assert admin.as_key(key).deposit(b"after the acceptance").status_code == 201
        vault.checkpointer.checkpoint_now()
        resumed = vault.anchorer.anchor_now()
        assert resumed is not None and resumed.seq == anchor.seq + 1  # chained to the lost anchor, over the new tree
        with vault.reader.connect() as connection:
            assert find_fork(connection, vault.checkpointer.signer.verifier) is None
    finally:
        vault.close()
    vault, _ = open_vault(settings)  # the accepted fork, now followed by a newer anchor, is no fork at the next start
    try:
        assert vault.fork is None
        subjects = [a["subject"] for a in vault_alerts(vault) if a["kind"] == "journal-fork"]
        assert subjects == [f"anchor {anchor.seq}: {anchor.checkpoint_size} entries, log {keep}"]  # raised once
    finally:
        vault.close()


def vault_alerts(vault) -> list[dict]:
    with vault.reader.connect() as connection:
        return recent_alerts(connection, None, 100)


def test_the_anchor_schedule_counts_from_the_last_anchor_stored(vault_at):
    vault, clock, admin = vault_at(datetime.now(timezone.utc), anchor_interval=600.0)
    assert vault.anchorer.due_in() == 0  # no anchor yet: due at once (at start)
    admin.as_key(admin.new_key("depositor", "acme")).deposit(b"scheduled")
    vault.checkpointer.checkpoint_now()
    assert vault.anchorer.anchor_now() is not None
    assert vault.anchorer.due_in() == 600
    clock.advance(timedelta(seconds=200))
    assert vault.anchorer.due_in() == 400  # a process started now waits 400 s, not 600
    clock.advance(timedelta(seconds=500))
    assert vault.anchorer.due_in() == 0


def test_a_clean_shutdown_checkpoints_and_anchors(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url, anchor_interval=3600.0, checkpoint_interval=3600)
    vault, admin = open_vault(settings, background_jobs=True)
    admin.as_key(admin.new_key("depositor", "acme")).deposit(b"anchored at shutdown")
    with vault.reader.connect() as connection:
        size = journal_size(connection)
    vault.close()
    vault, _ = open_vault(settings)
    try:
        with vault.reader.connect() as connection:
            anchors = load_anchors(connection)
        assert anchors and anchors[-1].checkpoint_size == size
    finally:
        vault.close()
