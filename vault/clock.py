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


class OffsetFileClock:
    """TESTS ONLY (``VAULT_TEST_CLOCK_FILE``): the system clock plus the number of seconds written in ``path``
    (read again when the file changes), so that a test can move a live server's time forward."""

    def __init__(self, path):
        from pathlib import Path

        self._path = Path(path)
        self._seen: tuple[float, float] = (-1.0, 0.0)

    def now(self) -> datetime:
        try:
            mtime = self._path.stat().st_mtime
            if mtime != self._seen[0]:
                self._seen = (mtime, float(self._path.read_text().strip() or 0))
        except (OSError, ValueError):
            pass
        return datetime.now(timezone.utc) + timedelta(seconds=self._seen[1])


def iso_z(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z`` (what every API answer and report uses), or None."""
    if not value:
        return None
    if value.tzinfo is not timezone.utc:  # rows are read as UTC already: no conversion for them (a page has 200)
        value = value.astimezone(timezone.utc)
    return value.isoformat()[:-6] + "Z"  # less its "+00:00"


def parse_iso(text: str) -> datetime:
    """The inverse of :func:`iso_z` (any RFC 3339 time with an offset or ``Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
