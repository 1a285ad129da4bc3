"""Event times for tests that deposit at the real clock (a live server, the default ``vault`` fixture).

A deposit's ``event_time`` may lie at most its policy's ``max_backdate`` (P1Y by default) before the deposit, and
at most 5 minutes after it (issue 18): a date written into a test passes the day it is written and fails a year
later. A test whose dates matter runs on a :class:`vault.clock.FixedClock` (the ``vault_at`` fixture); the others
count their times back from today with :func:`days_ago`.

To check a test for such dates, run it two years ahead under libfaketime (Debian package ``faketime``):
``faketime -f +730d .venv/bin/python -m pytest -p no:cacheprovider tests/…``: its deposits must still be accepted.
(Under faketime a live server's background loops, sealing and anchoring, do not advance: only deposits tell.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def days_ago(days: float) -> datetime:
    """Midnight (UTC) ``days`` days before today: whole days, so that a test adding hours to it keeps the order and
    the spacing of the times it wrote, and stays in the past for any ``days`` ≥ 1."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)
