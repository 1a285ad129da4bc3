"""Several hosts on one PostgreSQL, each with its own local file store (VAULT_LOCAL_STORE_NAME) and the shared S3
bucket: each audits, repairs and reads only what it can reach; another host's local copies are neither missing nor
corrupt here, and an object deposited through one host is read from the S3 copy on the other
(vault.storage.placement)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, fresh_pg_database, make_settings
from tests.test_copies import copies_of, deposit, s3_url
from tests.test_quorum_watch import deposit_local_only
from vault.api.app import create_app
from vault.app import Vault
from vault.monitoring.collect import collect, store_bytes
from vault.monitoring.samples import value_of
from vault.storage.copy_health import under_quorum
from vault.storage.quorum_watch import OBJECTS

pytestmark = pytest.mark.postgres


@pytest.fixture
def two_hosts(tmp_path, rgw):
    yield from hosts(tmp_path, rgw, 2)


@pytest.fixture
def two_hosts_quorum_one(tmp_path, rgw):
    yield from hosts(tmp_path, rgw, 1)


def hosts(tmp_path, rgw, quorum: int):
    with fresh_pg_database() as url:
        base = make_settings(tmp_path, url, stores=(s3_url(rgw, f"vault-{uuid.uuid4().hex[:12]}"),), copy_quorum=quorum,
                             keys_dir=tmp_path / "keys")
        hosts = []
        try:
            for name in ("host-a", "host-b"):
                vault = Vault.open(replace(base, data_dir=tmp_path / name, local_store_name=name),
                                   sweep_in_background=False, background_jobs=False)
                hosts.append((vault, Api(TestClient(create_app(vault)), ADMIN_KEY)))
            yield hosts
        finally:
            for vault, _ in hosts:
                vault.close()


def test_each_host_audits_copies_and_reads_only_what_it_can_reach(two_hosts):
    (a, api_a), (b, api_b) = two_hosts
    on_a = deposit(api_a, b"deposited through host A")
    on_b = deposit(api_b, b"deposited through host B")
    assert set(copies_of(a, on_a["sha256"])) == {"host-a", "rgw"}
    assert set(copies_of(a, on_b["sha256"])) == {"host-b", "rgw"}

    for vault, api, own, other in ((a, api_a, on_a, on_b), (b, api_b, on_b, on_a)):
        report = vault.copies.complete_missing()
        assert report.made == [] and report.failed == []  # nothing copied into this host's store from the other's
        assert not vault.store.exists(other["sha256"])
        summary = api.post("/v1/admin/audits", json={}).json()
        assert summary["bad"] == [] and summary["lost"] == [] and summary["repaired"] == []
        assert summary["blobs"] == 2 and summary["copies_checked"] == 3 and summary["held_elsewhere"] == 1
        response = api.get(f"/v1/objects/{other['id']}/content")
        assert response.status_code == 200 and response.content == (
            b"deposited through host B" if other is on_b else b"deposited through host A")
        status = api.get("/v1/admin/audits/status").json()
        assert status["alerts"] == [] and status["fixity_alerts"] == []
        assert status["local_store"] == vault.store.name and status["other_hosts_stores"] == [other_host(vault)]
        held = {s.label("store"): s.value for s in store_bytes(vault)}
        assert held == {vault.store.name: len(b"deposited through host A"), "rgw": 2 * len(b"deposited through host A")}

    # a copy really missing on a host's own store is still found and repaired from S3
    a.store.path_for(on_a["sha256"]).unlink()
    summary = api_a.post("/v1/admin/audits", json={}).json()
    assert [(x["store"], x["problem"]) for x in summary["bad"]] == [("host-a", "missing")]
    assert a.store.path_for(on_a["sha256"]).read_bytes() == b"deposited through host A"
    assert value_of(store_bytes(b), "vault_store_bytes", store="host-b") > 0


def test_a_copy_only_the_depositing_host_can_make_waits_for_it_and_is_no_failure(two_hosts_quorum_one):
    (a, api_a), (b, api_b) = two_hosts_quorum_one
    sha256 = deposit_local_only(a, api_a, b"deposited through host A, its S3 copy failed")
    assert set(copies_of(b, sha256)) == {"host-a"}

    report = b.copies.complete_missing()  # host B has no readable source: host A's files are not reachable here
    assert report.failed == [] and report.made == []
    assert report.held_elsewhere == [f"{sha256[:16]}… → rgw: waiting for host host-a"]
    assert set(copies_of(b, sha256)) == {"host-a"} and not b.store.exists(sha256)
    status = api_b.get("/v1/admin/audits/status").json()
    assert status["alerts"] == [] and status["fixity_alerts"] == []

    report = a.copies.complete_missing()  # the depositing host makes the copy it owes
    assert report.failed == report.held_elsewhere == [] and report.made == [f"{sha256[:16]}… → rgw"]
    assert set(copies_of(b, sha256)) == {"host-a", "rgw"}
    with b.reader.connect() as connection:
        assert under_quorum(connection, 2) == 0  # at the quorum of two copies, seen from host B
    assert b.copies.complete_missing().held_elsewhere == []
    with b.reader.connect() as connection:
        object_id = connection.execute(select(OBJECTS.c.id).where(OBJECTS.c.sha256 == sha256)).scalar_one()
    read = api_b.get(f"/v1/objects/{object_id}/content")  # from the S3 copy host A made
    assert read.status_code == 200 and read.content == b"deposited through host A, its S3 copy failed"


def other_host(vault) -> str:
    return "host-b" if vault.store.name == "host-a" else "host-a"


def test_a_copy_waiting_for_the_depositing_host_is_no_missing_copy_in_the_other_hosts_audit(two_hosts_quorum_one):
    (a, api_a), (b, api_b) = two_hosts_quorum_one
    sha256 = deposit_local_only(a, api_a, b"deposited through host A, its S3 copy not made yet")

    summary = api_b.post("/v1/admin/audits", json={}).json()  # the S3 copy was never made: host A's to make
    assert summary["bad"] == [] and summary["lost"] == [] and summary["repaired"] == []
    assert summary["waiting_for_other_host"] == [{"sha256": sha256, "store": "rgw", "hosts": ["host-a"]}]
    assert summary["copies_checked"] == 1 and summary["held_elsewhere"] == 1
    assert api_b.get("/v1/admin/audits/status").json()["fixity_alerts"] == []
    assert copies_missing(b) == {"host-b": 0, "rgw": 0}
    with b.reader.connect() as connection:
        object_id = connection.execute(select(OBJECTS.c.id).where(OBJECTS.c.sha256 == sha256)).scalar_one()
    read = api_b.get(f"/v1/objects/{object_id}/content")  # host B can reach no copy yet: refused, nothing "missing"
    assert read.status_code >= 400 and read.headers["content-type"] == "application/problem+json"
    assert api_b.get("/v1/admin/audits/status").json()["fixity_alerts"] == []

    assert a.copies.complete_missing().made == [f"{sha256[:16]}… → rgw"]
    summary = api_b.post("/v1/admin/audits", json={}).json()
    assert summary["bad"] == summary["waiting_for_other_host"] == [] and summary["copies_checked"] == 1
    assert copies_of(b, sha256)["rgw"].verified_at is not None  # host B read and verified the copy host A made

    # a recorded S3 copy that is gone is missing, whichever host made it
    s3 = b.copies.by_name("rgw")
    s3.client.delete_object(Bucket=s3.bucket, Key=s3.key(sha256))  # a delete marker: the version stays locked
    summary = api_b.post("/v1/admin/audits", json={}).json()
    assert [(x["store"], x["problem"]) for x in summary["bad"]] == [("rgw", "missing")]
    assert summary["waiting_for_other_host"] == []
    assert [(x["kind"], x["store"]) for x in api_b.get("/v1/admin/audits/status").json()["fixity_alerts"]] == [
        ("copy-missing", "rgw")]
    assert copies_missing(b) == {"host-b": 0, "rgw": 1}


def copies_missing(vault) -> dict[str, float]:
    return {s.label("store"): s.value for s in collect(vault) if s.name == "vault_copies_missing"}
