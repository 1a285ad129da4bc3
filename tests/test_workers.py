"""Background jobs across processes: one pass per job kind at a time, and kill -9 mid-job leaves nothing half-done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, text

from tests.conftest import ROOT, fresh_pg_database, make_settings
from vault.app import Vault
from vault.db.tables import ArchivedObject, SealBatch, SealTreeChunk
from vault.jobs.coordination import JobLocks, lock_key


def open_vault(tmp_path, name, database_url):
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)  # where the shared SQLite file of the fixture lives
    settings = make_settings(tmp_path / name, database_url).with_(stores=(), copy_quorum=None,
                                                                  keys_dir=tmp_path / "keys")  # one identity
    return Vault.open(settings, sweep_in_background=False, background_jobs=False)


def test_a_job_kind_runs_in_one_process_at_a_time(tmp_path, database_url):
    a, b = open_vault(tmp_path, "a", database_url), open_vault(tmp_path, "b", database_url)
    try:
        first, second = JobLocks(a.reader, tmp_path / "shared"), JobLocks(b.reader, tmp_path / "shared")
        with first.hold("seal") as mine:
            assert mine
            with second.hold("seal") as theirs:
                assert not theirs
            with second.hold("anchor") as other_kind:
                assert other_kind
        with second.hold("seal") as now_theirs:
            assert now_theirs
    finally:
        a.close()
        b.close()


def synthetic_deposits(vault, count: int, start: int = 0) -> None:
    from sqlalchemy import insert

    import hashlib

    now = datetime.now(timezone.utc)
    rows = []
    for seq in range(start, start + count):
        digest = hashlib.sha256(seq.to_bytes(8, "big")).hexdigest()
        rows.append({"id": f"{seq:08x}-0000-7000-8000-000000000000", "tenant": "acme", "case_ref": f"C-{seq}",
                     "kind": "other", "event_type": "deposit", "timeline_at": now, "media_type": "text/plain",
                     "size": 8, "sha256": digest, "sha512": digest * 2, "policy_id": "lre-proof", "policy_version": 2,
                     "deposited_at": now, "depositor": "test", "extra": {}, "status": "active", "journal_index": 0,
                     "seal_seq": seq})
    with vault.writer_engine.begin() as connection:
        for i in range(0, len(rows), 10_000):
            connection.execute(insert(ArchivedObject.__table__), rows[i:i + 10_000])


def sealed_once(vault) -> tuple[int, int]:
    batches = SealBatch.__table__
    with vault.reader.connect() as connection:
        ranges = connection.execute(select(batches.c.first_seq, batches.c.last_seq)
                                    .where(batches.c.kind == "initial").order_by(batches.c.first_seq)).all()
    covered = 0
    for (first, last), following in zip(ranges, ranges[1:] + [(None, None)]):
        assert following[0] is None or following[0] == last + 1, "seal batches overlap or leave a gap"
        covered += last - first + 1
    return len(ranges), covered


@pytest.mark.postgres
def test_two_workers_seal_every_deposit_exactly_once(tmp_path):
    with fresh_pg_database() as url:
        a, b = open_vault(tmp_path, "a", url), open_vault(tmp_path, "b", url)
        a.sealer.policy = b.sealer.policy = type(a.sealer.policy)(batch_max=50)
        try:
            synthetic_deposits(a, 400)
            errors = []

            def seal(vault):
                try:
                    for _ in range(10):
                        vault.seal_scheduler.seal_all_pending()
                except Exception as exc:  # an overlap would surface here as a unique-key violation
                    errors.append(exc)

            threads = [threading.Thread(target=seal, args=(v,)) for v in (a, b)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            assert sealed_once(a) == (8, 400)
        finally:
            a.close()
            b.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_kill_9_of_a_worker_mid_seal_leaves_nothing_half_done(tmp_path):
    with fresh_pg_database() as url:
        vault = open_vault(tmp_path, "main", url)
        try:
            synthetic_deposits(vault, 300_000)
            env = {**os.environ, "VAULT_DATABASE_URL": url, "VAULT_DATA_DIR": str(tmp_path / "worker"),
                   "VAULT_KEYS_DIR": str(tmp_path / "keys"),
                   "VAULT_POLICIES_DIR": str(ROOT / "policies"), "VAULT_SEAL_INTERVAL": "0.2",
                   "VAULT_SEAL_BATCH_MAX": "100000", "VAULT_STORES": "", "VAULT_COPY_QUORUM": ""}
            worker = subprocess.Popen([sys.executable, "-m", "vault.cli.main", "worker"], env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            key = lock_key("seal")
            classid, objid = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
            deadline = time.monotonic() + 60
            held = False
            while time.monotonic() < deadline and not held:
                with vault.reader.connect() as connection:
                    held = connection.execute(text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :c AND objid = :o"),
                        {"c": classid, "o": objid}).scalar_one() > 0
                time.sleep(0.01)
            assert held, "the worker never started sealing"
            time.sleep(0.3)  # inside the pass: the tree is built and the batch written in one transaction
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)

            chunks = SealTreeChunk.__table__
            with vault.reader.connect() as connection:
                for batch_id, leaves in connection.execute(select(SealBatch.__table__.c.id,
                                                                  SealBatch.__table__.c.leaf_count)):
                    stored = connection.execute(select(func.count()).where(chunks.c.batch_id == batch_id,
                                                                           chunks.c.level == 0)).scalar_one()
                    assert stored == -(-leaves // 1024), "a batch row without its whole tree"
            before = sealed_once(vault)
            with vault.seal_scheduler.job_locks.hold("seal") as mine:
                assert mine, "the dead worker's lock was released by PostgreSQL"
            vault.seal_scheduler.seal_all_pending()
            assert sealed_once(vault)[1] == 300_000 and sealed_once(vault)[0] >= before[0]
        finally:
            vault.close()
