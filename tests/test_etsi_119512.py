"""The ETSI TS 119 512 binding (vault/api/routes/etsi.py): a round trip PreservePO → Search → RetrievePO →
RetrieveTrace → ValidateEvidence (valid, then tampered) with the JSON member names of the specification's
"JSON Syntax" sub-clauses, RetrieveInfo's profiles, DeletePO as the four-eyes disposal, UpdatePOC as the metadata
correction, POST /v1/validate with an ER and data, digests or a package, the XML names accepted on input, and a
request shaped as the independent implementation (UCLouvain) sends it."""

from __future__ import annotations

import base64
import hashlib
import json
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
        "reqId": "r-1", "pro": PROFILE,
        "po": [{"id": "proof.pdf", "binaryData": {"value": b64(content)}, "mimeType": "application/pdf"}],
        "optIn": {"vault:Metadata": {"case_ref": "ETSI-1", **metadata}}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["reqId"] == "r-1" and body["result"]["maj"] == SUCCESS
    assert body["optOut"]["vault:Receipt"]["sha256"] == hashlib.sha256(content).hexdigest()
    return body["poId"]


def test_round_trip(vault, admin, depositor):
    poid = preserve(depositor)
    vault.seal_scheduler.seal_all_pending()

    found = depositor.post(f"{E}/Search", json={"fi": "case_ref=ETSI-1"}).json()
    assert found["result"]["maj"] == SUCCESS and found["poId"] == [poid]
    assert depositor.post(f"{E}/Search", json={"fi": "case_ref=nothing"}).json()["poId"] == []

    got = depositor.post(f"{E}/RetrievePO", json={"poId": poid, "sor": "POwithDetachedEvidence"})
    assert got.status_code == 200, got.text
    [po, evidence] = got.json()["po"]  # Table 6: the object and its evidence, both as PO components
    assert base64.b64decode(po["binaryData"]["value"]) == CONTENT and po["mimeType"] == "application/pdf"
    assert evidence["formatId"] == "urn:ietf:rfc:4998"
    er = base64.b64decode(evidence["binaryData"]["value"])
    assert er == depositor.get(f"/v1/objects/{poid}/evidence-record").content
    only_er = depositor.post(f"{E}/RetrievePO", json={"poId": poid, "sor": "Evidence"}).json()
    assert only_er["po"] == [evidence]

    auditor = admin.as_key(admin.new_key("auditor", "acme"))
    trace = auditor.post(f"{E}/RetrieveTrace", json={"poId": poid}).json()
    events = trace["trace"]["event"]
    actions = [event["op"] for event in events]
    assert actions[0] == "deposit" and "content_read" in actions and "evidence_export" in actions
    assert all(event["obj"] == poid and poid in event["det"]["objects"] for event in events)

    valid = depositor.post(f"{E}/ValidateEvidence", json={
        "ev": {"binaryData": {"value": b64(er)}}, "po": [{"binaryData": {"value": b64(CONTENT)}}]}).json()
    assert valid["result"] == {"maj": SUCCESS, "min": VALID}, valid["result"]
    assert valid["valRep"]["ok"] is True
    tampered = depositor.post(f"{E}/ValidateEvidence", json={
        "ev": {"binaryData": {"value": b64(er)}}, "po": [{"binaryData": {"value": b64(CONTENT + b" ")}}]}).json()
    assert tampered["result"]["min"] == INVALID and tampered["valRep"]["ok"] is False
    assert tampered["result"]["msg"]["value"]  # the first failing check, named
    entries = admin.get("/v1/journal/entries", params={"action": "evidence_validated"}).json()["entries"]
    assert [e["detail"]["valid"] for e in entries] == [True, False]


