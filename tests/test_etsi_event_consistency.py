"""``event_type`` and ``etsi_event`` must agree (issue 23, docs/lre.md "Consistency"): a deposit, a bulk deposit or a
correction whose LRE type contradicts its ETSI event (each declared or read from the evidence) is refused with a
422 naming both fields; ``other`` places nothing and agrees with every ETSI event. ``etsi_event`` is correctable
like the other record fields, and the case report (JSON and PDF) shows it beside the LRE type."""

from __future__ import annotations

import csv
import json

import pytest

from tests.test_etsi_vocabulary import REM, archive, deposit_vector, found  # noqa: F401 (archive is a fixture)
from tests.test_receipts import cli_against  # noqa: F401 (a fixture)
from vault.evidence.metadata_store import RECORDS, record_bytes
from vault.lre.vocabulary import ETSI_EVENTS, event_conflict, lre_event_types

RETRIEVAL = REM / "ecodex-client" / "RETRIEVAL.xml"  # RetrievalNonRetrievalByRecipient/Retrieval: a receipt


def _problem(response, *fields: str) -> dict:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith(("invalid-metadata", "invalid-correction"))
    assert [e["field"] for e in body["errors"]] == list(fields or ("event_type", "etsi_event"))
    return body


def test_the_mapping_is_the_parsers_own():
    assert lre_event_types("ConsignmentAcceptance") == {"receipt"}
    assert lre_event_types("ConsignmentRejection") == {"refusal"}
    assert lre_event_types("ContentHandoverFailure") == {"negligence", "other"}  # by its reasons
    assert lre_event_types("SubmissionRejection") == {"other"}
    assert lre_event_types("AcceptanceRejectionByRecipient/Rejection") == {"refusal"}
    assert lre_event_types("DeliveryNonDeliveryToRecipient/DeliveryExpiration") == {"negligence"}
    assert lre_event_types("RelayToNonREMSystem") == {"sending"}
    assert all(lre_event_types(name) for name in ETSI_EVENTS)
    assert event_conflict("refusal", "ConsignmentAcceptance").startswith(
        "event_type 'refusal' contradicts etsi_event 'ConsignmentAcceptance', which is an LRE 'receipt' event")
    assert event_conflict("other", "ConsignmentAcceptance") is None  # places nothing
    assert event_conflict("receipt", None) is None
    assert event_conflict("consent", "SubmissionAcceptance") is not None
    assert event_conflict("refusal", "SubmissionRejection") is not None  # the service refused, not the recipient


def test_a_declared_contradiction_is_refused(vault, admin):
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    body = _problem(depositor.deposit(b"%PDF-1.7 x", case_ref="CONS-1", event_type="refusal",
                                      etsi_event="ConsignmentAcceptance"))
    assert "event_type 'refusal' contradicts etsi_event 'ConsignmentAcceptance'" in body["detail"]
    assert found(depositor, case_ref="CONS-1") == []
    for event_type, etsi_event in (("refusal", "ConsignmentRejection"), ("negligence", "ContentHandoverFailure"),
                                   ("other", "ContentHandoverFailure"), ("other", "ConsignmentAcceptance"),
                                   ("sending", "DeliveryNonDeliveryToRecipient/Acceptance")):
        made = depositor.deposit(b"%PDF-1.7 x", case_ref="CONS-1", event_type=event_type, etsi_event=etsi_event)
        assert made.status_code == 201, made.text
    undeclared = depositor.deposit(b"%PDF-1.7 x", case_ref="CONS-1", etsi_event="ConsignmentRejection")
    assert undeclared.status_code == 201, undeclared.text  # the default "other" states nothing
    assert depositor.get(f"/v1/objects/{undeclared.json()['id']}").json()["event_type"] == "other"


def test_an_etsi_event_read_from_the_evidence_is_held_to_the_same_rule(archive):  # noqa: F811
    _vault, api, _ids = archive
    body = _problem(api.deposit(RETRIEVAL.read_bytes(), filename="r.xml", media_type="application/xml",
                                case_ref="CONS-REM", policy="lre-historic", event_type="refusal"))
    assert "etsi_event 'RetrievalNonRetrievalByRecipient/Retrieval'" in body["detail"]
    assert "etsi_event was read from the content" in body["detail"]
    body = _problem(api.deposit(RETRIEVAL.read_bytes(), filename="r.xml", media_type="application/xml",
                                case_ref="CONS-REM", policy="lre-historic", etsi_event="ConsignmentRejection"))
    assert "event_type was read from the content" in body["detail"]
    assert found(api, case_ref="CONS-REM") == []
    agreed = api.deposit(RETRIEVAL.read_bytes(), filename="r.xml", media_type="application/xml",
                         case_ref="CONS-REM", policy="lre-historic", event_type="receipt",
                         etsi_event="ConsignmentAcceptance")  # declared wins, and agrees
    assert agreed.status_code == 201, agreed.text
    assert deposit_vector(api, RETRIEVAL, "CONS-REM")  # nothing declared: both read, and they agree


