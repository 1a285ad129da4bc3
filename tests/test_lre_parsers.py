"""LRE evidence parsers (REM, ERDS, JSON event logs): business fields with their source; odd input never fails.

REM evidences are read in place from the shared corpus (``../shared/vectors/signatures/evidence/rem``);
ERDS evidences are our own synthetic vectors (``tests/vectors/erds``, see its README): no public sample exists.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from tests.conftest import SHARED_VECTORS
from vault.lre.eml import Extracted, eml_fields
from vault.lre.erds import erds_fields
from vault.lre.events import EVENT_TYPES, erds_event_type, event_type_for, rem_event_type
from vault.lre.eventlog import eventlog_fields
from vault.lre.rem import rem_fields
from vault.lre.xml import parse_evidence_xml

REM_DIR = SHARED_VECTORS / "signatures" / "evidence" / "rem"
ERDS_DIR = Path(__file__).resolve().parent / "vectors" / "erds"
REM_NS = "http://uri.etsi.org/02640/v2#"
ERDS_NS = "http://uri.etsi.org/19522/v1#"

needs_corpus = pytest.mark.skipif(not REM_DIR.is_dir(), reason="shared REM corpus not mounted")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def values(found: dict[str, Extracted]) -> dict[str, object]:
    return {key: extracted.value for key, extracted in found.items()}


# --- REM corpus -----------------------------------------------------------------------------------------

# file: (event_type, evidence_event, EventTime as written, EvidenceIdentifier, message id or None)
REM_EXPECTED = {
    "ecodex-client/SUBMISSION_ACCEPTANCE.xml": (
        "deposit", "SubmissionAcceptanceRejection/Acceptance", "2015-09-08T09:35:52.833+02:00",
        "6893a7d4-af1a-44d0-839a-bbbe11e11ae5", "20150908093547709_domibus3AT"),
    "ecodex-client/SUBMISSION_REJECTION.xml": (
        "other", "SubmissionAcceptanceRejection/Rejection", "2015-11-18T13:34:20.802+01:00",
        "b62627b2-652a-4b82-b6c4-7bc593f839a4", "20151118013415436_domibus3AT"),
    "ecodex-client/RELAY_REMMD_ACCEPTANCE.xml": (
        "sending", "RelayREMMDAcceptanceRejection/Acceptance", "2015-09-08T09:36:56.385+02:00",
        "f2dff81e-308a-4859-becf-04cb2f85bf76", "20150908093547709_domibus3AT"),
    "ecodex-client/DELIVERY.xml": (
        "sending", "DeliveryNonDeliveryToRecipient/Delivery", "2015-09-08T09:37:45.608+02:00",
        "6a9c8b51-b567-447a-aca4-0482f16eca1b", "20150908093547709_domibus3AT"),
    "ecodex-client/RETRIEVAL.xml": (
        "receipt", "RetrievalNonRetrievalByRecipient/Retrieval", "2015-09-08T09:37:46.105+02:00",
        "1da531ce-dc22-4af5-bf04-f593efc45874", "20150908093547709_domibus3AT"),
    "ecodex-client/incoming-SUBMISSION_ACCEPTANCE.xml": (
        "deposit", "SubmissionAcceptanceRejection/Acceptance", "2015-08-18T11:17:28.438+02:00",
        "aaccdd21-6d95-42de-a7d3-083a9b527fa9", "20150818111723181_domibus3AT"),
    "ecodex-connector/msg1-SUBMISSION_ACCEPTANCE.xml": (
        "deposit", "SubmissionAcceptanceRejection/Acceptance", "2017-11-21T14:10:21.272+01:00",
        "95889734-0986-4236-9f1f-9df7cd7407cb", "20171121021011371_domibus-red"),
    "ecodex-connector/msg2-SUBMISSION_ACCEPTANCE.xml": (
        "deposit", "SubmissionAcceptanceRejection/Acceptance", "2020-04-06T21:57:40.414+02:00",
        "5bf19474-7ee3-4c18-a865-e435b8c7d3fc", "n1"),
    "ecodex-connector/signatureTestbysourceInfochange.xml": (
        "other", "SubmissionAcceptanceRejection/Rejection", "2012-11-19T09:12:36.552+01:00",
        "27beb012-f4ef-4f51-9f35-0a7ae784fc58", "testEbms3MsgId"),
    "ecodex-connector/ConvertIntoEvidenceTypetestFileA.xml": (
        "deposit", "SubmissionAcceptanceRejection/Acceptance", "2012-11-08T13:39:18.421+01:00",
        "8617418c-06b1-45ea-a961-c902a634a52f", "messageID"),
    "vefa/sample-rem.xml": (
        "sending", "DeliveryNonDeliveryToRecipient/Delivery", "2013-04-24T13:33:15.495+02:00",
        "524bc692-a62f-4eca-9d59-be5fb43b493e", "egvp_hb_13668033503192911513881093559397"),
    "vefa/sample-signed-formatted-rem.xml": (
        "sending", "DeliveryNonDeliveryToRecipient/Acceptance", "2015-12-01T15:32:00.728+01:00",
        "2f5d87ca-cb3f-4eec-8b39-d70a902a3f22", "03c940dd-4db8-45e5-980c-45e142a40b7f"),
    "vefa/sample-signed-rem.xml": (
        "sending", "DeliveryNonDeliveryToRecipient/Acceptance", "2015-11-07T21:41:15.201+01:00",
        "8f381623-9e46-4932-a7ec-fd0d0e1b52f5", "ca59516a-eff0-448f-81d1-245a7d04d190"),
    "vefa/evidence_incomingSBD.xml": (
        "sending", "DeliveryNonDeliveryToRecipient/Delivery", "2016-01-12T17:35:44.437+02:00",
        "f7a0ab5f-f5b9-4362-b165-77c773823c8f", "e275dd1d-f636-4c46-a4f4-489f162e334f"),
}


@needs_corpus
def test_the_table_covers_the_whole_corpus():
    on_disk = {p.relative_to(REM_DIR).as_posix() for p in REM_DIR.rglob("*") if p.is_file()}
    assert on_disk == set(REM_EXPECTED) | {"vefa/test-version-1.xml", "vefa/as2-mdn-smime.txt"}


@needs_corpus
@pytest.mark.parametrize("name", sorted(REM_EXPECTED))
def test_rem_corpus_file(name):
    event_type, evidence_event, event_time, evidence_id, message_id = REM_EXPECTED[name]
    found = rem_fields((REM_DIR / name).read_bytes())
    assert found["event_type"].value == event_type
    assert found["evidence_event"].value == evidence_event
    assert found["event_time"].value == utc(event_time) and found["event_time"].value.tzinfo == timezone.utc
    assert found["evidence_id"].value == evidence_id
    assert found.get("message_id", Extracted(None, "")).value == message_id
    assert found["sender"].value and found["recipient"].value
    assert all(extracted.source.startswith("rem evidence ") for extracted in found.values())
    assert "case_ref" not in found  # REM carries no explicit reference field


@needs_corpus
def test_ecodex_submission_acceptance_in_detail():
    found = rem_fields((REM_DIR / "ecodex-client/SUBMISSION_ACCEPTANCE.xml").read_bytes())  # REM under ns3:
    assert found["event_type"] == Extracted("deposit", "rem evidence SubmissionAcceptanceRejection/EventCode")
    assert found["event_time"].value == datetime(2015, 9, 8, 7, 35, 52, 833000, tzinfo=timezone.utc)
    assert found["message_id"] == Extracted("20150908093547709_domibus3AT",
                                            "rem evidence SenderMessageDetails/UAMessageIdentifier")
    assert found["sender"] == Extracted("domibus3AT", "rem evidence SenderDetails/AttributedElectronicAddress")
    assert found["recipient"].value == "domibus3DE"
    assert found["recipient"].source == "rem evidence RecipientsDetails/EntityDetails/AttributedElectronicAddress"
    # MD5 "MfuaYp6WQMRyPL0QGtr9Mg==" from SenderMessageDetails, not the signature's SHA-1 references
    assert found["digests"].value == [{"algorithm": "md5", "value": "31fb9a629e9640c4723cbd101adafd32"}]


@needs_corpus
def test_remmd_identifier_is_preferred_to_the_user_agent_one():
    found = rem_fields((REM_DIR / "ecodex-connector/signatureTestbysourceInfochange.xml").read_bytes())
    assert found["message_id"] == Extracted("testEbms3MsgId",
                                            "rem evidence SenderMessageDetails/MessageIdentifierByREMMD")
    assert "digests" not in found  # "Cgo=" is 2 bytes: not a SHA-1


@needs_corpus
def test_rejection_is_not_a_deposit():
    found = rem_fields((REM_DIR / "ecodex-client/SUBMISSION_REJECTION.xml").read_bytes())
    assert found["event_type"].value != "deposit"
    assert found["event_type"].value == "other"  # rejected by the service, not refused by the recipient


@needs_corpus
def test_v1_namespace_and_peppol_fields():
    found = values(rem_fields((REM_DIR / "vefa/evidence_incomingSBD.xml").read_bytes()))
    assert found["sender"] == "0000:testSender" and found["recipient"] == "0000:testReceiver"
    assert found["subject"] == "urn:oasis:names:specification:ubl:schema:xsd:Tender::Tender"
    assert found["digests"] == [{"algorithm": "sha256",  # xmlenc#sha256 URI, base64 value → hex
                                 "value": "8c4c1de5c815ae5d27b698f075843b583e440cd491662242311a4c7358536b17"}]


@needs_corpus
def test_whitespace_mojibake_and_odd_files():
    hand_edited = values(rem_fields((REM_DIR / "ecodex-connector/ConvertIntoEvidenceTypetestFileA.xml").read_bytes()))
    assert hand_edited["sender"] == hand_edited["recipient"] == "stefan.mueller@it.nrw.de"
    mojibake = values(rem_fields((REM_DIR / "ecodex-connector/msg2-SUBMISSION_ACCEPTANCE.xml").read_bytes()))
    assert mojibake["sender"] == "original" and mojibake["digests"][0]["algorithm"] == "sha256"  # "SHA-256"
    assert "digests" not in rem_fields((REM_DIR / "vefa/sample-signed-rem.xml").read_bytes())  # 19-byte "SHA-256"
    empty = values(rem_fields((REM_DIR / "vefa/test-version-1.xml").read_bytes()))
    assert empty == {"event_type": "other", "evidence_event": "DeliveryNonDeliveryToRecipient"}
    assert rem_fields((REM_DIR / "vefa/as2-mdn-smime.txt").read_bytes()) == {}


@needs_corpus
def test_formats_are_not_confused():
    for path in REM_DIR.rglob("*.xml"):
        assert erds_fields(path.read_bytes()) == {}, path
    for path in ERDS_DIR.glob("*.xml"):
        assert rem_fields(path.read_bytes()) == {}, path
        assert eventlog_fields(path.read_bytes()) == {}


def rem(root: str, code: str | None, time_text: str = "2024-01-02T03:04:05Z", prefix: str = "") -> bytes:
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{REM_NS}"' if prefix else f'xmlns="{REM_NS}"'
    code_element = f"<{p}EventCode>{code}</{p}EventCode>" if code is not None else ""
    return (f'<{p}{root} {xmlns} version="2.1.1">{code_element}'
            f"<{p}EvidenceIdentifier>ev-1</{p}EvidenceIdentifier><{p}EventTime>{time_text}</{p}EventTime>"
            f"<{p}SenderDetails><{p}AttributedElectronicAddress>mailto:a@example.fr</{p}AttributedElectronicAddress>"
            f"</{p}SenderDetails><{p}RecipientsDetails>"
            f"<{p}EntityDetails><{p}AttributedElectronicAddress>b@example.fr</{p}AttributedElectronicAddress>"
            f"</{p}EntityDetails><{p}EntityDetails><{p}AttributedElectronicAddress>c@example.fr"
            f"</{p}AttributedElectronicAddress></{p}EntityDetails></{p}RecipientsDetails>"
            f"<{p}SenderMessageDetails><{p}MessageSubject>Objet</{p}MessageSubject>"
            f"<{p}MessageIdentifierByREMMD>m-1</{p}MessageIdentifierByREMMD></{p}SenderMessageDetails>"
            f"</{p}{root}>").encode()


@pytest.mark.parametrize("root, code, expected", [
    ("SubmissionAcceptanceRejection", "http://uri.etsi.org/REM/Event#Acceptance", "deposit"),
    ("SubmissionAcceptanceRejection", "Rejection", "other"),
    ("RelayREMMDAcceptanceRejection", "http:uri.etsi.org/02640/Event#Acceptance", "sending"),
    ("RelayREMMDFailure", "http:uri.etsi.org/02640/Event#DeliveryExpiration", "other"),
    ("DeliveryNonDeliveryToRecipient", "Delivery", "sending"),
    ("DeliveryNonDeliveryToRecipient", "http:uri.etsi.org/02640/Event#NonDelivery", "other"),
    ("DeliveryNonDeliveryToRecipient", "http:uri.etsi.org/02640/Event#DeliveryExpiration", "negligence"),
    ("RetrievalNonRetrievalByRecipient", "http://uri.etsi.org/REM/Event#Retrieval", "receipt"),
    ("RetrievalNonRetrievalByRecipient", "http:uri.etsi.org/02640/Event#RetrievalExpiration", "negligence"),
    ("RetrievalNonRetrievalByRecipient", "NonRetrieval", "negligence"),
    ("DownloadNonDownloadByRecipient", "Download", "receipt"),
    ("AcceptanceRejectionByRecipient", "http:uri.etsi.org/02640/Event#Acceptance", "receipt"),
    ("AcceptanceRejectionByRecipient", "http://uri.etsi.org/REM/Event#Rejection", "refusal"),
    ("AcceptanceRejectionByRecipient", "AcceptanceExpiration", "negligence"),
    ("RelayToNonREMSystem", None, "sending"),
    ("SubmissionAcceptanceRejection", None, "other"),
])
def test_rem_event_mapping(root, code, expected):
    assert rem_event_type(root, code) == expected
    found = values(rem_fields(rem(root, code, prefix="rem")))
    assert found["event_type"] == expected
    assert found["evidence_event"] == (root if code is None else f"{root}/{code.rsplit('#', 1)[-1]}")


def test_rem_synthetic_fields():
    found = rem_fields(rem("AcceptanceRejectionByRecipient", "Acceptance"))
    assert values(found) == {
        "event_type": "receipt", "evidence_event": "AcceptanceRejectionByRecipient/Acceptance",
        "event_time": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "evidence_id": "ev-1",
        "sender": "a@example.fr", "recipient": "b@example.fr, c@example.fr", "message_id": "m-1",
        "subject": "Objet"}


def test_rem_time_without_zone_is_left_out():
    assert "event_time" not in rem_fields(rem("SubmissionAcceptanceRejection", "Acceptance", "2024-01-02T03:04:05"))
    assert "event_time" not in rem_fields(rem("SubmissionAcceptanceRejection", "Acceptance", "yesterday"))


def test_rem_wrapped_in_an_envelope():
    inner = rem("SubmissionAcceptanceRejection", "Acceptance").decode()
    soap = f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>{inner}</s:Body></s:Envelope>'
    assert rem_fields(soap.encode())["event_type"].value == "deposit"


# --- ERDS vectors ---------------------------------------------------------------------------------------

def sha(algorithm: str, data: bytes) -> dict[str, str]:
    return {"algorithm": algorithm, "value": hashlib.new(algorithm, data).hexdigest()}


BODY = b"Bonjour,\nVeuillez trouver ci-joint la mise en demeure.\n"
PDF = b"%PDF-1.7 mise-en-demeure-2025-117\n"

ERDS_EXPECTED = {
    "submission-acceptance.xml": {
        "event_type": "deposit", "evidence_event": "SubmissionAcceptance",
        "event_time": datetime(2025, 3, 14, 8, 26, 53, 589000, tzinfo=timezone.utc),
        "evidence_id": "urn:uuid:3f2b7c1e-5a4d-4e8b-9c6f-0d1e2f3a4b5c",
        "sender": "alice.martin@example.fr", "recipient": "bob.durand@example.net",
        "message_id": "msg-2025-03-14-0001@erds.example.fr", "subject": "Mise en demeure — dossier 2025-117",
        "digests": [sha("sha256", BODY), sha("sha256", PDF), sha("sha512", PDF)]},
    "submission-rejection.xml": {
        "event_type": "other", "evidence_event": "SubmissionRejection",
        "event_time": datetime(2025, 4, 2, 16, 5, 11, tzinfo=timezone.utc),
        "evidence_id": "b1c7a0d2-9e43-4f57-8a11-6c2d4e5f7a80",
        "sender": "AE:PL-12345-67890-ABCDE-21", "recipient": "AE:PL-54321-09876-EDCBA-12",
        "message_id": "f0e1d2c3-b4a5-4968-8776-a5b4c3d2e1f0"},
    "content-handover.xml": {
        "event_type": "receipt", "evidence_event": "ContentHandover",
        "event_time": datetime(2025, 3, 16, 17, 2, 7, 500000, tzinfo=timezone.utc),
        "evidence_id": "7d8e9f00-1a2b-4c3d-8e4f-5a6b7c8d9e0f",
        "sender": "alice.martin@example.fr", "recipient": "bob.durand@example.net, AE:BE-0123456789",
        "message_id": "msg-2025-03-14-0001@erds.example.fr",
        "digests": [sha("sha256", b"contrat-2025-0042.pdf")]},
    "consignment-rejection.xml": {
        "event_type": "refusal", "evidence_event": "ConsignmentRejection",
        "event_time": datetime(2025, 5, 20, 11, 45, tzinfo=timezone.utc),
        "evidence_id": "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
        "sender": "huissier@etude-example.fr", "recipient": "claire.petit@example.org",
        "message_id": "LRE-2025-05-0007", "digests": [sha("sha384", b"relance-2025-0042.pdf")]},
    "acceptance-rejection-expiry.xml": {
        "event_type": "negligence", "evidence_event": "AcceptanceRejectionExpiry",
        "event_time": datetime(2025, 3, 30, tzinfo=timezone.utc),
        "evidence_id": "e5f6a7b8-c9d0-4e1f-a2b3-c4d5e6f7a8b9",
        "sender": "alice.martin@example.fr", "recipient": "bob.durand@example.net",
        "message_id": "msg-2025-03-14-0002@erds.example.fr"},
    "content-handover-failure-expiry.xml": {
        "event_type": "negligence", "evidence_event": "ContentHandoverFailure",
        "event_time": datetime(2025, 3, 29, 22, 59, 59, tzinfo=timezone.utc),
        "evidence_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "sender": "alice.martin@example.fr", "recipient": "bob.durand@example.net",
        "message_id": "msg-2025-03-14-0003@erds.example.fr"},
}


def test_erds_vectors_are_all_listed():
    assert {p.name for p in ERDS_DIR.glob("*.xml")} == set(ERDS_EXPECTED)


@pytest.mark.parametrize("name", sorted(ERDS_EXPECTED))
def test_erds_vector(name):
    found = erds_fields((ERDS_DIR / name).read_bytes())
    assert values(found) == ERDS_EXPECTED[name]
    assert all(extracted.source.startswith("erds evidence ") for extracted in found.values())


def test_erds_sources():
    found = erds_fields((ERDS_DIR / "submission-acceptance.xml").read_bytes())
    assert found["event_type"].source == "erds evidence ERDSEventId"
    assert found["sender"].source == "erds evidence SenderDetails/Identity/Attribute[mail]"
    assert found["recipient"].source == "erds evidence RecipientDetails/ElectronicAddress"
    assert found["digests"].source == "erds evidence UserContentInfo DigestMethod+DigestValue"
    handover = erds_fields((ERDS_DIR / "content-handover.xml").read_bytes())
    assert handover["message_id"].source == "erds evidence UserContentInfo/MessageIdentifier"


def erds(event_xml: str, ns: str = ERDS_NS, root: str = "Evidence") -> bytes:
    return (f'<{root} xmlns="{ns}"><EvidenceIdentifier>e-1</EvidenceIdentifier>{event_xml}'
            f"<EventTime>2025-01-01T12:00:00+00:00</EventTime>"
            f"<SenderDetails><Identifier>AE:FR-1</Identifier></SenderDetails></{root}>").encode()


@pytest.mark.parametrize("document, expected", [
    (erds("<ERDSEventId>http://uri.etsi.org/19522/Event/RelayAcceptance</ERDSEventId>"), "sending"),
    (erds("<ERDSEventId>ContentConsignment</ERDSEventId>"), "sending"),
    (erds("<EventType><Event>http://uri.etsi.org/19522/v1#/Event/ContentHandover</Event></EventType>"), "receipt"),
    (erds("<Event>Expiry</Event>"), "negligence"),
    (erds("<EventCode>NonAcceptance</EventCode>"), "negligence"),
    (erds("<ERDSEventId>Refusal</ERDSEventId>"), "refusal"),
    (erds("<ERDSEventId>ContentHandoverFailure</ERDSEventId>"), "other"),  # no reason given: not an expiry
    (erds("<ERDSEventId>RelayFailure</ERDSEventId>"), "other"),
    (erds("<ERDSEventId>SomethingNew</ERDSEventId>"), "other"),
    (erds("<ERDSEventId>SubmissionAcceptance</ERDSEventId>", ns="http://uri.etsi.org/19522/v1.3.1#"), "deposit"),
    (erds("<ERDSEventId>SubmissionAcceptance</ERDSEventId>", ns="", root="ERDSEvidence"), "deposit"),
])
def test_erds_tolerance(document, expected):
    document = document.replace(b' xmlns=""', b"")
    assert erds_fields(document)["event_type"].value == expected


def test_erds_not_an_erds_evidence():
    assert erds_fields(erds("<ERDSEventId>SubmissionAcceptance</ERDSEventId>", ns="urn:other")) == {}
    assert erds_fields(b"<Evidence><ERDSEventId>SubmissionAcceptance</ERDSEventId></Evidence>") == {}


def test_erds_event_names():
    assert erds_event_type("http://uri.etsi.org/19522/Event/ContentHandoverFailure", "R_ERDS_Expired") == "negligence"
    assert erds_event_type("ContentHandoverFailure", "recipient mailbox unreachable") == "other"
    assert erds_event_type("SubmissionRejection") == "other"


# --- JSON event logs ------------------------------------------------------------------------------------

LOG = [
    {"event": "dépôt", "timestamp": "2025-03-14T09:26:53+01:00", "sender": "alice@example.fr",
     "to": "bob@example.net", "message_id": "LRE-1", "case_ref": "DOSSIER-117", "subject": "Mise en demeure"},
    {"event_type": "première présentation", "event_time": "2025-03-14T09:30:00Z", "messageId": "LRE-1"},
    {"type": "acceptation", "time": "2025-03-16T18:02:07.250+01:00", "from": {"email": "alice@example.fr"},
     "recipient": ["bob@example.net"], "messageId": "LRE-1", "reference": "DOSSIER-117",
     "sha256": hashlib.sha256(b"lettre").hexdigest()},
    {"event": "envoi", "date": "2025-03-14T09:27:00"},  # no zone: no time, so never the latest
]


def test_eventlog_latest_event_and_list():
    found = eventlog_fields(json.dumps(LOG).encode())
    assert values(found) == {
        "event_type": "receipt", "evidence_event": "acceptation",
        "event_time": datetime(2025, 3, 16, 17, 2, 7, 250000, tzinfo=timezone.utc),
        "sender": "alice@example.fr", "recipient": "bob@example.net", "message_id": "LRE-1",
        "case_ref": "DOSSIER-117", "digests": [sha("sha256", b"lettre")],
        "events": [
            {"event_type": "deposit", "event_time": datetime(2025, 3, 14, 8, 26, 53, tzinfo=timezone.utc)},
            {"event_type": "sending", "event_time": datetime(2025, 3, 14, 9, 30, tzinfo=timezone.utc)},
            {"event_type": "receipt", "event_time": datetime(2025, 3, 16, 17, 2, 7, 250000, tzinfo=timezone.utc)},
            {"event_type": "sending", "event_time": None}]}
    assert found["event_time"].source == "eventlog [2].time"
    assert found["case_ref"].source == "eventlog [2].reference"
    assert found["message_id"].source == "eventlog [2].messageId"


def test_eventlog_latest_is_by_time_not_position():
    log = [{"event": "negligence", "time": 1743292800}, {"event": "SubmissionAcceptance", "time": 1741940813000}]
    found = eventlog_fields(json.dumps(log).encode())
    assert found["event_type"].value == "negligence" and found["evidence_event"].value == "negligence"
    assert found["event_time"].value == datetime(2025, 3, 30, tzinfo=timezone.utc)
    assert [e["event_type"] for e in found["events"].value] == ["negligence", "deposit"]


def test_eventlog_wrapper_object_and_single_event():
    wrapped = {"case_ref": "C-9", "messageId": "M-9",
               "events": [{"event": "refus", "timestamp": "2025-06-01T10:00:00+02:00"}]}
    found = eventlog_fields(json.dumps(wrapped).encode())
    assert found["event_type"].value == "refusal"
    assert found["case_ref"] == Extracted("C-9", "eventlog case_ref")
    assert found["event_time"].source == "eventlog events[0].timestamp"
    single = eventlog_fields(b'{"Event-Type": "ContentHandover", "Time": "2025-06-01T08:00:00Z", "To": "x@y.z"}')
    assert values(single)["event_type"] == "receipt" and single["recipient"].source == "eventlog To"
    assert single["events"].value == [{"event_type": "receipt",
                                       "event_time": datetime(2025, 6, 1, 8, tzinfo=timezone.utc)}]


@pytest.mark.parametrize("data", [
    b"", b"not json", b"{", b"[1, 2", b"\xff\xfe{}", b"null", b"42", b'"deposit"', b"[]", b"{}",
    b'[{"colour": "blue"}]', b"[" * 100_000 + b"]" * 100_000, b'{"events": [1, 2, 3]}',
])
def test_eventlog_bad_input_gives_nothing(data):
    assert eventlog_fields(data) == {}


def test_eventlog_bounds():
    too_many = json.dumps([{"event": "envoi"}] * 10_001).encode()
    assert eventlog_fields(too_many) == {}
    assert len(eventlog_fields(json.dumps([{"event": "envoi"}] * 10_000).encode())["events"].value) == 10_000
    assert eventlog_fields(b" " * (16 * 1024 * 1024) + b"[]") == {}


def test_event_types_are_the_metadata_ones():
    from vault.deposit.metadata import EventType

    assert set(EVENT_TYPES) == set(EventType.__args__)


@pytest.mark.parametrize("name, expected", [
    ("deposit", "deposit"), ("Dépôt", "deposit"), ("ENVOI", "sending"), ("Première présentation", "sending"),
    ("réception", "receipt"), ("acceptation", "receipt"), ("refus", "refusal"), ("négligence", "negligence"),
    ("consentement", "consent"), ("retrait", "withdrawal"), ("ContentHandover", "receipt"),
    ("http://uri.etsi.org/19522/Event/SubmissionAcceptance", "deposit"), ("SubmissionRejection", "other"),
    ("Acceptance", "other"), ("accepted", "other"), ("received", "other"), ("Rejection", "other"),
    ("delivered", "other"), ("whatever", "other"), ("NonRetrieval", "negligence"), ("Retrieval", "receipt"),
])
def test_event_names_in_logs(name, expected):
    assert event_type_for(name) == expected


# --- safety and fuzzing ---------------------------------------------------------------------------------

PARSERS = [rem_fields, erds_fields, eventlog_fields, eml_fields]

BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                  + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), b"&%s;" % bytes([97 + i]) * 10)
                             for i in range(9))
                  + b"]><SubmissionAcceptanceRejection xmlns=\"" + REM_NS.encode() + b"\">"
                  + b"<EventCode>&j;</EventCode><EvidenceIdentifier>&j;</EvidenceIdentifier>"
                  + b"</SubmissionAcceptanceRejection>")
XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b'<Evidence xmlns="' + ERDS_NS.encode() + b'"><EvidenceIdentifier>&x;</EvidenceIdentifier>'
       b"<ERDSEventId>SubmissionAcceptance</ERDSEventId></Evidence>")
XXE_UTF16 = XXE.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")
DEEP = (b'<SubmissionAcceptanceRejection xmlns="' + REM_NS.encode() + b'"><EventCode>Acceptance</EventCode>'
        + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</SubmissionAcceptanceRejection>")
DEEP_ERDS = b'<Evidence xmlns="' + ERDS_NS.encode() + b'">' + b"<x>" * 10_000 + b"</x>" * 10_000 + b"</Evidence>"
BOMBS = {"billion-laughs": BILLION_LAUGHS, "xxe": XXE, "xxe-utf16": XXE_UTF16, "deep-rem": DEEP,
         "deep-erds": DEEP_ERDS}


def timed(parser, data: bytes) -> dict:
    start = time.perf_counter()
    found = parser(data)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"{parser.__name__} took {elapsed:.2f}s"
    return found


def check(found: dict) -> None:
    assert isinstance(found, dict)
    for key, extracted in found.items():
        assert isinstance(extracted, Extracted) and isinstance(extracted.source, str)
        if key == "event_type":
            assert extracted.value in EVENT_TYPES
        if key == "event_time":
            assert extracted.value.tzinfo is not None and extracted.value.utcoffset().total_seconds() == 0
        if key in ("sender", "recipient"):
            assert len(extracted.value) <= 320 and extracted.value.isprintable()


@pytest.mark.parametrize("bomb", sorted(BOMBS))
@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
def test_xml_bombs(parser, bomb):
    start = time.perf_counter()
    found = parser(BOMBS[bomb])
    assert time.perf_counter() - start < 0.5
    assert "root:" not in repr(found) and "aaaaaaaaaaaaaaaaaaaa" not in repr(found)
    if parser is not eml_fields:  # the e-mail parser reads anything as headers; it only has to survive
        assert found == {}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_safe_parse_refuses_bombs(bomb):
    with pytest.raises(ValueError):
        parse_evidence_xml(BOMBS[bomb])


MIB16 = 16 * 1024 * 1024
LARGE = {  # near the 16 MiB limit, shaped to make a careless parser loop: flat, wide, many parts, many keys
    "rem-flat": (rem_fields, lambda: b'<SubmissionAcceptanceRejection xmlns="' + REM_NS.encode() + b'">'
                 + b"<x/>" * (MIB16 // 4 - 100) + b"</SubmissionAcceptanceRejection>"),
    "erds-wrapped-late": (erds_fields, lambda: b"<w>" + b"<x/>" * (MIB16 // 4 - 100)
                          + b'<Evidence xmlns="' + ERDS_NS.encode() + b'"/></w>'),
    "erds-wide-sender": (erds_fields, lambda: b'<Evidence xmlns="' + ERDS_NS.encode() + b'"><SenderDetails>'
                         + b"<x/>" * (MIB16 // 4 - 100) + b"</SenderDetails></Evidence>"),
    "erds-many-parts": (erds_fields, lambda: b'<Evidence xmlns="' + ERDS_NS.encode() + b'"><UserContentInfo>'
                        + b'<P><DigestMethod Algorithm="SHA256"/><DigestValue>j2P/cumFJ9y617t9g+7BK0cYDAM/uZckl'
                          b"/yilMQSLDs=</DigestValue></P>" * 140_000 + b"</UserContentInfo></Evidence>"),
    "eventlog-many-keys": (eventlog_fields, lambda: json.dumps({"event": "envoi"}
                                                               | {f"k{i}": i for i in range(700_000)}).encode()),
    "eventlog-max-events": (eventlog_fields, lambda: json.dumps([{"event": "envoi", "time": 1.7e9, "to": "a" * 300}]
                                                                * 10_000).encode()),
    "too-big": (rem_fields, lambda: b" " * (MIB16 + 1)),
}


@pytest.mark.parametrize("name", sorted(LARGE))
def test_large_inputs_stay_bounded(name):
    parser, build = LARGE[name]
    data = build()
    assert len(data) <= MIB16 + 1
    check(timed(parser, data))


def corpus() -> list[bytes]:
    samples = [p.read_bytes() for p in sorted(ERDS_DIR.glob("*.xml"))]
    if REM_DIR.is_dir():
        samples += [p.read_bytes() for p in sorted(REM_DIR.rglob("*")) if p.is_file()]
    samples += [json.dumps(LOG).encode(), rem("AcceptanceRejectionByRecipient", "Rejection"),
                b"From: a@example.org\r\nTo: b@example.org\r\nDate: Sun, 29 Nov 2026 09:30:00 +0100\r\n\r\nx"]
    return samples


SAMPLES = corpus()
mutation = st.tuples(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate", "retext", "retext"]),
                     st.integers(min_value=0), st.binary(min_size=1, max_size=16))
TEXT_SLOT = re.compile(rb">([^<]*)<")


def mutate(data: bytes, mutations) -> bytes:
    for kind, position, chunk in mutations:
        at = position % (len(data) + 1)
        slots = list(TEXT_SLOT.finditer(data)) if kind == "retext" else []
        if slots:  # new text for one element, escaped so that the XML stays well-formed: reaches the field readers
            slot = slots[position % len(slots)]
            text = "".join(chr(b) if b >= 0x20 else " " for b in chunk).encode()  # valid UTF-8, no controls
            escaped = text.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")
            data = data[:slot.start(1)] + escaped + data[slot.end(1):]
        elif kind == "flip" and data:
            at %= len(data)
            data = data[:at] + bytes([data[at] ^ chunk[0]]) + data[at + 1:]
        elif kind == "insert":
            data = data[:at] + chunk + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + len(chunk):]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "duplicate":
            data = data[:at] + data[at:at + 64 * len(chunk)] + data[at:]
    return data


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.sampled_from(range(len(SAMPLES))), st.lists(mutation, min_size=1, max_size=8))
def test_mutated_corpus_never_raises(index, mutations):
    data = mutate(SAMPLES[index], mutations)
    for parser in PARSERS:
        check(timed(parser, data))


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from([b"", b"<?xml version=\"1.0\"?>", b"[{\"event\": ",
                                                  b"<Evidence xmlns=\"" + ERDS_NS.encode() + b"\">",
                                                  b"<SubmissionAcceptanceRejection xmlns=\"" + REM_NS.encode()
                                                  + b"\"><EventCode>"]))
def test_random_bytes_never_raise(noise, prefix):
    for parser in PARSERS:
        check(timed(parser, prefix + noise))


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
                    lambda inner: st.lists(inner, max_size=5)
                    | st.dictionaries(st.sampled_from(["event", "type", "time", "timestamp", "date", "sender", "to",
                                                       "from", "recipient", "messageId", "case_ref", "reference",
                                                       "events", "sha256", "digests", "subject"]), inner,
                                      max_size=6), max_leaves=30))
def test_random_json_logs_never_raise(document):
    check(timed(eventlog_fields, json.dumps(document).encode()))
