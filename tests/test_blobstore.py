"""The filesystem blob store: streaming, content addressing, deduplication, durability order, orphan sweep."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta

import pytest

from vault.storage.blobstore import BlobNotFound
from vault.storage.filesystem import FileBlobStore


@pytest.fixture
def store(tmp_path):
    return FileBlobStore(tmp_path / "blobs")


def put(store, data: bytes, chunk: int = 7):
    writer = store.writer()
    for start in range(0, len(data), chunk):
        writer.write(data[start:start + chunk])
    return writer.commit()


def test_blob_is_stored_under_its_sha256(store):
    data = os.urandom(100_000)
    stored = put(store, data, chunk=4096)
    digest = hashlib.sha256(data).hexdigest()
    assert stored.digests.sha256 == digest
    assert stored.digests.sha512 == hashlib.sha512(data).hexdigest()
    assert stored.digests.size == len(data)
    assert store.path_for(digest).read_bytes() == data
    assert store.path_for(digest).relative_to(store.blob_dir).parts == (digest[:3], digest)
    assert b"".join(store.read(digest)) == data


def test_same_content_is_deduplicated(store):
    first = put(store, b"twice")
    second = put(store, b"twice")
    assert not first.deduplicated and second.deduplicated
    assert list(store.addresses()) == [first.digests.sha256]
    assert list(store.tmp_dir.iterdir()) == []


def test_abort_leaves_no_trace(store):
    writer = store.writer()
    writer.write(b"half a file")
    writer.abort()
    writer.abort()
    assert list(store.tmp_dir.iterdir()) == [] and list(store.addresses()) == []


def test_uncommitted_bytes_are_never_visible_under_an_address(store):
    writer = store.writer()
    writer.write(b"in flight")
    digest = writer.digests().sha256
    assert not store.exists(digest)
    writer.commit()
    assert store.exists(digest)


def test_commit_fsyncs_file_then_renames_then_fsyncs_directory(store, monkeypatch):
    calls = []
    real_fsync, real_rename = os.fsync, os.rename
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd)))
    monkeypatch.setattr(os, "rename", lambda a, b: (calls.append(("rename", str(b))), real_rename(a, b)))
    stored = put(store, b"ordered")
    final = str(store.path_for(stored.digests.sha256))
    kinds = [kind for kind, _ in calls]
    assert kinds[0] == "fsync" and calls[0][1].endswith(".part")
    assert ("rename", final) in calls
    assert kinds.index("rename") < len(kinds) - 1
    assert calls[-1] == ("fsync", os.path.dirname(final))


def test_reading_a_missing_blob_raises(store):
    with pytest.raises(BlobNotFound):
        store.read("0" * 64)
    with pytest.raises(ValueError):
        store.path_for("../etc/passwd")


def test_sweep_removes_old_temp_files_and_unreferenced_blobs_only(store):
    kept = put(store, b"referenced").digests.sha256
    orphan = put(store, b"orphan").digests.sha256
    young_orphan = put(store, b"young orphan").digests.sha256
    crashed = store.writer()
    crashed.write(b"written before a crash")  # never committed nor aborted
    old = time.time() - 3600
    for path in (store.path_for(kept), store.path_for(orphan), *store.tmp_dir.iterdir()):
        os.utime(path, (old, old))
    report = store.sweep_orphans(lambda sha: sha == kept, timedelta(minutes=10))
    assert report.temporary_removed == 1 and report.orphans_removed == 1
    assert sorted(store.addresses()) == sorted([kept, young_orphan])


def test_deduplicated_write_refreshes_the_grace_period(store):
    digest = put(store, b"shared").digests.sha256
    old = time.time() - 3600
    os.utime(store.path_for(digest), (old, old))
    put(store, b"shared")  # a new deposit of the same bytes, not yet committed in the database
    store.sweep_orphans(lambda sha: False, timedelta(minutes=10))
    assert store.exists(digest)


def test_delete(store):
    digest = put(store, b"gone").digests.sha256
    assert store.delete(digest) and not store.exists(digest) and not store.delete(digest)


def test_deferred_name_sync_publishes_at_once_and_syncs_at_the_barrier(tmp_path, monkeypatch):
    store = FileBlobStore(tmp_path / "deferred", defer_name_sync=True)
    calls = []
    monkeypatch.setattr("vault.storage.filesystem._syncfs", lambda fd: calls.append(os.readlink(f"/proc/self/fd/{fd}")) or 0)
    stored = put(store, b"named now, durable at the barrier")
    assert store.exists(stored.digests.sha256)  # readable at once
    store.sync_names()
    store.sync_names()  # nothing new: no second syncfs
    assert calls == [str(store.blob_dir)]


def test_deferred_name_sync_falls_back_to_directory_fsync(tmp_path, monkeypatch):
    store = FileBlobStore(tmp_path / "fallback", defer_name_sync=True)
    monkeypatch.setattr("vault.storage.filesystem._syncfs", None)
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    digest = put(store, b"fallback").digests.sha256
    synced.clear()
    store.sync_names()
    assert sorted(synced) == sorted([str(store.path_for(digest).parent), str(store.blob_dir)])  # new dir, its parent


def test_small_blobs_leave_their_bytes_to_the_barrier_large_ones_fsync(tmp_path, monkeypatch):
    from vault.storage import filesystem

    store = FileBlobStore(tmp_path / "deferred-data", defer_name_sync=True)
    monkeypatch.setattr(filesystem, "_syncfs", lambda fd: 0)
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    put(store, b"small", chunk=4096)
    assert not any(path.endswith(".part") for path in synced)
    put(store, os.urandom(filesystem.DEFER_DATA_MAX + 1), chunk=1 << 16)
    assert any(path.endswith(".part") for path in synced)


def test_a_failing_syncfs_fails_the_barrier(tmp_path, monkeypatch):
    from vault.storage import filesystem

    store = FileBlobStore(tmp_path / "failing", defer_name_sync=True)
    monkeypatch.setattr(filesystem, "_syncfs", lambda fd: -1)
    put(store, b"never made durable")
    with pytest.raises(OSError, match="syncfs"):
        store.sync_names()


def test_dedup_replaces_a_blob_whose_bytes_were_lost(store):
    stored = put(store, b"the real bytes")
    path = store.path_for(stored.digests.sha256)
    path.write_bytes(b"")  # what a crash can leave behind a name whose data was never synced
    again = put(store, b"the real bytes")
    assert not again.deduplicated and path.read_bytes() == b"the real bytes"
    path.write_bytes(b"the reel bytes")  # same size, other bytes: caught by the hash
    assert not put(store, b"the real bytes").deduplicated and path.read_bytes() == b"the real bytes"


def test_spare_temporary_files_are_used_fresh_and_stale_ones_dropped(tmp_path, monkeypatch):
    import time as clock

    from vault.storage import filesystem

    store = FileBlobStore(tmp_path / "blobs", defer_name_sync=True)
    store.keep_spares()
    deadline = clock.monotonic() + 5
    while store._spares.qsize() < filesystem.SPARES and clock.monotonic() < deadline:
        clock.sleep(0.01)
    assert store._spares.qsize() == filesystem.SPARES
    stored = put(store, b"written into a spare")
    assert store.exists(stored.digests.sha256)
    monkeypatch.setattr(filesystem, "SPARE_LIFETIME", -1.0)  # every spare is now too old to trust
    before = set(store.spare_dir.glob("*.part"))
    writer = store.writer()
    writer.write(b"fresh file")
    assert writer.commit().digests.sha256 == hashlib.sha256(b"fresh file").hexdigest()
    assert len(set(store.spare_dir.glob("*.part")) & before) < len(before)  # stale spares were removed
    assert list(store.tmp_dir.iterdir()) == []  # spares never show among uploads in progress
