"""A doctor's finding (one check: ok, warning or error, what is wrong, what to do) and the runner with timeouts.

A finding is a :class:`vault_verify.report.Check` with the fix to apply, and the doctor's findings a
:class:`DoctorReport`; the doctor's own words stay in its text and JSON (``error`` for a failed check,
``check``/``message``/``fix`` keys).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

from vault_verify.report import FAILED, OK, WARNING, Check, Report

ERROR = "error"  # the doctor's word for a failed check

__all__ = ["OK", "WARNING", "ERROR", "Finding", "DoctorReport", "run_checks", "exit_status"]

Probe = Callable[..., list["Finding"]]


@dataclass(frozen=True)
class Finding(Check):
    """``name`` e.g. "files.data-dir"; ``status`` ok | warning | error (kept as ``failed``); ``detail`` what was
    found, one sentence; ``fix`` what to do, one sentence ("" when ok)."""

    fix: str = ""

    def __post_init__(self):
        if self.status == ERROR:
            object.__setattr__(self, "status", FAILED)
        super().__post_init__()

    @property
    def word(self) -> str:
        """The status as the doctor says it: ``error`` for ``failed``."""
        return ERROR if self.status == FAILED else self.status

    def doctor_line(self) -> str:
        text = f"{self.word:7} {self.name:22} {self.detail}"
        return f"{text} — {self.fix}" if self.fix else text

    def as_dict(self) -> dict:
        return {"check": self.name, "status": self.word, "message": self.detail, "fix": self.fix}


class DoctorReport(Report):
    """The doctor's findings in the order they ran; ``vault doctor``'s text and JSON."""

    def exit_status(self) -> int:
        return exit_status(self.checks)

    def to_json(self) -> dict:
        return {"status": ERROR if self.exit_status() else OK, "checks": [f.as_dict() for f in self.checks]}

    def render_json(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)

    def render_text(self) -> str:
        return "\n".join(finding.doctor_line() for finding in self.checks)


def run_checks(checks: Iterable[tuple[str, Probe]], settings, now: datetime, timeout: float) -> list[Finding]:
    """Run each check on a daemon thread, waiting at most ``timeout`` seconds for it (a hung check is an error)."""
    findings: list[Finding] = []
    for name, check in checks:
        box: list = []

        def run(check=check, box=box) -> None:
            try:
                box.append(check(settings, now))
            except Exception as exc:  # noqa: BLE001 — a check that breaks is reported, the others still run
                box.append([Finding(name, ERROR, f"the check itself failed: {exc.__class__.__name__}: {exc}",
                                    "report this; the other checks still ran")])

        worker = threading.Thread(target=run, name=f"doctor-{name}", daemon=True)
        worker.start()
        worker.join(timeout)
        if box:
            findings.extend(box[0])
        else:
            findings.append(Finding(name, ERROR, f"no answer within {timeout:g} s",
                                    "find what hangs (a TSA or store that accepts connections and never answers)"))
    return findings


def exit_status(findings: list[Finding]) -> int:
    """1 when any finding is an error, else 0 (warnings do not fail)."""
    return 1 if any(f.status == FAILED for f in findings) else 0
