"""Time comes from an injected clock so that tests can fix it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: datetime):
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def iso_z(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z`` (what every API answer and report uses), or None."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def parse_iso(text: str) -> datetime:
    """The inverse of :func:`iso_z` (any RFC 3339 time with an offset or ``Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
