"""The S3 blob store against a real Ceph RGW with Object Lock: what vault writes, the storage itself protects."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from vault.crypto.digests import digest_bytes
from vault.storage.blobstore import BlobNotFound
from vault.storage.s3 import MULTIPART_THRESHOLD, S3BlobStore, S3Location, make_client


@pytest.fixture
def store(rgw, tmp_path):
    client = make_client(S3Location(rgw["endpoint"], "unused", rgw["access_key"], rgw["secret_key"], rgw["region"]))
    s3 = S3BlobStore("rgw", client, f"vault-{uuid.uuid4().hex[:12]}", tmp_path / "spool",
                     default_retention=timedelta(days=3650), lock_margin=timedelta(days=1))
    s3.ensure_bucket()
    return s3


def put(store, data: bytes):
    writer = store.writer()
    writer.write(data)
    return writer.commit()


def test_write_read_dedup(store):
    stored = put(store, b"a proof of receipt")
    assert not stored.deduplicated and store.exists(stored.digests.sha256)
    assert b"".join(store.read(stored.digests.sha256)) == b"a proof of receipt"
    assert put(store, b"a proof of receipt").deduplicated
    assert list(store.addresses()) == [stored.digests.sha256]
    assert not list((store.spool_dir).glob("*.part"))  # spool files never outlive a commit
    with pytest.raises(BlobNotFound):
        list(store.read("0" * 64))


def test_object_lock_is_enforced_by_the_storage_itself(store):
    sha256 = put(store, b"locked for ten years").digests.sha256
    [version] = store.versions(sha256)
    client, key = store.client, store.key(sha256)
    retention = client.get_object_retention(Bucket=store.bucket, Key=key, VersionId=version["VersionId"])["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert retention["RetainUntilDate"] > datetime.now(timezone.utc) + timedelta(days=3649)

    def refused(call, **kwargs):
        with pytest.raises(Exception) as failure:
            call(Bucket=store.bucket, Key=key, VersionId=version["VersionId"], **kwargs)
        return failure.value.response["Error"]["Code"]

    assert refused(client.delete_object) == "AccessDenied"
    assert refused(client.delete_object, BypassGovernanceRetention=True) == "AccessDenied"
    assert refused(client.put_object_retention, Retention={
        "Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(timezone.utc) + timedelta(days=30)}) == "AccessDenied"
    with pytest.raises(PermissionError, match="still locked"):
        store.delete(sha256)
    assert b"".join(store.read(sha256)) == b"locked for ten years"  # nothing went

    later = datetime.now(timezone.utc) + timedelta(days=7300)
    assert store.extend_retention(sha256, later) == 1
    assert store.extend_retention(sha256, later - timedelta(days=1000)) == 0  # never shortened
    store.set_legal_hold(sha256, True)
    status = client.get_object_legal_hold(Bucket=store.bucket, Key=key, VersionId=version["VersionId"])
    assert status["LegalHold"]["Status"] == "ON"
    store.set_legal_hold(sha256, False)


def test_large_blobs_go_multipart_and_are_locked_afterwards(store):
    data = os.urandom(MULTIPART_THRESHOLD + 1024)
    sha256 = put(store, data).digests.sha256
    assert hashlib.sha256(b"".join(store.read(sha256))).hexdigest() == sha256
    [version] = store.versions(sha256)
    retention = store.client.get_object_retention(Bucket=store.bucket, Key=store.key(sha256),
                                                  VersionId=version["VersionId"])["Retention"]
    assert retention["Mode"] == "COMPLIANCE"


def test_a_multipart_version_that_cannot_be_locked_is_deleted_again(store):
    data = os.urandom(MULTIPART_THRESHOLD + 1024)

    def refused(**_kwargs):
        raise ConnectionError("PutObjectRetention refused (injected)")

    store.client.put_object_retention = refused
    with pytest.raises(ConnectionError, match="injected"):
        put(store, data)
    assert store.versions(hashlib.sha256(data).hexdigest()) == []  # no unlocked copy left behind to be counted


def test_a_copy_must_match_its_digests(store):
    digests = digest_bytes(b"the real bytes")
    with pytest.raises(ValueError, match="do not match"):
        store.copy_from([b"other bytes"], digests, None)
    store.copy_from([b"the real ", b"bytes"], digests, None)
    assert b"".join(store.read(digests.sha256)) == b"the real bytes"


def test_a_bucket_without_object_lock_is_refused(store):
    plain = f"plain-{uuid.uuid4().hex[:12]}"
    store.client.create_bucket(Bucket=plain)
    other = S3BlobStore("plain", store.client, plain, store.spool_dir, default_retention=timedelta(days=3650))
    with pytest.raises(RuntimeError, match="Object Lock"):
        other.ensure_bucket()
