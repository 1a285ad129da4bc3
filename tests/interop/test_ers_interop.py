"""Independent checks of what we emit: Bouncy Castle 1.72 (org.bouncycastle.tsp.ers) accepts every evidence
record (fresh, after timestamp renewal, after hash-tree renewal), over the content alone and over the data
group (content, metadata record) as ``ERSDataGroup`` — version 1 sealed with the content, and a version 2 sealed
apart — and ``openssl ts -verify`` every token, for the
built-in development TSA and for a real OpenSSL TSA over HTTP (started by scripts/test)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.interop import bc_ers
from vault.api.app import create_app
from vault.app import Vault
from vault.evidence.asn1 import EvidenceRecord
from vault.timestamping.client import TsaUnavailable
from vault.timestamping.tokens import parse_token

pytestmark = pytest.mark.slow
CONTENTS = [f"interop proof {i}".encode() for i in range(3)]


def open_vault(settings):
    from starlette.testclient import TestClient

    vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    client = TestClient(create_app(vault))
    return vault, Api(client, ADMIN_KEY)


@pytest.fixture(params=["builtin", "openssl"])
def sealing_vault(request, tmp_path):
    if request.param == "builtin":
        settings = make_settings(tmp_path)
    else:
        tsa = request.getfixturevalue("openssl_tsa")
        settings = make_settings(tmp_path, tsa_urls=(tsa["url"],), tsa_roots=tsa["roots"])
    vault, api = open_vault(settings)
    roots = tmp_path / "roots.pem"
    roots.write_bytes(api.client.get("/v1/tsa/roots").content)
    yield vault, api, roots
    vault.close()


def export(api: Api, ids: list[str], folder: Path, stage: str, version2: bool = False) -> list[Path]:
    """The evidence record of each object, then (``version2``) that of version 2 of the first one's record."""
    paths = []
    urls = [f"/v1/objects/{object_id}/evidence-record" for object_id in ids]
    for i, url in enumerate(urls + ([f"/v1/objects/{ids[0]}/metadata-records/2/evidence-record"] if version2 else [])):
        response = api.get(url)
        assert response.status_code == 200, response.text
        path = folder / f"{stage}-{i}.ers"
        path.write_bytes(response.content)
        paths.append(path)
    return paths


def openssl_verify_tokens(record: Path, roots: Path, scratch: Path) -> int:
    count = 0
    for chain in EvidenceRecord.load(record.read_bytes())["archive_time_stamp_sequence"]:
        for ats in chain:
            token = parse_token(ats["time_stamp"].dump())
            path = scratch / f"token-{count}.der"
            path.write_bytes(token.der)
            result = subprocess.run(
                ["openssl", "ts", "-verify", "-token_in", "-in", str(path), "-digest", token.imprint.hex(),
                 "-CAfile", str(roots)], capture_output=True, text=True, timeout=60)
            assert "Verification: OK" in result.stdout, result.stdout + result.stderr
            count += 1
    return count


def test_bouncy_castle_and_openssl_accept_every_stage(sealing_vault, bouncy_castle, tmp_path):
    vault, api, roots = sealing_vault
    ids = []
    for i, content in enumerate(CONTENTS):
        response = api.deposit(content, tenant="acme")
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
        (tmp_path / f"data-{i}").write_bytes(content)
        (tmp_path / f"record-{i}").write_bytes(api.get(f"/v1/objects/{ids[-1]}/metadata-record").content)
    vault.seal_scheduler.seal_all_pending()
    # version 2 of the first object's record (a policy reassignment), sealed apart with the content (issue 22)
    archivist = api.as_key(api.new_key("archivist", "acme"))
    assert archivist.post(f"/v1/objects/{ids[0]}/policy", json={"policy": "consent-record"}).status_code == 200
    vault.seal_scheduler.seal_all_pending()
    versions = api.get(f"/v1/objects/{ids[0]}/metadata-records").json()["versions"]
    assert versions[1]["sealed"] is not None
    (tmp_path / f"record-{len(ids)}").write_bytes(vault.catalog.metadata_record(ids[0]))
    (tmp_path / f"data-{len(ids)}").write_bytes(CONTENTS[0])
    stages = {"fresh": export(api, ids, tmp_path, "fresh", True)}
    assert api.post("/v1/admin/reseal", json={"kind": "timestamp-renewal"}).status_code == 200
    stages["timestamp-renewal"] = export(api, ids, tmp_path, "ts", True)
    assert api.post("/v1/admin/reseal", json={"kind": "hash-tree-renewal", "hash": "sha512"}).status_code == 200
    stages["hash-tree-renewal"] = export(api, ids, tmp_path, "htr", True)
    assert api.post("/v1/admin/reseal", json={"kind": "timestamp-renewal"}).status_code == 200
    stages["renewed-after-hash-tree-renewal"] = export(api, ids, tmp_path, "htr-ts", True)
    expected_tokens = {"fresh": 1, "timestamp-renewal": 2, "hash-tree-renewal": 3, "renewed-after-hash-tree-renewal": 4}
    jobs, names = [], []
    for stage, records in stages.items():
        for i, record in enumerate(records):
            jobs.append(["--ers", record, "--data", tmp_path / f"data-{i}", "--ca", roots])
            # the data group of two (issue 22): content and metadata record, as ERSDataGroup
            jobs.append(["--ers", record, "--data", tmp_path / f"data-{i}", "--data", tmp_path / f"record-{i}",
                         "--ca", roots])
            names += [f"{stage} #{i}", f"{stage} #{i} group"]
            assert openssl_verify_tokens(record, roots, tmp_path) == expected_tokens[stage]
    # a control in the same JVM run: a record with another object's data fails, so each OK above is a verdict
    jobs.append(["--ers", stages["fresh"][0], "--data", tmp_path / "data-1", "--ca", roots])
    *verdicts, control = bc_ers.verify_each(bouncy_castle, jobs, tmp_path)
    assert [(name, "OK") for name in names] == list(zip(names, verdicts))
    assert control.startswith("FAIL: "), control


