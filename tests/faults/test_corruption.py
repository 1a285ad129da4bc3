"""Corruption and deletion of blobs behind vault's back: corrupt bytes are never answered as genuine, a good copy is
served when one exists, and the fixity alert is kept (once), shown in /v1/alerts, /metrics and /ready, and still
there after the vault is reopened. On SQLite the local store is the only copy; on PostgreSQL (the scaled
configuration) a Ceph RGW bucket holds a second one."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.server_process import ServerProcess, deposit as live_deposit
from vault.api.app import create_app
from vault.app import Vault

PROOF = b"%PDF-1.7 proof that must never be served altered"


def open_vault(settings) -> tuple[Vault, Api]:
    vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    return vault, Api(TestClient(create_app(vault)), ADMIN_KEY)


def flip_a_byte(vault, sha256: str, at: int = 10) -> None:
    path = vault.store.path_for(sha256)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def fixity(api) -> list[dict]:
    response = api.get("/v1/alerts")
    assert response.status_code == 200, response.text
    return response.json()["fixity"]


def metric(api, kind: str) -> int:
    text = api.get("/metrics").text
    return int(next(line.split()[-1] for line in text.splitlines()
                    if line.startswith(f'vault_fixity_alerts_open{{kind="{kind}"}}')))


def scaled(vault) -> bool:
    return len(vault.copies.stores) > 1


def test_a_flipped_byte_is_never_served_as_genuine_and_its_alert_survives_a_restart(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url)  # once: the scaled one names a fresh bucket on each call
    vault, api = open_vault(settings)
    try:
        receipt = api.deposit(PROOF, tenant="acme").json()
        sha256, object_id = receipt["sha256"], receipt["id"]
        assert api.get(f"/v1/objects/{object_id}/content").content == PROOF
        assert fixity(api) == [] and api.get("/ready").json()["status"] == "ok"
        flip_a_byte(vault, sha256)

        for _ in range(2):  # the second read sees the same alert again: no duplicate
            response = api.get(f"/v1/objects/{object_id}/content")
            if scaled(vault):  # the good copy on RGW is served, and only it
                assert response.status_code == 200 and response.content == PROOF
                assert hashlib.sha256(response.content).hexdigest() == sha256
            else:
                assert response.status_code == 502, response.text
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["type"].endswith("content-corrupt")
                assert "ETag" not in response.headers and "Repr-Digest" not in response.headers
                assert PROOF[:10] not in response.content
        alerts = fixity(api)
        corrupt = [a for a in alerts if a["kind"] == "copy-corrupt"]
        assert [(a["store"], a["object_id"], a["seen"], a["source"]) for a in corrupt] == [
            ("local", object_id, 2, "read")]
        assert [a["kind"] for a in alerts if a["kind"] == "content-lost"] == ([] if scaled(vault) else ["content-lost"])
        assert metric(api, "copy-corrupt") == 1
        ready = api.get("/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["fixity"].startswith("degraded")
    finally:
        vault.close()

    vault, api = open_vault(settings)  # a restart: the alert is still there, once
    try:
        assert [(a["store"], a["seen"]) for a in fixity(api) if a["kind"] == "copy-corrupt"] == [("local", 2)]
        assert api.get("/ready").json()["status"] == "degraded"
        summary = api.post("/v1/admin/audits", json={}).json()
        assert [(b["store"], b["problem"]) for b in summary["bad"]] == [("local", "corrupt")]
        if scaled(vault):  # repaired from RGW: the alert is resolved, the local copy serves again
            assert fixity(api) == [] and metric(api, "copy-corrupt") == 0
            assert api.get("/ready").json()["status"] == "ok"
            assert api.get(f"/v1/objects/{object_id}/content").content == PROOF
        else:  # the audit saw the same thing: the same rows, seen once more
            assert sorted((a["kind"], a["seen"]) for a in fixity(api)) == [("content-lost", 3), ("copy-corrupt", 3)]
            assert api.get(f"/v1/objects/{object_id}/content").status_code == 502
    finally:
        vault.close()


def test_a_deleted_blob_is_a_problem_document_or_served_from_another_copy(tmp_path, database_url):
    vault, api = open_vault(make_settings(tmp_path, database_url))
    try:
        receipt = api.deposit(PROOF, tenant="acme").json()
        os.unlink(vault.store.path_for(receipt["sha256"]))
        response = api.get(f"/v1/objects/{receipt['id']}/content")
        if scaled(vault):
            assert response.status_code == 200 and response.content == PROOF
        else:
            assert response.status_code == 502, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("content-missing")
            assert response.json()["stores"] == [{"store": "local", "problem": "copy-missing"}]
        assert [(a["kind"], a["store"]) for a in fixity(api) if a["kind"] == "copy-missing"] == [
            ("copy-missing", "local")]
    finally:
        vault.close()


def test_a_large_blob_corrupt_at_its_end_is_cut_short_never_completed(tmp_path, database_url):
    vault, api = open_vault(make_settings(tmp_path, database_url))
    try:
        vault.copies.verify_before_send = 1024  # larger blobs are streamed and checked on the way
        content = os.urandom(300 * 1024)
        receipt = api.deposit(content, tenant="acme", filename="big.bin",
                              media_type="application/octet-stream").json()
        assert api.get(f"/v1/objects/{receipt['id']}/content").content == content  # a good one streams whole
        flip_a_byte(vault, receipt["sha256"], at=len(content) - 1)
        response = api.get(f"/v1/objects/{receipt['id']}/content")
        assert response.status_code == 200  # the headers went out before the last bytes were read
        assert int(response.headers["content-length"]) == len(content)
        assert len(response.content) < len(content)  # no clean end: the client cannot take it as complete
        assert [(a["kind"], a["store"]) for a in fixity(api) if a["kind"] == "copy-corrupt"] == [
            ("copy-corrupt", "local")]
    finally:
        vault.close()


def test_a_live_server_cuts_a_corrupt_large_stream_without_a_traceback(tmp_path):
    content = os.urandom(17 * 1024 * 1024)  # above the 16 MiB read whole before answering: streamed and checked
    with ServerProcess(tmp_path / "data") as server, server.client() as http:
        receipt = live_deposit(http, content, tenant="acme").json()
        path = make_settings(tmp_path).blob_dir / "sha256" / receipt["sha256"][:3] / receipt["sha256"]
        os.chmod(path, 0o644)
        with open(path, "r+b") as handle:  # the last byte flipped: only the end of the stream can tell
            handle.seek(len(content) - 1)
            last = handle.read(1)
            handle.seek(len(content) - 1)
            handle.write(bytes([last[0] ^ 1]))
        with pytest.raises(httpx.RemoteProtocolError):  # the body ends short of its Content-Length
            http.get(f"/v1/objects/{receipt['id']}/content").read()
        alerts = http.get("/v1/alerts").json()["fixity"]
        assert sorted((a["kind"], a["store"], a["source"]) for a in alerts) == [
            ("content-lost", "*", "read"), ("copy-corrupt", "local", "read")]  # the only copy: none good is left
    assert "content stream aborted" in server.output() and "Traceback" not in server.output()
