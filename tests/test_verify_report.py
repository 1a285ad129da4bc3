"""The one result shape of the offline checks (vault_verify.report): a named Check with a status, in a Report."""

from __future__ import annotations

import json

import pytest

from vault_verify.report import FAILED, INFO, OK, WARNING, Check, Report


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
