"""The LRE indicators, as pure functions over a case's earliest events (no I/O; definitions in docs/kpis.md).

A case counts once, in the UTC day of its ``at``: its first ``sending`` event, or — for a case whose evidence
reports a technical failure before any sending — its first failure. Its outcome is its earliest ``receipt``,
``refusal`` or ``negligence`` (on a tie: receipt, then refusal, then negligence). The acceptance delay is first
receipt − first sending, for sendings whose outcome is a receipt not earlier than the sending. Delays are kept in
log-scale buckets, 8 per doubling, for percentiles: a percentile is reported as its bucket's geometric middle,
within ±4.4 % of the true value (delays under one second share bucket 0, reported as 0.5 s).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Iterable

OUTCOMES = ("receipt", "refusal", "negligence")  # tie order
FACTS = ("sent_at", "receipt_at", "refusal_at", "negligence_at", "failure_at")
COUNTS = ("sendings", "receipts", "refusals", "negligences", "failed_cases", "unsent_failures", "delays", "delay_ms")
PER_DOUBLING = 8
MAX_BUCKET = 32_000


def delay_bucket(milliseconds: int) -> int:
    """The histogram bucket of a delay: 0 below one second, else 1 + ⌊8·log2(seconds)⌋."""
    if milliseconds < 1000:
        return 0
    return min(1 + int(math.floor(PER_DOUBLING * math.log2(milliseconds / 1000))), MAX_BUCKET)


def bucket_seconds(bucket: int) -> float:
    """A bucket's representative delay: the geometric middle of [2^((b−1)/8), 2^(b/8)) seconds (0.5 s for 0)."""
    return 0.5 if bucket == 0 else 2 ** ((bucket - 0.5) / PER_DOUBLING)


def case_at(facts: dict[str, datetime | None]) -> datetime | None:
    """The time that dates a case in a period (its sending, else its first failure); None: not counted."""
    return facts.get("sent_at") or facts.get("failure_at")


def outcome(facts: dict[str, datetime | None]) -> str | None:
    """The case's first outcome event: ``receipt``, ``refusal``, ``negligence``, or None while pending."""
    present = [(facts[f"{name}_at"], n) for n, name in enumerate(OUTCOMES) if facts.get(f"{name}_at") is not None]
    return OUTCOMES[min(present)[1]] if present else None


def contribution(facts: dict[str, datetime | None]) -> tuple[Counter, int | None]:
    """What one case adds to its day: counts (``COUNTS``) and the bucket of its acceptance delay (or None)."""
    counts: Counter = Counter()
    sent, failed = facts.get("sent_at"), facts.get("failure_at")
    if case_at(facts) is None:
        return counts, None
    if failed is not None:
        counts["failed_cases"] += 1
        if sent is None:
            counts["unsent_failures"] += 1
    if sent is None:
        return counts, None
    counts["sendings"] += 1
    first = outcome(facts)
    if first is not None:
        counts[f"{first}s"] += 1
    bucket = None
    if first == "receipt" and facts["receipt_at"] >= sent:
        ms = round((facts["receipt_at"] - sent).total_seconds() * 1000)
        counts["delays"] += 1
        counts["delay_ms"] += ms
        bucket = delay_bucket(ms)
    return counts, bucket


@dataclass
class Totals:
    """The summed counts of some days and cases, with the delay histogram and the failed deposits."""

    sendings: int = 0
    receipts: int = 0
    refusals: int = 0
    negligences: int = 0
    failed_cases: int = 0
    unsent_failures: int = 0
    delays: int = 0
    delay_ms: int = 0
    failed_deposits: int = 0
    histogram: Counter = field(default_factory=Counter)

    def add_counts(self, counts: Any, bucket: int | None = None) -> None:
        """Add a mapping or row with the ``COUNTS`` keys (missing ones are 0), and one delay bucket."""
        get = counts.get if isinstance(counts, dict) else lambda k, d=0: getattr(counts, k, d)
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + int(get(name, 0) or 0))
        if bucket is not None:
            self.histogram[bucket] += 1

    def merge(self, other: "Totals") -> None:
        for f in fields(self):
            if f.name == "histogram":
                self.histogram.update(other.histogram)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def percentile(histogram: Counter, q: float) -> float | None:
    """The nearest-rank ``q`` quantile (0 < q ≤ 1) of the delays in ``histogram``, as its bucket's middle."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank, seen = max(1, math.ceil(q * n)), 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return round(bucket_seconds(bucket), 3)
    return None  # unreachable


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def indicators(totals: Totals) -> dict[str, Any]:
    """The KPIs of docs/kpis.md from summed counts (a rate is None when its denominator is 0)."""
    attempts = totals.sendings + totals.unsent_failures + totals.failed_deposits
    return {
        "sendings": totals.sendings,
        "receipts": totals.receipts,
        "refusals": totals.refusals,
        "negligences": totals.negligences,
        "pending": totals.sendings - totals.receipts - totals.refusals - totals.negligences,
        "delivery_rate": _rate(totals.receipts, totals.sendings),
        "refusal_rate": _rate(totals.refusals, totals.sendings),
        "negligence_rate": _rate(totals.negligences, totals.sendings),
        "mean_acceptance_delay_seconds": round(totals.delay_ms / totals.delays / 1000, 3) if totals.delays else None,
        "p50_acceptance_delay_seconds": percentile(totals.histogram, 0.5),
        "p90_acceptance_delay_seconds": percentile(totals.histogram, 0.9),
        "technical_failures": {"failed_deposits": totals.failed_deposits, "failed_cases": totals.failed_cases},
        "attempts": attempts,
        "technical_failure_rate": _rate(totals.failed_deposits + totals.failed_cases, attempts),
    }


def facts_of(events: Iterable[tuple[str, datetime]]) -> dict[str, datetime]:
    """Earliest time per fact from ``(fact, time)`` pairs (fact among ``FACTS``)."""
    first: dict[str, datetime] = {}
    for name, at in events:
        if name not in first or at < first[name]:
            first[name] = at
    return first
