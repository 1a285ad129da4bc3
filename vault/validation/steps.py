"""A validation step is a :class:`vault_verify.report.Check`; its stored form keeps the ETSI words.

The steps of a signature's verdict (ETSI TS 119 102-1 §5.2: format, integrity, timestamp, chain, revocation…)
are checks like every other verifier's. In ``details["steps"]`` (the validation report, the database rows) each
stays ``{"check", "result", "detail"}`` with ``result`` one of :data:`RESULT_STATUS`'s words, so old rows read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from vault_verify.report import FAILED, INFO, OK, WARNING, Check, Report

RESULT_STATUS = {"passed": OK, "failed": FAILED, "indeterminate": WARNING, "not checked": WARNING,
                 "warning": WARNING, "info": INFO}
_WORD = {OK: "passed", FAILED: "failed", WARNING: "indeterminate", INFO: "info"}


@dataclass(frozen=True)
class Step(Check):
    """A check that remembers the word it is stored with (``result``; from the status when empty)."""

    result: str = ""

    @property
    def word(self) -> str:
        return self.result or _WORD[self.status]


def step(check: str, result: str | bool, detail: str = "") -> Step:
    """The step ``check`` with a stored result word (``passed``, ``not checked``…) or a boolean (passed/failed)."""
    if isinstance(result, bool):
        return Step(check, result, detail)
    return Step(check, RESULT_STATUS.get(result, WARNING), detail, result)


def step_json(check: Check) -> dict[str, str]:
    """The stored form of a step: ``{"check", "result", "detail"}``."""
    word = check.word if isinstance(check, Step) else _WORD[check.status]
    return {"check": check.name, "result": word, "detail": check.detail}


def steps_json(steps: Iterable[Check | dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps in their stored form (dicts, e.g. read back from a row, pass as they are)."""
    return [s if isinstance(s, dict) else step_json(s) for s in steps]


def steps_report(rows: Iterable[Check | dict[str, Any]]) -> Report:
    """Stored steps (from a new verdict or an old row) as a :class:`Report`; an unknown word is a warning."""
    return Report([row if isinstance(row, Check) else
                   step(str(row.get("check", "")), str(row.get("result", "")), str(row.get("detail") or ""))
                   for row in rows])
