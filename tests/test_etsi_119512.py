"""The ETSI TS 119 512 binding (vault/api/routes/etsi.py): a round trip PreservePO → Search → RetrievePO →
RetrieveTrace → ValidateEvidence (valid, then tampered), RetrieveInfo's profiles, DeletePO as the four-eyes
disposal, UpdatePOC as the metadata correction, and POST /v1/validate with an ER and data, digests or a package."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest

from tests.test_retention_lifecycle import archive, problem  # noqa: F401 (a fixture)
from vault.etsi.messages import INVALID, PENDING, REQUESTER_ERROR, SUCCESS, VALID

E = "/etsi/119512/v1"
PROFILE = "urn:vault:etsi:119512:profile:lre-proof"
CONTENT = b"%PDF-1.7 proof preserved through ETSI TS 119 512"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def preserve(api, content: bytes = CONTENT, **metadata) -> str:
    answer = api.post(f"{E}/PreservePO", json={
        "RequestID": "r-1", "Profile": PROFILE,
        "PO": [{"ID": "proof.pdf", "Binary": {"Value": b64(content), "MimeType": "application/pdf"}}],
        "OptionalInputs": {"vault:Metadata": {"case_ref": "ETSI-1", **metadata}}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["RequestID"] == "r-1" and body["Result"]["ResultMajor"] == SUCCESS
    assert body["OptionalOutputs"]["vault:Receipt"]["sha256"] == hashlib.sha256(content).hexdigest()
    return body["POID"]


def test_round_trip(vault, admin, depositor):
    poid = preserve(depositor)
    vault.seal_scheduler.seal_all_pending()

    found = depositor.post(f"{E}/Search", json={"Filter": "case_ref=ETSI-1"}).json()
    assert found["Result"]["ResultMajor"] == SUCCESS and found["POID"] == [poid]
    assert depositor.post(f"{E}/Search", json={"Filter": "case_ref=nothing"}).json()["POID"] == []

    got = depositor.post(f"{E}/RetrievePO", json={"POID": poid, "SubjectOfRetrieval": "POwithDetachedEvidence"})
    assert got.status_code == 200, got.text
    [po], [evidence] = got.json()["PO"], got.json()["Evidence"]
    assert base64.b64decode(po["Binary"]["Value"]) == CONTENT and po["Binary"]["MimeType"] == "application/pdf"
    assert evidence["FormatID"] == "urn:ietf:rfc:4998"
    er = base64.b64decode(evidence["Binary"]["Value"])
    assert er == depositor.get(f"/v1/objects/{poid}/evidence-record").content
    only_er = depositor.post(f"{E}/RetrievePO", json={"POID": poid, "SubjectOfRetrieval": "Evidence"}).json()
    assert "PO" not in only_er and only_er["Evidence"] == [evidence]

    auditor = admin.as_key(admin.new_key("auditor", "acme"))
    trace = auditor.post(f"{E}/RetrieveTrace", json={"POID": poid}).json()
    actions = [entry["action"] for entry in trace["Trace"]]
    assert actions[0] == "deposit" and "content_read" in actions and "evidence_export" in actions
    assert all(poid in entry["objects"] for entry in trace["Trace"])

    valid = depositor.post(f"{E}/ValidateEvidence", json={
        "Evidence": {"Binary": {"Value": b64(er)}}, "PO": [{"Binary": {"Value": b64(CONTENT)}}]}).json()
    assert valid["Result"] == {"ResultMajor": SUCCESS, "ResultMinor": VALID}, valid["Result"]
    assert valid["ValidationReport"]["ok"] is True
    tampered = depositor.post(f"{E}/ValidateEvidence", json={
        "Evidence": {"Binary": {"Value": b64(er)}}, "PO": [{"Binary": {"Value": b64(CONTENT + b" ")}}]}).json()
    assert tampered["Result"]["ResultMinor"] == INVALID and tampered["ValidationReport"]["ok"] is False
    assert tampered["Result"]["ResultMessage"]["value"]  # the first failing check, named
    entries = admin.get("/v1/journal/entries", params={"action": "evidence_validated"}).json()["entries"]
    assert [e["detail"]["valid"] for e in entries] == [True, False]


def test_errors_carry_result_and_status(depositor):
    bad = depositor.post(f"{E}/PreservePO", json={"Profile": "urn:nope", "PO": []})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["Result"]["ResultMajor"] == REQUESTER_ERROR
    assert bad.json()["Result"]["ResultMinor"].endswith(":invalid-message")
    missing = depositor.post(f"{E}/RetrievePO", json={"POID": "0" * 32, "RequestID": "x"})
    assert missing.status_code == 404 and missing.json()["RequestID"] == "x"
    assert missing.json()["Result"]["ResultMinor"].endswith(":unknown-object")
    assert depositor.post(f"{E}/Search", json={"Filter": "colour=red"}).status_code == 422
    metadata = depositor.post(f"{E}/PreservePO", json={"Profile": PROFILE, "PO": [{"Binary": {"Value": b64(b"x")}}]})
    assert metadata.status_code == 422 and metadata.json()["type"].endswith("invalid-metadata")


def test_retrieve_info_profiles(vault, depositor):
    body = depositor.post(f"{E}/RetrieveInfo", json={}).json()
    ids = [p["ProfileIdentifier"] for p in body["Profile"]]
    assert ids == sorted(f"urn:vault:etsi:119512:profile:{p}" for p in vault.policies.ids())
    [profile] = depositor.post(f"{E}/RetrieveInfo", json={"Profile": PROFILE}).json()["Profile"]
    policy = vault.policies.get("lre-proof")
    assert profile["EvidenceFormat"][0]["FormatID"] == "urn:ietf:rfc:4998"
    assert profile["vault:Retention"]["Duration"] == policy.duration.text
    assert profile["PolicyID"] == [f"urn:vault:retention-policy:lre-proof:v{policy.version}"]
    assert "http://www.w3.org/2001/04/xmlenc#sha256" in profile["vault:HashAlgorithm"]
    assert {o["Name"] for o in profile["Operation"]} >= {"PreservePO", "RetrievePO", "ValidateEvidence"}
    assert depositor.post(f"{E}/RetrieveInfo", json={"Profile": "urn:x"}).status_code == 404


def test_update_poc_is_the_metadata_correction(vault, admin, depositor):
    poid = preserve(depositor)
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    done = archivist.post(f"{E}/UpdatePOC", json={"POID": poid, "OptionalInputs": {
        "vault:Changes": {"case_ref": "ETSI-2"}, "vault:Reason": "typo in the case reference"}})
    assert done.status_code == 200, done.text
    assert done.json()["VersionID"] == "2"
    assert depositor.get(f"/v1/objects/{poid}").json()["case_ref"] == "ETSI-2"
    assert archivist.post(f"{E}/UpdatePOC", json={"POID": poid}).status_code == 422


def test_delete_po_is_the_four_eyes_disposal(archive):  # noqa: F811
    vault, clock, apis = archive
    poid = preserve(apis["depositor"], sender="alice@example.org", recipient="bob@example.org")
    too_soon = apis["archivist"].post(f"{E}/DeletePO", json={"POID": poid})
    assert too_soon.status_code == 409 and too_soon.json()["Result"]["ResultMajor"] == REQUESTER_ERROR
    clock.advance(timedelta(days=3653))
    proposed = apis["archivist"].post(f"{E}/DeletePO", json={"POID": poid})
    assert proposed.status_code == 202, proposed.text
    assert proposed.json()["Result"]["ResultMajor"] == PENDING
    batch_id = proposed.json()["OptionalOutputs"]["vault:BatchID"]
    again = {"POID": poid, "OptionalInputs": {"vault:BatchID": batch_id}}
    same = problem(apis["archivist"].post(f"{E}/DeletePO", json=again), 403, "same-holder")
    assert same["Result"]["ResultMinor"].endswith(":same-holder")
    approved = apis["archivist2"].post(f"{E}/DeletePO", json=again)
    assert approved.status_code == 202 and approved.json()["OptionalOutputs"]["vault:Batch"]["status"] == "approved"


def test_v1_validate_with_digests_and_package(vault, depositor):
    poid = preserve(depositor)
    vault.seal_scheduler.seal_all_pending()
    er = depositor.get(f"/v1/objects/{poid}/evidence-record").content
    digests = {"Evidence": {"Binary": {"Value": b64(er)}},
               "DigestList": {"DigestMethod": "http://www.w3.org/2001/04/xmlenc#sha256",
                              "DigestValue": [b64(hashlib.sha256(CONTENT).digest())]}}
    assert depositor.post("/v1/validate", json=digests).json()["Result"]["ResultMinor"] == VALID
    digests["DigestList"]["DigestValue"] = [b64(hashlib.sha256(b"other").digest())]
    assert depositor.post("/v1/validate", json=digests).json()["Result"]["ResultMinor"] == INVALID
    package = depositor.get(f"/v1/objects/{poid}/package")
    assert package.status_code == 200, package.text
    checked = depositor.post("/v1/validate", json={"OptionalInputs": {"vault:Package": b64(package.content)}}).json()
    assert checked["Result"]["ResultMinor"] == VALID, checked
    broken = bytearray(package.content)
    broken[len(broken) // 2] ^= 1
    refused = depositor.post("/v1/validate", json={"OptionalInputs": {"vault:Package": b64(bytes(broken))}}).json()
    assert refused["Result"]["ResultMinor"] == INVALID and refused["ValidationReport"]["ok"] is False
