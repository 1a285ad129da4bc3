"""Tampering with an evidence record or its data is caught, and the verdict names the failing step."""

from __future__ import annotations

import hashlib

import pytest

from vault.evidence.asn1 import EvidenceRecord
from vault.evidence.verify import DataObject, verify_evidence_record
from vault.timestamping.tokens import load_pem_roots, parse_token


@pytest.fixture
def sealed(vault, depositor, admin):
    contents = [f"tamper {i}".encode() for i in range(4)]
    ids = [depositor.deposit(c).json()["id"] for c in contents]
    vault.seal_scheduler.seal_all_pending()
    roots = load_pem_roots(depositor.client.get("/v1/tsa/roots").content)
    return depositor, ids, contents, roots


def data(content: bytes) -> list[DataObject]:
    return [DataObject(digests={"sha256": hashlib.sha256(content).digest(),
                                "sha512": hashlib.sha512(content).digest()})]


def flip(blob: bytes, needle: bytes, offset: int = -1) -> bytes:
    position = blob.index(needle) + (len(needle) + offset if offset < 0 else offset)
    return blob[:position] + bytes([blob[position] ^ 0x01]) + blob[position + 1:]


def failure(record: bytes, content: bytes, roots) -> str:
    verdict = verify_evidence_record(record, data(content), roots=roots)
    assert not verdict.ok
    return f"{verdict.first_failure.name}: {verdict.first_failure.detail}"


def first_ats(record: bytes):
    return EvidenceRecord.load(record)["archive_time_stamp_sequence"][0][0]


def first_token(api, object_id: str):
    record = api.get(f"/v1/objects/{object_id}/evidence-record").content
    return record, parse_token(first_ats(record)["time_stamp"].dump())


def test_untouched_record_verifies(sealed):
    api, ids, contents, roots = sealed
    record = api.get(f"/v1/objects/{ids[0]}/evidence-record").content
    assert verify_evidence_record(record, data(contents[0]), roots=roots).ok


def test_flipped_data_byte(sealed):
    api, ids, contents, roots = sealed
    record = api.get(f"/v1/objects/{ids[1]}/evidence-record").content
    changed = bytes([contents[1][0] ^ 0x01]) + contents[1][1:]
    assert "ATS 1 covers the data" in failure(record, changed, roots)


def test_flipped_hash_tree_byte(sealed):
    api, ids, contents, roots = sealed
    record = api.get(f"/v1/objects/{ids[2]}/evidence-record").content
    sibling = first_ats(record)["reduced_hashtree"][1][0].native  # a value on the path, not the object's own
    assert "reduced hash tree leads to the token imprint" in failure(flip(record, sibling), contents[2], roots)


def test_flipped_token_signature_byte(sealed):
    api, ids, contents, roots = sealed
    record, token = first_token(api, ids[3])
    signature = token.signer_info["signature"].native
    message = failure(flip(record, signature), contents[3], roots)
    assert "ATS 1 token" in message and "signature does not verify" in message


def test_flipped_token_content_byte(sealed):
    api, ids, contents, roots = sealed
    record, token = first_token(api, ids[0])
    serial = token.tst_info["serial_number"].contents
    message = failure(flip(record, serial), contents[0], roots)
    assert "ATS 1 token" in message and "message-digest attribute does not match" in message


def test_flipped_earlier_token_breaks_the_renewal_link(sealed, admin):
    api, ids, contents, roots = sealed
    assert admin.post("/v1/admin/reseal", json={"kind": "timestamp-renewal"}).status_code == 200
    record, token = first_token(api, ids[0])
    assert verify_evidence_record(record, data(contents[0]), roots=roots).ok
    verdict = verify_evidence_record(flip(record, token.signer_info["signature"].native), data(contents[0]),
                                     roots=roots)
    failed = [s.name for s in verdict.steps if not s.ok]
    assert "chain 1 (sha256) ATS 1 token" in failed
    assert "chain 1 (sha256) ATS 2 covers the previous timestamp" in failed


def test_other_roots_are_refused(sealed, tmp_path):
    from datetime import datetime, timezone

    from vault.timestamping.devtsa import DevelopmentTsa

    api, ids, contents, _roots = sealed
    stranger = DevelopmentTsa.load_or_create(tmp_path / "other", lambda: datetime.now(timezone.utc))
    record = api.get(f"/v1/objects/{ids[0]}/evidence-record").content
    assert "does not chain to a trusted root" in failure(record, contents[0], [stranger.root])


def test_garbage_is_not_an_evidence_record():
    verdict = verify_evidence_record(b"\x30\x03\x02\x01\x01", data(b"x"))
    assert not verdict.ok and verdict.first_failure.name == "parse evidence record"


def test_random_damage_never_crashes_the_verifier(sealed):
    """Any corruption gives a verdict naming a failing step, never an exception (and never a pass)."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    api, ids, contents, roots = sealed
    record = api.get(f"/v1/objects/{ids[0]}/evidence-record").content

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.lists(st.tuples(st.integers(0, len(record) - 1), st.integers(1, 255)), min_size=1, max_size=4),
           st.integers(0, len(record)))
    def damaged(flips, cut):
        blob = bytearray(record)
        for position, mask in flips:
            blob[position] ^= mask
        blob = bytes(blob[:cut]) if cut < len(record) // 2 else bytes(blob)
        verdict = verify_evidence_record(blob, data(contents[0]), roots=roots)
        if blob != record:
            assert not verdict.ok or _only_unsigned_bytes_changed(record, blob)
            if not verdict.ok:
                assert verdict.first_failure.detail

    damaged()


def test_a_certificate_with_a_bad_version_is_a_failing_step_not_a_crash(sealed):
    api, ids, contents, roots = sealed
    record = api.get(f"/v1/objects/{ids[0]}/evidence-record").content
    cert = parse_token(first_ats(record)["time_stamp"].dump()).certificates[0]
    from cryptography.hazmat.primitives.serialization import Encoding

    der = cert.public_bytes(Encoding.DER)
    version = der.index(b"\xa0\x03\x02\x01\x02")  # [0] EXPLICIT INTEGER 2 (v3)
    bad = record.replace(der, der[:version + 4] + b"\x03" + der[version + 5:], 1)
    verdict = verify_evidence_record(bad, data(contents[0]), roots=roots)
    assert not verdict.ok and "not valid DER" in verdict.first_failure.detail


def _only_unsigned_bytes_changed(original: bytes, blob: bytes) -> bool:
    """A flip in the parts of the token that nobody signs (its certificate set, the SignedData digestAlgorithms
    hint) may leave every check intact, as RFC 5652 allows; a flip anywhere else may not."""
    signed = parse_token(first_ats(original)["time_stamp"].dump()).content_info["content"]
    ranges = []
    for part in (signed["certificates"].dump(), signed["digest_algorithms"].dump()):
        start = original.index(part)
        ranges.append(range(start, start + len(part)))
    changed = [i for i, (a, b) in enumerate(zip(original, blob)) if a != b]
    return len(blob) == len(original) and all(any(i in r for r in ranges) for i in changed)
