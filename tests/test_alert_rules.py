"""The embedded alert rules and their state machine, on a fake clock: no disk, no network (issue 20)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from vault.monitoring.alerting import step
from vault.monitoring.evaluator import AlertEvaluator
from vault.monitoring.payload import fingerprint, signature, webhook_payload
from vault.monitoring.rules import Reading, Rule, default_rules, failure_rate
from vault.monitoring.samples import Sample
from vault.settings import Settings, SettingsError

RULES = default_rules()
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
HEALTHY = [Sample.of("vault_tsa_reachable", 1, tsa="https://tsa.example"), Sample.of("vault_seal_lag_seconds", 3),
           Sample.of("vault_disk_free_bytes", 50), Sample.of("vault_disk_size_bytes", 100),
           Sample.of("vault_security_alerts_total", 2, kind="hold-released"),
           Sample.of("vault_security_alerts_total", 1, kind="privileged-key-rotated"), Sample.of("vault_cases_overdue", 4),
           Sample.of("vault_checkpoint_age_seconds", 7200), Sample.of("vault_journal_unsigned_entries", 0),
           Sample.of("vault_anchor_age_seconds", 600), Sample.of("vault_fixity_alerts_open", 0, kind="corrupt"),
           Sample.of("vault_fixity_failures_total", 2, kind="corrupt"), Sample.of("vault_renewals_overdue", 0),
           Sample.of("vault_copies_missing", 0, store="s3")]


class Fake:
    """A fake clock and metrics source driving an AlertEvaluator, collecting what it notifies."""

    def __init__(self, interval: float = 30.0):
        self.t, self.samples, self.deposits, self.sent = 0.0, list(HEALTHY), {"stored": 0, "failed": 0}, []
        self.evaluator = AlertEvaluator(RULES, lambda: self.samples, lambda: dict(self.deposits), self.sent.append,
                                        "test", interval, wall=lambda: T0 + timedelta(seconds=self.t),
                                        monotonic=lambda: self.t)

    def run_until(self, end: float) -> None:
        """Evaluate every ``interval`` seconds, as the evaluator's loop does, up to ``end``."""
        while self.t + self.evaluator.interval <= end:
            self.t += self.evaluator.interval
            self.evaluator.evaluate()

    def statuses(self, name: str) -> list[str]:
        return [p["status"] for p in self.sent if p["groupLabels"]["alertname"] == name]


def test_failure_rate_counts_attempts_to_store_not_refusals():
    assert failure_rate({"stored": 97, "refused": 500, "failed": 3}) == (0.03, 100)
    assert failure_rate({"stored": 0, "refused": 4, "failed": 0}) == (0.0, 0)


def test_technical_failure_rate_needs_20_attempts_and_a_rate_above_the_threshold():
    [rule] = [r for r in RULES if r.name == "VaultTechnicalFailureRate"]
    holds = lambda stored, failed: rule.condition(Reading(0, [], {"stored": stored, "refused": 0, "failed": failed}))
    assert holds(0, 19) == {}  # 100 % but too few attempts to mean anything
    assert holds(0, 20) != {}
    assert holds(99, 1) == {}  # exactly 1 %: not above
    assert "2.0% of 100 deposits" in holds(98, 2)[()]


def test_fires_within_60_seconds_of_the_crossing_at_the_default_interval_and_resolves_after_recovery():
    fake = Fake()  # 30 s: the default and the longest interval the settings accept
    fake.deposits = {"stored": 1000, "failed": 5}
    fake.run_until(600)
    assert fake.sent == []
    crossing = fake.t + 1  # just after an evaluation: the worst case
    fake.deposits = {"stored": 1000, "failed": 50}
    fake.t = crossing
    fake.run_until(crossing + 60)
    firing = [p for p in fake.sent if p["status"] == "firing"]
    assert [p["groupLabels"]["alertname"] for p in firing] == ["VaultTechnicalFailureRate"]
    assert firing[0]["alerts"][0]["labels"] == {"alertname": "VaultTechnicalFailureRate", "severity": "critical",
                                                "instance": "test"}
    fake.run_until(fake.t + 600)
    assert fake.statuses("VaultTechnicalFailureRate") == ["firing"]  # one notification per transition
    fake.deposits = {"stored": 1000, "failed": 0}
    fake.run_until(fake.t + 30)
    assert fake.statuses("VaultTechnicalFailureRate") == ["firing", "resolved"]
    resolved = fake.sent[-1]["alerts"][0]
    assert resolved["endsAt"] > resolved["startsAt"] and resolved["fingerprint"] == firing[0]["alerts"][0]["fingerprint"]


def test_for_duration_keeps_an_alert_pending_and_a_blip_never_notifies():
    fake = Fake()
    fake.samples = [s if s.name != "vault_tsa_reachable" else Sample.of(s.name, 0, tsa="https://tsa.example")
                    for s in HEALTHY]
    fake.run_until(270)  # 4.5 minutes down: pending only
    assert fake.sent == [] and [a.state for a in fake.evaluator.alerts.values()] == ["pending"]
    fake.samples = list(HEALTHY)
    fake.run_until(300)
    assert fake.sent == [] and fake.evaluator.alerts == {}  # pending → inactive: nobody is told
    fake.samples = [s if s.name != "vault_tsa_reachable" else Sample.of(s.name, 0, tsa="https://tsa.example")
                    for s in HEALTHY]
    fake.run_until(630)
    assert fake.statuses("VaultTsaUnreachable") == ["firing"]
    assert fake.sent[0]["alerts"][0]["labels"]["tsa"] == "https://tsa.example"


