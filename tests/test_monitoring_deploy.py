"""What deploy/ ships for monitoring: the Prometheus alert rules (``promtool check rules`` and ``promtool test
rules``), the Alertmanager example (``amtool check-config``) and the Grafana dashboard, whose queries and rules
name only metrics that ``/metrics`` really exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.prometheus_text import parse, promtool
from vault.monitoring.exposition import family_of
from vault.monitoring.families import FAMILIES

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
RULES = DEPLOY / "prometheus" / "vault-alerts.yml"
ALERT_NAMES = {"VaultTechnicalFailureRate", "VaultTsaUnreachable", "VaultSealLag", "VaultCheckpointStale",
               "VaultAnchorStale", "VaultFixityFailure", "VaultCopyMissing", "VaultRenewalOverdue", "VaultDiskFilling",
               "VaultOverdueCasesGrowing", "VaultPrivilegedKeyIssued", "VaultDisposalApproved", "VaultHoldReleased"}
METRIC = re.compile(r"\bvault_[a-z_]+\b")


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_rules_pass_promtool_check():
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_rules_pass_their_unit_tests():
    tested = promtool("test", "rules", "vault-alerts.test.yml", cwd=RULES.parent)
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_rules_are_the_named_alerts_with_severity_and_annotations():
    found = rules()
    assert {rule["alert"] for rule in found} == ALERT_NAMES
    for rule in found:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_security_alert_kinds_in_rules_exist():
    from vault.journal.alerts import KINDS

    for rule in rules():
        for kind in re.findall(r'kind=~?"([^"]+)"', rule["expr"]):
            assert set(kind.split("|")) <= set(KINDS), (rule["alert"], kind)


def test_alertmanager_example_is_valid():
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    assert {r["name"] for r in config["receivers"]} == {"ops-pager", "ops-email"}
    tool = shutil.which("amtool")
    if tool is None:
        pytest.skip("amtool missing: scripts/test installs Debian's prometheus-alertmanager package")
    checked = subprocess.run([tool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml")],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def dashboard_metrics() -> set[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "vault-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return {name for expr in exprs for name in METRIC.findall(expr)}


def test_dashboard_and_rules_name_only_exposed_metrics(vault, client, admin, depositor):
    """A scrape after a deposit, a refusal, a seal, a checkpoint, an anchor and a failed deposit: each family the
    dashboard or a rule names is in it."""
    from vault.storage.headroom import DiskHeadroom

    assert depositor.deposit().status_code == 201
    assert depositor.deposit(policy="no-such-policy").status_code == 422
    vault.seal_scheduler.seal_all_pending()
    vault.checkpointer.checkpoint_now()
    vault.anchorer.anchor_now()
    vault.headroom = DiskHeadroom(vault.settings.data_dir, 1 << 62)  # below the free-space minimum: 507
    assert depositor.deposit().status_code == 507
    exposed = {family_of(s.name, FAMILIES).name for s in parse(client.get("/metrics").text)}
    named = dashboard_metrics() | {name for rule in rules() for name in METRIC.findall(rule["expr"])}
    assert named, "no metric found in the dashboard"
    assert {family_of(name, FAMILIES).name for name in named} - exposed == set()


def test_embedded_rules_match_the_prometheus_rules():
    """The rules the service evaluates itself (no Prometheus) have the names, severities and ``for`` durations of
    the shipped Prometheus rules: an operator moving to Prometheus hears of the same alerts."""
    from vault.monitoring.rules import default_rules

    units = {"s": 1, "m": 60, "h": 3600}
    shipped = {rule["alert"]: (rule["labels"]["severity"],
                               int(rule["for"][:-1]) * units[rule["for"][-1]] if "for" in rule else 0)
               for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    embedded = {rule.name: (rule.severity, rule.for_seconds) for rule in default_rules()}
    assert embedded == shipped
