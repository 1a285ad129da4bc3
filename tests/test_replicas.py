"""Correctness across replicas (issue 24): two ``vault serve`` processes, started at the same moment on one
PostgreSQL, one Ceph RGW bucket, the OpenSSL TSA and one VAULT_KEYS_DIR, behind a round-robin client, take
concurrent deposits, reads, seals, a hash-tree renewal, package exports and a disposal. Then: one gap-free journal
that Go's golang.org/x/mod/sumdb/tlog accepts, every deposit sealed exactly once, idempotent retries on the other
replica answered with the first receipt, and a key revoked on one replica refused by the other within 5 s."""

from __future__ import annotations

import io
import itertools
import subprocess
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import fresh_pg_database, scaled_stores
from tests.interop.test_go_tlog import export, tlogcheck, wait_for_checkpoint  # noqa: F401 — tlogcheck: a fixture
from tests.server_process import ServerProcess, deposit

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.serial(
    "two replicas under concurrent load; a revoked key must be refused by the other one within 5 s")]
DEPOSITS = 48
CASE = "REPLICAS-1"
TEN_YEARS_AND_A_DAY = (3653 + 1) * 86400


class RoundRobin:
    """One client per replica, handed out in turn: consecutive requests land on different processes."""

    def __init__(self, servers: list[ServerProcess], key: str):
        self.clients = [server.client(key) for server in servers]
        self._next = itertools.cycle(range(len(self.clients)))
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            return self.clients[next(self._next)]

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture
def replicas(tmp_path, openssl_tsa):
    with fresh_pg_database() as url:
        [stores], clock_file = scaled_stores(url)["stores"], tmp_path / "clock-offset"
        clock_file.write_text("0")
        env = {"VAULT_DATABASE_URL": url, "VAULT_STORES": stores, "VAULT_COPY_QUORUM": "2",
               "VAULT_TSA_URLS": openssl_tsa["url"], "VAULT_TSA_ROOTS": str(openssl_tsa["roots"]),
               "VAULT_KEYS_DIR": str(tmp_path / "keys"), "VAULT_SEAL_INTERVAL": "1", "VAULT_CHECKPOINT_INTERVAL": "1",
               "VAULT_TEST_CLOCK_FILE": str(clock_file), "VAULT_DISPOSAL_NOTICE": "PT0S"}
        servers = [ServerProcess(tmp_path / name / "data", env=env) for name in ("a", "b")]
        starting = [threading.Thread(target=server.start, kwargs={"timeout": 120}) for server in servers]
        for thread in starting:  # as an orchestrator does: both at once (migrations, keys, admin key race)
            thread.start()
        for thread in starting:
            thread.join()
        try:
            for server in servers:
                assert server.process.poll() is None, server.output()
            yield servers, url, clock_file
        finally:
            for server in servers:
                server.stop()


def _deposit(pick, i: int) -> dict:
    response = deposit(pick(), f"replica proof {i} ".encode() * 50, headers={"Idempotency-Key": f"dep-{i}"},
                       case_ref=CASE, event_type="sending")
    assert response.status_code == 201, response.text
    return response.json()


def _read(pick, receipt: dict) -> None:
    http = pick()
    assert http.get(f"/v1/objects/{receipt['id']}").status_code == 200
    content = http.get(f"/v1/objects/{receipt['id']}/content")
    assert content.status_code == 200 and content.content.startswith(b"replica proof ")


def _package(pick) -> int:
    response = pick().get(f"/v1/cases/{CASE}/package", timeout=120)
    assert response.status_code == 200, response.text[:300]
    with zipfile.ZipFile(io.BytesIO(response.content)) as package:  # whole: contents read from either replica's
        assert package.testzip() is None                             # deposits (local copy or the shared bucket)
    return int(response.headers["X-Package-Objects"])


def _wait_sealed(engine, count: int) -> None:
    for _ in range(600):
        with engine.connect() as connection:
            covered = connection.execute(text("SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM seal_batches "
                                              "WHERE kind = 'initial'")).scalar_one()
        if covered >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"only {covered} of {count} deposits sealed within a minute")


