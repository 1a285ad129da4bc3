"""``/ready`` (issue 20): degraded (200) while the TSA is unreachable or a store does not answer, 503 when deposits
cannot be stored (fewer stores answer than the copy quorum, a journal fork); never waits for what it watches."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.test_copies import s3_url
from vault.api.app import create_app
from vault.app import Vault
from vault.storage.s3 import S3Location, make_client


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ready_until(api: Api, check: str, wanted, timeout: float = 30.0):
    """Poll /ready until ``wanted(checks[check])``; the answer (each one timed: none may wait for a probe)."""
    deadline = time.monotonic() + timeout
    while True:
        started = time.monotonic()
        answer = api.get("/ready")
        assert time.monotonic() - started < 2.0, "/ready waited for a probe"
        if wanted(answer.json()["checks"][check]) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


@pytest.fixture
def open_vault(tmp_path, database_url):
    opened = []

    def open_(**changes) -> tuple[Vault, Api]:
        vault = Vault.open(make_settings(tmp_path, database_url, **changes), sweep_in_background=False,
                           background_jobs=False)
        opened.append(vault)
        return vault, Api(TestClient(create_app(vault)), ADMIN_KEY)

    yield open_
    for vault in opened:
        vault.close()


def test_a_reachable_tsa_is_ok(open_vault, openssl_tsa):
    _, api = open_vault(tsa_urls=(openssl_tsa["url"],), tsa_roots=openssl_tsa["roots"], tsa_probe_interval=1)
    answer = ready_until(api, "tsa", lambda v: v == "ok")
    assert answer.status_code == 200 and answer.json()["checks"]["tsa"] == "ok"


def test_an_unreachable_tsa_makes_ready_degraded_not_failing(open_vault, openssl_tsa):
    vault, api = open_vault(tsa_urls=(f"http://127.0.0.1:{closed_port()}/tsa",), tsa_roots=openssl_tsa["roots"],
                            tsa_probe_interval=1)
    answer = ready_until(api, "tsa", lambda v: v != "ok")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "degraded"
    assert answer.json()["checks"]["tsa"].startswith("degraded: TSA unreachable")
    depositor = api.as_key(api.new_key("depositor", "acme"))
    assert depositor.deposit(b"stored while the TSA is down").status_code == 201  # the seal waits, not the deposit


def test_a_tsa_that_hangs_does_not_hang_ready(open_vault, openssl_tsa):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        _, api = open_vault(tsa_urls=(f"http://127.0.0.1:{silent.getsockname()[1]}/tsa",),
                            tsa_roots=openssl_tsa["roots"], tsa_probe_interval=1)
        answer = ready_until(api, "tsa", lambda v: v != "ok", timeout=15)
        assert answer.status_code == 200 and "did not answer within" in answer.json()["checks"]["tsa"], answer.text


def test_a_failed_seal_is_seen_at_once_and_a_good_one_clears_it(open_vault, openssl_tsa):
    vault, api = open_vault(tsa_urls=(openssl_tsa["url"],), tsa_roots=openssl_tsa["roots"])
    depositor = api.as_key(api.new_key("depositor", "acme"))
    assert depositor.deposit(b"to seal").status_code == 201
    real = vault.tsa.transport

    def down(url, body, headers):
        raise ConnectionRefusedError("TSA stopped (injected)")

    vault.tsa.transport = down
    with pytest.raises(Exception):
        vault.seal_scheduler.seal_all_pending()
    assert api.get("/ready").json()["checks"]["tsa"].startswith("degraded: TSA unreachable")
    vault.tsa.transport = real
    vault.seal_scheduler.seal_all_pending()
    assert api.get("/ready").json()["checks"]["tsa"] == "ok"


def break_store(vault: Vault, rgw: dict) -> None:
    """Point the replica's S3 client at a closed port: every request to it fails to connect."""
    store = vault.copies.by_name("rgw")
    store.client = make_client(S3Location(f"http://127.0.0.1:{closed_port()}", store.bucket, rgw["access_key"],
                                          rgw["secret_key"], rgw["region"]), attempts=1)


def test_a_store_down_with_quorum_two_fails_ready_and_recovers(open_vault, rgw):
    vault, api = open_vault(stores=(s3_url(rgw, f"vault-{uuid.uuid4().hex[:12]}"),), copy_quorum=2,
                            ready_probe_interval=1)
    assert ready_until(api, "copies", lambda v: v == "ok").json()["status"] == "ok"
    client = vault.copies.by_name("rgw").client
    break_store(vault, rgw)
    answer = ready_until(api, "copies", lambda v: v != "ok")
    assert answer.status_code == 503, answer.text
    assert answer.json()["checks"]["copies"].startswith("failing: store(s) rgw (")
    depositor = api.as_key(api.new_key("depositor", "acme"))
    assert depositor.deposit(b"no quorum").status_code == 503  # what /ready announced
    vault.copies.by_name("rgw").client = client
    assert ready_until(api, "copies", lambda v: v == "ok").status_code == 200


