"""A rolled-back journal tail is caught: anchors survive restarts, ``verify`` names the anchor, the server refuses
writes until ``vault journal accept-fork`` (journaled). Issue #19, item 6."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from tests.conftest import ROOT
from tests.server_process import ServerProcess, deposit
from tests.test_journal_audit import tamper
from vault.db.engine import make_engine
from vault.settings import Settings

ANCHOR_INTERVAL = 30
RESTART_EVERY = 10


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
def test_rollback_is_caught_with_restarts_more_frequent_than_the_anchor_interval(tmp_path):
    data_dir = tmp_path / "data"
    env = {"VAULT_ANCHOR_INTERVAL": str(ANCHOR_INTERVAL), "VAULT_CHECKPOINT_INTERVAL": "1"}
    server = ServerProcess(data_dir, env=env)
    deposited, key = 0, None
    began = time.monotonic()
    while time.monotonic() - began < 2 * ANCHOR_INTERVAL + 5:  # a crash every 10 s: no clean shutdown anchors
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
