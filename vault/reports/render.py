"""Probative-value reports as readable text lines, for the signed PDF (:mod:`vault.documents.pdf`)."""

from __future__ import annotations

from vault.documents.pdf import wrap
from vault.reports.checks import FAIL, INFO, NOT_APPLICABLE, PASS, WARNING
from vault.reports.receipt import object_lines
from vault.sandbox import notice_lines

MARKS = {PASS: "PASS", FAIL: "FAIL", WARNING: "WARN", INFO: "info", NOT_APPLICABLE: "n/a "}
TITLE = "Probative-value report (relevé de valeur probante)"


def check_lines(checks: list[dict]) -> list[str]:
    lines = []
    for line in checks:
        how = "checked now" if line["rerun"] else "recorded, not re-run"
        lines += [f"[{MARKS[line['result']]}] {line['title']} - {line['id']}, {how}",
                  f"        {line['detail']}"]
        for sub in line.get("items") or []:
            lines.append(f"        [{MARKS[sub['result']]}] {sub['name']}"
                         + (f" - verdict {sub['verdict']}" if sub.get("verdict") else "")
                         + (f": {sub['detail']}" if sub.get("detail") else ""))
    return lines


def _verdict_lines(report: dict) -> list[str]:
    overall = report["verdict"]
    return [f"Overall verdict: {overall['result'].upper()} - {overall['summary']}"]


def object_report_lines(report: dict, *, heading: bool = True) -> list[str]:
    lines = []
    if heading:
        lines += [TITLE, "", f"Generated at {report['generated_at']} by {report['issuer']}. Every line marked "
                  "'checked now' was run again while this report was made.", ""]
    lines += object_lines(report["object"]) + [""] + _verdict_lines(report) + [""] + check_lines(report["checks"])
    return lines


def event_name(event: dict) -> str:
    """A timeline event's LRE type, with its ETSI event beside it when it has one (``receipt / ConsignmentAcceptance``,
    EN 319 522-1 or TS 102 640-2 terms, docs/lre.md)."""
    lre = event.get("event_type") or "other"
    return f"{lre} / {event['etsi_event']}" if event.get("etsi_event") else lre


def case_report_lines(report: dict) -> list[str]:
    case = report["case"]
    lines = [TITLE, "", f"Case {case['case_ref']}: {case['count']} object(s), chain {case['chain']}",
             f"Generated at {report['generated_at']} by {report['issuer']}. Every line marked 'checked now' was run "
             "again while this report was made.", ""] + _verdict_lines(report) + ["", "Timeline:"]
    lines += [f"  {e['at']}  {event_name(e)}  ({e['time_source']})  object {e['id']}" for e in case["events"]]
    lines += [""] + check_lines(report["checks"])
    if case["objects_truncated"]:
        lines.append(f"(only the first {case['objects_reported']} objects are reported below)")
    for child in report["objects"]:
        lines += ["", "-" * 60, f"Object {child['object']['id']}", ""] + object_report_lines(child, heading=False)
    return lines


def report_lines(report: dict) -> list[str]:
    return wrap(notice_lines(report)
                + (case_report_lines(report) if report["scope"] == "case" else object_report_lines(report)))
