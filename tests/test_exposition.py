"""The pure parts of /metrics: exposition text, histograms, the tenant bound, TSA labels."""

import pytest

from tests.prometheus_text import parse, promtool
from vault.monitoring.collect import bounded_tenants
from vault.monitoring.exposition import Family, render
from vault.monitoring.histogram import Histogram
from vault.monitoring.samples import Sample
from vault.monitoring.tsa import TsaMeter, tsa_label


def test_render_escapes_labels_and_refuses_undeclared_metrics():
    families = {"x_total": Family("x_total", "counter", "A help\nwith a newline and a \\.")}
    text = render([Sample.of("x_total", 3, path='a "quoted"\\ value\n')], families)
    assert 'x_total{path="a \\"quoted\\"\\\\ value\\n"} 3' in text
    assert "# HELP x_total A help\\nwith a newline and a \\\\." in text
    assert parse(text) == [Sample.of("x_total", 3, path='a "quoted"\\ value\n')]
    assert promtool("check", "metrics", stdin=text).returncode == 0
    with pytest.raises(KeyError):
        render([Sample.of("y", 1)], families)


def test_histogram_buckets_are_cumulative():
    histogram = Histogram(("route",), buckets=(0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(("/a",), seconds)
    samples = histogram.samples("h")
    buckets = {s.label("le"): s.value for s in samples if s.name == "h_bucket"}
    assert buckets == {"0.1": 2, "1.0": 3, "+Inf": 4}
    assert [s.value for s in samples if s.name == "h_count"] == [4]
    assert [s.value for s in samples if s.name == "h_sum"] == [pytest.approx(3.65)]


def test_tenant_bound_keeps_first_seen_names_and_sums_the_rest():
    totals = {("a", "stored"): 5, ("b", "stored"): 2, ("a", "failed"): 1, ("c", "refused"): 4, ("b", "failed"): 1}
    assert bounded_tenants(totals, 1) == {("a", "stored"): 5, ("other", "stored"): 2, ("a", "failed"): 1,
                                          ("other", "refused"): 4, ("other", "failed"): 1}
    assert bounded_tenants(totals, 0) == {("other", "stored"): 7, ("other", "failed"): 2, ("other", "refused"): 4}
    assert bounded_tenants(totals, 100) == totals


def test_tsa_label_drops_credentials_and_query():
    assert tsa_label("https://user:secret@tsa.example:8443/tsp?key=x") == "https://tsa.example:8443/tsp"
    assert tsa_label("builtin:development-tsa") == "builtin:development-tsa"


def test_tsa_meter_reachability_follows_the_last_request():
    meter = TsaMeter()
    meter.record("http://t/", "ok", 0.2)
    meter.record("http://t/", "unreachable", 10.0)
    samples = meter.samples()
    assert [s.value for s in samples if s.name == "vault_tsa_reachable"] == [0]
    meter.record("http://t/", "ok", 0.1)
    assert [s.value for s in meter.samples() if s.name == "vault_tsa_reachable"] == [1]
    with pytest.raises(ValueError):
        meter.record("http://t/", "lost", 0.1)


def test_renewal_backlog_counts_due_and_overdue_chains():
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from vault.evidence.sealing import SealPolicy
    from vault.monitoring.collect import renewal_backlog

    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    policy = SealPolicy(renewal_margin=timedelta(days=180), reseal_interval=timedelta(days=730))

    def chain(gen_days_ago: float, not_after_in_days: float):
        newest = SimpleNamespace(gen_time=now - timedelta(days=gen_days_ago),
                                 tsa_not_after=now + timedelta(days=not_after_in_days))
        return (None, [], newest)

    due = [chain(730.5, 1000),   # due half a day ago: not yet overdue
           chain(732, 1000),     # due two days ago: overdue
           chain(10, -1)]        # TSA certificate expired: overdue
    assert renewal_backlog(due, [object()], policy, now) == (4, 2)
