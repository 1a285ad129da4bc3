"""HTTP hardening (issue #18): safety headers, inline-or-attachment content, no version, offline /docs, the body
read timeout and client disconnects (the last two over real sockets against ``vault serve``)."""

from __future__ import annotations

import re
import socket
import time

import httpx
import pytest

from tests.server_process import ServerProcess, deposit


def test_every_answer_says_nosniff_and_authenticated_json_is_not_stored(admin, client):
    answers = {
        "ok": admin.get("/v1/objects"),
        "not found": admin.get("/v1/objects/no-such-object"),
        "no route": admin.get("/v1/no-such-route"),
        "no key": client.get("/v1/objects"),
        "public": client.get("/health"),
        "docs": client.get("/docs"),
    }
    for name, response in answers.items():
        assert response.headers["x-content-type-options"] == "nosniff", name
    assert answers["ok"].headers["cache-control"] == "no-store"
    assert answers["not found"].headers["content-type"] == "application/problem+json"
    assert answers["not found"].headers["cache-control"] == "no-store"
    assert "cache-control" not in answers["public"].headers  # no Authorization header: nothing personal in it


def test_content_is_inline_only_when_safe_to_render_and_always_sandboxed(depositor):
    kinds = {"text/html": "attachment", "image/svg+xml": "attachment", "application/xhtml+xml": "attachment",
             "application/octet-stream": "attachment", "text/plain; charset=utf-8": "inline",
             "image/png": "inline", "application/pdf": "inline"}
    for n, (media_type, disposition) in enumerate(kinds.items()):
        receipt = depositor.deposit(f"<script>alert({n})</script>".encode(), filename="évidence.html",
                                media_type=media_type, case_ref=f"CASE-CD-{n}")
        assert receipt.status_code == 201, receipt.text
        content = depositor.get(f"/v1/objects/{receipt.json()['id']}/content")
        assert content.status_code == 200
        assert content.headers["content-disposition"] == f"{disposition}; filename*=UTF-8''%C3%A9vidence.html", media_type
        assert "sandbox" in content.headers["content-security-policy"]
        assert "default-src 'none'" in content.headers["content-security-policy"]
        assert content.headers["x-content-type-options"] == "nosniff"
        assert content.headers["cache-control"] == "private, no-store"  # the route's own, kept


def test_no_version_on_public_routes(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/openapi.json").json()["info"]["version"] == "1"


def test_docs_work_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn.jsdelivr.net" not in page.text and "unpkg.com" not in page.text
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page.text), "an external asset"
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.content
    assert re.search(r"url: '/openapi.json'", page.text)


# Over real sockets: the live server, as `vault serve` runs it


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("hardening") / "data", env={"VAULT_BODY_TIMEOUT": "1"}) as running:
        yield running


def _raw_request(server: ServerProcess, head: str, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    sock.sendall(head.encode("latin-1") + b"\r\n" + body)
    return sock


def _deposit_head(server: ServerProcess, declared: int, boundary: str = "cut") -> str:
    return (f"POST /v1/objects HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.admin_key}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {declared}\r\n")


def _first_part(boundary: str = "cut") -> bytes:
    return (f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
            '{"case_ref": "CUT-1", "policy": "lre-proof", "tenant": "acme"}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + b"x" * 1024


def _stored_blobs(server: ServerProcess) -> list:
    return [p for p in (server.data_dir / "blobs" / "sha256").rglob("*") if p.is_file() and len(p.name) == 64]


def test_no_server_version_header(server):
    response = httpx.get(server.url + "/health")
    assert "server" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_stalled_upload_gets_408_and_nothing_is_stored(server):
    before = _stored_blobs(server)
    started = time.monotonic()
    sock = _raw_request(server, _deposit_head(server, 200 * 1024 * 1024), _first_part())
    with sock:
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    waited = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"application/problem+json" in head and b"x-content-type-options: nosniff" in head.lower()
    assert b"urn:vault:problem:body-timeout" in body
    assert 0.9 < waited < 10
    time.sleep(0.2)
    assert _stored_blobs(server) == before
    assert not [p for p in (server.data_dir / "blobs" / "tmp").iterdir() if p.suffix == ".part"]
    with server.client() as http:
        assert http.get("/v1/objects", params={"case_ref": "CUT-1"}).json()["items"] == []
    assert "Traceback" not in server.output()


def test_client_disconnects_are_one_log_line_each(server):
    with server.client() as http:
        # above the 16 MiB that reads verify in memory before answering: streamed from disk chunk by chunk, so a cut
        # download is always seen mid-stream (an in-memory answer can be handed over whole before the cut is seen)
        big = deposit(http, b"z" * (20 * 1024 * 1024), case_ref="BIG-1", tenant="acme")
        assert big.status_code == 201, big.text
        object_id = big.json()["id"]
    cuts = 0
    for _ in range(10):  # uploads cut mid-body
        sock = _raw_request(server, _deposit_head(server, 10 * 1024 * 1024), _first_part())
        time.sleep(0.05)
        sock.close()
        cuts += 1
    for _ in range(10):  # downloads cut mid-stream
        sock = _raw_request(server, f"GET /v1/objects/{object_id}/content HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    f"Authorization: Bearer {server.admin_key}\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.close()
        cuts += 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.output().count("the client went away") < cuts:
        time.sleep(0.1)
    log = server.output()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    lines = [line for line in log.splitlines() if "the client went away" in line]
    assert len(lines) == cuts, "\n".join(lines)
    assert all(re.search(r"request [0-9a-f-]{36}: (POST|GET) /v1/objects", line) for line in lines)