def test_a_bulk_deposit_refuses_the_contradicting_row(vault, admin, tmp_path, cli_against):  # noqa: F811
    key = admin.new_key("depositor", "acme")
    depositor = admin.as_key(key)
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.7 a")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.7 b")
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["file", "case_ref", "policy", "event_type", "etsi_event"])
        rows.writerow(["a.pdf", "CONS-BULK", "lre-proof", "receipt", "ConsignmentAcceptance"])
        rows.writerow(["b.pdf", "CONS-BULK", "lre-proof", "refusal", "ConsignmentAcceptance"])
    assert cli_against("deposit-batch", str(tmp_path), "--manifest", str(manifest), "--concurrency", "1",
                       key=key) == 1
    report = list(csv.DictReader((tmp_path / "manifest.report.csv").open()))
    outcomes = {row["file"]: row for row in report}
    assert outcomes["a.pdf"]["outcome"] == "stored"
    assert outcomes["b.pdf"]["outcome"] == "refused"
    assert "contradicts etsi_event 'ConsignmentAcceptance'" in outcomes["b.pdf"]["reason"]
    assert len(found(depositor, case_ref="CONS-BULK")) == 1


def test_etsi_event_is_corrected_as_a_new_version_and_search_follows(vault, admin):
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    made = depositor.deposit(b"%PDF-1.7 refused", case_ref="CONS-FIX", event_type="refusal",
                             etsi_event="ConsignmentRejection")
    assert made.status_code == 201, made.text
    oid, url = made.json()["id"], f"/v1/objects/{made.json()['id']}/corrections"

    # refused, nothing changed: against the kept event_type, against a corrected one, outside the vocabulary
    _problem(archivist.post(url, json={"changes": {"etsi_event": "ConsignmentAcceptance"}, "reason": "r"}))
    _problem(archivist.post(url, json={"changes": {"event_type": "receipt"}, "reason": "r"}))
    _problem(archivist.post(url, json={"changes": {"event_type": "negligence", "etsi_event": "ContentHandover"},
                                       "reason": "r"}))
    _problem(archivist.post(url, json={"changes": {"etsi_event": "Delivered"}, "reason": "r"}), "etsi_event")
    assert found(archivist, etsi_event="ConsignmentRejection") == [oid]

    done = archivist.post(url, json={"changes": {"event_type": "receipt", "etsi_event": "consignmentAcceptance"},
                                     "reason": "the recipient accepted: the refusal was keyed by mistake"})
    assert done.status_code == 201, done.text
    view = archivist.get(f"/v1/objects/{oid}").json()
    assert (view["event_type"], view["etsi_event"]) == ("receipt", "ConsignmentAcceptance")  # canonical name
    with vault.reader.connect() as c:
        record = record_bytes(c, oid, done.json()["version"])
        assert c.execute(RECORDS.select().where(RECORDS.c.object_id == oid)).all()[-1].version == 2
    assert b'"etsi_event":"ConsignmentAcceptance"' in record and b'"event_type":"receipt"' in record
    assert found(archivist, etsi_event="ConsignmentAcceptance") == [oid]
    assert found(archivist, etsi_event="ConsignmentRejection") == []

    removed = archivist.post(url, json={"changes": {"etsi_event": None}, "reason": "not an ETSI evidence"})
    assert removed.status_code == 201, removed.text
    assert found(archivist, etsi_event="none", case_ref="CONS-FIX") == [oid]
    latest = json.loads(_latest(vault, oid))
    assert "etsi_event" not in latest and latest["correction"]["fields"] == ["etsi_event"]


def _latest(vault, oid: str) -> bytes:
    with vault.reader.connect() as c:
        versions = sorted(r.version for r in c.execute(RECORDS.select().where(RECORDS.c.object_id == oid)))
        return record_bytes(c, oid, versions[-1])


@pytest.mark.parametrize("fmt", ["json", "pdf"])
def test_the_case_report_shows_the_etsi_event_beside_the_lre_type(vault, admin, fmt):
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    for event_type, etsi_event in (("deposit", "SubmissionAcceptance"), ("refusal", "ConsignmentRejection"),
                                   ("sending", None)):
        made = depositor.deposit(f"%PDF-1.7 {event_type}".encode(), case_ref="CONS-REP", event_type=event_type,
                                 **({"etsi_event": etsi_event} if etsi_event else {}))
        assert made.status_code == 201, made.text
    vault.seal_scheduler.seal_all_pending()
    answer = depositor.get("/v1/cases/CONS-REP/report", params={"format": fmt})
    assert answer.status_code == 200, answer.text
    if fmt == "json":
        events = {e["event_type"]: e["etsi_event"] for e in answer.json()["case"]["events"]}
        assert events == {"deposit": "SubmissionAcceptance", "refusal": "ConsignmentRejection", "sending": None}
    else:
        assert b"deposit / SubmissionAcceptance" in answer.content
        assert b"refusal / ConsignmentRejection" in answer.content
        assert b"sending  " in answer.content and b"sending /" not in answer.content
