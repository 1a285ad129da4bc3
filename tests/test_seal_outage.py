"""TSA outage: deposits are still accepted as "seal pending", sealing retries with backoff and catches up.

The TSA here is the real built-in one; only its reachability is switched off, by a fault-injecting transport.
"""

from __future__ import annotations

import time

import httpx
import pytest

from vault.timestamping.client import TsaUnavailable


class Switch:
    """Wraps the vault's TSA transport; while ``down`` every call fails like an unreachable server."""

    def __init__(self, transport):
        self.transport = transport
        self.down = True
        self.calls = 0

    def __call__(self, url, body, headers):
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("connection refused (injected)")
        return self.transport(url, body, headers)


@pytest.fixture
def outage(vault):
    switch = Switch(vault.tsa.transport)
    vault.tsa.transport = switch
    return switch


def test_deposits_accepted_while_the_tsa_is_down(vault, depositor, admin, outage):
    receipts = [depositor.deposit(f"outage {i}".encode()) for i in range(3)]
    assert [r.status_code for r in receipts] == [201, 201, 201]
    with pytest.raises(TsaUnavailable) as failed:
        vault.seal_scheduler.seal_all_pending()
    assert "connection refused" in str(failed.value)
    object_id = receipts[0].json()["id"]
    assert depositor.get(f"/v1/objects/{object_id}/evidence-record").status_code == 409
    inventory = admin.get("/v1/admin/crypto-inventory").json()
    assert inventory["seal_lag"]["pending"] == 3
    assert any("sealing failing" in alert for alert in inventory["alerts"])
    metrics = admin.client.get("/metrics").text
    assert "vault_seal_pending 3" in metrics and "vault_seal_consecutive_failures 1" in metrics
    forced = admin.post("/v1/admin/reseal", json={"kind": "seal"})
    assert forced.status_code == 503 and forced.json()["type"].endswith("tsa-unavailable")

    outage.down = False
    assert len(vault.seal_scheduler.seal_all_pending()) == 1
    assert depositor.get(f"/v1/objects/{object_id}/evidence-record").status_code == 200
    assert admin.get("/v1/admin/crypto-inventory").json()["seal_lag"]["pending"] == 0
    assert "vault_seal_pending 0" in admin.client.get("/metrics").text


@pytest.mark.slow
def test_scheduler_backs_off_then_catches_up(vault, depositor, outage):
    scheduler = vault.seal_scheduler
    scheduler.interval, scheduler.tick = 0.05, 0.01
    depositor.deposit(b"waiting for the TSA")
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while scheduler.state.consecutive_failures < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert scheduler.state.consecutive_failures >= 3
        assert scheduler.backoff_seconds() >= 4 * scheduler.interval  # exponential: 0.05, 0.1, 0.2, …
        calls = outage.calls
        time.sleep(0.1)
        assert outage.calls - calls <= 2, "backoff must slow the retries down"
        outage.down = False
        scheduler.kick()
        # the pass records its success just after its last batch commits: wait for both
        while (vault.sealer.pending_count()[0] or scheduler.state.consecutive_failures) \
                and time.monotonic() < deadline + 10:
            time.sleep(0.02)
        assert vault.sealer.pending_count()[0] == 0
        assert scheduler.state.consecutive_failures == 0 and scheduler.state.last_seal_at is not None
    finally:
        scheduler.stop()


def test_scheduler_seals_on_its_own(vault, depositor):
    scheduler = vault.seal_scheduler
    scheduler.interval, scheduler.tick = 0.05, 0.01
    receipt = depositor.deposit(b"sealed by the scheduler").json()
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while vault.sealer.pending_count()[0] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.stop()
    assert depositor.get(f"/v1/objects/{receipt['id']}/evidence-record").status_code == 200
