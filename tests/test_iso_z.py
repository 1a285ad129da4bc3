"""vault.clock.iso_z: RFC 3339 in UTC with a Z, whatever the offset it is given (its UTC shortcut included)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from vault.clock import iso_z, parse_iso


def test_iso_z_answers_utc_with_a_z_for_every_offset():
    assert iso_z(datetime(2026, 1, 1, 1, 2, 3, tzinfo=timezone.utc)) == "2026-01-01T01:02:03Z"
    assert iso_z(datetime(2026, 1, 1, 1, 2, 3, 4, tzinfo=timezone.utc)) == "2026-01-01T01:02:03.000004Z"
    assert iso_z(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))) == "2025-12-31T22:00:00Z"
    assert iso_z(datetime(2026, 7, 1, tzinfo=ZoneInfo("Europe/Paris"))) == "2026-06-30T22:00:00Z"
    assert iso_z(datetime(2026, 1, 1, tzinfo=timezone(timedelta(0)))) == "2026-01-01T00:00:00Z"  # not the singleton
    assert iso_z(None) is None
    moment = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=timezone.utc)
    assert parse_iso(iso_z(moment)) == moment
