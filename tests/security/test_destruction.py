"""Issue #18, "four eyes is really one": a tenant admin issues itself two archivist keys and destroys an object in a
few seconds. Each step of that attack is refused with the defaults (VAULT_DISPOSAL_KEY_MIN_AGE and
VAULT_DISPOSAL_NOTICE of P7D): same holder, key too recent, notice period; a veto stops a batch for good; an admin
cannot release a hold; and every act that widens power raises an alert seen in GET /v1/alerts and /metrics."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.test_retention_lifecycle import problem
from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock, iso_z

START = datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)
WEEK = timedelta(days=7)


@pytest.fixture
def globex(tmp_path, database_url):
    """A globex object due for destruction, its tenant admin, and an auditor and an archivist of long standing."""
    clock = FixedClock(START)
    vault = Vault.open(make_settings(tmp_path, database_url), clock, sweep_in_background=False, background_jobs=False)
    platform = Api(TestClient(create_app(vault)), ADMIN_KEY)
    apis = {"platform": platform,
            "admin": platform.as_key(platform.new_key("admin", "globex", holder="mallory@globex.example")),
            "auditor": platform.as_key(platform.new_key("auditor", "globex", holder="ann@globex.example")),
            "archivist": platform.as_key(platform.new_key("archivist", "globex", holder="arch@globex.example")),
            "depositor": platform.as_key(platform.new_key("depositor", "globex"))}
    receipt = apis["depositor"].deposit(b"%PDF-1.7 globex proof", case_ref="GLOBEX-1")
    assert receipt.status_code == 201, receipt.text
    clock.advance(timedelta(days=3653))  # ten years on: the object is due
    yield vault, clock, apis, receipt.json()
    vault.close()


def alert_metric(api: Api, kind: str) -> int:
    prefix = f'vault_security_alerts_total{{kind="{kind}"}} '
    return int(next(line[len(prefix):] for line in api.client.get("/metrics").text.splitlines()
                    if line.startswith(prefix)))


def test_one_person_with_fresh_keys_cannot_destroy(globex):
    vault, clock, apis, receipt = globex
    admin = apis["admin"]
    issued_before = alert_metric(admin, "privileged-key-issued")
    # the tenant admin issues itself two archivist keys, under its own name
    first = admin.as_key(admin.new_key("archivist", "globex", holder="mallory@globex.example"))
    second = admin.as_key(admin.new_key("archivist", "globex", holder="Mallory@globex.example"))
    batch = first.post("/v1/disposal/batches", json={"object_ids": [receipt["id"]]})
    assert batch.status_code == 201, batch.text
    batch = batch.json()
    assert batch["proposed_holder"] == "mallory@globex.example"
    path = f"/v1/disposal/batches/{batch['id']}"
    problem(second.post(f"{path}/approve"), 403, "same-holder")  # two keys, one person
    # under a made-up second name: the key is too recent to approve, and to execute
    third = admin.as_key(admin.new_key("archivist", "globex", holder="not-mallory@globex.example"))
    refused = problem(third.post(f"{path}/approve"), 403, "key-too-recent")
    assert refused["usable_from"] == iso_z(START + timedelta(days=3653) + WEEK)
    problem(third.post(f"{path}/execute"), 409, "not-approved")
    assert apis["auditor"].get(path).json()["status"] == "proposed"
    denied = apis["auditor"].get("/v1/journal/entries", params={"action": "access_denied"}).json()["entries"]
    reasons = [e["detail"]["reason"] for e in denied if e["detail"].get("route") == "/v1/disposal"]
    assert any("proposed this destruction" in r for r in reasons)  # refusals of the person are journaled
    assert any("was issued less than 7 days ago" in r for r in reasons)
    assert not any("mallory" in r for r in reasons)  # the holder is not named in the journal

    # three privileged keys issued: three alerts, seen by the tenant's auditor and in the metrics
    assert alert_metric(admin, "privileged-key-issued") == issued_before + 3
    security = apis["auditor"].get("/v1/alerts").json()["security"]
    issued = [a for a in security if a["kind"] == "privileged-key-issued" and a["actor"] == _key_id(admin)]
    assert len(issued) == 3 and all(a["tenant"] == "globex" and a["journal_index"] >= 0 for a in issued)

    # a week on, the made-up second person approves: the batch still waits out its notice
    clock.advance(WEEK)
    approved = third.post(f"{path}/approve")
    assert approved.status_code == 200, approved.text
    approved = approved.json()
    assert approved["approved_holder"] == "not-mallory@globex.example"
    assert approved["executable_after"] == iso_z(clock.now() + WEEK)
    notice = problem(first.post(f"{path}/execute"), 409, "notice-period")
    assert notice["executable_after"] == approved["executable_after"]
    assert alert_metric(admin, "disposal-approved") == 1
    kinds = [a["kind"] for a in apis["archivist"].get("/v1/alerts").json()["security"]]
    assert kinds[0] == "disposal-approved"  # newest first

    # the tenant's auditor sees the alert and vetoes it: for good
    vetoed = apis["auditor"].post(f"{path}/veto", json={"reason": "approved by a key issued the same week"})
    assert vetoed.status_code == 200, vetoed.text
    assert vetoed.json()["status"] == "vetoed" and vetoed.json()["vetoed_by"] == _key_id(apis["auditor"])
    clock.advance(WEEK)
    problem(first.post(f"{path}/execute"), 409, "vetoed")
    problem(apis["archivist"].post(f"{path}/veto", json={"reason": "again"}), 409, "vetoed")
    assert vault.store.exists(receipt["sha256"])
    assert apis["auditor"].get(f"/v1/objects/{receipt['id']}").json()["status"] != "destroyed"
    entries = apis["auditor"].get("/v1/journal/entries", params={"action": "destruction_vetoed"}).json()["entries"]
    assert len(entries) == 1 and "same week" not in str(entries)  # the reason is a pseudonym in the journal


def _proposed_with_a_second_archivist(globex) -> tuple[str, Api]:
    """A batch of every due object proposed by the seasoned archivist, and another archivist a week old."""
    _vault, clock, apis, _receipt = globex
    other = apis["platform"].as_key(apis["platform"].new_key("archivist", "globex", holder="bob@globex.example"))
    clock.advance(WEEK)
    batch = apis["archivist"].post("/v1/disposal/batches", json={"all_due": True}).json()
    return f"/v1/disposal/batches/{batch['id']}", other


def test_a_vetoed_proposal_is_never_approved_and_the_admin_may_not_veto(globex):
    _vault, _clock, apis, _receipt = globex
    path, other = _proposed_with_a_second_archivist(globex)
    problem(apis["admin"].post(f"{path}/veto", json={"reason": "x"}), 403, "forbidden")
    problem(apis["depositor"].post(f"{path}/veto", json={"reason": "x"}), 403, "forbidden")
    outsider = apis["platform"].as_key(apis["platform"].new_key("auditor", "acme"))
    problem(outsider.post(f"{path}/veto", json={"reason": "x"}), 403, "forbidden")
    assert apis["auditor"].post(f"{path}/veto", json={"reason": "under review"}).status_code == 200
    problem(other.post(f"{path}/approve"), 409, "vetoed")


def test_two_people_with_seasoned_keys_destroy_after_the_notice(globex):
    vault, clock, apis, receipt = globex
    path, other = _proposed_with_a_second_archivist(globex)
    assert other.post(f"{path}/approve").status_code == 200
    clock.advance(WEEK)
    executed = apis["archivist"].post(f"{path}/execute")
    assert executed.status_code == 200, executed.text
    assert not vault.store.exists(receipt["sha256"])
    problem(apis["auditor"].post(f"{path}/veto", json={"reason": "too late"}), 409, "executed")


def test_only_an_archivist_releases_a_hold_and_it_raises_an_alert(globex):
    _vault, _clock, apis, receipt = globex
    hold = apis["archivist"].post("/v1/holds", json={"object_ids": [receipt["id"]], "reason": "dispute",
                                                     "reference": "RG 26/1"}).json()
    for who in ("admin", "platform"):
        api = apis[who]
        problem(api.client.delete(f"/v1/holds/{hold['id']}", headers=api.headers()), 403, "forbidden")
    released = apis["archivist"].client.delete(f"/v1/holds/{hold['id']}", headers=apis["archivist"].headers())
    assert released.status_code == 200 and released.json()["active"] is False
    [alert] = [a for a in apis["auditor"].get("/v1/alerts").json()["security"] if a["kind"] == "hold-released"]
    assert alert["subject"] == hold["id"] and alert["actor"] == _key_id(apis["archivist"])
    assert alert_metric(apis["auditor"], "hold-released") == 1


def test_alerts_stay_in_their_tenant_and_rotation_by_someone_else_raises_one(globex):
    _vault, _clock, apis, _receipt = globex
    platform = apis["platform"]
    acme_auditor = platform.as_key(platform.new_key("auditor", "acme"))
    assert {a["tenant"] for a in acme_auditor.get("/v1/alerts").json()["security"]} == {"acme"}
    assert "security" not in apis["depositor"].get("/v1/alerts").json()  # depositors see overdue cases only
    assert {"acme", "globex"} <= {a["tenant"] for a in platform.get("/v1/alerts").json()["security"]}
    archivist = _key_id(apis["archivist"])
    assert platform.post(f"/v1/keys/{archivist}/rotate", json={"overlap": "PT0S"}).status_code == 200
    [rotated] = [a for a in apis["auditor"].get("/v1/alerts").json()["security"]
                 if a["kind"] == "privileged-key-rotated"]
    assert rotated["subject"] == archivist
    assert alert_metric(platform, "privileged-key-rotated") == 1
    own = apis["admin"]
    assert own.post(f"/v1/keys/{_key_id(own)}/rotate", json={"overlap": "PT1H"}).status_code == 200
    assert alert_metric(platform, "privileged-key-rotated") == 1  # one's own rotation is no alert


def _key_id(api: Api) -> str:
    return api.client.app.state.vault.keys.resolve(api.key).key_id
