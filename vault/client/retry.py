"""When a request may be sent again, and after how long: RFC 9110 §9.2.2 (idempotent methods) and §10.2.3
(Retry-After), with exponential backoff and full jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({503, 507})


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; waits of ``base`` × 2ⁿ (capped at ``cap``) drawn uniformly from [0, wait]
    unless the server said how long in ``Retry-After`` (then that, capped at ``cap``)."""

    attempts: int = 5
    base: float = 0.25
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** attempt))


def replayable(method: str, headers) -> bool:
    """A request that may be sent twice: a safe method, or one carrying an ``Idempotency-Key`` (the server
    answers the first result again instead of acting twice)."""
    return method.upper() in SAFE_METHODS or any(name.lower() == "idempotency-key" for name in (headers or {}))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
