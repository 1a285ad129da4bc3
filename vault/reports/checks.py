"""The vocabulary of probative-value reports: one check line, its result, and the overall verdict.

A check is ``{"id", "section", "title", "result", "rerun", "detail"}`` with optional ``items`` (the sub-results
behind it: verifier steps, journal entries, copies, holds) and ``data`` (the values compared). ``rerun`` is true
when the check was run again while the report was made, false when the report states a fact recorded earlier
(the signature verdicts of the deposit, the fixity-audit history).
"""

from __future__ import annotations

from typing import Any, Iterable

PASS, FAIL, WARNING, INFO, NOT_APPLICABLE = "pass", "fail", "warning", "info", "not_applicable"
RESULTS = (PASS, FAIL, WARNING, INFO, NOT_APPLICABLE)
SECTIONS = ("content", "evidence", "metadata", "signatures", "journal", "storage", "retention", "case")


def check(check_id: str, section: str, title: str, result: str, detail: str, *, rerun: bool = True,
          items: list[dict] | None = None, data: dict[str, Any] | None = None) -> dict:
    assert result in RESULTS and section in SECTIONS, (result, section)
    line: dict[str, Any] = {"id": check_id, "section": section, "title": title, "result": result, "rerun": rerun,
                            "detail": detail}
    if items is not None:
        line["items"] = items
    if data is not None:
        line["data"] = data
    return line


def item(name: str, result: str, detail: str = "", **extra) -> dict:
    assert result in RESULTS, result
    return {"name": name, "result": result, "detail": detail, **extra}


def worst(results: Iterable[str]) -> str:
    """fail > warning > pass; info and not_applicable alone count as pass."""
    results = set(results)
    if FAIL in results:
        return FAIL
    if WARNING in results:
        return WARNING
    return PASS


def verdict(checks: list[dict], children: Iterable[dict] = ()) -> dict:
    """The overall verdict of a report: its checks' results and, for a case, each object report's verdict."""
    children = list(children)
    failed = [c["id"] for c in checks if c["result"] == FAIL]
    warnings = [c["id"] for c in checks if c["result"] == WARNING]
    for child in children:
        prefix = child["object"]["id"]
        failed += [f"{prefix}:{name}" for name in child["verdict"]["failed"]]
        warnings += [f"{prefix}:{name}" for name in child["verdict"]["warnings"]]
    result = worst([c["result"] for c in checks] + [child["verdict"]["result"] for child in children])
    rerun = sum(1 for c in checks if c["rerun"]) + sum(child["verdict"]["checks_rerun"] for child in children)
    if result == FAIL:
        summary = f"{len(failed)} check(s) failed: {', '.join(failed[:10])}{' …' if len(failed) > 10 else ''}"
    elif result == WARNING:
        summary = f"no check failed; {len(warnings)} warning(s): {', '.join(warnings[:10])}"
    else:
        summary = f"every check re-run now passed ({rerun})"
    return {"result": result, "summary": summary, "failed": failed, "warnings": warnings, "checks_rerun": rerun}
