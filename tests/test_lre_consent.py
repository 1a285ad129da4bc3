"""Consent for LRE (issue 22): a case to a consumer states whether the recipient's valid prior consent existed at
the sending, citing the consent proof, and is incomplete without it; a professional recipient needs none."""

from __future__ import annotations

import json
from argparse import Namespace

from sqlalchemy import select

from tests.test_cases_api import archive, at, put  # noqa: F401  (the fixture, on both engines)
from vault.cli.cases import cmd_case
from vault.db.tables import ArchivedObject
from vault.evidence.metadata_store import record_bytes

JANE = "jane.doe@example.org"


def consent(api, event_type: str, hours: float, subject: str = JANE, purpose: str = "lre") -> dict:
    response = api.deposit(json.dumps({"event": event_type, "who": subject}).encode(), filename="c.json",
                           media_type="application/json", case_ref=f"CONSENT-{subject}", kind="consent-record",
                           policy="consent-record", event_type=event_type, event_time=at(hours),
                           subject=subject, purpose=purpose)
    assert response.status_code == 201, response.text
    return response.json()


def lre(api, case_ref: str, sent_at: float = 24, recipient: str = JANE, **meta) -> dict:
    """An LRE case: the deposit, then the sending (which carries the consent fields), then the receipt."""
    put(api, case_ref, "deposit", sent_at - 1, recipient=recipient)
    put(api, case_ref, "sending", sent_at, recipient=recipient, **meta)
    put(api, case_ref, "receipt", sent_at + 2, recipient=recipient)
    response = api.get(f"/v1/cases/{case_ref}")
    assert response.status_code == 200, response.text
    return response.json()


def test_consent_by_reference_and_by_lookup_before_the_sending_is_valid_citing_the_proof(archive):
    vault, _clock, apis = archive
    api = apis["depositor"]
    given = consent(api, "consent", 0)
    vault.sealer.seal_pending()

    by_ref = lre(api, "LRE-C1", consent_ref=given["id"], recipient_type="consumer")
    assert by_ref["consent"]["required"] and by_ref["consent"]["valid"], by_ref["consent"]
    assert by_ref["consent"]["lookup"] == "consent_ref" and by_ref["consent"]["at"] == at(24)
    proof = by_ref["consent"]["proof"]
    assert proof["object_id"] == given["id"] and proof["sha256"] == given["sha256"]
    assert proof["purpose"] == "lre" and proof["event_time"] == at(0) and proof["sealed_at"] is not None
    assert proof["subject_pseudonym"] == vault.consents.subject_pseudonym(JANE) and JANE not in json.dumps(proof)
    assert by_ref["completeness"]["status"] == "complete" and by_ref["completeness"]["reasons"] == []
    sending = next(e for e in by_ref["events"] if e["event_type"] == "sending")
    assert sending["consent_ref"] == given["id"] and sending["recipient_type"] == "consumer"

    by_lookup = lre(api, "LRE-C2", recipient_type="consumer")
    assert by_lookup["consent"]["valid"] and by_lookup["consent"]["lookup"] == "registry"
    assert by_lookup["consent"]["proof"]["object_id"] == given["id"]
    assert by_lookup["completeness"]["status"] == "complete"


def test_without_consent_after_the_sending_or_withdrawn_the_case_is_incomplete_with_the_reason(archive):
    _vault, _clock, apis = archive
    api = apis["depositor"]
    none = lre(api, "LRE-N1", recipient="nobody@example.org", recipient_type="consumer")
    assert none["consent"]["required"] and not none["consent"]["valid"] and none["consent"]["proof"] is None
    assert "no consent of the recipient for 'lre'" in none["consent"]["reason"]
    assert none["completeness"]["status"] == "incomplete" and none["completeness"]["missing"] == ["consent"]
    assert none["completeness"]["reasons"] == [f"consent: the recipient is a consumer and {none['consent']['reason']}"]

    late = consent(api, "consent", 48, subject="late@example.org")
    for case_ref, meta, why in (("LRE-L1", {"consent_ref": late["id"]}, f"given at {at(48)}, after the sending"),
                                ("LRE-L2", {}, "no consent of the recipient")):
        view = lre(api, case_ref, recipient="late@example.org", recipient_type="consumer", **meta)
        assert not view["consent"]["valid"] and view["completeness"]["missing"] == ["consent"], view["consent"]
        assert why in view["consent"]["reason"]

    given = consent(api, "consent", 0, subject="gone@example.org")
    gone = consent(api, "withdrawal", 10, subject="gone@example.org")
    for case_ref, meta in (("LRE-W1", {"consent_ref": given["id"]}), ("LRE-W2", {})):
        view = lre(api, case_ref, recipient="gone@example.org", recipient_type="consumer", **meta)
        assert not view["consent"]["valid"] and view["completeness"]["status"] == "incomplete"
        assert f"withdrawn at {at(10)} (record {gone['id']})" in view["consent"]["reason"], view["consent"]
    # a consent record of someone else does not cover this recipient
    other = lre(api, "LRE-X1", recipient="bob@example.org", recipient_type="consumer", consent_ref=given["id"])
    assert not other["consent"]["valid"] and "not the recipient's" in other["consent"]["reason"]


