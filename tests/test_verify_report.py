"""The one result shape of the offline checks (vault_verify.report): a named Check with a status, in a Report."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import pytest
from asn1crypto import tsp

from vault.timestamping.devtsa import DevelopmentTsa
from vault_verify.report import FAILED, INFO, OK, WARNING, Check, Report
from vault_verify.tokens import IMPRINT, PATH, SIGNATURE, parse_token, verify_token


def test_a_report_is_ok_only_when_something_was_checked_and_nothing_failed():
    report = Report()
    assert not report.ok and report.render_text() == "INVALID: nothing checked"
    report.add("checkpoint", True, "322 entries")
    report.note("TSA roots taken from the export", "anchors")
    assert report.ok and report.notes == ["TSA roots taken from the export"] and report.problems == []
    report.fail("entry 3", "carries seq 4, not its index")
    report.passed("entry 3")  # a check that failed is never also recorded as passed
    assert not report.ok and report.problems == ["entry 3: carries seq 4, not its index"]
    assert [c.status for c in report.checks] == [OK, WARNING, FAILED]
    assert report.render_text().splitlines() == [
        "ok   checkpoint: 322 entries", "warn anchors: TSA roots taken from the export",
        "FAIL entry 3: carries seq 4, not its index", "INVALID: entry 3: carries seq 4, not its index"]
    assert json.loads(report.render_json()) == {"ok": False, "checks": [
        {"name": "checkpoint", "status": "ok", "detail": "322 entries"},
        {"name": "anchors", "status": "warning", "detail": "TSA roots taken from the export"},
        {"name": "entry 3", "status": "failed", "detail": "carries seq 4, not its index"}]}


def test_a_status_outside_the_list_is_misuse():
    assert Check("genTime", INFO, "2026-01-01").ok and not Check.of("x", False).ok
    with pytest.raises(ValueError, match="not one of"):
        Check("x", "passed")


def test_a_boolean_status_is_ok_or_failed_and_derived_notes_refuse_appends():
    assert Check("bag structure", True).status == OK and Check("bag structure", False).status == FAILED
    report = Report([Check("content", False, "size differs")])
    report.note("not sealed")
    assert report.failure_details == ["size differs"] and report.notes == ["not sealed"]
    assert [c.name for c in report.steps] == ["content"]
    with pytest.raises(TypeError, match="report.note"):
        report.notes.append("lost")  # a note appended to a computed list would vanish: refused
    assert report.notes == ["not sealed"]


def test_a_token_report_names_each_step(tmp_path):
    tsa = DevelopmentTsa.load_or_create(tmp_path, lambda: datetime(2026, 1, 1, tzinfo=timezone.utc))
    digest = hashlib.sha256(b"x").digest()
    request = tsp.TimeStampReq({"version": "v1", "cert_req": True, "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest}})
    token = parse_token(tsp.TimeStampResp.load(tsa.respond(request.dump()))["time_stamp_token"].dump())
    good = verify_token(token, [tsa.root], expected_imprint=digest)
    assert good.ok and {IMPRINT, SIGNATURE, PATH} <= {c.name for c in good.steps}
    bad = verify_token(token, None, expected_imprint=hashlib.sha256(b"y").digest())
    assert not bad.ok and bad.first_failure.name == IMPRINT
    assert bad.failure_details == ["message imprint does not match the hashed data"]
    assert bad.notes == ["trust not checked: no TSA roots given"]