@pytest.mark.parametrize("name,value,alert", [
    ("vault_seal_lag_seconds", 601, "VaultSealLag"),
    ("vault_disk_free_bytes", 19, "VaultDiskFilling"),
    ("vault_security_alerts_total{hold-released}", 3, "VaultHoldReleased"),
    ("vault_cases_overdue", 5, "VaultOverdueCasesGrowing"),
    ("vault_journal_unsigned_entries", 12, "VaultCheckpointStale"),  # an old checkpoint alone is a quiet journal
    ("vault_anchor_age_seconds", 90_000, "VaultAnchorStale"),
    ("vault_fixity_alerts_open", 1, "VaultFixityFailure"),
    ("vault_fixity_failures_total", 3, "VaultFixityFailure"),  # a bad copy seen, repaired since
    ("vault_renewals_overdue", 2, "VaultRenewalOverdue"),
    ("vault_copies_missing", 4, "VaultCopyMissing"),
    ("vault_security_alerts_total{privileged-key-rotated}", 4, "VaultPrivilegedKeyIssued"),  # rotated by someone else counts too
])
def test_each_condition_fires_and_resolves(name, value, alert):
    fake = Fake()
    fake.run_until(60)
    name, _, kind = name.rstrip("}").partition("{")  # {kind}: only the sample of that kind changes
    changed = [Sample(s.name, value, s.labels) if s.name == name and (not kind or s.label("kind") == kind) else s
               for s in HEALTHY]
    fake.samples = changed
    fake.run_until(60 + 330)  # past every `for` of these rules
    assert fake.statuses(alert) == ["firing"]
    assert len(fake.sent) == 1  # and nothing else fired
    fake.samples = list(HEALTHY)  # the value back (a counter: the increase leaves the lookback later)
    fake.run_until(fake.t + 3700)
    assert fake.statuses(alert) == ["firing", "resolved"]


def test_counters_seen_at_start_do_not_fire():
    fake = Fake()
    fake.run_until(3600)
    assert fake.sent == []


def test_a_broken_rule_is_skipped_and_the_others_still_fire():
    boom = Rule("Boom", "warning", 0, "a rule with a bug", lambda reading: 1 / 0)
    evaluation = step({}, (boom, *RULES), Reading(0, [Sample.of("vault_seal_lag_seconds", 700)], {}), T0)
    assert evaluation.broken == ["Boom"] and {a.name for a in evaluation.changed} == {"VaultSealLag"}


def test_payload_has_alertmanagers_shape_and_a_verifiable_signature():
    evaluation = step({}, RULES, Reading(0, [Sample.of("vault_seal_lag_seconds", 700)], {}), T0)
    payload = webhook_payload(evaluation.changed, "vault-1")
    assert set(payload) == {"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
                            "commonLabels", "commonAnnotations", "externalURL", "alerts"}
    assert payload["version"] == "4" and payload["groupKey"] == '{}:{alertname="VaultSealLag"}'
    [alert] = payload["alerts"]
    assert set(alert) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
    assert alert["startsAt"] == "2026-12-06T12:00:00Z" and alert["endsAt"] == "0001-01-01T00:00:00Z"
    body = b'{"a":1}'
    assert signature("s3cret", body) == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()


def test_fingerprint_is_prometheus_fnv1a():
    assert fingerprint({}) == "cbf29ce484222325"  # the FNV-1a 64 offset basis: Prometheus' empty label set
    assert fingerprint({"a": "b"}) != fingerprint({"a": "c"}) and len(fingerprint({"a": "b"})) == 16


def test_settings_bound_the_interval_and_window_and_need_smtp_for_emails():
    base = Settings.from_env({})
    assert (base.alert_evaluation_interval, base.alert_window, base.technical_failure_threshold) == \
        ("PT30S", "PT15M", 0.01)
    for env, named in [({"VAULT_ALERT_EVALUATION_INTERVAL": "PT1M"}, "VAULT_ALERT_EVALUATION_INTERVAL"),
                       ({"VAULT_ALERT_WINDOW": "PT2H"}, "VAULT_ALERT_WINDOW"),
                       ({"VAULT_TECHNICAL_FAILURE_THRESHOLD": "1.5"}, "VAULT_TECHNICAL_FAILURE_THRESHOLD"),
                       ({"VAULT_ALERT_WEBHOOKS": "ftp://x"}, "VAULT_ALERT_WEBHOOKS"),
                       ({"VAULT_SMTP_URL": "http://mail"}, "VAULT_SMTP_URL"),
                       ({"VAULT_ALERT_EMAILS": "ops@example.org"}, "VAULT_SMTP_URL")]:
        with pytest.raises(SettingsError, match=named):
            Settings.from_env(env)
    secretive = Settings.from_env({"VAULT_ALERT_WEBHOOKS": "https://hooks.example/T0KEN",
                                   "VAULT_ALERT_WEBHOOK_SECRET": "hmac-key", "VAULT_SMTP_URL": "smtp://u:pw@mail"})
    assert not any(secret in repr(secretive) for secret in ("T0KEN", "hmac-key", "pw@"))
