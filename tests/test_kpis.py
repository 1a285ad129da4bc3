"""LRE KPIs (docs/kpis.md) against values computed by hand on a fixture set of cases, on SQLite and PostgreSQL.

Tenant acme, period [2026-03-02T06:00Z, 2026-03-20T18:00Z) — both ends inside a day, so the partial first and
last days are read from the per-case rows and the whole days between from the per-day counts:

====  ===================  ========================================  ===========================
case  sending              then                                      counted as
====  ===================  ========================================  ===========================
D1    03-02 10:00          receipt +600 s                            delivered (partial 1st day)
D2    03-03 00:00          receipt +86 400 s, a 2nd receipt later    delivered (first receipt)
D3    03-10 12:00          receipt +3 600 s                          delivered
R1    03-11 08:00          refusal                                   refused
N1    03-12 09:00          negligence +16 days                       negligence
F1    03-13 09:00          RelayFailure evidence (JSON event log)    pending, technical failure
P1    03-20 12:00          nothing                                   pending (partial last day)
P2    03-20 20:00          nothing                                   after the period
O1    02-20 10:00          receipt 03-02                             before the period
X1    (none)               receipt 03-15                             not a sending
B1    03-05 (tenant beta)  receipt                                   other tenant
====  ===================  ========================================  ===========================
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.server_process import ServerProcess, deposit
from vault.kpis.measures import Totals, bucket_seconds, delay_bucket, indicators, percentile

NOW = datetime(2026, 4, 10, 12, 0, tzinfo=timezone.utc)
PERIOD = {"from": "2026-03-02T06:00:00Z", "to": "2026-03-20T18:00:00Z"}


def at(text: str) -> str:
    return f"2026-{text}:00Z"


EVENTS = [  # (tenant, case, event type, time)
    ("acme", "D1", "sending", at("03-02T10:00")), ("acme", "D1", "receipt", at("03-02T10:10")),
    ("acme", "D2", "sending", at("03-03T00:00")), ("acme", "D2", "receipt", at("03-04T00:00")),
    ("acme", "D2", "receipt", at("03-05T00:00")),
    ("acme", "D3", "receipt", at("03-10T13:00")), ("acme", "D3", "sending", at("03-10T12:00")),  # out of order
    ("acme", "R1", "sending", at("03-11T08:00")), ("acme", "R1", "refusal", at("03-12T08:00")),
    ("acme", "N1", "sending", at("03-12T09:00")), ("acme", "N1", "negligence", at("03-28T09:00")),
    ("acme", "F1", "sending", at("03-13T09:00")),
    ("acme", "P1", "sending", at("03-20T12:00")),
    ("acme", "P2", "sending", at("03-20T20:00")),
    ("acme", "O1", "sending", at("02-20T10:00")), ("acme", "O1", "receipt", at("03-02T10:00")),
    ("acme", "X1", "receipt", at("03-15T10:00")),
    ("beta", "B1", "sending", at("03-05T10:00")), ("beta", "B1", "receipt", at("03-05T11:00")),
]


@pytest.fixture
def lre(vault_at):
    vault, clock, admin = vault_at(NOW)
    depositors = {t: admin.as_key(admin.new_key("depositor", t)) for t in ("acme", "beta")}
    half = len(EVENTS) // 2
    for n, (tenant, case, event, when) in enumerate(EVENTS):
        answer = depositors[tenant].deposit(f"%PDF-1.7 {case} {event} {n}".encode(), case_ref=case,
                                            event_type=event, event_time=when, kind="lre-evidence")
        assert answer.status_code == 201, answer.text
        if n == half:
            assert vault.kpis.catch_up() == half + 1  # two passes: later events update earlier-folded cases
    log = json.dumps({"event": "http://uri.etsi.org/19522/Event/RelayFailure", "time": at("03-13T09:05"),
                      "case_ref": "F1"}).encode()
    answer = depositors["acme"].deposit(log, filename="events.json", media_type="application/json", case_ref="F1")
    assert answer.status_code == 201, answer.text
    info = depositors["acme"].get(f"/v1/objects/{answer.json()['id']}").json()
    assert info["event_type"] == "other" and "RelayFailure" in json.dumps(info["extracted"])
    vault.kpis.catch_up()
    return vault, clock, admin


def test_kpis_match_hand_computed_values(lre):
    vault, clock, admin = lre
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    got = archivist.get("/v1/kpis", params=PERIOD)
    assert got.status_code == 200, got.text
    kpi = got.json()
    assert kpi["tenant"] == "acme" and kpi["from"] == PERIOD["from"] and kpi["to"] == PERIOD["to"]
    assert (kpi["sendings"], kpi["receipts"], kpi["refusals"], kpi["negligences"], kpi["pending"]) == (7, 3, 1, 1, 2)
    assert kpi["delivery_rate"] == round(3 / 7, 6)
    assert kpi["refusal_rate"] == kpi["negligence_rate"] == round(1 / 7, 6)
    assert kpi["mean_acceptance_delay_seconds"] == (600 + 86400 + 3600) / 3
    assert abs(kpi["p50_acceptance_delay_seconds"] - 3600) / 3600 < 0.045
    assert abs(kpi["p90_acceptance_delay_seconds"] - 86400) / 86400 < 0.045
    assert kpi["technical_failures"] == {"failed_deposits": 0, "failed_cases": 1}
    assert kpi["attempts"] == 7 and kpi["technical_failure_rate"] == round(1 / 7, 6)
    assert kpi["overdue_cases"] == 3  # F1, P1, P2: no outcome 16 days after their sending (not period-bound)

    # failed deposits (5xx answers) persisted per day: one on 03-15 joins the numerator and the attempts
    clock.advance(datetime(2026, 3, 15, 12, tzinfo=timezone.utc) - NOW)
    vault.deposit_outcomes.record("acme", "failed")
    vault.deposit_outcomes.record("beta", "stored")
    assert vault.kpis.persist_failed_deposits() == 1
    assert vault.kpis.persist_failed_deposits() == 0  # only what was not yet persisted
    clock.advance(NOW - clock.now())
    kpi = archivist.get("/v1/kpis", params=PERIOD).json()
    assert kpi["technical_failures"] == {"failed_deposits": 1, "failed_cases": 1}
    assert kpi["attempts"] == 8 and kpi["technical_failure_rate"] == 0.25

    # the same period in whole days only ([03-02, 03-21)): D1..P1 and P2 (03-20T20:00) now, O1 still out
    whole = archivist.get("/v1/kpis", params={"from": "2026-03-02T00:00:00Z", "to": "2026-03-21T00:00:00Z"}).json()
    assert whole["sendings"] == 8 and whole["receipts"] == 3
    # O1 is in February's period, delivered 10 days after its sending
    february = archivist.get("/v1/kpis", params={"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"})
    assert february.json()["sendings"] == 1 and february.json()["mean_acceptance_delay_seconds"] == 10 * 86400


def test_kpis_are_tenant_scoped(lre):
    vault, _clock, admin = lre
    beta = admin.as_key(admin.new_key("auditor", "beta"))
    own = beta.get("/v1/kpis", params=PERIOD).json()
    assert own["tenant"] == "beta" and own["sendings"] == 1 and own["delivery_rate"] == 1.0
    assert own["mean_acceptance_delay_seconds"] == 3600
    assert beta.get("/v1/kpis", params={**PERIOD, "tenant": "acme"}).status_code == 403
    everyone = admin.get("/v1/kpis", params=PERIOD).json()
    assert everyone["tenant"] is None and everyone["sendings"] == 8 and everyone["receipts"] == 4
    assert admin.get("/v1/kpis", params={**PERIOD, "tenant": "acme"}).json()["sendings"] == 7
    assert admin.get("/v1/kpis", params={"from": PERIOD["to"], "to": PERIOD["from"]}).status_code == 422
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    assert depositor.get("/v1/kpis", params=PERIOD).status_code == 403


def test_kpi_samples_per_tenant_over_30_days(lre):
    vault, _clock, _admin = lre
    samples = vault.kpis.samples(datetime(2026, 3, 31, tzinfo=timezone.utc))
    values = {(s.name, s.label("tenant"), s.label("quantile")): s.value for s in samples}
    assert values[("vault_kpi_sendings", "acme", None)] == 8  # 03-01 to 03-31: P2 in, O1 out
    assert values[("vault_kpi_delivery_rate", "beta", None)] == 1.0
    assert values[("vault_kpi_technical_failure_rate", "acme", None)] == 0.125
    assert ("vault_kpi_acceptance_delay_seconds", "acme", "0.9") in values


def test_delay_buckets_are_within_their_stated_precision():
    for seconds in (1, 1.5, 59, 600, 3600, 86400, 15 * 86400, 400 * 86400):
        middle = bucket_seconds(delay_bucket(round(seconds * 1000)))
        assert abs(middle - seconds) / seconds <= 2 ** (1 / 16) - 1 + 1e-9, seconds
    assert bucket_seconds(delay_bucket(400)) == 0.5
    assert percentile(Totals().histogram, 0.5) is None
    assert indicators(Totals())["delivery_rate"] is None and indicators(Totals())["technical_failure_rate"] is None


def test_kpi_gauges_in_metrics(lre):
    """/metrics carries the KPI gauges of the busiest VAULT_METRICS_TENANTS tenants, as ``samples()`` computes them."""
    from vault.monitoring.collect import collect

    vault, clock, _admin = lre
    expected = {(s.name, s.labels): s.value for s in vault.kpis.samples(clock.now())}
    assert expected, "the fixture's sendings fall in the 30 days before its clock"
    got = {(s.name, s.labels): s.value for s in collect(vault) if s.name.startswith("vault_kpi_")}
    assert got == expected
    vault.metrics_cache.clear()
    vault.settings = vault.settings.with_(metrics_tenants=1)
    tenants = {s.label("tenant") for s in collect(vault) if s.name.startswith("vault_kpi_")}
    assert len(tenants) == 1


def test_span_sums_equal_the_per_case_sums_for_any_period(lre):
    """Any period — whole hours from the dyadic spans, sub-hour edges from the case rows — and any tenant scope
    gives exactly the sums of the contributions of the cases dated in it."""
    from vault.kpis.ledger import CASES
    from vault.kpis.measures import FACTS, contribution

    vault, _clock, _admin = lre
    with vault.reader.connect() as connection:
        cases = connection.execute(CASES.select()).all()
    marks = sorted({row.at + delta for row in cases if row.at is not None
                    for delta in (timedelta(0), timedelta(seconds=-1), timedelta(minutes=30), timedelta(days=-3))})
    periods = [(a, b) for i, a in enumerate(marks) for b in marks[i + 1::3]]
    assert len(periods) > 50
    for tenant in ("acme", "beta", None):
        for start, end in periods:
            expected = Totals()
            for row in cases:
                if row.at is not None and start <= row.at < end and tenant in (None, row.tenant):
                    counts, bucket = contribution({f: getattr(row, f) for f in FACTS})
                    expected.add_counts(dict(counts), bucket)
            got = vault.kpis.summed(tenant, start, end)
            assert got == expected, (tenant, start, end)
            merged = Totals()
            for part in vault.kpis.totals(tenant, start, end).values():
                merged.merge(part)
            assert merged == expected


def test_spans_cover_a_run_of_hours_exactly_and_briefly():
    from vault.kpis.spans import LEVELS, cover

    for first, last in [(0, 1), (5, 5), (3, 1000), (438_000, 438_000 + 24 * 90 + 7), (1, 3660 * 24 + 1)]:
        spans = cover(first, last)
        hours = [h for level, start in spans for h in range(start, start + (1 << level))]
        assert hours == list(range(first, last))
        assert all(start % (1 << level) == 0 for level, start in spans)
        top = (last - first) >> (LEVELS - 1)
        assert len(spans) <= 2 * (LEVELS - 1) + top + 1


@pytest.mark.slow
def test_a_running_server_persists_failed_deposits_in_the_background(tmp_path):
    """Deposits answered 507 (the disk below VAULT_MIN_FREE_BYTES) are counted in memory and flushed to
    ``kpi_failed_deposits`` by the server's own background job: GET /v1/kpis — which reads only the database —
    shows them within seconds, and again after a restart."""
    with ServerProcess(tmp_path / "data", env={"VAULT_MIN_FREE_BYTES": str(10 ** 18)}) as server:
        depositor, archivist = server.new_key("depositor", "acme"), server.new_key("archivist", "acme")
        with server.client(depositor) as http:
            for n in range(3):
                assert deposit(http, f"proof {n}".encode()).status_code == 507
        with server.client(archivist) as http:
            deadline = time.monotonic() + 5
            while (kpi := http.get("/v1/kpis").json())["technical_failures"]["failed_deposits"] < 3:
                assert time.monotonic() < deadline, kpi
                time.sleep(0.2)
        assert kpi["technical_failures"] == {"failed_deposits": 3, "failed_cases": 0}
        assert kpi["attempts"] == 3 and kpi["technical_failure_rate"] == 1.0
        server.stop()
        server.start()
        with server.client(archivist) as http:
            assert http.get("/v1/kpis").json()["technical_failures"]["failed_deposits"] == 3
