"""The alert rules the service evaluates itself when no Prometheus watches it: the same names, thresholds and
``for`` durations as ``deploy/prometheus/vault-alerts.yml``, as data plus pure functions over one
:class:`Reading` (the samples of ``/metrics``, the deposit outcomes over the alert window, earlier readings).

A rule's condition returns the label sets it holds for now, each with a one-line description; the state machine
of :mod:`vault.monitoring.alerting` turns those into pending, firing and resolved alerts as Prometheus does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vault.monitoring.samples import Sample, value_of

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs, () for a rule with one instance
MIN_ATTEMPTS = 20  # deposits in the window before a failure rate means anything
INCREASE_LOOKBACK = 900.0  # seconds: a counter that grew within this is an act someone must hear of
GROWTH_LOOKBACK = 3600.0  # seconds: overdue cases "growing" compares with an hour ago


@dataclass(frozen=True)
class Reading:
    """What one evaluation sees: ``now`` (seconds, monotonic), the samples, deposits answered within the alert
    window by outcome, and earlier ``(at, samples)`` readings, oldest first."""
    now: float
    samples: list[Sample]
    deposits: dict[str, int]
    history: tuple[tuple[float, list[Sample]], ...] = ()

    def earliest(self, lookback: float) -> list[Sample]:
        """The oldest earlier samples no older than ``lookback`` seconds (the current ones when there is none)."""
        for at, samples in self.history:
            if at >= self.now - lookback:
                return samples
        return self.samples


Condition = Callable[[Reading], dict[Labels, str]]


@dataclass(frozen=True)
class Rule:
    name: str  # the alertname label
    severity: str  # critical: pages someone now; warning: work for today
    for_seconds: float  # the condition holds this long before the alert fires (0: at once)
    summary: str
    condition: Condition


def failure_rate(deposits: dict[str, int]) -> tuple[float, int]:
    """(failed / attempts, attempts) where attempts are the deposits the archive tried to store: stored + failed.
    Refusals (4xx) are the client's mistakes, not attempts to store a valid deposit; counted, a client sending bad
    requests would dilute, and so hide, a real technical failure rate."""
    attempts = deposits.get("stored", 0) + deposits.get("failed", 0)
    return (deposits.get("failed", 0) / attempts if attempts else 0.0), attempts


def technical_failure_rate(threshold: float, window_text: str) -> Condition:
    def condition(reading: Reading) -> dict[Labels, str]:
        rate, attempts = failure_rate(reading.deposits)
        if attempts >= MIN_ATTEMPTS and rate > threshold:
            return {(): f"{rate:.1%} of {attempts} deposits failed over {window_text} (threshold {threshold:.1%})"}
        return {}
    return condition


def by_label(name: str, label: str | None, test: Callable[[float], bool], describe: str) -> Condition:
    """Each sample named ``name`` whose value passes ``test``, one alert per value of ``label`` (one in all when
    ``label`` is None: the values summed). ``describe`` is formatted with ``value`` and ``label``."""
    def condition(reading: Reading) -> dict[Labels, str]:
        if label is None:
            value = value_of(reading.samples, name)
            return {(): describe.format(value=value, label="")} if value is not None and test(value) else {}
        return {((label, s.label(label) or ""),): describe.format(value=s.value, label=s.label(label))
                for s in reading.samples if s.name == name and test(s.value)}
    return condition


def increased(name: str, lookback: float, describe: str, **labels: str) -> Condition:
    """The counter ``name`` (summed over ``labels``) grew within ``lookback`` seconds: ``increase(x[lookback]) > 0``."""
    def condition(reading: Reading) -> dict[Labels, str]:
        now, before = value_of(reading.samples, name, **labels), value_of(reading.earliest(lookback), name, **labels)
        if now is not None and before is not None and now > before:
            return {(): describe.format(value=now - before)}
        return {}
    return condition


def disk_filling(limit: float) -> Condition:
    def condition(reading: Reading) -> dict[Labels, str]:
        free, size = (value_of(reading.samples, n) for n in ("vault_disk_free_bytes", "vault_disk_size_bytes"))
        if free is None or not size:
            return {}
        used = 1 - free / size
        return {(): f"the data filesystem is {used:.0%} full ({free:.0f} bytes free)"} if used > limit else {}
    return condition


def either(*conditions: Condition) -> Condition:
    """Holds when any of ``conditions`` holds (PromQL ``or``): the descriptions of those that hold, joined."""
    def condition(reading: Reading) -> dict[Labels, str]:
        held: dict[Labels, str] = {}
        for one in conditions:
            for labels, text in one(reading).items():
                held[labels] = f"{held[labels]}; {text}" if labels in held else text
        return held
    return condition


def stale_checkpoint(limit: float) -> Condition:
    """The last checkpoint is older than ``limit`` seconds while entries wait for one (a quiet journal signs none)."""
    def condition(reading: Reading) -> dict[Labels, str]:
        age = value_of(reading.samples, "vault_checkpoint_age_seconds")
        waiting = value_of(reading.samples, "vault_journal_unsigned_entries") or 0
        if age is not None and age > limit and waiting > 0:
            return {(): f"the last checkpoint is {age:.0f} s old and {waiting:.0f} entries wait for one"}
        return {}
    return condition


def default_rules(threshold: float = 0.01, window_text: str = "PT15M") -> tuple[Rule, ...]:
    """The rules of issue 20; the technical-failure rate is ``threshold`` over the deposits of the reading (the
    caller reads them over the alert window, ``window_text``)."""
    return (
        Rule("VaultTechnicalFailureRate", "critical", 0,
             "More than the allowed share of deposits failed for a technical reason",
             technical_failure_rate(threshold, window_text)),
        Rule("VaultTsaUnreachable", "critical", 300, "A timestamping authority has not answered for 5 minutes",
             by_label("vault_tsa_reachable", "tsa", lambda v: v == 0, "TSA {label} does not answer")),
        Rule("VaultSealLag", "warning", 0, "Deposits wait more than 10 minutes for their seal",
             by_label("vault_seal_lag_seconds", None, lambda v: v > 600, "the oldest unsealed deposit waits {value:.0f} s")),
        Rule("VaultCheckpointStale", "warning", 0, "No journal checkpoint signed for more than an hour",
             stale_checkpoint(3600)),
        Rule("VaultAnchorStale", "critical", 0, "The journal was not anchored by a timestamp for more than 24 hours "
             "(NF Z42-013 wants one at least daily)",
             by_label("vault_anchor_age_seconds", None, lambda v: v > 86400, "the last anchor is {value:.0f} s old")),
        Rule("VaultFixityFailure", "critical", 0, "A fixity audit found a copy corrupt or missing",
             either(by_label("vault_fixity_alerts_open", None, lambda v: v > 0, "{value:.0f} open fixity alert(s)"),
                    increased("vault_fixity_failures_total", GROWTH_LOOKBACK,
                              "{value:.0f} bad copies seen in the last hour"))),
        Rule("VaultCopyMissing", "critical", 0, "Copies are missing on a store",
             by_label("vault_copies_missing", "store", lambda v: v > 0, "{value:.0f} copies missing on store {label}")),
        Rule("VaultRenewalOverdue", "critical", 0, "Evidence records are past their renewal date",
             by_label("vault_renewals_overdue", None, lambda v: v > 0, "{value:.0f} renewal(s) overdue")),
        Rule("VaultDiskFilling", "warning", 0, "The data filesystem is more than 80 % full", disk_filling(0.8)),
        Rule("VaultOverdueCasesGrowing", "warning", 0, "More cases are overdue than an hour ago",
             increased("vault_cases_overdue", GROWTH_LOOKBACK, "{value:.0f} more overdue case(s) than an hour ago")),
        Rule("VaultPrivilegedKeyIssued", "warning", 0, "A privileged API key was issued",
             either(*(increased("vault_security_alerts_total", INCREASE_LOOKBACK, "{value:.0f} privileged key(s) "
                                 f"{verb}; see /v1/alerts", kind=f"privileged-key-{verb}")
                      for verb in ("issued", "rotated")))),
        Rule("VaultDisposalApproved", "warning", 0, "A disposal batch was approved for destruction",
             increased("vault_security_alerts_total", INCREASE_LOOKBACK, "{value:.0f} disposal batch(es) approved; "
                       "see /v1/alerts", kind="disposal-approved")),
        Rule("VaultHoldReleased", "warning", 0, "A legal hold was released",
             increased("vault_security_alerts_total", INCREASE_LOOKBACK, "{value:.0f} hold(s) released; see "
                       "/v1/alerts", kind="hold-released")),
    )
