"""Issue 20's must-show: ``vault backup`` of a running server while depositors keep depositing, then ``vault
restore``: every acknowledged deposit is in the restored copy or after the backup point, none is half there, and
the restored archive verifies (``vault journal verify``, ``vault evidence verify`` of every object, ``vault audit
run``) and keeps working (it seals and takes new deposits with the restored keys)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time

import httpx

from tests.server_process import ROOT, ServerProcess, deposit
from vault.cli.main import main

PASSPHRASE = "a long backup passphrase for the test"
ENV = {"VAULT_SEAL_INTERVAL": "0.5", "VAULT_CHECKPOINT_INTERVAL": "1"}


def _depositors(server: ServerProcess, key: str, stop: threading.Event, acked: list, count: int = 3) -> list:
    def run(n: int) -> None:
        with server.client(key) as http:
            i = 0
            while not stop.is_set():
                content = f"proof {n}-{i} ".encode() + os.urandom(256)
                try:
                    response = deposit(http, content, case_ref=f"LIVE-{n}")
                except httpx.HTTPError:
                    continue
                if response.status_code == 201:
                    receipt = response.json()
                    acked.append({"id": receipt["id"], "journal_index": receipt["journal_index"],
                                  "acked_at": time.monotonic(), "content": content})
                i += 1

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    return threads


def _vault(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vault.cli.main", *argv], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "VAULT_BACKUP_PASSPHRASE": PASSPHRASE, **(env or {})}, timeout=120)


def test_backup_while_deposits_continue_restores_every_acknowledged_deposit(tmp_path, capsys):
    data, backup, restored = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    acked: list[dict] = []
    stop = threading.Event()
    with ServerProcess(data, env=ENV) as server:
        threads = _depositors(server, server.new_key("depositor", "acme"), stop, acked)
        while len(acked) < 40:
            time.sleep(0.05)
        backup_started = time.monotonic()
        taken = _vault("backup", str(backup), env={"VAULT_DATA_DIR": str(data)})
        backup_ended = time.monotonic()
        while sum(a["acked_at"] > backup_ended for a in acked) < 10:
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(30)
    assert taken.returncode == 0, taken.stderr
    during = [a for a in acked if backup_started < a["acked_at"] < backup_ended]
    assert during, "no deposit was acknowledged while the backup ran: the test shows nothing"

    assert _vault("backup", "verify", str(backup)).returncode == 0
    done = _vault("restore", str(backup), "--data-dir", str(restored))
    assert done.returncode == 0, done.stderr
    point = json.loads((backup / "manifest.json").read_text())["point"]
    before = [a for a in acked if a["journal_index"] < point["journal_size"]]
    after = [a for a in acked if a["journal_index"] >= point["journal_size"]]
    assert all(a["acked_at"] > backup_started for a in after), "a deposit acknowledged before the backup is missing"
    assert before and after and len(before) + len(after) == len(acked)

    with ServerProcess(restored, env=ENV) as server, server.client() as http:
        listed = set()
        cursor = None
        while True:
            page = http.get("/v1/objects", params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
            listed |= {item["id"] for item in page["items"]}
            if not (cursor := page["next_cursor"]):
                break
        assert listed == {a["id"] for a in before}  # nothing after the point, nothing half there
        for a in before:
            assert http.get(f"/v1/objects/{a['id']}/content").content == a["content"]
        records = _evidence_records(http, before, tmp_path)
        roots = tmp_path / "roots.pem"
        roots.write_bytes(http.get("/v1/tsa/roots").content)
        for a, (record, content) in zip(before, records):
            assert main(["evidence", "verify", str(record), "--data", str(content), "--roots", str(roots)]) == 0, a
        capsys.readouterr()
        assert main(["audit", "run", "--url", server.url, "--key", server.admin_key, "--json"]) == 0
        audit = json.loads(capsys.readouterr().out)
        assert audit["blobs"] == len(before) and not audit["bad"] and not audit["lost"]
        with server.client(server.new_key("depositor", "acme")) as depositor:
            new = deposit(depositor, b"deposited into the restored archive")
        assert new.status_code == 201 and new.json()["journal_index"] >= point["journal_size"]
    assert main(["journal", "verify", "--data-dir", str(restored)]) == 0


def _evidence_records(http: httpx.Client, deposits: list[dict], tmp_path) -> list:
    """Each object's evidence record once the restored server sealed it (with the restored TSA keys)."""
    files = []
    deadline = time.monotonic() + 60
    for a in deposits:
        while (response := http.get(f"/v1/objects/{a['id']}/evidence-record")).status_code != 200:
            assert time.monotonic() < deadline, f"object {a['id']} not sealed: {response.text}"
            time.sleep(0.2)
        record, content = tmp_path / f"{a['id']}.ers", tmp_path / f"{a['id']}.bin"
        record.write_bytes(response.content)
        content.write_bytes(a["content"])
        assert hashlib.sha256(a["content"]).hexdigest() == http.get(f"/v1/objects/{a['id']}").json()["sha256"]
        files.append((record, content))
    return files