def test_a_store_down_above_quorum_is_degraded(open_vault, rgw):
    vault, api = open_vault(stores=(s3_url(rgw, f"vault-{uuid.uuid4().hex[:12]}"),), copy_quorum=1,
                            ready_probe_interval=1)
    assert ready_until(api, "copies", lambda v: v == "ok").json()["status"] == "ok"
    break_store(vault, rgw)
    answer = ready_until(api, "copies", lambda v: v != "ok")
    assert answer.status_code == 200 and answer.json()["status"] == "degraded", answer.text
    assert answer.json()["checks"]["copies"].startswith("degraded: store(s) rgw (")
    depositor = api.as_key(api.new_key("depositor", "acme"))
    assert depositor.deposit(b"quorum 1: the local copy is enough").status_code == 201


def test_blobs_below_the_copy_quorum_are_degraded(open_vault, rgw):
    from sqlalchemy import delete

    from vault.db.tables import BlobCopy

    vault, api = open_vault(stores=(s3_url(rgw, f"vault-{uuid.uuid4().hex[:12]}"),), copy_quorum=2,
                            ready_probe_interval=1)
    depositor = api.as_key(api.new_key("depositor", "acme"))
    assert ready_until(api, "copies", lambda v: v == "ok").status_code == 200
    sha256 = depositor.deposit(b"two copies").json()["sha256"]
    copies = BlobCopy.__table__  # its RGW copy unrecorded before the next probe: counted with the new deposits
    vault.writer.run(lambda c: c.execute(delete(copies).where(copies.c.sha256 == sha256, copies.c.store == "rgw")))
    answer = ready_until(api, "copies", lambda v: v != "ok")
    assert answer.status_code == 200
    assert answer.json()["checks"]["copies"].startswith("degraded: 1 blob(s) held by fewer than 2 stores")
    assert not vault.copies.complete_missing().failed  # the copy job records it again: the next probe drops it
    assert ready_until(api, "copies", lambda v: v == "ok").status_code == 200


def test_a_journal_fork_fails_ready(open_vault):
    from vault.journal.fork import JournalFork

    vault, api = open_vault()
    vault.fork = JournalFork(log_size=3, lost_size=5, anchor=1, witness="anchor 1")  # as check_at_start finds it
    answer = api.get("/ready")
    assert answer.status_code == 503 and answer.json()["checks"]["journal"].startswith("failing: journal fork")


def test_open_fixity_alerts_are_counted_from_their_index_not_from_every_alert(open_vault):
    """/ready counts open fixity alerts on every call: resolved ones (which accumulate) are not read (the partial
    index ix_fixity_alerts_open, migration 0036), and the count stays right as alerts open and resolve."""
    from datetime import datetime, timezone

    from sqlalchemy import insert, text, update

    from vault.db.tables import FixityAlert

    vault, api = open_vault()
    alerts, at = FixityAlert.__table__, datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [{"sha256": f"{i:064x}", "store": "primary", "kind": "copy-corrupt", "object_id": str(uuid.uuid4()),
             "source": "audit", "first_seen": at, "last_seen": at, "seen": 1, "resolved_at": at if i < 50 else None}
            for i in range(52)]
    vault.writer.run(lambda c: c.execute(insert(alerts), rows))
    assert api.get("/ready").json()["checks"]["fixity"] == "degraded: 2 open fixity alert(s), see /v1/alerts"
    vault.writer.run(lambda c: c.execute(update(alerts).where(alerts.c.sha256 == f"{50:064x}").values(resolved_at=at)))
    assert api.get("/ready").json()["checks"]["fixity"] == "degraded: 1 open fixity alert(s), see /v1/alerts"
    vault.writer.run(lambda c: c.execute(update(alerts).values(resolved_at=at)))
    assert api.get("/ready").json()["checks"]["fixity"] == "ok"
    if vault.reader.dialect.name == "sqlite":
        with vault.reader.connect() as connection:
            plan = " ".join(row[-1] for row in connection.execute(text(
                "EXPLAIN QUERY PLAN SELECT kind, count(*) FROM fixity_alerts WHERE resolved_at IS NULL GROUP BY kind")))
        assert "USING INDEX ix_fixity_alerts_open" in plan, plan
