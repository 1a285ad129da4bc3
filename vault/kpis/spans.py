"""Dyadic time spans over UTC hours: what lets a KPI query read a bounded number of rows for any period (pure).

Every count the KPIs sum is kept per tenant in the spans that contain its hour: a span of level ``L`` covers the
``2**L`` hours from ``start`` (a multiple of ``2**L``, hours since the Unix epoch), for ``L`` in ``0 … LEVELS − 1``
(one hour to 1.9 years), and once more under ``ALL_TENANTS`` for the archive as a whole. Any run of whole hours is
the disjoint union of at most ``2 · (LEVELS − 1)`` such spans plus one top-level span per 1.9 years (:func:`cover`),
so a query reads at most that many rows per counter — whatever the number of cases and tenants.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

LEVELS = 15
ALL_TENANTS = "*"  # not a tenant name (vault.auth.roles: tenants start with a letter or digit)
HOUR = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def hour_of(at: datetime) -> int:
    """The hour (since the Unix epoch, UTC) that contains ``at``."""
    return (at - EPOCH) // HOUR


def hour_start(hour: int) -> datetime:
    return EPOCH + hour * HOUR


def whole_hours(start: datetime, end: datetime) -> tuple[int, int]:
    """The hours ``[first, last)`` lying wholly inside ``[start, end)`` (``first ≥ last`` when there is none)."""
    first = hour_of(start)
    if hour_start(first) < start:
        first += 1
    return first, hour_of(end)


def cover(first: int, last: int) -> list[tuple[int, int]]:
    """The ``(level, start)`` spans, largest first at each step, whose disjoint union is the hours ``[first, last)``."""
    spans = []
    while first < last:
        level = LEVELS - 1
        while level and (first % (1 << level) or first + (1 << level) > last):
            level -= 1
        spans.append((level, first))
        first += 1 << level
    return spans


def roll_up(per_hour: Counter) -> Counter:
    """Spread deltas keyed ``(tenant, hour, *rest)`` over every level and over ``ALL_TENANTS``: the deltas keyed
    ``(tenant, level, start, *rest)`` to add to the span rows (zero sums dropped)."""
    out: Counter = Counter()
    for (tenant, hour, *rest), n in per_hour.items():
        for level in range(LEVELS):
            start = hour >> level << level
            out[(tenant, level, start, *rest)] += n
            out[(ALL_TENANTS, level, start, *rest)] += n
    return Counter({key: n for key, n in out.items() if n})
