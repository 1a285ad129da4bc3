"""The ``vault`` command against a live server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import zipfile
from datetime import timedelta

import pytest

from tests.server_process import ROOT, ServerProcess, deposit, free_port
from tests.times import days_ago
from vault.clock import iso_z

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # sealing only when asked (vault reseal --kind seal), so that "pending" is deterministic
    with ServerProcess(tmp_path_factory.mktemp("cli") / "data", env={"VAULT_SEAL_INTERVAL": "86400"}) as running:
        yield running


def vault(*args: str, key: str | None = None, url: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "vault.cli.main", *args]
    if url:
        command += ["--url", url]
    if key:
        command += ["--key", key]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)})


@pytest.fixture(scope="module")
def depositor_key(server):
    done = vault("keys", "create", "--role", "depositor", "--tenant", "acme", "--json", url=server.url,
                 key=server.admin_key)
    assert done.returncode == 0, done.stderr
    issued = json.loads(done.stdout)
    assert issued["role"] == "depositor" and issued["tenant"] == "acme"
    return issued["key"]


def test_deposit_info_get_search(server, depositor_key, tmp_path):
    proof = tmp_path / "proof.pdf"
    proof.write_bytes(b"%PDF-1.7 a proof of receipt\n" * 50)
    done = vault("deposit", str(proof), "--case-ref", "CLI-1", "--policy", "lre-proof", "--event-type", "receipt",
                 "--meta", "extra.channel=lre", "--json", url=server.url, key=depositor_key)
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    info = json.loads(vault("info", receipt["id"], "--json", url=server.url, key=depositor_key).stdout)
    assert info["extra"] == {"channel": "lre"} and info["event_type"] == "receipt"
    assert info["filename"] == "proof.pdf"
    copy = tmp_path / "copy.pdf"
    got = vault("get", receipt["id"], "-o", str(copy), url=server.url, key=depositor_key)
    assert got.returncode == 0, got.stderr
    assert copy.read_bytes() == proof.read_bytes() and "verified" in got.stdout
    found = json.loads(vault("search", "--case-ref", "CLI-1", "--json", url=server.url, key=depositor_key).stdout)
    assert [item["id"] for item in found["items"]] == [receipt["id"]]
    human = vault("search", "--case-ref", "CLI-1", url=server.url, key=depositor_key)
    assert receipt["id"] in human.stdout and "receipt" in human.stdout


def test_unknown_policy_is_a_clear_error(server, depositor_key, tmp_path):
    proof = tmp_path / "p.txt"
    proof.write_text("x")
    done = vault("deposit", str(proof), "--case-ref", "X", "--policy", "two-years", url=server.url, key=depositor_key)
    assert done.returncode != 0
    assert "Unknown policy" in done.stderr and "two-years" in done.stderr


def test_missing_file_and_bad_meta(server, depositor_key, tmp_path):
    done = vault("deposit", str(tmp_path / "absent.pdf"), "--case-ref", "X", "--policy", "lre-proof",
                 url=server.url, key=depositor_key)
    assert done.returncode != 0 and "no such file" in done.stderr
    proof = tmp_path / "p.txt"
    proof.write_text("x")
    bad = vault("deposit", str(proof), "--case-ref", "X", "--policy", "lre-proof", "--meta", "novalue",
                url=server.url, key=depositor_key)
    assert bad.returncode != 0 and "key=value" in bad.stderr


def test_unreachable_server_and_missing_key(tmp_path):
    done = vault("info", "01890a5d-ac96-774b-bcce-b302099a8057", url=f"http://127.0.0.1:{free_port()}", key="k" * 30)
    assert done.returncode != 0 and "cannot reach vault" in done.stderr
    no_key = subprocess.run([sys.executable, "-m", "vault.cli.main", "info", "x"], capture_output=True, text=True,
                            cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert no_key.returncode != 0 and "no API key" in no_key.stderr


def test_wrong_key_is_reported(server):
    done = vault("search", "--case-ref", "X", url=server.url, key="wrong-key-wrong-key-wrong-key")
    assert done.returncode != 0 and "HTTP 401" in done.stderr


def test_evidence_export_and_offline_verify(server, depositor_key, tmp_path):
    proof = tmp_path / "sealed.pdf"
    proof.write_bytes(b"%PDF-1.7 sealed by the CLI\n")
    receipt = json.loads(vault("deposit", str(proof), "--case-ref", "CLI-ERS", "--policy", "lre-proof", "--json",
                               url=server.url, key=depositor_key).stdout)
    sealed = vault("reseal", "--kind", "seal", "--json", url=server.url, key=server.admin_key)
    assert sealed.returncode == 0, sealed.stderr
    record = tmp_path / "sealed.ers"
    exported = vault("evidence", "export", receipt["id"], "-o", str(record), url=server.url, key=depositor_key)
    assert exported.returncode == 0, exported.stderr
    roots = tmp_path / "roots.pem"
    roots.write_bytes(server.client().get("/v1/tsa/roots").content)

    ok = vault("evidence", "verify", str(record), "--data", str(proof), "--roots", str(roots))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip().endswith("VALID") and "development, not qualified" in ok.stdout

    other = tmp_path / "other.pdf"
    other.write_bytes(b"%PDF-1.7 something else\n")
    bad = vault("evidence", "verify", str(record), "--data", str(other), "--roots", str(roots))
    assert bad.returncode == 1 and "INVALID: chain 1 (sha256) ATS 1 covers the data" in bad.stdout

    missing = vault("evidence", "verify", str(record), "--data", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
    nothing = vault("evidence", "verify", str(record))
    assert nothing.returncode == 1 and "--data" in nothing.stderr

    inventory = vault("crypto", "inventory", url=server.url, key=server.admin_key)
    assert inventory.returncode == 0 and "sha256" in inventory.stdout and "ALERT" in inventory.stdout
    assert "pending identification" in inventory.stdout  # the PRONOM formats held (issue 23)
    renewed = vault("reseal", "--kind", "hash-tree-renewal", "--hash", "sha3-512", url=server.url,
                    key=server.admin_key)
    assert renewed.returncode == 0, renewed.stderr
    vault("evidence", "export", receipt["id"], "-o", str(record), url=server.url, key=depositor_key)
    again = vault("evidence", "verify", str(record), "--data", str(proof), "--roots", str(roots), "--json")
    verdict = json.loads(again.stdout)
    assert verdict["valid"] and any(step["step"].startswith("chain 2 (sha3_512)") for step in verdict["steps"])


def test_evidence_export_of_a_pending_object_says_so(server, depositor_key, tmp_path):
    proof = tmp_path / "pending.pdf"
    proof.write_bytes(b"%PDF-1.7 not sealed yet\n")
    receipt = json.loads(vault("deposit", str(proof), "--case-ref", "CLI-P", "--policy", "lre-proof", "--json",
                               url=server.url, key=depositor_key).stdout)
    done = vault("evidence", "export", receipt["id"], "-o", str(tmp_path / "p.ers"), url=server.url,
                 key=depositor_key)
    assert done.returncode == 1 and "not sealed yet" in done.stderr


ETSI_EVENTS = {"deposit": "SubmissionAcceptance", "sending": "ContentConsignment"}


def test_case_alerts_consent_and_search_tables(server, depositor_key, tmp_path):
    sent_on = days_ago(60)  # no outcome two months after the sending: overdue
    for event_type, hours in (("deposit", 9), ("sending", 10)):
        when = iso_z(sent_on + timedelta(hours=hours))
        proof = tmp_path / f"{event_type}.txt"
        proof.write_text(f"{event_type} proof")
        done = vault("deposit", str(proof), "--case-ref", "CLI-CASE", "--policy", "lre-proof", "--event-type",
                     event_type, "--event-time", when, "--meta", f"etsi_event={ETSI_EVENTS[event_type]}",
                     url=server.url, key=depositor_key)
        assert done.returncode == 0, done.stderr
    case = vault("case", "CLI-CASE", url=server.url, key=depositor_key)
    assert case.returncode == 3, case.stderr  # no outcome months after the sending: overdue
    lines = case.stdout.splitlines()
    assert lines[0].split() == ["time", "event", "kind", "case", "signatures", "format", "id", "file"]
    assert [line.split()[1] for line in lines[2:4]] == ["deposit", "sending"]
    assert "case CLI-CASE: overdue against chain lre; missing outcome" in case.stdout
    alerts = vault("alerts", url=server.url, key=depositor_key)
    assert alerts.returncode == 0 and "CLI-CASE" in alerts.stdout and "outcome" in alerts.stdout
    table = vault("search", "--case-ref", "CLI-CASE", "--verdict", "none", url=server.url, key=depositor_key)
    assert table.returncode == 0 and table.stdout.count("CLI-CASE") == 2 and "signatures" in table.stdout
    found = vault("search", "--case-ref", "CLI-CASE", "--etsi-event", "ContentConsignment", "--json", url=server.url,
                  key=depositor_key)
    assert [item["event_type"] for item in json.loads(found.stdout)["items"]] == ["sending"], found.stderr
    unknown = vault("search", "--etsi-event", "Sent", url=server.url, key=depositor_key)
    assert unknown.returncode != 0 and "EN 319 522-1" in unknown.stderr

    consent = tmp_path / "optin.json"
    consent.write_text('{"event": "opt-in"}')
    done = vault("deposit", str(consent), "--case-ref", "CONSENT-1", "--policy", "consent-record", "--kind",
                 "consent-record", "--event-type", "consent", "--event-time", iso_z(days_ago(40)),
                 "--meta", "subject=ann@example.org", "--meta", "purpose=newsletter", url=server.url, key=depositor_key)
    assert done.returncode == 0, done.stderr
    asked = iso_z(days_ago(12))
    state = vault("consent", "ann@example.org", "--purpose", "newsletter", "--at", asked,
                  url=server.url, key=depositor_key)
    assert state.returncode == 0, state.stderr
    assert state.stdout.startswith(f"granted for newsletter at {asked}: proven by ")


def test_export_a_case_package(server, depositor_key, tmp_path):
    proof = tmp_path / "p.txt"
    proof.write_text("exported proof")
    assert vault("deposit", str(proof), "--case-ref", "CLI-PKG", "--policy", "lre-proof", url=server.url,
                 key=depositor_key).returncode == 0
    target = tmp_path / "case.zip"
    done = vault("export", "--case-ref", "CLI-PKG", "-o", str(target), "--json", url=server.url, key=depositor_key)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["objects"] == 1 and zipfile.is_zipfile(target)
    assert not (tmp_path / "case.zip.part").exists()
    missing = vault("export", "--case-ref", "NO-SUCH-CASE", "-o", str(tmp_path / "x.zip"), url=server.url,
                    key=depositor_key)
    assert missing.returncode != 0 and "Unknown case" in missing.stderr and not (tmp_path / "x.zip").exists()


def test_keys_list_rotate_revoke(server):
    created = vault("keys", "create", "--role", "auditor", "--tenant", "acme", "--holder", "audrey@acme.example",
                    "--json", url=server.url, key=server.admin_key)
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    listed = vault("keys", "list", "--tenant", "acme", url=server.url, key=server.admin_key)
    assert listed.returncode == 0 and issued["key_id"] in listed.stdout and "audrey@acme.example" in listed.stdout
    assert issued["key"] not in listed.stdout
    rotated = vault("keys", "rotate", issued["key_id"], "--overlap", "PT0S", "--quiet", url=server.url,
                    key=server.admin_key)
    assert rotated.returncode == 0, rotated.stderr
    new_secret = rotated.stdout.strip()
    assert new_secret.startswith("vault_") and new_secret != issued["key"]
    assert vault("search", "--json", url=server.url, key=new_secret).returncode == 0
    revoked = vault("keys", "revoke", issued["key_id"], url=server.url, key=server.admin_key)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    refused = vault("search", url=server.url, key=new_secret)
    assert refused.returncode != 0 and "401" in refused.stderr + refused.stdout
    denied = vault("keys", "create", "--role", "admin", "--tenant", "*", "--holder", "x@y.example",
                   url=server.url, key=new_secret)
    assert denied.returncode != 0


def test_kpis_table_json_and_errors(server):
    """``vault kpis`` prints the indicators of the folded sendings (the fold runs every second in the server)."""
    depositor = server.new_key("depositor", "kpi-cli")
    sent = days_ago(3).replace(microsecond=0)
    with server.client(depositor) as http:
        for case, event, at in (("K1", "sending", sent), ("K1", "receipt", sent + timedelta(seconds=600)),
                                ("K2", "sending", sent + timedelta(hours=1))):
            answer = deposit(http, f"{case} {event}".encode(), case_ref=case, event_type=event, event_time=iso_z(at))
            assert answer.status_code == 201, answer.text
    archivist = server.new_key("archivist", "kpi-cli")
    for _ in range(50):  # the background fold: within a few seconds
        done = vault("kpis", "--json", url=server.url, key=archivist)
        assert done.returncode == 0, done.stderr
        if json.loads(done.stdout)["sendings"] == 2:
            break
        time.sleep(0.2)
    found = json.loads(done.stdout)
    assert found["tenant"] == "kpi-cli" and (found["sendings"], found["receipts"], found["pending"]) == (2, 1, 1)
    assert found["mean_acceptance_delay_seconds"] == 600
    table = vault("kpis", "--tenant", "kpi-cli", "--from", iso_z(sent), "--to", iso_z(sent + timedelta(hours=1)),
                  url=server.url, key=server.admin_key)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(f"tenant kpi-cli, sendings dated {iso_z(sent)} to ")
    rows = dict(re.split(r"\s{2,}", line) for line in table.stdout.splitlines()[4:])  # after the header rule
    assert rows["sendings"] == "1" and rows["delivery rate"] == "1.0" and rows["refusal rate"] == "0.0"
    assert rows["mean acceptance delay (s)"] == "600.0" and rows["pending"] == "0"
    backwards = vault("kpis", "--from", iso_z(sent), "--to", iso_z(sent - timedelta(days=1)), url=server.url,
                      key=archivist)
    assert backwards.returncode != 0 and len(backwards.stderr.strip().splitlines()) == 1
    assert "'from' must be before 'to'" in backwards.stderr
    denied = vault("kpis", url=server.url, key=depositor)
    assert denied.returncode != 0 and len(denied.stderr.strip().splitlines()) == 1
