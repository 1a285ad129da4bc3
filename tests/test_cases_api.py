"""Case timelines with completeness, overdue alerts (injectable clock), consent state at a date, search gains."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def archive(tmp_path, database_url):
    clock = FixedClock(START + timedelta(days=5))  # every event time below has happened (none in the future)
    vault = Vault.open(make_settings(tmp_path, database_url), clock, sweep_in_background=False, background_jobs=False)
    admin = Api(TestClient(create_app(vault)), ADMIN_KEY)
    apis = {"depositor": admin.as_key(admin.new_key("depositor", "acme")),
            "other": admin.as_key(admin.new_key("depositor", "globex")),
            "archivist": admin.as_key(admin.new_key("archivist", "acme")), "admin": admin}
    yield vault, clock, apis
    vault.close()


def at(hours: float) -> str:
    return (START + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def put(api: Api, case_ref: str, event_type: str, hours: float, **meta) -> dict:
    response = api.deposit(f"{case_ref} {event_type} {hours}".encode(), filename="proof.txt", media_type="text/plain",
                           case_ref=case_ref, kind="lre-evidence", event_type=event_type, event_time=at(hours), **meta)
    assert response.status_code == 201, response.text
    return response.json()


def overdue_metric(api: Api) -> int:
    text = api.client.get("/metrics").text
    return int(next(line.split()[1] for line in text.splitlines() if line.startswith("vault_cases_overdue ")))


def test_a_full_case_is_complete_and_its_timeline_follows_the_event_times(archive):
    _vault, clock, apis = archive
    api = apis["depositor"]
    receipt = put(api, "LRE-1", "receipt", 30)  # deposited first, happened last
    put(api, "LRE-1", "sending", 2)
    put(api, "LRE-1", "deposit", 0)
    case = api.get("/v1/cases/LRE-1").json()
    assert [e["event_type"] for e in case["events"]] == ["deposit", "sending", "receipt"]
    assert [e["at"] for e in case["events"]] == [at(0), at(2), at(30)]
    assert case["events"][2]["id"] == receipt["id"] and case["events"][2]["sha256"] == receipt["sha256"]
    assert all(e["time_source"] == "event_time" and e["validation"] == [] for e in case["events"])
    assert case["completeness"]["status"] == "complete" and case["completeness"]["missing"] == []
    clock.advance(timedelta(days=400))
    assert api.get("/v1/cases/LRE-1").json()["completeness"]["status"] == "complete"
    assert api.get("/v1/alerts").json()["alerts"] == [] and overdue_metric(api) == 0


def test_a_case_without_its_outcome_is_incomplete_then_raises_an_alert_after_the_deadline(archive):
    _vault, clock, apis = archive
    api = apis["depositor"]
    put(api, "LRE-2", "deposit", 0)
    put(api, "LRE-2", "sending", 2)
    put(apis["other"], "LRE-9", "deposit", 0)  # another tenant's case: overdue too, never shown to acme
    completeness = api.get("/v1/cases/LRE-2").json()["completeness"]
    assert (completeness["status"], completeness["missing"], completeness["due_at"]) == (
        "incomplete", ["outcome"], at(2 + 16 * 24))
    assert api.get("/v1/alerts").json()["alerts"] == []

    clock.advance(timedelta(days=16, hours=2))  # past 15 days of acceptance and 1 day for the negligence proof
    assert api.get("/v1/cases/LRE-2").json()["completeness"]["status"] == "overdue"
    alerts = api.get("/v1/alerts").json()["alerts"]
    assert alerts == [{"type": "case-overdue", "tenant": "acme", "case_ref": "LRE-2", "missing": ["outcome"],
                       "due_at": at(2 + 16 * 24)}]
    assert [a["case_ref"] for a in apis["admin"].get("/v1/alerts").json()["alerts"]] == ["LRE-9", "LRE-2"]
    assert overdue_metric(api) == 2

    put(api, "LRE-2", "negligence", 2 + 15 * 24 + 1)  # the negligence proof arrives: the alert clears
    assert api.get("/v1/cases/LRE-2").json()["completeness"]["status"] == "complete"
    assert api.get("/v1/alerts").json()["alerts"] == [] and overdue_metric(api) == 1


def test_alerts_follow_a_changed_chain_definition(archive, tmp_path, database_url):
    vault, clock, apis = archive
    put(apis["depositor"], "LRE-3", "deposit", 0)
    put(apis["depositor"], "LRE-3", "sending", 1)
    clock.advance(timedelta(days=3))
    assert apis["depositor"].get("/v1/alerts").json()["alerts"] == []
    chain = tmp_path / "chain.toml"
    chain.write_text('id = "strict"\n[[steps]]\nname = "sending"\nevents = ["sending"]\n'
                     '[[steps]]\nname = "outcome"\nevents = ["receipt", "refusal", "negligence"]\ndue = "P1D"\n')
    from vault.cases.chains import load_chain
    vault.cases.chain = load_chain(chain)
    assert [a["case_ref"] for a in apis["depositor"].get("/v1/alerts").json()["alerts"]] == ["LRE-3"]


def test_consent_state_at_a_date_with_the_proof_that_decides_it(archive):
    vault, clock, apis = archive
    api = apis["depositor"]

    def record(event_type: str, hours: float, subject="Jane.Doe@Example.org", purpose="newsletter") -> dict:
        response = api.deposit(json.dumps({"event": event_type, "who": subject}).encode(), filename="c.json",
                               media_type="application/json", case_ref="CONSENT-jane", kind="consent-record",
                               policy="consent-record", event_type=event_type, event_time=at(hours),
                               subject=subject, purpose=purpose)
        assert response.status_code == 201, response.text
        return response.json()

    opt_in = record("consent", 0)
    opt_out = record("withdrawal", 48)
    again = record("consent", 96, subject=" jane.doe@example.org ")  # same person, written differently
    record("consent", 10, purpose="partners")

    def state(purpose: str, when: str) -> dict:
        response = api.get("/v1/consents/jane.doe@example.org", params={"purpose": purpose, "at": when})
        assert response.status_code == 200, response.text
        return response.json()

    assert state("newsletter", at(-1))["state"] == "unknown"
    granted = state("newsletter", at(1))
    assert granted["state"] == "granted" and granted["proof"]["object_id"] == opt_in["id"]
    assert granted["proof"]["sha256"] == opt_in["sha256"]
    withdrawn = state("newsletter", at(48))
    assert withdrawn["state"] == "withdrawn" and withdrawn["proof"]["object_id"] == opt_out["id"]
    assert [h["state"] for h in withdrawn["history"]] == ["granted", "withdrawn"]
    now = state("newsletter", at(200))
    assert now["proof"]["object_id"] == again["id"] and len(now["history"]) == 3
    assert state("partners", at(11))["state"] == "granted"
    assert api.get("/v1/consents/jane.doe@example.org").json()["purposes"] == ["newsletter", "partners"]
    assert apis["other"].get("/v1/consents/jane.doe@example.org",
                             params={"purpose": "newsletter"}).json()["state"] == "unknown"

    # the person is never named in the consent table nor in the journal
    with vault.reader.connect() as connection:
        from sqlalchemy import text
        stored = connection.execute(text("SELECT subject FROM consent_events")).scalars().all()
        journal = b"".join(connection.execute(text("SELECT entry FROM journal_entries")).scalars().all())
    assert stored and all("jane" not in s.lower() for s in stored) and len(set(stored)) == 1
    assert b"jane" not in journal.lower()


def test_a_consent_record_needs_its_subject_and_purpose(archive):
    vault, _clock, apis = archive
    before = vault.catalog.count()
    response = apis["depositor"].deposit(b'{"event": "consent"}', filename="c.json", media_type="application/json",
                                         kind="consent-record", policy="consent-record", event_type="consent",
                                         subject="someone@example.org")
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": "purpose", "problem": "required for a consent record"}]
    assert vault.catalog.count() == before


def test_search_by_party_kind_format_and_verdict(archive):
    _vault, _clock, apis = archive
    api = apis["depositor"]
    put(api, "S-1", "sending", 0, sender="alice@example.org", recipient="bob@example.org")
    put(api, "S-2", "sending", 0, sender="bob@example.org", recipient="carol@example.org")
    mail = api.deposit(b"From: dan@example.org\r\nTo: erin@example.org\r\nSubject: x\r\n\r\nhello\r\n",
                       filename="m.eml", media_type="message/rfc822", case_ref="S-3")
    assert mail.status_code == 201, mail.text

    def cases(**params):
        response = api.get("/v1/objects", params=params)
        assert response.status_code == 200, response.text
        return sorted(o["case_ref"] for o in response.json()["items"])

    assert cases(party="bob@example.org") == ["S-1", "S-2"]
    assert cases(kind="email-proof") == ["S-3"]
    assert cases(format="message/rfc822") == ["S-3"]
    assert cases(verdict="none") == ["S-1", "S-2", "S-3"]  # no signature in any of them
    assert cases(verdict="invalid") == []
    assert api.get("/v1/objects", params={"verdict": "dubious"}).status_code == 422
