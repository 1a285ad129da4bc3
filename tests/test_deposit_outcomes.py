"""Deposit outcomes: cumulative by tenant and per-second over a sliding window."""

import pytest

from vault.monitoring.outcomes import DepositOutcomes, outcome_of


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_outcome_of_statuses():
    assert [outcome_of(s) for s in (200, 201, 400, 403, 409, 413, 422, 500, 502, 503, 507)] == [
        "stored", "stored", "refused", "refused", "refused", "refused", "refused",
        "failed", "failed", "failed", "failed"]


def test_totals_by_tenant_and_window_slides():
    clock = Clock()
    outcomes = DepositOutcomes(clock, horizon=60)
    outcomes.record("a", "stored")
    outcomes.record("b", "failed")
    clock.now += 30
    outcomes.record("a", "stored")
    outcomes.record("a", "refused")
    assert outcomes.totals() == {("a", "stored"): 2, ("b", "failed"): 1, ("a", "refused"): 1}
    assert outcomes.window(60) == {"stored": 2, "refused": 1, "failed": 1}
    assert outcomes.window(10) == {"stored": 1, "refused": 1, "failed": 0}
    clock.now += 40  # the first second left the 60 s window; its slot is not yet reused
    assert outcomes.window(60) == {"stored": 1, "refused": 1, "failed": 0}
    clock.now += 60 * 5  # slots reused modulo the horizon never count twice
    outcomes.record("a", "failed")
    assert outcomes.window(60) == {"stored": 0, "refused": 0, "failed": 1}
    assert outcomes.totals()[("a", "failed")] == 1


def test_unknown_outcome_refused():
    with pytest.raises(ValueError):
        DepositOutcomes().record("a", "lost")


def test_deposits_counted_by_outcome_as_answered(vault, depositor, client):
    """Every deposit answer counts once: stored, refused (the client's fault, or no key), failed (507)."""
    from vault.storage.headroom import DiskHeadroom

    assert depositor.deposit().status_code == 201
    assert depositor.deposit(policy="no-such-policy").status_code == 422
    assert client.post("/v1/objects", files={"file": ("p.pdf", b"x")}).status_code == 401
    vault.headroom = DiskHeadroom(vault.settings.data_dir, 1 << 62)  # below the free-space minimum: 507
    assert depositor.deposit().status_code == 507
    assert client.get("/v1/objects").status_code in (401, 405)  # not a deposit: not counted
    assert vault.deposit_outcomes.totals() == {("acme", "stored"): 1, ("acme", "refused"): 1, ("-", "refused"): 1,
                                               ("acme", "failed"): 1}
    assert vault.deposit_outcomes.window(60) == {"stored": 1, "refused": 2, "failed": 1}