def test_bouncy_castle_rejects_data_the_record_does_not_cover(sealing_vault, bouncy_castle, tmp_path):
    vault, api, roots = sealing_vault
    object_id = api.deposit(b"covered", tenant="acme").json()["id"]
    vault.seal_scheduler.seal_all_pending()
    [record] = export(api, [object_id], tmp_path, "one")
    (tmp_path / "other").write_bytes(b"not covered")
    result = bc_ers.run(bouncy_castle, "verify", "--ers", record, "--data", tmp_path / "other", "--ca", roots)
    assert result.returncode == 1 and result.stdout.startswith("FAIL"), result.stdout
    (tmp_path / "content").write_bytes(b"covered")
    (tmp_path / "edited-record").write_bytes(
        api.get(f"/v1/objects/{object_id}/metadata-record").content.replace(b'"CASE-1"', b'"CASE-2"'))
    result = bc_ers.run(bouncy_castle, "verify", "--ers", record, "--data", tmp_path / "content",
                        "--data", tmp_path / "edited-record", "--ca", roots)
    assert result.returncode == 1 and result.stdout.startswith("FAIL"), result.stdout


def test_failover_to_the_next_tsa(tmp_path, openssl_tsa):
    settings = make_settings(tmp_path, tsa_urls=("http://127.0.0.1:9/", openssl_tsa["url"]),
                             tsa_roots=openssl_tsa["roots"])
    vault, api = open_vault(settings)
    try:
        api.deposit(b"failover", tenant="acme")
        [batch] = vault.seal_scheduler.seal_all_pending()
        with vault.reader.connect() as connection:
            from sqlalchemy import text
            assert connection.execute(text("SELECT tsa_url FROM seal_batches WHERE id = :i"),
                                      {"i": batch}).scalar_one() == openssl_tsa["url"]
    finally:
        vault.close()


def test_a_tsa_outside_the_trust_roots_is_refused(tmp_path, openssl_tsa):
    from datetime import datetime, timezone

    from vault.timestamping.devtsa import DevelopmentTsa

    stranger = DevelopmentTsa.load_or_create(tmp_path / "stranger", lambda: datetime.now(timezone.utc))
    roots = tmp_path / "stranger.pem"
    roots.write_bytes(stranger.roots_pem)
    vault, api = open_vault(make_settings(tmp_path, tsa_urls=(openssl_tsa["url"],), tsa_roots=roots))
    try:
        api.deposit(b"untrusted TSA", tenant="acme")
        with pytest.raises(TsaUnavailable, match="does not chain to a trusted root"):
            vault.seal_scheduler.seal_all_pending()
    finally:
        vault.close()


def test_development_tsa_over_http_answers_openssl(tmp_path):
    vault, api = open_vault(make_settings(tmp_path))
    try:
        data = tmp_path / "asked.bin"
        data.write_bytes(b"asked over HTTP")
        query = tmp_path / "q.tsq"
        subprocess.run(["openssl", "ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query)],
                       check=True, capture_output=True)
        response = api.client.post("/v1/tsa", content=query.read_bytes(),
                                   headers={"Content-Type": "application/timestamp-query"})
        assert response.status_code == 200 and response.headers["content-type"] == "application/timestamp-reply"
        reply = tmp_path / "r.tsr"
        reply.write_bytes(response.content)
        roots = tmp_path / "roots.pem"
        roots.write_bytes(api.client.get("/v1/tsa/roots").content)
        result = subprocess.run(["openssl", "ts", "-verify", "-in", str(reply), "-queryfile", str(query),
                                 "-CAfile", str(roots)], capture_output=True, text=True)
        assert "Verification: OK" in result.stdout, result.stdout + result.stderr
        wrong = api.client.post("/v1/tsa", content=b"x", headers={"Content-Type": "text/plain"})
        assert wrong.status_code == 415 and wrong.headers["content-type"] == "application/problem+json"
    finally:
        vault.close()
