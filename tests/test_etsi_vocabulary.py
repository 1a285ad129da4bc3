"""The EN 319 522 / TS 102 640 vocabulary (issue 23): every object keeps its evidence event in ETSI terms.

A case is built from the REM evidences of the shared corpus (read in place: ``../shared/vectors/signatures/
evidence/rem``): e-CODEX's submission, relay, delivery, retrieval and a rejected submission, plus a PEPPOL
delivery of another case. Nothing about the events is declared: ``etsi_event`` comes from each evidence. A PDF
declares its ERDS event (as a URI, stored by its name); a declared name outside the vocabulary is refused with a
422. Search by ``etsi_event`` finds exactly the right objects, the facet counts them, the case view shows them,
and the backfill of migration 0035 fills objects deposited before it without breaking their sealed records.
"""

from __future__ import annotations

import importlib
import shutil
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, update

from tests.conftest import ADMIN_KEY, POLICIES, SHARED_VECTORS
from tests.test_console import _sign_in
from vault.db.tables import ArchivedObject
from vault.evidence.rowaudit import row_mismatches
from vault.lre.vocabulary import ETSI_EVENTS, etsi_event_of

REM = SHARED_VECTORS / "signatures" / "evidence" / "rem"
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)  # retention (and Object Lock) dates in the future
HISTORIC = 'id = "lre-historic"\nmax_backdate = "P20Y"\n'  # the vectors' events are from 2012 to 2020
OBJECTS = ArchivedObject.__table__
ECODEX = {  # vector → the event in TS 102 640-2 terms
    "SUBMISSION_ACCEPTANCE": "SubmissionAcceptanceRejection/Acceptance",
    "RELAY_REMMD_ACCEPTANCE": "RelayREMMDAcceptanceRejection/Acceptance",
    "DELIVERY": "DeliveryNonDeliveryToRecipient/Delivery",
    "RETRIEVAL": "RetrievalNonRetrievalByRecipient/Retrieval",
    "SUBMISSION_REJECTION": "SubmissionAcceptanceRejection/Rejection",
}


def deposit_vector(api, path, case_ref: str) -> str:
    receipt = api.deposit(path.read_bytes(), filename=path.name, media_type="application/xml", case_ref=case_ref,
                          policy="lre-historic")
    assert receipt.status_code == 201, receipt.text
    return receipt.json()["id"]