def test_a_professional_recipient_needs_no_consent(archive):
    _vault, _clock, apis = archive
    view = lre(apis["depositor"], "LRE-P1", recipient="legal@corp.example", recipient_type="professional")
    assert not view["consent"]["required"] and not view["consent"]["valid"]
    assert view["consent"]["reason"].startswith("a professional recipient: no consent is required")
    assert view["completeness"]["status"] == "complete" and view["completeness"]["missing"] == []


def test_a_consent_ref_of_another_tenant_is_not_found(archive):
    _vault, _clock, apis = archive
    theirs = consent(apis["other"], "consent", 0)  # globex's record of the same person
    view = lre(apis["depositor"], "LRE-T1", consent_ref=theirs["id"], recipient_type="consumer")
    assert not view["consent"]["valid"] and view["consent"]["proof"] is None
    assert view["consent"]["reason"] == f"consent_ref {theirs['id']} names no consent record of this tenant"
    assert theirs["sha256"] not in json.dumps(view)
    # nor does the registry lookup see another tenant's consent
    assert not lre(apis["depositor"], "LRE-T2", recipient_type="consumer")["consent"]["valid"]


def test_the_consent_fields_are_in_the_metadata_record_only_when_given(archive):
    vault, _clock, apis = archive
    api = apis["depositor"]
    plain = put(api, "LRE-R1", "sending", 1, recipient=JANE)
    marked = put(api, "LRE-R1", "sending", 2, recipient=JANE, recipient_type="consumer", consent_ref="0193-abc")
    with vault.reader.connect() as connection:
        old, new = (json.loads(record_bytes(connection, o["id"])) for o in (plain, marked))
        row = connection.execute(select(ArchivedObject.__table__).where(
            ArchivedObject.__table__.c.id == marked["id"])).mappings().one()
    assert "recipient_type" not in old and "consent_ref" not in old
    assert new["recipient_type"] == "consumer" and new["consent_ref"] == "0193-abc"
    assert row["recipient_type"] == "consumer"
    refused = api.deposit(b"x", filename="x.txt", media_type="text/plain", recipient_type="individual")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "recipient_type"


def test_vault_case_prints_the_consent_verdict_and_the_missing_consent(archive, capsys):
    _vault, _clock, apis = archive
    api = apis["depositor"]
    given = consent(api, "consent", 0)
    lre(api, "LRE-CLI", recipient_type="consumer", consent_ref=given["id"])
    lre(api, "LRE-CLI2", recipient="nobody@example.org", recipient_type="consumer")

    class Client:  # the CLI's ApiClient, answered by the test app
        def json(self, method, path, params=None):
            return api.get(path, params=params).json()

    assert cmd_case(Namespace(case_ref="LRE-CLI", tenant=None, json=False), Client()) == 0
    out = capsys.readouterr().out
    assert f"consent at {at(24)}: valid: consent record {given['id']}" in out and f"[proof {given['id']}" in out
    assert cmd_case(Namespace(case_ref="LRE-CLI2", tenant=None, json=False), Client()) == 0
    out = capsys.readouterr().out
    assert "case LRE-CLI2: incomplete against chain lre; missing consent" in out
    assert "incomplete: consent: the recipient is a consumer and no consent" in out and "NOT valid" in out


def test_the_case_report_states_the_consent(archive):
    _vault, _clock, apis = archive
    api = apis["depositor"]
    given = consent(api, "consent", 0)
    lre(api, "LRE-REP1", recipient_type="consumer", consent_ref=given["id"])
    lre(api, "LRE-REP2", recipient="nobody@example.org", recipient_type="consumer")
    lre(api, "LRE-REP3", recipient="legal@corp.example", recipient_type="professional")

    def consent_line(case_ref: str) -> dict:
        response = api.get(f"/v1/cases/{case_ref}/report", params={"format": "json"})
        assert response.status_code == 200, response.text
        return next(c for c in response.json()["checks"] if c["id"] == "case.consent")

    valid = consent_line("LRE-REP1")
    assert valid["result"] == "pass" and valid["data"]["proof"]["object_id"] == given["id"]
    missing = consent_line("LRE-REP2")
    assert missing["result"] == "warning" and "no consent of the recipient" in missing["detail"]
    assert consent_line("LRE-REP3")["result"] == "not_applicable"
