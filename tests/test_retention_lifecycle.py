"""The whole life of a proof at the embedded default: deposit, ten years pass, due, proposed, approved by another
archivist, destroyed on every copy, certificate verified, tombstone and journal still telling the story — and every
forbidden path refused with a clear error."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock
from vault.evidence.metadata_store import disclosures, erased_fields
from vault.evidence.rowaudit import row_mismatches
from vault.journal.pseudonyms import PREFIX
from vault.retention.certificate import verify_certificate
from vault.retention.pdf import verify_certificate_pdf

START = datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def archive(tmp_path, database_url):
    clock = FixedClock(START)
    vault = Vault.open(make_settings(tmp_path, database_url), clock, sweep_in_background=False, background_jobs=False)
    admin = Api(TestClient(create_app(vault)), ADMIN_KEY)
    keys = {role: admin.new_key(role, "acme") for role in ("depositor", "archivist", "auditor")}
    keys["archivist2"] = admin.new_key("archivist", "acme")
    apis = {name: admin.as_key(key) for name, key in keys.items()}
    apis["admin"] = admin
    yield vault, clock, apis
    vault.close()


def problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith(slug), body
    return body


def deposit(apis, content: bytes, **meta) -> dict:
    response = apis["depositor"].deposit(content, sender="alice@example.org", recipient="bob@example.org",
                                         extra={"sender_name": "Alice", "channel": "lre"}, **meta)
    assert response.status_code == 201, response.text
    return response.json()


def test_whole_life_of_a_proof(archive):
    vault, clock, apis = archive
    receipt = deposit(apis, b"%PDF-1.7 proof of receipt", case_ref="LRE-2026-42")
    object_id = receipt["id"]
    assert receipt["retention_until"].startswith("2036-11-29")
    vault.seal_scheduler.seal_all_pending()

    # under retention: nobody deletes it, nobody proposes it
    for role in ("depositor", "archivist", "auditor", "admin"):
        body = problem(apis[role].client.delete(f"/v1/objects/{object_id}", headers=apis[role].headers()),
                       409, "retention-active")
        assert body["retention_until"].startswith("2036-11-29")
    assert apis["archivist"].get("/v1/disposal/due").json()["destroy"] == []
    refused = problem(apis["archivist"].post("/v1/disposal/batches", json={"object_ids": [object_id]}), 409, "not-due")
    assert "under retention until 2036-11-29" in refused["refused"][object_id]

    # ten years pass
    clock.advance(timedelta(days=3653))
    due = apis["archivist"].get("/v1/disposal/due").json()
    assert [item["id"] for item in due["destroy"]] == [object_id]
    problem(apis["admin"].client.delete(f"/v1/objects/{object_id}", headers=apis["admin"].headers()),
            409, "disposal-required")
    problem(apis["admin"].post("/v1/disposal/batches", json={"tenant": "acme", "object_ids": [object_id]}),
            403, "forbidden")  # admins cannot bypass the archivists' four eyes

    proposed = apis["archivist"].post("/v1/disposal/batches", json={"all_due": True})
    assert proposed.status_code == 201, proposed.text
    batch = proposed.json()
    assert batch["object_ids"] == [object_id] and batch["status"] == "proposed"
    problem(apis["archivist"].post(f"/v1/disposal/batches/{batch['id']}/approve"), 403, "same-holder")
    problem(apis["archivist2"].post(f"/v1/disposal/batches/{batch['id']}/execute"), 409, "not-approved")
    approved = apis["archivist2"].post(f"/v1/disposal/batches/{batch['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    [listed] = apis["auditor"].get("/v1/disposal/batches").json()["batches"]
    assert listed["id"] == batch["id"] and listed["state"] == "notice" and listed["objects"] == 1
    assert listed["proposed_by"] == batch["proposed_by"] and listed["approved_by"] == approved.json()["approved_by"]
    assert listed["executable_after"] == approved.json()["executable_after"]
    assert apis["depositor"].get("/v1/disposal/batches").status_code == 403
    assert apis["archivist"].get("/v1/disposal/batches", params={"tenant": "globex"}).status_code == 403
    sha256 = receipt["sha256"]
    assert vault.store.exists(sha256)
    notice = problem(apis["archivist"].post(f"/v1/disposal/batches/{batch['id']}/execute"), 409, "notice-period")
    assert notice["executable_after"] == approved.json()["executable_after"]
    clock.advance(timedelta(days=7))  # VAULT_DISPOSAL_NOTICE

    with vault.reader.connect() as connection:
        assert {d["field"] for d in disclosures(connection, object_id)} == {"sender", "recipient", "filename",
                                                                            "extra.sender_name"}
    executed = apis["archivist"].post(f"/v1/disposal/batches/{batch['id']}/execute")
    assert executed.status_code == 200, executed.text
    signed = executed.json()
    with vault.reader.connect() as connection:  # the erasure of an erasure request: disclosures gone, markers
        assert disclosures(connection, object_id) == []
        assert erased_fields(connection, [object_id])[object_id] == {
            "sender", "recipient", "filename", "extra.sender_name", "extra.recipient_name"}
        assert row_mismatches(connection, vault.catalog.get(object_id), vault.policies) == []
    problem(apis["archivist"].post(f"/v1/objects/{object_id}/corrections",
                                   json={"changes": {"case_ref": "LRE-X"}, "reason": "late"}), 409, "destroyed")
    assert [b["state"] for b in apis["archivist"].get("/v1/disposal/batches").json()["batches"]] == ["executed"]
    assert not vault.store.exists(sha256)  # gone from the store

    # the certificate verifies against the archive's published key, and names everything
    key = apis["auditor"].client.get("/v1/archive/key").json()["public_key"]
    verdict = verify_certificate(json.dumps(signed).encode(), key)
    assert verdict.ok, verdict.reason
    certificate = verdict.certificate
    [item] = certificate["objects"]
    assert item["id"] == object_id and item["sha256"] == sha256 and item["sha512"] == receipt["sha512"]
    results = {copy["store"]: copy["result"] for copy in item["copies"]}
    assert results["local"] == "deleted"
    if "rgw" in results:  # the scaled configuration: the bucket's real clock says the lock still holds
        assert results["rgw"].startswith("refused by the storage")
    assert item["case_ref_pseudonym"].startswith(PREFIX)
    indexes = [certificate[step]["journal_index"] for step in ("proposal", "approval", "execution")]
    assert indexes == sorted(indexes) and len(set(indexes)) == 3
    tampered = json.loads(json.dumps(signed))
    tampered["certificate"]["objects"][0]["sha256"] = "0" * 64
    assert not verify_certificate(json.dumps(tampered).encode(), key).ok

    # the tombstone and the journal still tell the story
    tombstone = apis["auditor"].get(f"/v1/objects/{object_id}").json()
    assert tombstone["status"] == "destroyed" and tombstone["destroyed_at"]
    assert tombstone["sha256"] == sha256 and tombstone["policy"] == "lre-proof"
    assert tombstone["sender"] is None and tombstone["recipient"] is None and tombstone["filename"] is None
    assert tombstone["extra"] == {"channel": "lre"} and tombstone["case_ref"].startswith(PREFIX)
    stored = vault.catalog.get(object_id)  # no search key outlives the personal value it was made from
    assert stored["sender_key"] is None and stored["recipient_key"] is None
    assert stored["case_ref_key"] == tombstone["case_ref"].casefold()
    problem(apis["archivist"].get(f"/v1/objects/{object_id}/content"), 410, "destroyed")
    problem(apis["archivist"].client.delete(f"/v1/objects/{object_id}", headers=apis["archivist"].headers()),
            410, "destroyed")
    entries = apis["admin"].get("/v1/journal/entries", params={"object": object_id}).json()["entries"]
    story = [e["action"] for e in entries]
    for action in ("deposit", "destruction_refused", "destruction_proposed", "destruction_approved",
                   "destruction_done"):
        assert action in story
    by_seq = {e["seq"]: e["action"] for e in entries}
    assert [by_seq[i] for i in indexes] == ["destruction_proposed", "destruction_approved", "destruction_done"]
    assert apis["archivist"].get(f"/v1/disposal/batches/{batch['id']}/certificate").json() == signed
    pdf = apis["auditor"].get(f"/v1/disposal/batches/{batch['id']}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert object_id.encode() in pdf.content and sha256.encode() in pdf.content  # readable text, uncompressed
    archive_key = apis["auditor"].client.get("/v1/archive/key").json()
    tsa_roots = apis["auditor"].client.get("/v1/tsa/roots").content
    signer = archive_key["pdf_signing_certificate"].encode()
    ok, reason = verify_certificate_pdf(pdf.content, signer, tsa_roots, at=clock.now())  # ten years on, in tests
    assert ok, reason
    forged = pdf.content.replace(object_id.encode(), object_id[:-1].encode() + b"X", 1)
    assert not verify_certificate_pdf(forged, signer, tsa_roots, at=clock.now())[0]
    # the evidence record still proves the digest existed at deposit
    assert apis["auditor"].get(f"/v1/objects/{object_id}/evidence-record").status_code == 200


def test_a_hold_stops_destruction_even_after_approval(archive):
    vault, clock, apis = archive
    first = deposit(apis, b"disputed", case_ref="LRE-DISPUTE")["id"]
    other = deposit(apis, b"not disputed", case_ref="LRE-OTHER")["id"]
    clock.advance(timedelta(days=3660))
    batch = apis["archivist"].post("/v1/disposal/batches", json={"object_ids": [first, other]}).json()
    apis["archivist2"].post(f"/v1/disposal/batches/{batch['id']}/approve")
    hold = apis["archivist"].post("/v1/holds", json={"case_ref": "LRE-DISPUTE", "reason": "court case",
                                                     "reference": "TJ Paris 26/01234"})
    assert hold.status_code == 201, hold.text
    clock.advance(timedelta(days=7))  # the notice period is over: only the hold stops it now
    body = problem(apis["archivist2"].post(f"/v1/disposal/batches/{batch['id']}/execute"), 409, "not-due")
    assert list(body["refused"]) == [first] and "legal hold" in body["refused"][first]
    assert vault.store.exists(apis["archivist"].get(f"/v1/objects/{first}").json()["sha256"])
    due = apis["archivist"].get("/v1/disposal/due").json()
    assert [i["id"] for i in due["held"]] == [first] and [i["id"] for i in due["destroy"]] == [other]
    problem(apis["archivist"].post("/v1/disposal/batches", json={"object_ids": [first]}), 409, "not-due")
    released = apis["archivist2"].client.delete(f"/v1/holds/{hold.json()['id']}", headers=apis["archivist2"].headers())
    assert released.status_code == 200 and released.json()["active"] is False
    problem(apis["archivist2"].client.delete(f"/v1/holds/{hold.json()['id']}", headers=apis["archivist2"].headers()),
            409, "hold-released")
    assert [i["id"] for i in apis["archivist"].get("/v1/disposal/due").json()["destroy"]] == sorted([first, other])


def test_holds_by_objects_and_by_query(archive):
    _vault, clock, apis = archive
    a = deposit(apis, b"a", case_ref="Q-1", contract_number="C-9")["id"]
    b = deposit(apis, b"b", case_ref="Q-2")["id"]
    clock.advance(timedelta(days=3660))
    by_ids = apis["archivist"].post("/v1/holds", json={"object_ids": [b], "reason": "audit", "reference": "A-1"})
    by_query = apis["archivist"].post("/v1/holds", json={"query": {"contract_number": "C-9"}, "reason": "dispute",
                                                         "reference": "D-7"})
    assert by_ids.status_code == 201 and by_query.status_code == 201
    due = apis["archivist"].get("/v1/disposal/due").json()
    assert sorted(i["id"] for i in due["held"]) == sorted([a, b]) and due["destroy"] == []
    for bad in ({"reason": "x", "reference": "y"}, {"case_ref": "Q-1", "object_ids": [a], "reason": "x", "reference": "y"},
                {"query": {"colour": "red"}, "reason": "x", "reference": "y"}):
        problem(apis["archivist"].post("/v1/holds", json=bad), 422, "invalid-hold")
    problem(apis["depositor"].post("/v1/holds", json={"case_ref": "Q-1", "reason": "x", "reference": "y"}),
            403, "forbidden")


def test_review_and_keep_policies_are_never_destroyed(archive):
    _vault, clock, apis = archive
    contract = deposit(apis, b"contract", policy="commercial-contract", event_time="2026-11-01T00:00:00Z")["id"]
    clock.advance(timedelta(days=3700))
    due = apis["archivist"].get("/v1/disposal/due").json()
    assert [i["id"] for i in due["review"]] == [contract] and due["destroy"] == []
    body = problem(apis["archivist"].post("/v1/disposal/batches", json={"object_ids": [contract]}), 409, "not-due")
    assert "final action is 'review'" in body["refused"][contract]


def test_start_event_and_reassignment(archive):
    _vault, clock, apis = archive
    pending = deposit(apis, b"sent, event time unknown", policy="email-proof")
    assert pending["retention_until"] is None
    clock.advance(timedelta(days=365 * 30))
    assert apis["archivist"].get("/v1/disposal/due").json()["destroy"] == []  # never due before its start
    problem(apis["depositor"].client.patch(f"/v1/objects/{pending['id']}/retention-start",
                                          json={"at": "2056-01-01T00:00:00Z"}, headers=apis["depositor"].headers()),
            403, "forbidden")
    started = apis["archivist"].client.patch(f"/v1/objects/{pending['id']}/retention-start",
                                            json={"at": "2056-01-01T00:00:00Z"}, headers=apis["archivist"].headers())
    assert started.status_code == 200 and started.json()["retention_until"].startswith("2066-01-01")
    problem(apis["archivist"].client.patch(f"/v1/objects/{pending['id']}/retention-start",
                                          json={"at": "2050-01-01T00:00:00Z"}, headers=apis["archivist"].headers()),
            409, "retention-started")

    kept = deposit(apis, b"reassigned", policy="lre-proof", event_time="2056-01-01T00:00:00Z")
    longer = apis["archivist"].post(f"/v1/objects/{kept['id']}/policy", json={"policy": "consent-record"})
    assert longer.status_code == 200  # same length from the same start: allowed
    # email-proof runs from the event time (2056-01), earlier than this deposit (2056-11): it would end sooner
    body = problem(apis["archivist"].post(f"/v1/objects/{kept['id']}/policy", json={"policy": "email-proof"}),
                   409, "retention-shortened")
    assert body["retention_until"] == longer.json()["retention_until"]
    problem(apis["archivist"].post(f"/v1/objects/{kept['id']}/policy", json={"policy": "nope"}), 422, "unknown-policy")


def test_policies_are_listed(archive):
    _vault, _clock, apis = archive
    listed = apis["depositor"].get("/v1/policies").json()["policies"]
    lre = next(p for p in listed if p["id"] == "lre-proof")
    assert lre["in_force"] and lre["duration"] == "P10Y" and "eIDAS" in lre["legal_basis"]
    assert lre["final_action"] == "destroy" and "sender" in lre["personal_fields"]
