"""``/metrics``: a real exposition after deposits (stored, refused, failed), seals and a TSA outage, checked by
``promtool check metrics`` and read back value by value."""

from __future__ import annotations

import httpx
import pytest

from tests.prometheus_text import parse, promtool
from vault.monitoring.samples import value_of
from vault.storage.headroom import DiskHeadroom
from vault.timestamping.client import TsaUnavailable


class Outage:
    """The vault's own TSA transport, unreachable while ``down``."""

    def __init__(self, transport):
        self.transport, self.down = transport, False

    def __call__(self, url, body, headers):
        if self.down:
            raise httpx.ConnectError("connection refused (injected)")
        return self.transport(url, body, headers)


def scrape(client) -> tuple[str, list]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text, parse(response.text)


def test_metrics_after_deposits_seals_and_a_tsa_outage(vault, client, admin, depositor):
    outage = Outage(vault.tsa.transport)
    vault.tsa.transport = outage
    stored = [depositor.deposit(f"proof {i}".encode()) for i in range(3)]
    assert [r.status_code for r in stored] == [201] * 3
    assert depositor.deposit(policy="no-such-policy").status_code == 422
    other = admin.as_key(admin.new_key("depositor", "globex"))
    assert other.deposit(b"globex proof").status_code == 201

    outage.down = True
    with pytest.raises(TsaUnavailable):
        vault.seal_scheduler.seal_all_pending()
    _, down = scrape(client)
    tsa = next(s.label("tsa") for s in down if s.name == "vault_tsa_reachable")
    assert value_of(down, "vault_tsa_reachable", tsa=tsa) == 0
    assert value_of(down, "vault_seal_pending") == 4 and value_of(down, "vault_seal_consecutive_failures") == 1
    assert value_of(down, "vault_seal_lag_seconds") >= 0

    outage.down = False
    assert len(vault.seal_scheduler.seal_all_pending()) == 1
    object_id = stored[0].json()["id"]
    for _ in range(3):
        assert depositor.get(f"/v1/objects/{object_id}").status_code == 200
    assert client.get("/no/such/path").status_code == 404
    vault.headroom = DiskHeadroom(vault.settings.data_dir, 1 << 62)  # below the free-space minimum: 507
    assert depositor.deposit(b"no room").status_code == 507
    vault.checkpointer.checkpoint_now()
    vault.anchorer.anchor_now()

    text, samples = scrape(client)
    checked = promtool("check", "metrics", stdin=text)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    deposits = {(s.label("tenant"), s.label("outcome")): s.value for s in samples if s.name == "vault_deposits_total"}
    assert deposits == {("acme", "stored"): 3, ("acme", "refused"): 1, ("acme", "failed"): 1, ("globex", "stored"): 1}
    latency = "vault_http_request_duration_seconds"
    assert value_of(samples, f"{latency}_count", route="/v1/objects/{object_id}", method="GET") == 3
    assert value_of(samples, f"{latency}_bucket", route="/v1/objects/{object_id}", method="GET", le="+Inf") == 3
    assert value_of(samples, f"{latency}_count", route="/v1/objects", method="POST") == 6
    assert value_of(samples, f"{latency}_count", route="other", method="GET") == 1
    assert not any("no/such" in (s.label("route") or "") for s in samples)

    assert value_of(samples, "vault_tsa_requests_total", tsa=tsa, outcome="unreachable") == 1
    assert value_of(samples, "vault_tsa_requests_total", tsa=tsa, outcome="ok") == 2  # the seal, the anchor
    assert value_of(samples, "vault_tsa_request_duration_seconds_count", tsa=tsa) == 3
    assert value_of(samples, "vault_tsa_reachable", tsa=tsa) == 1
    assert value_of(samples, "vault_seal_pending") == 0 and value_of(samples, "vault_seal_batches_total") == 1
    assert value_of(samples, "vault_seal_consecutive_failures") == 0
    assert value_of(samples, "vault_renewals_due") == 0 and value_of(samples, "vault_renewals_overdue") == 0
    assert value_of(samples, "vault_journal_entries") >= 5 and value_of(samples, "vault_journal_unsigned_entries") == 0
    assert 0 <= value_of(samples, "vault_checkpoint_age_seconds") < 60
    assert 0 <= value_of(samples, "vault_anchor_age_seconds") < 60
    assert value_of(samples, "vault_technical_failures_total", problem="insufficient-storage") == 1
    assert value_of(samples, "vault_disk_size_bytes") >= value_of(samples, "vault_disk_free_bytes") > 0
    held = len(b"proof 0") * 3 + len(b"globex proof")  # the distinct blobs stored (every store holds them)
    assert {s.label("store"): s.value for s in samples if s.name == "vault_store_bytes"} == \
        {store.name: held for store in vault.copies.stores}
    assert {s.label("store") for s in samples if s.name == "vault_copies_missing"} == \
        {store.name for store in vault.copies.stores}
    assert value_of(samples, "vault_disposal_batches", state="proposed") == 0
    assert value_of(samples, "vault_security_alerts_total", kind="privileged-key-issued") == 0


def test_tenants_beyond_the_bound_are_summed_as_other(vault, client, admin, depositor):
    vault.settings = vault.settings.with_(metrics_tenants=1)
    assert depositor.deposit().status_code == 201
    for tenant in ("globex", "initech"):
        assert admin.as_key(admin.new_key("depositor", tenant)).deposit().status_code == 201
    text, samples = scrape(client)
    assert promtool("check", "metrics", stdin=text).returncode == 0
    deposits = {(s.label("tenant"), s.label("outcome")): s.value for s in samples if s.name == "vault_deposits_total"}
    assert deposits == {("acme", "stored"): 1, ("other", "stored"): 2}


def test_fixity_figures_follow_the_alerts(vault, client, depositor):
    from sqlalchemy import text

    from vault.storage.fixity import Finding

    assert depositor.deposit().status_code == 201
    with vault.reader.connect() as connection:
        sha256, object_id = connection.execute(text("SELECT sha256, id FROM archived_objects")).one()
    store = vault.copies.stores[0].name
    for source in ("audit", "read"):  # the same missing copy seen twice
        vault.copies.record_findings([Finding(sha256, store, "copy-missing", object_id)], source)
    _, samples = scrape(client)
    assert value_of(samples, "vault_copies_missing", store=store) == 1
    assert value_of(samples, "vault_fixity_alerts_open", kind="copy-missing") == 1
    assert value_of(samples, "vault_fixity_failures_total", kind="copy-missing") == 2
    assert value_of(samples, "vault_fixity_audits_total") == 0

    vault.copies.audit()  # finds the copy good: the alert is resolved, the sightings stay counted
    _, samples = scrape(client)
    assert value_of(samples, "vault_copies_missing", store=store) == 0
    assert value_of(samples, "vault_fixity_alerts_open", kind="copy-missing") == 0
    assert value_of(samples, "vault_fixity_failures_total", kind="copy-missing") == 2
    assert value_of(samples, "vault_fixity_audits_total") == 1
