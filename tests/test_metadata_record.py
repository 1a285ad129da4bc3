"""The metadata record (issue 22): canonical bytes, salted commitments for personal fields, disclosures."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from vault.evidence.metadata_record import build_record
from vault_verify.canonical import canonical_json_any, es_number
from vault_verify.metadata import check_disclosure, commitment, parse_record

T = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
ROW = {"id": "0190f0e0-0000-7000-8000-000000000001", "tenant": "acme", "case_ref": "LRE-1",
       "contract_number": "K-9", "kind": "email-proof", "event_type": "sending", "event_time": T,
       "sender": "alice@example.org", "recipient": "bob@example.org", "filename": "mail.eml",
       "policy_id": "email-proof", "policy_version": 1, "deposited_at": T, "sha256": "ab" * 32, "sha512": "cd" * 64,
       "size": 42, "media_type": "message/rfc822", "extra": {"subject": "Hello", "channel": "web", "score": 0.5}}
PERSONAL = ("sender", "recipient", "filename", "extra.subject")


def counter_salt():
    n = iter(range(1, 100))
    return lambda size: bytes([next(n)]) * size


def test_record_is_canonical_and_holds_no_personal_value():
    record = build_record(ROW, PERSONAL, "event_time", salt=counter_salt())
    document = parse_record(record.data)
    with pytest.raises(ValueError):
        parse_record(record.data.replace(b'{"case_ref"', b'{ "case_ref"'))
    for value in (b"alice@", b"bob@", b"mail.eml", b"Hello"):
        assert value not in record.data
    assert document["case_ref"] == "LRE-1" and document["contract_number"] == "K-9"
    assert document["event_time"] == "2026-01-02T03:04:05Z" and document["deposited_at"] == "2026-01-02T03:04:05Z"
    assert document["policy"] == {"id": "email-proof", "version": 1, "start": "event_time"}
    assert document["content"] == {"sha256": "ab" * 32, "sha512": "cd" * 64, "size": 42,
                                   "media_type": "message/rfc822"}
    assert document["extra"] == {"channel": "web", "score": 0.5}
    assert (document["version"], document["previous"]) == (1, None)
    assert set(document["commitments"]) == set(PERSONAL)
    assert "sender" not in document and "filename" not in document


def test_commitment_is_sha256_of_salt_then_canonical_value():
    record = build_record(ROW, PERSONAL, "event_time", salt=counter_salt())
    sender = next(d for d in record.disclosures if d.field == "sender")
    assert sender.salt == bytes([1]) * 16
    expected = hashlib.sha256(bytes([1]) * 16 + b'"alice@example.org"').hexdigest()
    assert parse_record(record.data)["commitments"]["sender"] == expected == commitment(sender.salt, sender.value)


def test_every_disclosure_opens_its_commitment_and_a_changed_one_does_not():
    record = build_record(ROW, PERSONAL, "event_time")
    document = parse_record(record.data)
    assert len({d.salt for d in record.disclosures}) == len(PERSONAL)  # a fresh salt per field
    for disclosure in record.disclosures:
        assert check_disclosure(document, disclosure.as_json()) is None
    one = record.disclosures[0].as_json()
    assert "≠" in check_disclosure(document, {**one, "value": "mallory@example.org"})
    assert "≠" in check_disclosure(document, {**one, "salt": "00" * 16})
    assert "16" in check_disclosure(document, {**one, "salt": "00"})
    assert "no field" in check_disclosure(document, {**one, "field": "case_ref"})


def test_a_missing_personal_value_has_no_commitment_and_non_personal_parties_stay_clear():
    record = build_record({**ROW, "recipient": None}, ("recipient", "filename"), "deposit")
    document = parse_record(record.data)
    assert set(document["commitments"]) == {"filename"}
    assert document["sender"] == "alice@example.org" and document["extra"]["subject"] == "Hello"


@pytest.mark.parametrize("value, text", [(1e21, "1e+21"), (1e20, "100000000000000000000"), (1.5e-7, "1.5e-7"),
                                         (1e-6, "0.000001"), (0.1, "0.1"), (100.0, "100"), (-2.5, "-2.5"),
                                         (5e-324, "5e-324"), (333333333.3333333, "333333333.3333333")])
def test_numbers_serialize_as_rfc_8785_says(value, text):
    assert es_number(value) == text
    assert canonical_json_any({"b": [value], "a": 1}) == b'{"a":1,"b":[' + text.encode() + b"]}"