@pytest.fixture
def archive(vault_at, tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    lre = (policies / "lre-proof.toml").read_text()
    (policies / "lre-historic.toml").write_text(lre.replace('id = "lre-proof"\n', HISTORIC))
    vault, clock, admin = vault_at(NOW, policies_dir=policies)
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    ids = {name: deposit_vector(depositor, REM / "ecodex-client" / f"{name}.xml", "VEC-ECODEX") for name in ECODEX}
    ids["PEPPOL"] = deposit_vector(depositor, REM / "vefa" / "sample-signed-rem.xml", "VEC-PEPPOL")
    declared = depositor.deposit(b"%PDF-1.7 accepted", case_ref="VEC-ECODEX", event_type="receipt",
                                 etsi_event="http://uri.etsi.org/19522/Event/ConsignmentAcceptance")
    plain = depositor.deposit(b"%PDF-1.7 letter", case_ref="VEC-ECODEX")
    assert declared.status_code == plain.status_code == 201, declared.text
    ids["DECLARED"], ids["PLAIN"] = declared.json()["id"], plain.json()["id"]
    yield vault, depositor, ids


def found(api, **params) -> list[str]:
    answer = api.get("/v1/objects", params={"limit": 100, **params})
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def test_each_vector_keeps_its_etsi_event_and_search_finds_exactly_it(archive):
    _vault, api, ids = archive
    for name, event in ECODEX.items():
        view = api.get(f"/v1/objects/{ids[name]}").json()
        assert (view["etsi_event"], view["extracted"]["etsi_event"]) == (
            event, f"rem evidence {event.split('/')[0]}/EventCode")
        assert found(api, etsi_event=event) == [ids[name]]
    assert api.get(f"/v1/objects/{ids['SUBMISSION_REJECTION']}").json()["event_type"] == "other"  # LRE type beside it
    peppol = "DeliveryNonDeliveryToRecipient/Acceptance"
    assert api.get(f"/v1/objects/{ids['PEPPOL']}").json()["etsi_event"] == peppol
    assert found(api, etsi_event="deliverynondeliverytorecipient/DELIVERY") == [ids["DELIVERY"]]  # case ignored
    declared = api.get(f"/v1/objects/{ids['DECLARED']}").json()
    assert declared["etsi_event"] == "ConsignmentAcceptance" and "etsi_event" not in declared["extracted"]
    assert found(api, etsi_event="ConsignmentAcceptance") == [ids["DECLARED"]]
    assert found(api, etsi_event="none") == [ids["PLAIN"]]
    assert found(api, etsi_event="SubmissionAcceptanceRejection/Acceptance", case_ref="VEC-PEPPOL") == []

    counts = api.get("/v1/objects/count", params={"facets": "etsi_event"}).json()
    assert counts["count"] == 8
    assert counts["facets"]["etsi_event"] == {**{event: 1 for event in ECODEX.values()}, peppol: 1,
                                              "ConsignmentAcceptance": 1, "none": 1}


def test_the_case_view_and_the_console_show_each_events_etsi_name(archive):
    _vault, api, ids = archive
    case = api.get("/v1/cases/VEC-ECODEX").json()
    shown = {event["id"]: event["etsi_event"] for event in case["events"]}
    assert shown == {**{ids[name]: event for name, event in ECODEX.items()},
                     ids["DECLARED"]: "ConsignmentAcceptance", ids["PLAIN"]: None}

    admin = api.as_key(ADMIN_KEY)
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    assert _sign_in(api.client, archivist.key).status_code == 303
    page = api.client.get("/ui/cases/VEC-ECODEX")
    assert page.status_code == 200
    assert page.text.count("<dt>ETSI event</dt>") == 6  # the plain PDF has none
    for event in (*ECODEX.values(), "ConsignmentAcceptance"):
        assert f"<code>{event}</code>" in page.text


def test_a_name_outside_the_vocabulary_is_refused(archive):
    _vault, api, _ids = archive
    refused = api.deposit(b"%PDF-1.7 x", case_ref="VEC-BAD", etsi_event="Delivered")
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "etsi_event" in refused.text and "EN 319 522-1" in refused.text
    bad_filter = api.get("/v1/objects", params={"etsi_event": "SubmissionAcceptanceRejection/Retrieval"})
    assert bad_filter.status_code == 422 and "TS 102 640-2" in bad_filter.json()["detail"]
    assert "ContentConsignmentFailure" in bad_filter.json()["known"]


def test_the_backfill_fills_objects_deposited_before_it_and_the_record_check_still_passes(archive, monkeypatch):
    vault, api, ids = archive
    # a deposit as before migration 0035: no etsi_event in its row nor in its sealed record
    monkeypatch.setattr("vault.deposit.content.etsi_event_of", lambda _name: None)
    old = deposit_vector(api, REM / "ecodex-client" / "DELIVERY.xml", "VEC-OLD")
    assert api.get(f"/v1/objects/{old}").json()["etsi_event"] is None
    vault.writer.run(lambda c: c.execute(update(OBJECTS).where(OBJECTS.c.id == ids["RETRIEVAL"])
                                         .values(etsi_event=None)))

    migration = importlib.import_module("vault.db.migrations.versions.0035_etsi_event")
    vault.writer.run(migration._backfill)
    assert found(api, etsi_event="DeliveryNonDeliveryToRecipient/Delivery", case_ref="VEC-OLD") == [old]
    assert api.get(f"/v1/objects/{ids['RETRIEVAL']}").json()["etsi_event"] == ECODEX["RETRIEVAL"]

    def mismatches(object_id: str) -> list[str]:
        with vault.reader.connect() as c:
            row = dict(c.execute(select(OBJECTS).where(OBJECTS.c.id == object_id)).mappings().one())
            return [m.field for m in row_mismatches(c, row, vault.policies)]

    assert mismatches(old) == [] and mismatches(ids["RETRIEVAL"]) == []
    for object_id in (ids["DELIVERY"], ids["DECLARED"]):  # their records state it: an edit is named
        vault.writer.run(lambda c, i=object_id: c.execute(update(OBJECTS).where(OBJECTS.c.id == i)
                                                          .values(etsi_event="ConsignmentRejection")))
        assert mismatches(object_id) == ["etsi_event"]


@pytest.mark.parametrize("name, canonical", [
    ("SubmissionAcceptance", "SubmissionAcceptance"),
    ("http://uri.etsi.org/19522/Event/ContentConsignmentFailure", "ContentConsignmentFailure"),
    ("acceptance-rejection-expiry", "AcceptanceRejectionExpiry"),
    ("RecipientRejection", "ConsignmentRejection"), ("NonAcceptance", "AcceptanceRejectionExpiry"),
    ("SubmissionAcceptanceRejection/http:uri.etsi.org/02640/Event#Rejection",
     "SubmissionAcceptanceRejection/Rejection"),
    ("RelayREMMDFailure", "RelayREMMDFailure"),
    ("DeliveryNonDeliveryToRecipient", None),  # a paired type without its code says nothing
    ("deposit", None), ("Dépôt", None), ("", None), (None, None), ("x" * 1000, None),
])
def test_names_are_read_into_the_vocabulary(name, canonical):
    assert etsi_event_of(name) == canonical
    assert canonical is None or canonical in ETSI_EVENTS


def test_the_package_verifier_checks_etsi_event_only_where_the_record_states_it():
    from vault_verify.recordcheck import _view_differs

    record = {"version": 1, "kind": "lre-evidence", "etsi_event": "ConsignmentAcceptance"}
    assert _view_differs(record, {"kind": "lre-evidence", "etsi_event": "ConsignmentAcceptance"}, {}) == []
    assert _view_differs(record, {"kind": "lre-evidence", "etsi_event": "ConsignmentRejection"}, {}) == [
        "etsi_event: metadata.json says 'ConsignmentRejection', the record 'ConsignmentAcceptance'"]
    backfilled = {"version": 1, "kind": "lre-evidence"}  # deposited before migration 0035
    assert _view_differs(backfilled, {"kind": "lre-evidence", "etsi_event": "ConsignmentAcceptance"}, {}) == []
