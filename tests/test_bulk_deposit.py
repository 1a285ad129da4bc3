"""``vault deposit-batch``: 10 000 files with 5 % bad rows, interrupted (SIGINT, then SIGKILL) and resumed — every
good row is stored exactly once and every bad row is in the report with its reason."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.server_process import ROOT, ServerProcess
from tests.test_cli import vault
from vault.client import VaultClient

pytestmark = pytest.mark.slow
ROWS = 10_000
BAD = {"missing": "No such file", "teleport": "event_type", "no-such-policy": "Unknown policy"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("bulk") / "data", env={"VAULT_SEAL_INTERVAL": "86400"}) as running:
        yield running


@pytest.fixture(scope="module")
def depositor(server):
    done = vault("keys", "create", "--role", "depositor", "--tenant", "bulk", "--json", url=server.url,
                 key=server.admin_key)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["key"]


def make_folder(folder: Path, rows: int) -> dict[int, str]:
    """``rows`` proofs and manifest.csv; every 20th row is bad (a missing file, a bad event type, an unknown
    policy, in turn). Returns row number → kind of fault."""
    folder.mkdir()
    bad: dict[int, str] = {}
    with (folder / "manifest.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["file", "case_ref", "policy", "event_type", "extra.n"])
        for n in range(1, rows + 1):
            fault = list(BAD)[(n // 20) % 3] if n % 20 == 0 else None
            name = f"p{n:05}.txt"
            if fault != "missing":
                (folder / name).write_text(f"proof {n}\n")
            writer.writerow([name, f"BULK-{n}", "no-such-policy" if fault == "no-such-policy" else "lre-proof",
                             "teleport" if fault == "teleport" else "receipt", str(n)])
            if fault:
                bad[n] = fault
    return bad


def start(folder: Path, server, key: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vault.cli.main", "deposit-batch", str(folder), "--manifest",
                             str(folder / "manifest.csv"), "--concurrency", "16", "--json", "--url", server.url,
                             "--key", key], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)})


def interrupt_after(process: subprocess.Popen, state: Path, rows: int, sig: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if state.exists() and state.read_bytes().count(b"\n") >= rows:
            process.send_signal(sig)
            break
        time.sleep(0.05)
    process.wait(120)


def stored_case_refs(server, key: str) -> Counter:
    refs: Counter = Counter()
    with VaultClient(server.url, key) as api:
        cursor = None
        while True:
            page = api.json("GET", "/v1/objects", params={"limit": 500, **({"cursor": cursor} if cursor else {})})
            refs.update(item["case_ref"] for item in page["items"])
            if not (cursor := page["next_cursor"]):
                return refs


def test_ten_thousand_rows_interrupted_and_resumed(server, depositor, tmp_path):
    folder = tmp_path / "proofs"
    bad = make_folder(folder, ROWS)
    assert len(bad) == ROWS // 20
    state = folder / "manifest.report.csv.state"

    first = start(folder, server, depositor)
    interrupt_after(first, state, 2_000, signal.SIGINT)
    assert first.returncode == 130
    assert "run the same command again to resume" in first.stderr.read()
    second = start(folder, server, depositor)
    interrupt_after(second, state, 5_000, signal.SIGKILL)
    assert second.returncode == -signal.SIGKILL
    accepted_before = state.read_bytes().count(b"\n")
    assert 5_000 <= accepted_before < ROWS - len(bad)

    last = start(folder, server, depositor)
    out, err = last.communicate(timeout=900)
    assert last.returncode == 1, err
    summary = json.loads(out)
    assert summary["refused"] == len(bad)
    assert summary["stored"] + summary["replayed"] == ROWS - len(bad)
    assert summary["replayed"] >= accepted_before  # rows of the killed runs: never stored again

    refs = stored_case_refs(server, depositor)
    assert len(refs) == ROWS - len(bad) and set(refs.values()) == {1}
    assert not {f"BULK-{n}" for n in bad} & set(refs)

    with (folder / "manifest.report.csv").open(newline="") as report:
        rows = list(csv.DictReader(report))
    assert [int(r["row"]) for r in rows] == list(range(1, ROWS + 1))
    refused = {int(r["row"]): r["reason"] for r in rows if r["outcome"] == "refused"}
    assert refused.keys() == bad.keys()
    for n, fault in bad.items():
        assert BAD[fault] in refused[n], (n, refused[n])

    # once more, without the state file: the server itself replays every row through its Idempotency-Key
    state.unlink()
    again = start(folder, server, depositor)
    out, err = again.communicate(timeout=900)
    assert again.returncode == 1, err
    assert json.loads(out) | {"report": None} == {"rows": ROWS, "stored": 0, "replayed": ROWS - len(bad),
                                                   "refused": len(bad), "report": None}
    assert stored_case_refs(server, depositor) == refs


def test_jsonl_manifest_and_report(server, depositor, tmp_path):
    folder = tmp_path / "few"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(b"%PDF-1.7 a\n")
    (folder / "b.xml").write_bytes(b"<?xml version='1.0'?><b/>")
    lines = [{"file": "a.pdf", "case_ref": "JL-1", "policy": "lre-proof", "extra": {"batch": "7"}},
             {"file": "b.xml", "case_ref": "JL-2", "policy": "lre-proof", "media_type": "application/xml"},
             {"file": "../outside.pdf", "case_ref": "JL-3", "policy": "lre-proof"},
             {"case_ref": "JL-4", "policy": "lre-proof"}]
    manifest = folder / "m.jsonl"
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n{not json\n")
    report = tmp_path / "out.jsonl"
    done = vault("deposit-batch", str(folder), "--manifest", str(manifest), "--report", str(report),
                 url=server.url, key=depositor)
    assert done.returncode == 1 and "5 rows: 2 stored, 0 replayed, 3 refused" in done.stdout, done.stderr
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert [r["outcome"] for r in rows] == ["stored", "stored", "refused", "refused", "refused"]
    assert "outside the deposit directory" in rows[2]["reason"] and "no 'file'" in rows[3]["reason"]
    assert "not JSON" in rows[4]["reason"]
    with VaultClient(server.url, depositor) as api:
        first = api.object(rows[0]["object_id"])
        assert first["extra"] == {"batch": "7"} and first["media_type"] == "application/pdf"
    missing = vault("deposit-batch", str(folder), "--manifest", str(folder / "none.csv"), url=server.url,
                    key=depositor)
    assert missing.returncode == 1 and "none.csv" in missing.stderr and "Traceback" not in missing.stderr
