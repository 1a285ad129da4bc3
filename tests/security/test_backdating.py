"""Issue #18, back-dating: a depositor chose ``event_time`` 2000-01-01 under a policy counting from the event, which
made the object due for destruction at once. An event time earlier than the deposit by more than the policy's
``max_backdate`` (default P1Y), or more than 5 minutes ahead of it, is refused; a policy meant for migrating
historical proofs sets a longer ``max_backdate``."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, POLICIES, Api, make_settings
from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock, iso_z
from vault.retention.policy import PolicyError, parse_policy

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)
HISTORICAL = '''id = "historical-email-proof"
version = 1
title = "Proofs of sending migrated from a former archive"
legal_basis = "Code civil art. 1366-1368; kept ten years from the sending event, as email-proof"
duration = "P10Y"
start = "event_time"
max_backdate = "P40Y"
'''


def _open(tmp_path, database_url, policies=POLICIES):
    vault = Vault.open(make_settings(tmp_path, database_url, policies_dir=policies), FixedClock(NOW),
                       sweep_in_background=False, background_jobs=False)
    admin = Api(TestClient(create_app(vault)), ADMIN_KEY)
    return vault, admin.as_key(admin.new_key("depositor", "acme"))


@pytest.fixture
def archive(tmp_path, database_url):
    """The shipped policies, at NOW."""
    vault, depositor = _open(tmp_path, database_url)
    yield vault, depositor
    vault.close()


@pytest.fixture
def historical(tmp_path, database_url):
    """The shipped policies and one for migrating historical proofs (max_backdate P40Y)."""
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "historical-email-proof.toml").write_text(HISTORICAL)
    vault, depositor = _open(tmp_path, database_url, policies)
    yield vault, depositor
    vault.close()


def refused(response) -> dict:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("event-time-out-of-range"), body
    return body


@pytest.mark.parametrize("policy", ["lre-proof", "email-proof"])
def test_a_back_dated_event_time_is_refused(archive, policy):
    vault, depositor = archive
    before = vault.catalog.count()
    body = refused(depositor.deposit(b"%PDF-1.7 due at once?", policy=policy, event_time="2000-01-01T00:00:00Z"))
    assert body["earliest"] == "2025-11-29T09:00:00Z" and body["latest"] == "2026-11-29T09:05:00Z"
    assert body["max_backdate"] == "P1Y" and "2000-01-01" in body["detail"]
    assert vault.catalog.count() == before  # nothing half-stored
    a_year_ago = iso_z(NOW - timedelta(days=365))
    assert depositor.deposit(b"%PDF-1.7 within the year", policy=policy, event_time=a_year_ago).status_code == 201


def test_an_event_time_in_the_future_is_refused_beyond_five_minutes(archive):
    _vault, depositor = archive
    refused(depositor.deposit(b"ahead", event_time=iso_z(NOW + timedelta(minutes=10))))
    assert depositor.deposit(b"clock skew", event_time=iso_z(NOW + timedelta(minutes=4))).status_code == 201


def test_an_old_date_read_from_the_content_is_refused_where_retention_counts_from_it(archive):
    _vault, depositor = archive
    mail = (b"From: a@example.org\r\nTo: b@example.org\r\nDate: Sat, 01 Jan 2000 00:00:00 +0000\r\n"
            b"Subject: old\r\n\r\nhello\r\n")
    refused(depositor.deposit(mail, filename="m.eml", media_type="message/rfc822", policy="email-proof"))
    kept = depositor.deposit(mail, filename="m.eml", media_type="message/rfc822", policy="lre-proof")
    assert kept.status_code == 201, kept.text  # counted from the deposit: the old date decides nothing
    assert kept.json()["retention_until"].startswith("2036-11-29")


def test_a_policy_for_historical_proofs_accepts_them(historical):
    _vault, depositor = historical
    receipt = depositor.deposit(b"migrated", policy="historical-email-proof", event_time="2000-01-01T00:00:00Z")
    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["retention_until"] == "2010-01-01T00:00:00Z"
    refused(depositor.deposit(b"older still", policy="historical-email-proof", event_time="1980-01-01T00:00:00Z"))
    shown = [p for p in depositor.get("/v1/policies").json()["policies"] if p["id"] == "historical-email-proof"]
    assert shown[0]["max_backdate"] == "P40Y"


@pytest.mark.parametrize("value", ['"ten years"', "1", '"P200Y"', '""'])
def test_a_bad_max_backdate_stops_the_policy(value):
    with pytest.raises(PolicyError, match="max_backdate"):
        parse_policy(HISTORICAL.replace('"P40Y"', value), "policies/historical.toml")
    assert parse_policy(HISTORICAL.replace('max_backdate = "P40Y"\n', ""), "p").max_backdate.text == "P1Y"
