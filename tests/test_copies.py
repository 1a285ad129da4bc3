"""Copies on a local store and a real Ceph RGW bucket (Object Lock): quorum before the answer, fixity audits that
catch and repair a copy corrupted or deleted behind vault's back, and destruction on every copy."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from vault.api.app import create_app
from vault.app import Vault
from vault.db.tables import BlobCopy
from vault.settings import SettingsError

COPIES = BlobCopy.__table__


def s3_url(rgw: dict, bucket: str) -> str:
    host = rgw["endpoint"].split("://", 1)[1]
    return (f"s3://{quote(rgw['access_key'], safe='')}:{quote(rgw['secret_key'], safe='')}@{host}/{bucket}"
            f"?tls=0&region={rgw['region']}&name=rgw")


@pytest.fixture
def scaled(tmp_path, database_url, rgw):
    settings = make_settings(tmp_path, database_url, stores=(s3_url(rgw, f"vault-{uuid.uuid4().hex[:12]}"),),
                             lock_margin_days=1)
    vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    api = Api(TestClient(create_app(vault)), ADMIN_KEY)
    yield vault, api
    vault.close()


def deposit(api, content: bytes) -> dict:
    response = api.deposit(content, tenant="acme")
    assert response.status_code == 201, response.text
    return response.json()


def copies_of(vault, sha256: str) -> dict:
    with vault.reader.connect() as connection:
        return {r.store: r for r in connection.execute(select(COPIES).where(COPIES.c.sha256 == sha256))}


def test_a_deposit_is_answered_once_both_copies_hold_it(scaled):
    vault, api = scaled
    receipt = deposit(api, b"two copies before the receipt")
    s3 = vault.copies.by_name("rgw")
    assert set(copies_of(vault, receipt["sha256"])) == {"local", "rgw"}
    assert b"".join(s3.read(receipt["sha256"])) == b"two copies before the receipt"
    [version] = s3.versions(receipt["sha256"])
    retention = s3.client.get_object_retention(Bucket=s3.bucket, Key=s3.key(receipt["sha256"]),
                                               VersionId=version["VersionId"])["Retention"]
    assert retention["Mode"] == "COMPLIANCE" and retention["RetainUntilDate"].isoformat()[:10] >= receipt["retention_until"][:10]


def test_a_store_down_gives_a_clean_error_and_stores_nothing(scaled):
    vault, api = scaled
    s3 = vault.copies.by_name("rgw")
    real = s3.copy_from

    def down(*args, **kwargs):
        raise httpx.ConnectError("RGW stopped (injected)")

    s3.copy_from = down
    refused = api.deposit(b"no quorum", tenant="acme")
    assert refused.status_code == 503 and refused.json()["type"].endswith("copies-unavailable")
    assert api.get("/v1/objects", params={"tenant": "acme"}).json()["items"] == []
    s3.copy_from = real
    assert deposit(api, b"no quorum")["sha256"] == hashlib.sha256(b"no quorum").hexdigest()


def test_audit_repairs_copies_corrupted_or_deleted_behind_vaults_back(scaled):
    vault, api = scaled
    first = deposit(api, b"first proof")["sha256"]
    second = deposit(api, b"second proof")["sha256"]
    third = deposit(api, b"third proof")["sha256"]
    s3 = vault.copies.by_name("rgw")
    s3.client.put_object(Bucket=s3.bucket, Key=s3.key(first), Body=b"rewritten by someone")  # a new version
    s3.client.delete_object(Bucket=s3.bucket, Key=s3.key(second))  # a delete marker: the version stays locked
    vault.store.path_for(third).write_bytes(b"bit rot")

    summary = api.post("/v1/admin/audits", json={}).json()
    found = {(b["sha256"], b["store"], b["problem"]) for b in summary["bad"]}
    assert found == {(first, "rgw", "corrupt"), (second, "rgw", "missing"), (third, "local", "corrupt")}
    assert len(summary["repaired"]) == 3 and summary["lost"] == []
    for sha256, content in ((first, b"first proof"), (second, b"second proof")):
        assert b"".join(s3.read(sha256)) == content
    assert vault.store.path_for(third).read_bytes() == b"third proof"
    assert api.post("/v1/admin/audits", json={}).json()["bad"] == []  # clean now
    actions = [e["action"] for e in api.get("/v1/journal/entries").json()["entries"]]
    assert actions.count("fixity_audit") == 2 and actions.count("copy_repaired") == 3


def test_no_good_copy_left_raises_an_alert(scaled):
    vault, api = scaled
    sha256 = deposit(api, b"doomed")["sha256"]
    s3 = vault.copies.by_name("rgw")
    s3.client.put_object(Bucket=s3.bucket, Key=s3.key(sha256), Body=b"garbage")
    vault.store.path_for(sha256).write_bytes(b"garbage too")
    summary = api.post("/v1/admin/audits", json={"sample": 5}).json()
    assert [lost["sha256"] for lost in summary["lost"]] == [sha256]
    status = api.get("/v1/admin/audits/status").json()
    assert any("no good copy left" in alert for alert in status["alerts"])
    entry = api.get("/v1/journal/entries", params={"action": "fixity_audit"}).json()["entries"][-1]
    assert entry["outcome"] == "denied" and entry["detail"]["lost"] == 1


def test_missing_copies_are_completed_in_the_background(tmp_path, database_url, rgw):
    settings = make_settings(tmp_path, database_url, stores=(s3_url(rgw, f"vault-{uuid.uuid4().hex[:12]}"),),
                             copy_quorum=1)
    vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    try:
        api = Api(TestClient(create_app(vault)), ADMIN_KEY)
        sha256 = deposit(api, b"answered after one copy")["sha256"]
        vault.copies._uploads.shutdown(wait=True)  # the copy beyond the quorum, started with the deposit
        assert set(copies_of(vault, sha256)) == {"local", "rgw"}
        report = vault.copies.complete_missing()
        assert not report.failed and not report.made  # nothing left for the copy job
        assert vault.copies.by_name("rgw").exists(sha256)
    finally:
        vault.close()


def test_bad_store_settings_stop_the_service(tmp_path, rgw):
    with pytest.raises(SettingsError, match="VAULT_STORES"):
        Vault.open(make_settings(tmp_path, stores=("ftp://nope",)), sweep_in_background=False, background_jobs=False)
    with pytest.raises(SettingsError, match="VAULT_COPY_QUORUM=3"):
        Vault.open(make_settings(tmp_path, stores=(s3_url(rgw, f"vault-{uuid.uuid4().hex[:12]}"),), copy_quorum=3),
                   sweep_in_background=False, background_jobs=False)


def test_embedded_audit_catches_local_bit_rot(tmp_path):
    vault = Vault.open(make_settings(tmp_path), sweep_in_background=False, background_jobs=False)
    try:
        _embedded_audit(vault, Api(TestClient(create_app(vault)), ADMIN_KEY))
    finally:
        vault.close()


def _embedded_audit(vault, admin):
    sha256 = admin.deposit(b"only one copy", tenant="acme").json()["sha256"]
    vault.store.path_for(sha256).write_bytes(b"only one cop!")
    summary = admin.post("/v1/admin/audits", json={}).json()
    assert summary["bad"][0]["problem"] == "corrupt" and summary["lost"][0]["sha256"] == sha256
    assert admin.as_key(admin.new_key("depositor", "acme")).post("/v1/admin/audits", json={}).status_code == 403


def test_destruction_reaches_every_copy(tmp_path, database_url, rgw):
    from datetime import datetime, timezone

    from vault.clock import FixedClock

    clock = FixedClock(datetime.now(timezone.utc))
    settings = make_settings(tmp_path, database_url, stores=(s3_url(rgw, f"vault-{uuid.uuid4().hex[:12]}"),),
                             lock_margin_days=1)
    vault = Vault.open(settings, clock, sweep_in_background=False, background_jobs=False)
    try:
        admin = Api(TestClient(create_app(vault)), ADMIN_KEY)
        one, two = (admin.as_key(admin.new_key("archivist", "acme")) for _ in range(2))
        receipt = deposit(admin, b"to be destroyed everywhere")
        clock.advance(timedelta(days=3660))
        batch = one.post("/v1/disposal/batches", json={"all_due": True}).json()
        two.post(f"/v1/disposal/batches/{batch['id']}/approve")
        clock.advance(timedelta(days=7))  # VAULT_DISPOSAL_NOTICE
        signed = one.post(f"/v1/disposal/batches/{batch['id']}/execute").json()
        [item] = signed["certificate"]["objects"]
        results = {c["store"]: c["result"] for c in item["copies"]}
        assert results["local"] == "deleted" and not vault.store.exists(receipt["sha256"])
        # the bucket's clock is real time: its COMPLIANCE lock (ten years + a day) still holds, and says so
        assert results["rgw"].startswith("refused by the storage") and "AccessDenied" in results["rgw"]
    finally:
        vault.close()


def test_holds_and_retention_changes_reach_the_storage_locks(scaled):
    vault, api = scaled
    archivist = api.as_key(api.new_key("archivist", "acme"))
    receipt = api.deposit(b"mirrored", tenant="acme", case_ref="MIRROR-1", policy="email-proof").json()
    s3 = vault.copies.by_name("rgw")
    [version] = s3.versions(receipt["sha256"])

    def legal_hold():
        return s3.client.get_object_legal_hold(Bucket=s3.bucket, Key=s3.key(receipt["sha256"]),
                                               VersionId=version["VersionId"])["LegalHold"]["Status"]

    def locked_until():
        return s3.client.get_object_retention(Bucket=s3.bucket, Key=s3.key(receipt["sha256"]),
                                              VersionId=version["VersionId"])["Retention"]["RetainUntilDate"]

    hold = archivist.post("/v1/holds", json={"case_ref": "MIRROR-1", "reason": "dispute", "reference": "R-1"}).json()
    assert legal_hold() == "ON"
    archivist.client.delete(f"/v1/holds/{hold['id']}", headers=archivist.headers())
    assert legal_hold() == "OFF"
    before = locked_until()
    start = vault.clock.now()  # a start event is recorded when it happens, not ahead of time
    started = archivist.client.patch(f"/v1/objects/{receipt['id']}/retention-start",
                                     json={"at": start.isoformat()}, headers=archivist.headers())
    assert started.status_code == 200, started.text
    assert locked_until() > before and locked_until().year >= start.year + 10  # ten years from the start (+ margin)


def test_rgw_unreachable_during_deposits_loses_no_acknowledged_object(tmp_path, database_url, rgw):
    """The S3 endpoint goes dark (a closed port: botocore's real connection errors) in the middle of a run of
    deposits. With quorum two every answer is either 201 with both copies or 503 with nothing stored; with
    quorum one every deposit is acknowledged and the missing copies are made once the endpoint is back."""
    from vault.storage.s3 import S3Location, make_client

    for quorum in (2, 1):
        shared = database_url if database_url.startswith("postgresql") else ""  # SQLite: one file per vault
        settings = make_settings(tmp_path / f"q{quorum}", shared, copy_quorum=quorum,
                                 stores=(s3_url(rgw, f"vault-{uuid.uuid4().hex[:12]}"),),
                                 keys_dir=tmp_path / "keys")  # one database: one identity
        vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
        try:
            api = Api(TestClient(create_app(vault)), ADMIN_KEY)
            s3 = vault.copies.by_name("rgw")
            live, dead = s3.client, make_client(S3Location("http://127.0.0.1:9", s3.bucket, "x", "y"))
            answers = []
            for i in range(12):
                s3.client = dead if 4 <= i < 8 else live
                answers.append((i, api.deposit(f"quorum {quorum} deposit {i}".encode(), tenant=f"q{quorum}")))
            s3.client = live
            acknowledged = [(i, r.json()) for i, r in answers if r.status_code == 201]
            refused = [r for _i, r in answers if r.status_code != 201]
            if quorum == 2:
                assert len(acknowledged) == 8 and all(r.status_code == 503 for r in refused)
            else:
                assert len(acknowledged) == 12 and not refused
                vault.copies.complete_missing()
            for i, receipt in acknowledged:
                content = f"quorum {quorum} deposit {i}".encode()
                assert api.get(f"/v1/objects/{receipt['id']}/content").content == content
                assert b"".join(s3.read(receipt["sha256"])) == content
                assert set(copies_of(vault, receipt["sha256"])) == {"local", "rgw"}
            listed = api.get("/v1/objects", params={"tenant": f"q{quorum}", "limit": 100}).json()["items"]
            assert len(listed) == len(acknowledged)  # a refused deposit left no row
        finally:
            vault.close()
