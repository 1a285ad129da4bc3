"""Metadata records over the API and sealed with the content as an RFC 4998 data group (issue 22)."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import delete

from tests.test_seal import _data, check, deposit, evidence, roots
from vault.evidence.metadata_store import DISCLOSURES, RECORDS
from vault.evidence.verify import verify_evidence_record
from vault_verify.metadata import check_disclosure, parse_record

META = {"policy": "consent-record", "case_ref": "CASE-MR", "sender": "alice@example.org", "kind": "consent-record",
        "event_type": "consent", "subject": "alice@example.org", "purpose": "newsletter",
        "extra": {"ip_address": "192.0.2.7", "channel": "web"}}


def record_of(api, object_id: str) -> bytes:
    response = api.get(f"/v1/objects/{object_id}/metadata-record")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.content


def check_group(api, er: bytes, content: bytes, record: bytes):
    verdict = verify_evidence_record(er, [_data(content), _data(record)], roots=roots(api), group=True)
    failure = verdict.first_failure
    assert verdict.ok, f"{failure.name}: {failure.detail}" if failure else "no steps"
    return verdict


def test_the_record_commits_to_personal_fields_and_the_disclosures_open_them(vault, depositor):
    receipt = deposit(depositor, b"opt-in form", filename="optin.txt", media_type="text/plain", **META)
    data = record_of(depositor, receipt["id"])
    record = parse_record(data)
    assert record["object_id"] == receipt["id"] and record["tenant"] == "acme" and record["case_ref"] == "CASE-MR"
    assert record["content"]["sha256"] == hashlib.sha256(b"opt-in form").hexdigest()
    assert record["extra"] == {"channel": "web"}
    assert set(record["commitments"]) == {"sender", "filename", "extra.ip_address"}
    assert b"alice@" not in data and b"192.0.2.7" not in data and b"optin.txt" not in data
    response = depositor.get(f"/v1/objects/{receipt['id']}/disclosures")
    assert response.status_code == 200, response.text
    opened = response.json()["disclosures"]
    assert {d["field"]: d["value"] for d in opened} == {"sender": "alice@example.org", "filename": "optin.txt",
                                                         "extra.ip_address": "192.0.2.7"}
    assert all(check_disclosure(record, d) is None for d in opened)


def test_reads_are_journaled_and_unknown_objects_are_404(vault, depositor):
    receipt = deposit(depositor, b"journaled", **META)
    record_of(depositor, receipt["id"])
    depositor.get(f"/v1/objects/{receipt['id']}/disclosures")
    actions = [json.loads(entry)["action"] for _seq, entry in vault.journal_objects.entries([receipt["id"]])]
    assert actions == ["deposit", "metadata_record_read", "disclosures_read"]
    missing = depositor.get("/v1/objects/0190f0e0-0000-7000-8000-000000000000/metadata-record")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_the_evidence_record_proves_content_and_record_as_a_group_and_the_content_alone(vault, depositor):
    contents = [f"grouped {i}".encode() for i in range(5)]
    receipts = [deposit(depositor, c, **META) for c in contents]
    vault.seal_scheduler.seal_all_pending()
    for receipt, content in zip(receipts, contents):
        er, record = evidence(depositor, receipt["id"]), record_of(depositor, receipt["id"])
        check_group(depositor, er, content, record)
        check(depositor, er, content)  # the first partial hash tree lists the content's hash itself
    er, record = evidence(depositor, receipts[2]["id"]), record_of(depositor, receipts[2]["id"])
    edited = record.replace(b'"CASE-MR"', b'"CASE-XX"')
    verdict = verify_evidence_record(er, [_data(contents[2]), _data(edited)], roots=roots(depositor), group=True)
    assert not verdict.ok and verdict.first_failure.name.endswith("covers the data group")


def test_renewals_carry_both_members(vault, depositor, admin):
    contents = [f"renew group {i}".encode() for i in range(3)]
    receipts = [deposit(depositor, c, **META) for c in contents]
    vault.seal_scheduler.seal_all_pending()
    for body, chains in [({"kind": "timestamp-renewal"}, 1), ({"kind": "hash-tree-renewal", "hash": "sha512"}, 2),
                         ({"kind": "timestamp-renewal"}, 2), ({"kind": "hash-tree-renewal", "hash": "sha3-512"}, 3)]:
        response = admin.post("/v1/admin/reseal", json=body)
        assert response.status_code == 200 and response.json()["batches"], response.text
        for receipt, content in zip(receipts, contents):
            er, record = evidence(depositor, receipt["id"]), record_of(depositor, receipt["id"])
            verdict = check_group(depositor, er, content, record)
            assert len({s.name.split(" ATS")[0] for s in verdict.steps}) == chains
            check(depositor, er, content)
            wrong = verify_evidence_record(er, [_data(content), _data(record + b" ")], group=True)
            assert not wrong.ok


def test_an_object_sealed_before_it_had_a_record_keeps_its_content_only_chain(vault, depositor):
    receipt = deposit(depositor, b"older object", **META)
    # as migration 0025 finds an object sealed before it
    vault.writer.run(lambda c: (c.execute(delete(DISCLOSURES)), c.execute(delete(RECORDS))))
    vault.seal_scheduler.seal_all_pending()
    er = evidence(depositor, receipt["id"])
    check(depositor, er, b"older object")
    assert depositor.get(f"/v1/objects/{receipt['id']}/metadata-record").status_code == 404
    assert depositor.get(f"/v1/objects/{receipt['id']}/disclosures").json()["disclosures"] == []
