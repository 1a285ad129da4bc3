"""A full disk, on a real small tmpfs (issue #19): 507 for deposits with nothing stored, ``/ready`` 503, reads
journaled or refused with 503 (never a text/plain 500), a start on the full disk in read-only mode, and recovery
once space is freed, with every acknowledged deposit readable and the journal verifying."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.server_process import ServerProcess, deposit

pytestmark = pytest.mark.serial(
    "mounts a tmpfs; waits a fixed 1.2 s for the cached free-space figure and 1.5 s for a checkpoint")

MIB = 1024 * 1024
MIN_FREE = 6 * MIB  # VAULT_MIN_FREE_BYTES for the test: a headroom small enough to measure on a 48 MiB tmpfs


@contextmanager
def small_filesystem(where: Path, size_mib: int):
    """A real tmpfs of ``size_mib`` MiB mounted at ``where`` (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the full-disk test needs root to mount a tmpfs, and CI runs as root: it must not skip")
        pytest.skip("mounting a tmpfs needs root (the suite and CI run as root)")
    where.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}M", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int) -> None:
    """Write a ballast file until only ``leave`` bytes (or nothing, for 0) are free."""
    with open(path, "wb") as handle:
        chunk = b"\0" * MIB
        try:
            while (room := free_bytes(path.parent) - leave) > 0:
                handle.write(chunk[:room])
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            pass  # ENOSPC: full


def stored(data_dir: Path) -> tuple[int, int]:
    """(object rows, blob files including temporaries): what a refused deposit must not change."""
    with sqlite3.connect(f"file:{data_dir / 'vault.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT count(*) FROM archived_objects").fetchone()[0]
    blobs = sum(1 for p in (data_dir / "blobs").rglob("*") if p.is_file() and not p.name.startswith(".ready"))
    return rows, blobs


def assert_problem(response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    assert response.json()["type"].endswith(slug), response.json()


def wait_cache() -> None:
    time.sleep(1.2)  # the free-space figure is cached for a second


def test_full_disk(tmp_path):
    with small_filesystem(tmp_path / "fs", 48) as fs:
        data_dir = fs / "data"
        server = ServerProcess(data_dir, env={"VAULT_MIN_FREE_BYTES": str(MIN_FREE), "VAULT_CHECKPOINT_INTERVAL": "1"})
        server.log = tmp_path / "server.log"  # off the tmpfs: a server that cannot write its log would die of it
        ballast = [fs / "ballast-1", fs / "ballast-2"]
        acknowledged: dict[str, bytes] = {}
        try:
            server.start()
            depositor = server.new_key("depositor", "acme")
            with server.client(depositor) as http:
                for n in range(5):
                    content = f"proof {n} ".encode() * 1000
                    response = deposit(http, content)
                    assert response.status_code == 201, response.text
                    acknowledged[response.json()["id"]] = content
                assert http.get("/ready").status_code == 200

                # below the headroom, above zero: deposits refused before the disk is full
                fill(ballast[0], leave=MIN_FREE // 2)
                wait_cache()
                before = stored(data_dir)
                for n in range(3):
                    refused = deposit(http, b"must not be stored %d" % n * 5000)
                    assert_problem(refused, 507, "insufficient-storage")
                assert stored(data_dir) == before, "a refused deposit left a row or a blob behind"
                ready = http.get("/ready")
                assert ready.status_code == 503 and ready.json()["checks"]["disk"].startswith("failing"), ready.text
                assert 'vault_technical_failures_total{problem="insufficient-storage"} 3' in http.get("/metrics").text

                # reads still answered, and journaled (the journal kept its headroom)
                some_id = next(iter(acknowledged))
                rows_before = _journal_rows(data_dir)
                assert http.get(f"/v1/objects/{some_id}").status_code == 200
                content = http.get(f"/v1/objects/{some_id}/content")
                assert content.status_code == 200 and content.content == acknowledged[some_id]
                assert _journal_rows(data_dir) >= rows_before + 2

                # the disk full to the last byte: a read is journaled or refused with 503, never a text/plain 500
                fill(ballast[1], leave=0)
                wait_cache()
                refusals = 0
                for _ in range(200):
                    rows_before = _journal_rows(data_dir)
                    read = http.get(f"/v1/objects/{some_id}")
                    if read.status_code == 200:
                        assert _journal_rows(data_dir) > rows_before, "a read was served without its journal entry"
                    else:
                        assert_problem(read, 503, "journal-unavailable")
                        refusals += 1
                assert refusals, "the journal never ran out of room: the 503 path was not exercised"
                assert_problem(deposit(http, b"x" * 10_000), 507, "insufficient-storage")
            server.stop()

            # a start on the full disk: read-only, said in one line, not a crash
            server.start()
            log = server.output()
            assert log.count("vault starts read-only") == 1, log
            assert "Traceback" not in log, log
            with server.client(depositor) as http:
                ready = http.get("/ready")
                assert ready.status_code == 503 and "read-only" in ready.json()["checks"]["mode"], ready.text
                assert_problem(deposit(http, b"y" * 10_000), 507, "insufficient-storage")

                # space freed: deposits accepted again without a restart
                for path in ballast:
                    path.unlink()
                wait_cache()
                response = deposit(http, b"after recovery " * 500)
                assert response.status_code == 201, response.text
                acknowledged[response.json()["id"]] = b"after recovery " * 500
                assert http.get("/ready").status_code == 200, http.get("/ready").text
                for object_id, content in acknowledged.items():
                    read = http.get(f"/v1/objects/{object_id}/content")
                    assert read.status_code == 200 and read.content == content
                time.sleep(1.5)  # a checkpoint over the newest entries
            server.stop()
            assert "Traceback" not in server.output(), server.output()
            done = subprocess.run([sys.executable, "-m", "vault.cli.main", "journal", "verify", "--data-dir",
                                   str(data_dir), "--json"], capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
            assert json.loads(done.stdout)["ok"]
        finally:
            server.kill9()


def _journal_rows(data_dir: Path) -> int:
    with sqlite3.connect(f"file:{data_dir / 'vault.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM journal_entries").fetchone()[0]
