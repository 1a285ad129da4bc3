"""The deposit path's lean S3 PUT (botocore's SigV4 signer + urllib3) against a real Ceph RGW with Object Lock: the
lock, the metadata and the checksum are on the request itself, and the storage enforces them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from vault.crypto.digests import digest_bytes
from vault.storage.s3 import S3BlobStore, S3Location, make_client
from vault.storage.s3_put import SignedPut


@pytest.fixture
def store(rgw, tmp_path):
    client = make_client(S3Location(rgw["endpoint"], "unused", rgw["access_key"], rgw["secret_key"], rgw["region"]),
                         max_connections=5, connect_timeout=2, read_timeout=7)
    s3 = S3BlobStore("rgw", client, f"vault-{uuid.uuid4().hex[:12]}", tmp_path / "spool",
                     default_retention=timedelta(days=3650), lock_margin=timedelta(days=1))
    s3.ensure_bucket()
    return s3


def test_the_put_is_compliance_locked_with_its_digests_as_metadata(store):
    data = b"a proof of receipt, put without boto3's per-call machinery"
    digests = digest_bytes(data)
    until = (datetime.now(timezone.utc) + timedelta(days=400)).replace(microsecond=123000)
    version = SignedPut(store.client).put(store.bucket, store.key(digests.sha256), data, digests, until)
    assert [v["VersionId"] for v in store.versions(digests.sha256)] == [version]
    key = store.key(digests.sha256)
    retention = store.client.get_object_retention(Bucket=store.bucket, Key=key, VersionId=version)["Retention"]
    assert retention["Mode"] == "COMPLIANCE" and abs(retention["RetainUntilDate"] - until) < timedelta(seconds=1)
    head = store.client.head_object(Bucket=store.bucket, Key=key, VersionId=version)
    assert head["Metadata"] == {"sha256": digests.sha256, "sha512": digests.sha512}
    assert head["ContentLength"] == len(data)
    assert b"".join(store.read(digests.sha256)) == data
    with pytest.raises(ClientError) as refused:  # the storage itself keeps it until the date
        store.client.delete_object(Bucket=store.bucket, Key=key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(PermissionError, match="still locked"):
        store.delete(digests.sha256)


def test_bytes_that_do_not_match_the_signed_sha256_are_refused_by_the_server(store):
    meant, sent = b"the bytes vault hashed", b"the bytes on the wire!"
    assert len(meant) == len(sent)
    digests = digest_bytes(meant)
    with pytest.raises(ClientError) as refused:
        SignedPut(store.client).put(store.bucket, store.key(digests.sha256), sent, digests,
                                    datetime.now(timezone.utc) + timedelta(days=2))
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused.value.response["Error"]["Code"] in ("XAmzContentSHA256Mismatch", "BadDigest")
    assert store.versions(digests.sha256) == []  # nothing stored


def test_the_store_puts_small_blobs_through_it_from_memory_and_from_a_spool_file(store):
    writer = store.writer()
    writer.write(b"spooled, then put")
    spooled = writer.commit()
    copied = digest_bytes(b"copied from memory")
    store.copy_from([b"copied ", b"from memory"], copied, None)
    for digests, data in ((spooled.digests, b"spooled, then put"), (copied, b"copied from memory")):
        [version] = store.versions(digests.sha256)
        retention = store.client.get_object_retention(Bucket=store.bucket, Key=store.key(digests.sha256),
                                                      VersionId=version["VersionId"])["Retention"]
        assert retention["RetainUntilDate"] > datetime.now(timezone.utc) + timedelta(days=3650)
        assert b"".join(store.read(digests.sha256)) == data


def test_it_takes_the_clients_pool_timeouts_and_endpoint_and_fails_as_boto3_does(store):
    lean = store._signed_put()
    assert lean is store._signed_put() and lean.client is store.client
    pool = lean._pool.connection_from_url(lean.endpoint)
    assert pool.pool.maxsize == 5
    assert (pool.timeout.connect_timeout, pool.timeout.read_timeout) == (2, 7)
    store.client = make_client(S3Location("http://127.0.0.1:9", store.bucket, "x", "y"), attempts=1)
    assert store._signed_put().endpoint == "http://127.0.0.1:9"  # a replaced client is followed
    digests = digest_bytes(b"nowhere to go")
    with pytest.raises(EndpointConnectionError):
        store.copy_from([b"nowhere to go"], digests, None)


def test_it_tries_as_often_as_the_boto3_client(store):
    for attempts in (1, 3):
        client = make_client(S3Location("http://127.0.0.1:9", store.bucket, "x", "y"), attempts=attempts)
        assert SignedPut(client)._pool.connection_pool_kw["retries"].total == client.meta.config.retries[
            "total_max_attempts"] - 1 == attempts
