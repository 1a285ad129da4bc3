"""A retention start event is recorded when it happens: one archivist cannot make a proof due early by recording
a start decades ago, nor record one ahead of time (the same window as a deposit's event time)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock, iso_z


def test_a_start_event_outside_the_policy_window_is_refused(tmp_path):
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=timezone.utc))
    vault = Vault.open(make_settings(tmp_path), clock, sweep_in_background=False, background_jobs=False)
    try:
        admin = Api(TestClient(create_app(vault)), ADMIN_KEY)
        archivist = admin.as_key(admin.new_key("archivist", "acme"))
        object_id = admin.deposit(b"contract proof", tenant="acme", policy="email-proof").json()["id"]
        for at in ("1990-01-01T00:00:00Z", iso_z(clock.now() + timedelta(minutes=10))):
            refused = archivist.client.patch(f"/v1/objects/{object_id}/retention-start", json={"at": at},
                                             headers=archivist.headers())
            assert refused.status_code == 422, refused.text
            assert refused.json()["type"].endswith("retention-start-out-of-range")
        assert archivist.get(f"/v1/objects/{object_id}").json()["retention_until"] is None  # nothing recorded
        started = archivist.client.patch(f"/v1/objects/{object_id}/retention-start",
                                         json={"at": "2026-06-30T00:00:00Z"}, headers=archivist.headers())
        assert started.status_code == 200 and started.json()["retention_until"].startswith("2036-06-30")
    finally:
        vault.close()
