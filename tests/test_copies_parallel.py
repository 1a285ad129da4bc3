"""Copies in parallel on real Ceph RGW buckets: a slow store (a delaying proxy in front of the real RGW) does not
hold up the others, a deposit is answered at its quorum while the extra copy finishes in the background, the upload
concurrency and pool settings are honoured, and multipart copies above the threshold are COMPLIANCE-locked."""

from __future__ import annotations

import os
import time
import uuid
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.faults.slow_proxy import SlowProxy
from tests.test_copies import copies_of, deposit, s3_url
from vault.api.app import create_app
from vault.app import Vault

DELAY = 1.5  # seconds the slow proxy holds each PUT


def bucket() -> str:
    return f"vault-{uuid.uuid4().hex[:12]}"


def through(proxy: SlowProxy, rgw: dict, name: str) -> str:
    """A store URL for a fresh bucket on the real RGW, reached through ``proxy``."""
    return s3_url({**rgw, "endpoint": f"http://127.0.0.1:{proxy.port}"}, bucket()).replace("name=rgw", f"name={name}")


@pytest.fixture
def proxies(rgw):
    target = urlsplit(rgw["endpoint"])
    with SlowProxy(target.hostname, target.port, DELAY) as one, SlowProxy(target.hostname, target.port, DELAY) as two:
        yield one, two


def open_vault(tmp_path, database_url, **changes):
    vault = Vault.open(make_settings(tmp_path, database_url, **changes), sweep_in_background=False,
                       background_jobs=False)
    return vault, Api(TestClient(create_app(vault)), ADMIN_KEY)


def wait_for(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


@pytest.mark.serial("the deposit's time is measured against the 1.5 s delay of slow proxies in front of the shared RGW")
@pytest.mark.parametrize("concurrency", [2, 1])
def test_uploads_to_the_stores_run_in_parallel_up_to_the_concurrency(tmp_path, database_url, rgw, proxies,
                                                                      concurrency):
    stores = (through(proxies[0], rgw, "slow-a"), through(proxies[1], rgw, "slow-b"))
    vault, api = open_vault(tmp_path, database_url, stores=stores, copy_quorum=3, upload_concurrency=concurrency)
    try:
        started = time.monotonic()
        receipt = deposit(api, b"three copies before the receipt")
        took = time.monotonic() - started
        assert set(copies_of(vault, receipt["sha256"])) == {"local", "slow-a", "slow-b"}
        if concurrency == 2:
            assert took < 2 * DELAY - 0.3, f"two slow stores took {took:.2f} s: the copies were made one by one"
        else:  # VAULT_UPLOAD_CONCURRENCY=1: one upload at a time, so both delays add up
            assert took >= 2 * DELAY, f"{took:.2f} s: more than one upload ran at once"
    finally:
        vault.close()


@pytest.mark.serial("the answer must come within 1.3 s, before the slow proxy's 1.5 s delay on the shared RGW")
def test_the_answer_comes_at_the_quorum_and_the_extra_copy_follows(tmp_path, database_url, rgw, proxies):
    stores = (s3_url(rgw, bucket()), through(proxies[0], rgw, "slow"))
    vault, api = open_vault(tmp_path, database_url, stores=stores, copy_quorum=2)
    try:
        started = time.monotonic()
        receipt = deposit(api, b"answered before the slow copy")
        took = time.monotonic() - started
        sha256 = receipt["sha256"]
        assert took < DELAY - 0.2, f"{took:.2f} s: the answer waited for the copy beyond the quorum"
        assert set(copies_of(vault, sha256)) == {"local", "rgw"}
        wait_for(lambda: "slow" in copies_of(vault, sha256))
        slow = vault.copies.by_name("slow")
        row = copies_of(vault, sha256)["slow"]
        [version] = slow.versions(sha256)
        assert row.status == "ok" and row.version_id == version["VersionId"]
        retention = slow.client.get_object_retention(Bucket=slow.bucket, Key=slow.key(sha256),
                                                     VersionId=version["VersionId"])["Retention"]
        assert retention["Mode"] == "COMPLIANCE"
    finally:
        vault.close()


def test_an_extra_copy_that_fails_is_reported_and_made_again(tmp_path, database_url, rgw, caplog):
    vault, api = open_vault(tmp_path, database_url, stores=(s3_url(rgw, bucket()),), copy_quorum=1)
    try:
        s3 = vault.copies.by_name("rgw")
        real = s3.copy_from

        def down(*args, **kwargs):
            raise ConnectionError("RGW stopped (injected)")

        s3.copy_from = down
        sha256 = deposit(api, b"answered after one copy, the other failed")["sha256"]
        wait_for(lambda: "background copy" in caplog.text)
        assert "RGW stopped (injected)" in caplog.text and "Traceback" not in caplog.text
        assert set(copies_of(vault, sha256)) == {"local"}
        assert vault.copies.status()["per_store"].get("rgw") is None
        s3.copy_from = real
        report = vault.copies.complete_missing()
        assert not report.failed and set(copies_of(vault, sha256)) == {"local", "rgw"}
        assert b"".join(s3.read(sha256)) == b"answered after one copy, the other failed"
    finally:
        vault.close()


def test_pool_settings_are_honoured(tmp_path, database_url, rgw):
    vault, _ = open_vault(tmp_path, database_url, stores=(s3_url(rgw, bucket()),), db_pool_size=3,
                          s3_max_connections=5, upload_concurrency=4, multipart_threshold=6 * 1024 * 1024)
    try:
        assert vault.reader.pool.size() == 3
        s3 = vault.copies.by_name("rgw")
        assert s3.client.meta.config.max_pool_connections == 5
        assert s3.multipart_threshold == 6 * 1024 * 1024
        assert vault.copies._uploads._max_workers == 4
    finally:
        vault.close()


def test_a_multipart_copy_above_the_threshold_is_compliance_locked(tmp_path, database_url, rgw):
    threshold = 5 * 1024 * 1024
    vault, api = open_vault(tmp_path, database_url, stores=(s3_url(rgw, bucket()),), copy_quorum=2,
                            multipart_threshold=threshold)
    try:
        s3 = vault.copies.by_name("rgw")
        parts = []
        real_part = s3.client.upload_part

        def counted(**kwargs):
            parts.append(kwargs["PartNumber"])
            return real_part(**kwargs)

        s3.client.upload_part = counted
        receipt = deposit(api, os.urandom(threshold + 4096))
        assert parts, "a blob above VAULT_MULTIPART_THRESHOLD went up in one PUT"
        [version] = s3.versions(receipt["sha256"])
        retention = s3.client.get_object_retention(Bucket=s3.bucket, Key=s3.key(receipt["sha256"]),
                                                   VersionId=version["VersionId"])["Retention"]
        assert retention["Mode"] == "COMPLIANCE"
        assert retention["RetainUntilDate"].isoformat()[:10] >= receipt["retention_until"][:10]
        with pytest.raises(PermissionError, match="still locked"):
            s3.delete(receipt["sha256"])
    finally:
        vault.close()


def test_a_blob_deposited_again_is_not_uploaded_again(tmp_path, database_url, rgw):
    vault, api = open_vault(tmp_path, database_url, stores=(s3_url(rgw, bucket()),), copy_quorum=2)
    try:
        first = deposit(api, b"the same proof twice")
        second = deposit(api, b"the same proof twice")
        assert first["sha256"] == second["sha256"] and first["id"] != second["id"]
        assert len(vault.copies.by_name("rgw").versions(first["sha256"])) == 1  # asked first, found, not re-sent
    finally:
        vault.close()
