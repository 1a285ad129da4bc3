"""The API over real HTTP, served by uvicorn in a subprocess exactly as ``vault serve`` runs it."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import stat

import httpx
import pytest

from tests.server_process import PortTaken, ServerProcess, deposit, free_port
from tests.times import days_ago
from vault.clock import iso_z

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("live") / "data",
                       env={"VAULT_MAX_UPLOAD_BYTES": str(64 * 1024)}) as running:
        yield running


@pytest.fixture(scope="module")
def acme(server):
    with server.client(server.new_key("depositor", "acme")) as http:
        yield http


def test_deposit_and_read_back(acme):
    content = os.urandom(20_000)
    response = deposit(acme, content, case_ref="LIVE-READ", event_type="sending")
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["sha256"] == hashlib.sha256(content).hexdigest()
    assert receipt["sha512"] == hashlib.sha512(content).hexdigest()
    assert receipt["size"] == len(content) and receipt["retention_until"]
    body = acme.get(f"/v1/objects/{receipt['id']}/content")
    assert body.status_code == 200 and body.content == content
    assert base64.b64encode(hashlib.sha256(content).digest()).decode() in body.headers["repr-digest"]
    meta = acme.get(f"/v1/objects/{receipt['id']}").json()
    assert meta["case_ref"] == "LIVE-READ" and meta["event_type"] == "sending"
    assert body.headers["x-request-id"]


def test_search_pages_and_case_timeline(acme):
    ids = [deposit(acme, f"page {i}".encode(), case_ref="LIVE-PAGES", event_time=iso_z(days_ago(30 + i))).json()["id"]
           for i in range(7)]
    seen, cursor = [], None
    while True:
        page = acme.get("/v1/objects", params={"case_ref": "LIVE-PAGES", "limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    timeline = acme.get("/v1/cases/LIVE-PAGES").json()
    assert [o["id"] for o in timeline["events"]] == list(reversed(ids))


def test_authentication_and_tenants(server, acme):
    object_id = deposit(acme, b"tenant bound").json()["id"]
    assert httpx.get(f"{server.url}/v1/objects/{object_id}").status_code == 401
    with server.client("not-a-key-not-a-key-not-a-key") as stranger:
        response = stranger.get(f"/v1/objects/{object_id}")
        assert response.status_code == 401 and response.headers["content-type"] == "application/problem+json"
    with server.client(server.new_key("depositor", "globex")) as globex:
        assert globex.get(f"/v1/objects/{object_id}").status_code == 403
    assert acme.get("/v1/objects/01890a5d-ac96-774b-bcce-b302099a8057").status_code == 404


def test_oversized_body_is_refused_and_nothing_is_stored(acme):
    before = len(acme.get("/v1/objects", params={"case_ref": "LIVE-BIG"}).json()["items"])
    response = deposit(acme, os.urandom(200_000), case_ref="LIVE-BIG")
    assert response.status_code == 413
    assert response.json()["type"] == "urn:vault:problem:body-too-large"
    assert len(acme.get("/v1/objects", params={"case_ref": "LIVE-BIG"}).json()["items"]) == before


def test_idempotent_retry_and_conflict(acme):
    first = deposit(acme, b"retry me", headers={"Idempotency-Key": "live-1"})
    again = deposit(acme, b"retry me", headers={"Idempotency-Key": "live-1"})
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    conflict = deposit(acme, b"something else", headers={"Idempotency-Key": "live-1"})
    assert conflict.status_code == 409


def test_openapi_and_ready(server):
    assert "/v1/objects" in httpx.get(server.url + "/openapi.json").json()["paths"]
    ready = httpx.get(server.url + "/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


def test_first_start_writes_an_admin_key(tmp_path):
    with ServerProcess(tmp_path / "fresh", admin_key=None) as fresh:
        key_file = tmp_path / "fresh" / "admin.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert str(key_file.resolve()) in fresh.output()
        key = key_file.read_text().strip()
        with fresh.client(key) as admin:
            assert admin.post("/v1/keys", json={"role": "archivist", "tenant": "acme", "holder": "ana@example.org"}).status_code == 201
    with ServerProcess(tmp_path / "fresh", admin_key=None) as again:  # a restart keeps the key, writes no new one
        assert "created the first admin key" not in again.output().split("serving on")[-1]
        assert (tmp_path / "fresh" / "admin.key").read_text().strip() == key


def test_a_bad_policy_directory_stops_the_service(tmp_path):
    server = ServerProcess(tmp_path / "bad", env={"VAULT_POLICIES_DIR": str(tmp_path / "nowhere")})
    with pytest.raises(RuntimeError, match="policies directory not found"):
        server.start(timeout=20)


def test_a_port_taken_before_the_bind_is_replaced_by_another(tmp_path):
    """Between free_port() and the server's bind another process (a parallel test worker) can take the port."""
    server = ServerProcess(tmp_path / "data")
    with socket.create_server(("127.0.0.1", server.port)):
        taken = server.port
        with server:
            assert server.port != taken and "Address already in use" in server.output()
            assert httpx.get(server.url + "/health").status_code == 200


def test_a_port_given_by_the_caller_is_not_replaced(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        server = ServerProcess(tmp_path / "data", port=taken.getsockname()[1])
        with pytest.raises(PortTaken):
            server.start(timeout=20)


def test_free_ports_come_from_the_workers_own_block_below_the_ephemeral_range(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    ports = [free_port() for _ in range(5)]
    assert all(21000 <= port < 22000 for port in ports) and len(set(ports)) == 5
    with socket.create_server(("127.0.0.1", ports[-1] + 1)):  # a port in use is passed over
        assert free_port() not in (ports[-1] + 1, *ports)