def test_two_replicas_one_journal_each_deposit_sealed_once(replicas, tlogcheck, tmp_path):  # noqa: F811
    servers, url, clock_file = replicas
    admin = RoundRobin(servers, servers[0].admin_key)
    depositor = RoundRobin(servers, servers[0].new_key("depositor", "acme"))
    engine = create_engine(url)
    try:
        with ThreadPoolExecutor(8) as pool:
            receipts = list(pool.map(lambda i: _deposit(depositor, i), range(DEPOSITS // 2)))
            reads = [pool.submit(_read, depositor, receipt) for receipt in receipts]
            more = [pool.submit(_deposit, depositor, i) for i in range(DEPOSITS // 2, DEPOSITS)]
            seals = [pool.submit(lambda: admin().post("/v1/admin/reseal", json={"kind": "seal"}))
                     for _ in range(4)]
            packages = [pool.submit(_package, depositor) for _ in range(2)]
            receipts += [future.result() for future in more]
            for future in reads:
                future.result()
            # a seal pass runs in one process at a time (job locks): the other is told so, never seals twice
            assert {future.result().status_code for future in seals} <= {200, 409}
            busy = [f.result().json()["type"] for f in seals if f.result().status_code == 409]
            assert set(busy) <= {"urn:vault:problem:busy"}
            assert all(future.result() >= DEPOSITS // 2 for future in packages)

        # an idempotent retry on the other replica answers the first receipt, and stores nothing new
        for i in (0, 1, DEPOSITS - 1):
            for client in depositor.clients:
                retried = deposit(client, f"replica proof {i} ".encode() * 50,
                                  headers={"Idempotency-Key": f"dep-{i}"}, case_ref=CASE, event_type="sending")
                assert retried.status_code == 201 and retried.json() == receipts[i], retried.text
                assert retried.headers.get("Idempotent-Replayed") == "true"
        assert len({receipt["id"] for receipt in receipts}) == DEPOSITS

        _wait_sealed(engine, DEPOSITS)
        with ThreadPoolExecutor(2) as pool:  # a hash-tree renewal asked of both replicas at once
            renewals = [pool.submit(lambda c=c: c.post("/v1/admin/reseal", json={"kind": "hash-tree-renewal",
                                                                                  "hash": "sha512"}, timeout=120))
                        for c in admin.clients]
            statuses = [future.result().status_code for future in renewals]
            assert 200 in statuses and set(statuses) <= {200, 409}, [f.result().text for f in renewals]

        # a key revoked on one replica is refused by the other within 5 s (its cache: vault.auth.keys)
        issued = admin.clients[0].post("/v1/keys", json={"role": "depositor", "tenant": "acme"}).json()
        probe = f"/v1/objects/{receipts[0]['id']}"
        with servers[1].client(issued["key"]) as other:
            assert other.get(probe).status_code == 200  # now in the other replica's cache
            assert admin.clients[0].delete(f"/v1/keys/{issued['key_id']}").status_code == 200
            started = time.monotonic()
            while other.get(probe).status_code != 401:
                assert time.monotonic() - started < 5.0, "a revoked key still works on the other replica after 5 s"
                time.sleep(0.1)

        # a disposal, ten years on, proposed on one replica and approved and executed on the other
        archivists = [s.new_key("archivist", "acme") for s in servers]  # older than VAULT_DISPOSAL_KEY_MIN_AGE then
        clock_file.write_text(str(TEN_YEARS_AND_A_DAY))
        with servers[0].client(archivists[0]) as one, servers[1].client(archivists[1]) as two:
            batch = one.post("/v1/disposal/batches", json={"object_ids": [receipts[0]["id"]]})
            assert batch.status_code == 201, batch.text
            approved = two.post(f"/v1/disposal/batches/{batch.json()['id']}/approve")
            assert approved.status_code == 200, approved.text
            executed = two.post(f"/v1/disposal/batches/{batch.json()['id']}/execute")
            assert executed.status_code == 200, executed.text

        with engine.connect() as connection:
            size, last = connection.execute(text("SELECT count(*), max(seq) FROM journal_entries")).one()
            assert size == last + 1  # one sequence, no gap
            initial = connection.execute(text("SELECT first_seq, last_seq FROM seal_batches WHERE kind = 'initial' "
                                              "ORDER BY first_seq")).all()
            covered = [seq for first, last_seq in initial for seq in range(first, last_seq + 1)]
            assert covered == list(range(DEPOSITS))  # every deposit in exactly one initial seal batch
            per_renewal = connection.execute(text(
                "SELECT m.seal_seq, count(DISTINCT m.batch_id) FROM seal_members m JOIN seal_batches b "
                "ON b.id = m.batch_id WHERE b.kind = 'hash-tree-renewal' GROUP BY m.seal_seq")).all()
            assert sorted(seq for seq, _ in per_renewal) == list(range(DEPOSITS))
            assert {batches for _, batches in per_renewal} == {1}  # renewed once: a second pass finds it done

        auditor = servers[1].new_key("auditor", "*")
        wait_for_checkpoint(servers[0], auditor, size)
        done = export(servers[1], auditor, tmp_path / "export")
        assert done.returncode == 0, done.stderr
        checked = subprocess.run([str(tlogcheck), str(tmp_path / "export")], capture_output=True,
                                 text=True, timeout=120)
        assert checked.returncode == 0, checked.stderr
    finally:
        admin.close()
        depositor.close()
        engine.dispose()
