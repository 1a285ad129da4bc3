"""The sandbox instance (issue #23): a persisted, forward-only, journaled clock the platform admin moves; a data
directory that is sandbox or not for good; the built-in TSA only, under its sandbox policy; and the marking
"SANDBOX — no probative value" inside what the sandbox signs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from datetime import datetime, timezone

import pytest
from asn1crypto import tsp
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.test_seal import check, evidence
from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock
from vault.sandbox import MARKER, NOTICE
from vault.settings import SettingsError
from vault_verify.tokens import SANDBOX_POLICY

START = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def _open(tmp_path, database_url, clock=None, **changes) -> tuple[Vault, Api]:
    vault = Vault.open(make_settings(tmp_path, database_url, **changes), clock or FixedClock(START),
                       sweep_in_background=False, background_jobs=False)
    return vault, Api(TestClient(create_app(vault)), ADMIN_KEY)


def _problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(slug), response.json()
    return response.json()


def test_the_clock_moves_forward_only_is_journaled_and_survives_a_restart(tmp_path, database_url):
    vault, admin = _open(tmp_path, database_url, sandbox=True)
    try:
        moved = admin.post("/v1/sandbox/clock", json={"advance": "P11Y"})
        assert moved.status_code == 200, moved.text
        body = moved.json()
        assert body["sandbox"] is True and body["notice"] == NOTICE
        assert body["before"] == "2026-12-01T09:00:00Z" and body["now"] == "2037-12-01T09:00:00Z"
        assert vault.clock.now() == datetime(2037, 12, 1, 9, tzinfo=timezone.utc)
        for bad in ("-P1D", "P0D", "yesterday", "P1X"):
            _problem(admin.post("/v1/sandbox/clock", json={"advance": bad}), 422, "invalid-clock-move")
        depositor = admin.as_key(admin.new_key("depositor", "acme"))
        _problem(depositor.post("/v1/sandbox/clock", json={"advance": "P1D"}), 403, "forbidden")
        tenant_admin = admin.as_key(admin.new_key("admin", "acme"))
        _problem(tenant_admin.post("/v1/sandbox/clock", json={"advance": "P1D"}), 403, "forbidden")
        entries = admin.get("/v1/journal/entries", params={"limit": 1000}).json()["entries"]
        moves = [e for e in entries if e["action"] == "sandbox_clock_moved"]
        assert [m["detail"]["advance"] for m in moves] == ["P11Y"]
        assert moves[0]["detail"]["to"] == "2037-12-01T09:00:00Z"
    finally:
        vault.close()
    marker = json.loads((tmp_path / "data" / MARKER).read_text())
    assert marker["sandbox"] is True and marker["clock_offset_seconds"] > 0
    vault, admin = _open(tmp_path, database_url, sandbox=True)  # the same real time: the sandbox time is kept
    try:
        assert vault.clock.now() == datetime(2037, 12, 1, 9, tzinfo=timezone.utc)
        assert admin.post("/v1/sandbox/clock", json={"advance": "P15D"}).json()["now"] == "2037-12-16T09:00:00Z"
    finally:
        vault.close()


def test_the_clock_route_is_404_outside_a_sandbox(tmp_path, database_url):
    vault, admin = _open(tmp_path, database_url)
    try:
        body = _problem(admin.post("/v1/sandbox/clock", json={"advance": "P11Y"}), 404, "not-found")
        assert "not a sandbox" in body["detail"]
        assert vault.clock.now() == START
        receipt = admin.as_key(admin.new_key("depositor", "acme")).deposit(b"%PDF-1.7 real proof").json()
        assert "sandbox" not in receipt and "notice" not in receipt  # a real archive's answers are unchanged
        assert vault.dev_tsa.policy != SANDBOX_POLICY
    finally:
        vault.close()


def test_a_data_directory_is_sandbox_or_not_for_good(tmp_path):
    database_url = ""  # the marker is in the data directory, whatever the database
    real = tmp_path / "real"
    Vault.open(make_settings(real, database_url), FixedClock(START), sweep_in_background=False,
               background_jobs=False).close()
    with pytest.raises(SettingsError, match="holds a real archive: a sandbox never starts on it"):
        Vault.open(make_settings(real, database_url, sandbox=True), FixedClock(START), sweep_in_background=False,
                   background_jobs=False)
    assert not (real / "data" / MARKER).exists()
    sandbox = tmp_path / "sandbox"
    Vault.open(make_settings(sandbox, database_url, sandbox=True), FixedClock(START), sweep_in_background=False,
               background_jobs=False).close()
    with pytest.raises(SettingsError, match="belongs to a sandbox"):
        Vault.open(make_settings(sandbox, database_url), FixedClock(START), sweep_in_background=False,
                   background_jobs=False)


def test_a_mismatched_start_exits_with_one_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / MARKER).write_text(json.dumps({"sandbox": True, "clock_offset_seconds": 0}))
    env = {"PATH": "/usr/bin:/bin", "VAULT_DATA_DIR": str(data), "VAULT_PORT": "0",
           "VAULT_POLICIES_DIR": str(make_settings(tmp_path).policies_dir)}
    done = subprocess.run([sys.executable, "-m", "vault.cli.main", "serve"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"vault: cannot start: VAULT_DATA_DIR={data} belongs to a sandbox (it holds SANDBOX): start it with "
        "VAULT_SANDBOX=true, or give a real archive its own data directory"]


def test_a_sandbox_refuses_a_real_tsa(tmp_path, database_url):
    with pytest.raises(SettingsError, match="a sandbox uses its built-in development TSA only"):
        _open(tmp_path, database_url, sandbox=True, tsa_urls=("https://tsa.example/",))


def test_what_a_sandbox_issues_says_so_inside_what_is_signed(tmp_path, database_url):
    vault, admin = _open(tmp_path, database_url, sandbox=True)
    try:
        depositor = admin.as_key(admin.new_key("depositor", "acme"))
        receipt = depositor.deposit(b"%PDF-1.7 sandbox proof", case_ref="SBX-1")
        assert receipt.status_code == 201 and receipt.json()["sandbox"] is True, receipt.text
        object_id = receipt.json()["id"]
        vault.seal_scheduler.seal_all_pending()
        jws = depositor.get(f"/v1/objects/{object_id}/receipt", params={"format": "jws"}).text
        signed = json.loads(_b64(jws.split(".")[1]))
        assert signed["sandbox"] is True and signed["notice"] == NOTICE
        assert depositor.get(f"/v1/objects/{object_id}/receipt").json()["sandbox"] is True
        report = depositor.get(f"/v1/objects/{object_id}/report").json()
        assert report["sandbox"] is True and report["notice"] == NOTICE
        for document in ("receipt", "report"):
            pdf = depositor.get(f"/v1/objects/{object_id}/{document}", params={"format": "pdf"}).content
            assert b"(SANDBOX \x97 no probative value) '" in pdf  # WinAnsi em dash, the PDF's first line
        package = zipfile.ZipFile(io.BytesIO(depositor.get(f"/v1/objects/{object_id}/package").content))
        bag_info = next(n for n in package.namelist() if n.endswith("/bag-info.txt"))
        assert f"Vault-Sandbox: {NOTICE}" in package.read(bag_info).decode()
        manifest = json.loads(package.read(next(n for n in package.namelist() if n.endswith("package.json"))))
        assert manifest["sandbox"] is True and manifest["notice"] == NOTICE
        vault.checkpointer.checkpoint_now()
        checkpoint = admin.get("/journal/checkpoint").text
        assert checkpoint.splitlines()[0] == "vault.local/sandbox"
        assert vault.dev_tsa.policy == SANDBOX_POLICY
        verdict = check(depositor, evidence(depositor, object_id), b"%PDF-1.7 sandbox proof")  # valid, and says so
        assert any("a sandbox TSA (SANDBOX — no probative value" in note for note in verdict.notes), verdict.notes
        answer = tsp.TimeStampResp.load(vault.dev_tsa.respond(_tsa_request()))
        info = answer["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
        assert info["policy"].dotted == SANDBOX_POLICY
    finally:
        vault.close()


def test_the_dev_tsa_signs_at_the_sandbox_time(tmp_path, database_url):
    vault, admin = _open(tmp_path, database_url, sandbox=True)
    try:
        admin.post("/v1/sandbox/clock", json={"advance": "P11Y"})
        answer = tsp.TimeStampResp.load(vault.dev_tsa.respond(_tsa_request()))
        info = answer["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
        assert info["gen_time"].native == datetime(2037, 12, 1, 9, tzinfo=timezone.utc)
    finally:
        vault.close()


def _tsa_request() -> bytes:
    from vault.timestamping.client import build_request

    return build_request(b"\x01" * 32, "sha256", 7, None)


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_the_clock_never_goes_back_because_of_its_file(tmp_path):
    from vault.sandbox import SandboxClock, check_data_dir

    check_data_dir(tmp_path, True)
    clock = SandboxClock(tmp_path, FixedClock(START))
    clock.advance("P1Y")
    marker = tmp_path / MARKER
    marker.write_text(json.dumps({"sandbox": True, "clock_offset_seconds": 0}))  # an older copy put back
    assert clock.now() == datetime(2027, 12, 1, 9, tzinfo=timezone.utc)
    marker.write_text("{broken")
    assert clock.now() == datetime(2027, 12, 1, 9, tzinfo=timezone.utc)
    marker.unlink()
    assert clock.now() == datetime(2027, 12, 1, 9, tzinfo=timezone.utc)
