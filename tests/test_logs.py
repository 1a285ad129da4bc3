"""``VAULT_LOG_FORMAT=json`` (issue 20): a real server writes one JSON object per line, an access line per request
with its id, tenant, route template, method, status and duration, and no key or personal value anywhere."""

from __future__ import annotations

import json
import logging
import sys

import httpx
import pytest

from tests.server_process import ServerProcess, deposit
from vault.logs import JsonFormatter

pytestmark = pytest.mark.slow

CASE_REF = "CASE-PERSONAL-4711"
RECIPIENT = "alice.recipient@example.org"
BOGUS_KEY = "bogus-key-" + "q" * 30


def test_json_logs_carry_the_request_fields_and_nothing_personal(tmp_path):
    with ServerProcess(tmp_path / "data", env={"VAULT_LOG_FORMAT": "json"}) as server:
        depositor = server.new_key("depositor", "acme")
        with server.client(depositor) as acme:
            stored = deposit(acme, b"a proof of sending", case_ref=CASE_REF, recipient=RECIPIENT)
            assert stored.status_code == 201, stored.text
            object_id = stored.json()["id"]
            read = acme.get(f"/v1/objects/{object_id}")
            assert read.status_code == 200
            missing = acme.get("/v1/objects/0190c0de-0000-7000-8000-000000000000")
            assert missing.status_code == 404
            searched = acme.get("/v1/objects", params={"case_ref": CASE_REF, "recipient": RECIPIENT})
            assert searched.status_code == 200
            unknown = acme.get(f"/no/such/{CASE_REF}")
            assert unknown.status_code == 404
        refused = httpx.get(server.url + "/v1/objects", headers={"Authorization": f"Bearer {BOGUS_KEY}"})
        assert refused.status_code == 401
    output = server.output()

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # every line is one JSON object
    assert all({"timestamp", "level", "logger", "message"} <= set(line) for line in lines)
    assert any("serving on http://127.0.0.1:" in line["message"] for line in lines)
    access = {line["request_id"]: line for line in lines if line["logger"] == "vault.access"}

    def line_of(response: httpx.Response) -> dict:
        return access[response.headers["x-request-id"]]

    assert line_of(stored) | {"duration_ms": 0} == {
        **line_of(stored), "tenant": "acme", "method": "POST", "route": "/v1/objects", "status": 201, "duration_ms": 0}
    assert line_of(stored)["duration_ms"] > 0 and line_of(stored)["level"] == "INFO"
    assert (line_of(read)["route"], line_of(read)["status"]) == ("/v1/objects/{object_id}", 200)
    assert (line_of(missing)["route"], line_of(missing)["status"]) == ("/v1/objects/{object_id}", 404)
    assert (line_of(searched)["route"], line_of(searched)["tenant"]) == ("/v1/objects", "acme")
    assert (line_of(unknown)["route"], line_of(unknown)["status"]) == (None, 404)
    assert line_of(refused) | {"duration_ms": 0} == {**line_of(refused), "tenant": None, "method": "GET",
                                                     "route": "/v1/objects", "status": 401, "duration_ms": 0}

    for value in (server.admin_key, depositor, BOGUS_KEY, CASE_REF, RECIPIENT, object_id):
        assert value not in output, value


def test_text_logs_have_no_access_lines(tmp_path):
    with ServerProcess(tmp_path / "data") as server:
        with server.client() as admin:
            assert admin.get("/v1/objects").status_code == 200
    output = server.output()
    assert "vault: serving on http://127.0.0.1:" in output and "vault.access" not in output
    assert not any(line.startswith("{") for line in output.splitlines())


def test_an_exception_is_one_line_without_its_traceback():
    try:
        raise RuntimeError("the store is gone\nFile secret-line")
    except RuntimeError:
        record = logging.LogRecord("vault.copies", logging.ERROR, __file__, 1, "pass failed", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["error"] == "RuntimeError: the store is gone" and line["level"] == "ERROR"
    assert "Traceback" not in json.dumps(line) and "secret-line" not in json.dumps(line)


def test_a_servers_log_has_no_deprecation_warning(tmp_path):
    """pyhanko imports cryptography's DSA, which warns on import: vault silences exactly that one (vault/__init__.py);
    a PDF deposit imports pyhanko (PAdES validation)."""
    with ServerProcess(tmp_path / "data") as server:
        with server.client() as admin:
            pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
            assert deposit(admin, pdf, tenant="t1").status_code == 201
    output = server.output()
    assert "vault: serving on" in output
    assert not [line for line in output.splitlines() if "DeprecationWarning" in line], output