def test_errors_carry_result_and_status(depositor):
    bad = depositor.post(f"{E}/PreservePO", json={"pro": "urn:nope", "po": [], "reqId": "b"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["result"]["maj"] == REQUESTER_ERROR and bad.json()["reqId"] == "b"
    assert bad.json()["result"]["min"] == "http://uri.etsi.org/19512/error/parameterError"
    missing = depositor.post(f"{E}/RetrievePO", json={"poId": "0" * 32, "reqId": "x"})
    assert missing.status_code == 404 and missing.json()["reqId"] == "x"
    assert missing.json()["result"]["min"] == "http://uri.etsi.org/19512/error/unknownPOID"
    assert depositor.post(f"{E}/Search", json={"fi": "colour=red"}).status_code == 422
    metadata = depositor.post(f"{E}/PreservePO", json={"pro": PROFILE, "po": [{"binaryData": {"value": b64(b"x")}}]})
    assert metadata.status_code == 422 and metadata.json()["type"].endswith("invalid-metadata")
    embedded = depositor.post(f"{E}/RetrievePO", json={"poId": "0" * 32, "sor": "POwithEmbeddedEvidence"})
    assert embedded.json()["result"]["min"] == "http://uri.etsi.org/19512/error/notSupported"


def test_retrieve_info_profiles(vault, depositor):
    body = depositor.post(f"{E}/RetrieveInfo", json={}).json()
    ids = [p["pid"] for p in body["pro"]]
    assert ids == sorted(f"urn:vault:etsi:119512:profile:{p}" for p in vault.policies.ids())
    [profile] = depositor.post(f"{E}/RetrieveInfo", json={"pro": PROFILE, "stat": "all"}).json()["pro"]
    policy = vault.policies.get("lre-proof")
    assert profile["psm"] == "WithStorage" and profile["pg"] == ["http://uri.etsi.org/19512/goal/pgd"]
    assert profile["ef"] == [{"fid": "urn:ietf:rfc:4998"}]  # a DSS-X Metadata Format: FormatID is "fid"
    assert profile["ext"]["vault:Retention"]["Duration"] == policy.duration.text
    assert profile["pol"] == [{"type": "http://uri.etsi.org/19512/policy/preservation-evidence",  # PolicyByRef
                               "pbref": {"polid": f"urn:vault:retention-policy:lre-proof:v{policy.version}"}}]
    assert "http://www.w3.org/2001/04/xmlenc#sha256" in profile["ext"]["vault:HashAlgorithm"]
    assert {o["name"] for o in profile["op"]} >= {"PreservePO", "RetrievePO", "ValidateEvidence"}
    assert depositor.post(f"{E}/RetrieveInfo", json={"pro": "urn:x"}).status_code == 404
    assert depositor.post(f"{E}/RetrieveInfo", json={"stat": "inactive"}).json()["pro"] == []
    assert depositor.post(f"{E}/RetrieveInfo", json={"stat": "bogus"}).status_code == 422


def test_update_poc_is_the_metadata_correction(vault, admin, depositor):
    poid = preserve(depositor)
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    done = archivist.post(f"{E}/UpdatePOC", json={"poId": poid, "optIn": {
        "vault:Changes": {"case_ref": "ETSI-2"}, "vault:Reason": "typo in the case reference"}})
    assert done.status_code == 200, done.text
    assert done.json()["versionId"] == "2"
    assert depositor.get(f"/v1/objects/{poid}").json()["case_ref"] == "ETSI-2"
    assert archivist.post(f"{E}/UpdatePOC", json={"poId": poid}).status_code == 422


def test_delete_po_is_the_four_eyes_disposal(archive):  # noqa: F811
    vault, clock, apis = archive
    poid = preserve(apis["depositor"], sender="alice@example.org", recipient="bob@example.org")
    too_soon = apis["archivist"].post(f"{E}/DeletePO", json={"poId": poid})
    assert too_soon.status_code == 409 and too_soon.json()["result"]["maj"] == REQUESTER_ERROR
    clock.advance(timedelta(days=3653))
    proposed = apis["archivist"].post(f"{E}/DeletePO", json={"poId": poid, "mod": "SubDOsAndEvidence"})
    assert proposed.status_code == 202, proposed.text
    assert proposed.json()["result"]["maj"] == PENDING
    batch_id = proposed.json()["optOut"]["vault:BatchID"]
    again = {"poId": poid, "optIn": {"vault:BatchID": batch_id}}
    same = problem(apis["archivist"].post(f"{E}/DeletePO", json=again), 403, "same-holder")
    assert same["result"]["min"].endswith(":same-holder")
    rest = problem(apis["archivist"].post(f"/v1/disposal/batches/{batch_id}/approve"), 403, "same-holder")
    assert {k: v for k, v in same.items() if k not in ("result", "instance", "request_id")} == \
        {k: v for k, v in rest.items() if k not in ("instance", "request_id")}  # one approval behind both faces
    unknown = {"poId": poid, "optIn": {"vault:BatchID": "no-such-batch"}}
    assert problem(apis["archivist2"].post(f"{E}/DeletePO", json=unknown), 404, "unknown-batch")["result"]
    stranger = apis["admin"].as_key(apis["admin"].new_key("archivist", "globex"))
    refused = stranger.post(f"{E}/DeletePO", json=again)
    assert refused.status_code == 403 and refused.json()["result"]["maj"] == REQUESTER_ERROR
    assert apis["archivist"].get(f"/v1/disposal/batches/{batch_id}").json()["status"] == "proposed"
    approved = apis["archivist2"].post(f"{E}/DeletePO", json=again)
    assert approved.status_code == 202 and approved.json()["optOut"]["vault:Batch"]["status"] == "approved"


def test_v1_validate_with_digests_and_package(vault, depositor):
    poid = preserve(depositor)
    vault.seal_scheduler.seal_all_pending()
    er = depositor.get(f"/v1/objects/{poid}/evidence-record").content
    digests = {"ev": {"binaryData": {"value": b64(er)}},
               "DigestList": {"DigestMethod": "http://www.w3.org/2001/04/xmlenc#sha256",
                              "DigestValue": [b64(hashlib.sha256(CONTENT).digest())]}}
    assert depositor.post("/v1/validate", json=digests).json()["result"]["min"] == VALID
    digests["DigestList"]["DigestValue"] = [b64(hashlib.sha256(b"other").digest())]
    assert depositor.post("/v1/validate", json=digests).json()["result"]["min"] == INVALID
    package = depositor.get(f"/v1/objects/{poid}/package")
    assert package.status_code == 200, package.text
    checked = depositor.post("/v1/validate", json={"optIn": {"vault:Package": b64(package.content)}}).json()
    assert checked["result"]["min"] == VALID, checked
    broken = bytearray(package.content)
    broken[len(broken) // 2] ^= 1
    refused = depositor.post("/v1/validate", json={"optIn": {"vault:Package": b64(bytes(broken))}}).json()
    assert refused["result"]["min"] == INVALID and refused["valRep"]["ok"] is False


def test_xml_element_names_are_accepted(vault, depositor):
    """The XML element names of the same components (and vault's earlier spelling) still work on input; the answer
    uses the JSON names."""
    answer = depositor.post(f"{E}/PreservePO", json={
        "RequestID": "xml-1", "Profile": PROFILE, "OptionalInputs": {"vault:Metadata": {"case_ref": "ETSI-X"}},
        "PO": [{"ID": "x.pdf", "Binary": {"Value": b64(CONTENT), "MimeType": "application/pdf"}}]}).json()
    assert answer["reqId"] == "xml-1" and answer["result"]["maj"] == SUCCESS
    vault.seal_scheduler.seal_all_pending()
    got = depositor.post(f"{E}/RetrievePO", json={"POID": answer["poId"], "SubjectOfRetrieval": "PO"}).json()
    assert [base64.b64decode(po["binaryData"]["value"]) for po in got["po"]] == [CONTENT]
    assert got["po"][0]["id"] == "x.pdf" and got["po"][0]["mimeType"] == "application/pdf"
    assert depositor.post(f"{E}/Search", json={"Filter": "case_ref=ETSI-X"}).json()["poId"] == [answer["poId"]]


def test_request_shaped_as_the_independent_implementation_sends_it(vault, depositor):
    """PreservePO and ValidateEvidence as UCLouvain's TS 119 512 client shapes them (``pro``, ``po[].binaryData.value``,
    ``formatId``; a DigestList PO whose value is the base64 of ``{"digAlg": OID, "digVal": [base64]}``), written
    here from clauses 5.3.3/5.3.8 and Tables 20/24, not copied. vault deposits data, not digest lists (422,
    ``unknownPOFormat``), and validates an evidence record against such a DigestList."""
    poid = depositor.post(f"{E}/PreservePO", json={
        "pro": PROFILE, "optIn": {"vault:Metadata": {"case_ref": "ETSI-U"}},
        "po": [{"binaryData": {"value": b64(CONTENT)}, "formatId": "http://uri.etsi.org/19512/format/pdf",
                "mimeType": "application/pdf"}]}).json()["poId"]
    vault.seal_scheduler.seal_all_pending()
    er = depositor.get(f"/v1/objects/{poid}/evidence-record").content

    def digest_list(data: bytes) -> dict:
        listed = {"digAlg": "2.16.840.1.101.3.4.2.1", "digVal": [b64(hashlib.sha256(data).digest())]}
        return {"binaryData": {"value": b64(json.dumps(listed).encode())},
                "formatId": "http://uri.etsi.org/19512/format/DigestList"}
    refused = depositor.post(f"{E}/PreservePO", json={"pro": PROFILE, "po": [digest_list(CONTENT)]})
    assert refused.status_code == 422
    assert refused.json()["result"]["min"] == "http://uri.etsi.org/19512/error/unknownPOFormat"
    valid = depositor.post(f"{E}/ValidateEvidence", json={
        "ev": {"binaryData": {"value": b64(er)}}, "po": [digest_list(CONTENT)]}).json()
    assert valid["result"] == {"maj": SUCCESS, "min": VALID}, valid
    other = depositor.post(f"{E}/ValidateEvidence", json={
        "ev": {"binaryData": {"value": b64(er)}}, "po": [digest_list(b"other")]}).json()
    assert other["result"]["min"] == INVALID
