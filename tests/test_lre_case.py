"""A whole LRE sending proven by ERDS evidences signed by a test CA: read, validated and put on one timeline.

Nothing about the events is declared: the case reference comes from the message identifier (VAULT_CASE_REF_PATTERN),
the event types and times from the evidences themselves, and each evidence's XML signature is checked at deposit
against the test CA configured as the only trust anchor. The full chain shows as complete; the same without the
final proof is incomplete, then overdue after the deadline (injectable clock); a tampered evidence is `invalid`,
kept under a normal policy and refused under one that says so.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree
from signxml import SignatureConstructionMethod, XMLSigner
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, POLICIES, Api, make_settings
from tests.pki import make_ca, make_leaf
from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ERDS = "http://uri.etsi.org/19522/v1#"


@pytest.fixture(scope="module")
def pki():
    ca = make_ca("LRE Test Root CA", valid_from=START - timedelta(days=365), days=3650)
    return ca, make_leaf(ca, "ERDS Provider Evidence Seal", valid_from=START - timedelta(days=30), days=730)


@pytest.fixture
def archive(tmp_path, database_url, pki):
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "lre-test-root.pem").write_bytes(pki[0].cert_pem)
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    strict = (policies / "lre-proof.toml").read_text().replace('id = "lre-proof"', 'id = "lre-proof-strict"')
    (policies / "lre-proof-strict.toml").write_text(strict + "\nrefuse_invalid_signatures = true\n")
    clock = FixedClock(START + timedelta(days=2))  # after every event time below (30 h at most before the clock moves)
    settings = make_settings(tmp_path, database_url, trust_dir=trust, policies_dir=policies,
                             case_ref_pattern=r"^(?P<case_ref>LRE-\d{4}-\d+)@")
    vault = Vault.open(settings, clock, sweep_in_background=False, background_jobs=False)
    admin = Api(TestClient(create_app(vault)), ADMIN_KEY)
    yield vault, clock, admin.as_key(admin.new_key("depositor", "acme"))
    vault.close()


def evidence(pki, case: str, event: str, hours: float) -> bytes:
    """An ERDS evidence (EN 319 522-4-1 structure) for ``event``, signed (enveloped XMLDSig) by the provider."""
    when = (START + timedelta(hours=hours)).isoformat()
    xml = (f'<Evidence xmlns="{ERDS}"><EvidenceIdentifier>{case}-{event}</EvidenceIdentifier>'
           f"<ERDSEventId>http://uri.etsi.org/19522/Event/{event}</ERDSEventId><EventTime>{when}</EventTime>"
           "<SenderDetails><ElectronicAddress>alice@example.fr</ElectronicAddress></SenderDetails>"
           "<RecipientDetails><ElectronicAddress>bob@example.net</ElectronicAddress></RecipientDetails>"
           f"<UserContentInfo><MessageIdentifier>{case}@lre.example.fr</MessageIdentifier></UserContentInfo>"
           "</Evidence>")
    _ca, leaf = pki
    signer = XMLSigner(method=SignatureConstructionMethod.enveloped, signature_algorithm="ecdsa-sha256")
    return etree.tostring(signer.sign(etree.fromstring(xml), key=leaf.key, cert=[leaf.cert, _ca.cert]))


def deposit(api: Api, data: bytes, policy: str = "lre-proof"):
    return api.deposit(data, filename="evidence.xml", media_type="application/xml",
                       raw_metadata=json.dumps({"policy": policy}))


def test_a_signed_lre_case_is_read_validated_and_complete(archive, pki):
    _vault, _clock, api = archive
    receipts = [deposit(api, evidence(pki, "LRE-2026-77", event, hours))
                for event, hours in (("ContentHandover", 30), ("SubmissionAcceptance", 0), ("RelayAcceptance", 2))]
    assert [r.status_code for r in receipts] == [201, 201, 201], [r.text for r in receipts]
    for receipt in receipts:
        [verdict] = receipt.json()["validation"]
        assert (verdict["kind"], verdict["verdict"]) == ("xmldsig", "valid"), verdict
        assert verdict["signer"].startswith("CN=ERDS Provider Evidence Seal")

    case = api.get("/v1/cases/LRE-2026-77").json()
    assert [e["event_type"] for e in case["events"]] == ["deposit", "sending", "receipt"]
    assert [e["extracted"]["event_type"] for e in case["events"]] == ["erds evidence ERDSEventId"] * 3
    assert [e["etsi_event"] for e in case["events"]] == ["SubmissionAcceptance", "RelayAcceptance", "ContentHandover"]
    assert case["events"][0]["extracted"]["case_ref"].endswith("mapped by VAULT_CASE_REF_PATTERN")
    assert case["events"][2]["at"] == "2026-03-03T15:00:00Z" and case["events"][2]["kind"] == "lre-evidence"
    assert {e["sender"] for e in case["events"]} == {"alice@example.fr"}
    assert case["completeness"] == {**case["completeness"], "status": "complete", "missing": [], "anomalies": []}
    assert api.get("/v1/alerts").json()["alerts"] == []

    report = api.get(f"/v1/objects/{receipts[0].json()['id']}/validation-report").json()
    assert report["evidence_format"] == "erds" and report["worst"] == "valid"
    assert [c["subject"].split(",")[0] for c in report["signatures"][0]["details"]["certificates"]] == [
        "CN=ERDS Provider Evidence Seal", "CN=LRE Test Root CA"]
    assert len(report["trust_anchors"]) >= 1


def test_without_its_outcome_the_case_is_incomplete_then_overdue(archive, pki):
    _vault, clock, api = archive
    for event, hours in (("SubmissionAcceptance", 0), ("RelayAcceptance", 2)):
        assert deposit(api, evidence(pki, "LRE-2026-78", event, hours)).status_code == 201
    completeness = api.get("/v1/cases/LRE-2026-78").json()["completeness"]
    assert (completeness["status"], completeness["missing"]) == ("incomplete", ["outcome"])
    assert api.get("/v1/alerts").json()["alerts"] == []
    clock.advance(timedelta(days=16))  # 2 h + 16 days after the sending: past the deadline
    assert api.get("/v1/cases/LRE-2026-78").json()["completeness"]["status"] == "overdue"
    [alert] = api.get("/v1/alerts").json()["alerts"]
    assert (alert["case_ref"], alert["missing"], alert["due_at"]) == ("LRE-2026-78", ["outcome"],
                                                                     "2026-03-18T11:00:00Z")
    # the provider's negligence evidence (acceptance expired) completes the chain and clears the alert
    assert deposit(api, evidence(pki, "LRE-2026-78", "AcceptanceRejectionExpiry", 2 + 15 * 24 + 1)).status_code == 201
    assert api.get("/v1/cases/LRE-2026-78").json()["completeness"]["status"] == "complete"
    assert api.get("/v1/alerts").json()["alerts"] == []


def test_a_tampered_evidence_is_invalid_kept_or_refused_by_policy(archive, pki):
    vault, _clock, api = archive
    tampered = evidence(pki, "LRE-2026-79", "ContentHandover", 5).replace(b"bob@example.net", b"eve@example.net")
    before = vault.catalog.count()
    refused = deposit(api, tampered, policy="lre-proof-strict")
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["type"].endswith("invalid-signature") and body["signatures"][0]["verdict"] == "invalid"
    assert vault.catalog.count() == before
    assert deposit(api, evidence(pki, "LRE-2026-79", "SubmissionAcceptance", 0), "lre-proof-strict").status_code == 201

    kept = deposit(api, tampered)
    assert kept.status_code == 201 and kept.json()["validation"][0]["verdict"] == "invalid"
    found = api.get("/v1/objects", params={"verdict": "invalid"}).json()["items"]
    assert [o["id"] for o in found] == [kept.json()["id"]]
    assert api.get("/v1/cases/LRE-2026-79").json()["events"][1]["validation"][0]["verdict"] == "invalid"


def test_without_a_case_reference_or_a_mapped_message_id_the_deposit_is_refused(archive):
    vault, _clock, api = archive
    response = api.deposit(b"plain text, no message id", filename="x.txt", media_type="text/plain",
                           raw_metadata=json.dumps({"policy": "lre-proof"}))
    assert response.status_code == 422 and response.json()["errors"] == [{"field": "case_ref", "problem": "required"}]
    assert vault.catalog.count() == 0


def _overdue_metric(api: Api) -> int:
    [line] = [line for line in api.get("/metrics").text.splitlines() if line.startswith("vault_cases_overdue ")]
    return int(line.split()[1])


def test_alerts_read_folded_statuses_plus_the_tail_and_write_nothing(archive, pki):
    """Issue 19: the read routes no longer fold the case tracker (a write that took the writer's lock). Their answer
    is the same whether a deposit is already folded or still past the watermark."""
    vault, clock, api = archive
    for event, hours in (("SubmissionAcceptance", 0), ("RelayAcceptance", 2)):
        assert deposit(api, evidence(pki, "LRE-2026-79", event, hours)).status_code == 201
    clock.advance(timedelta(days=16))
    # nothing folded yet: the overdue case is found in the tail alone
    [alert] = api.get("/v1/alerts").json()["alerts"]
    assert (alert["case_ref"], alert["missing"]) == ("LRE-2026-79", ["outcome"]) and _overdue_metric(api) == 1
    assert vault.cases.catch_up() == 2  # the reads above folded nothing
    assert [a["case_ref"] for a in api.get("/v1/alerts").json()["alerts"]] == ["LRE-2026-79"]
    assert _overdue_metric(api) == 1
    # the deposit that completes the folded, overdue case is still in the tail: the alert is gone all the same
    assert deposit(api, evidence(pki, "LRE-2026-79", "AcceptanceRejectionExpiry", 2 + 15 * 24 + 1)).status_code == 201
    assert api.get("/v1/alerts").json()["alerts"] == [] and _overdue_metric(api) == 0
    assert vault.cases.catch_up() == 1
    assert api.get("/v1/alerts").json()["alerts"] == [] and _overdue_metric(api) == 0
