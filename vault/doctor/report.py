"""A doctor's finding (one check: ok, warning or error, what is wrong, what to do) and the runner with timeouts."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Callable, Iterable

OK, WARNING, ERROR = "ok", "warning", "error"

Check = Callable[..., list["Finding"]]


@dataclass(frozen=True)
class Finding:
    check: str  # e.g. "files.data-dir", "tsa.reachable"
    status: str  # ok | warning | error
    message: str  # what was found, one sentence
    fix: str = ""  # what to do, one sentence ("" when ok)

    def line(self) -> str:
        text = f"{self.status:7} {self.check:22} {self.message}"
        return f"{text} — {self.fix}" if self.fix else text

    def as_dict(self) -> dict:
        return asdict(self)


def run_checks(checks: Iterable[tuple[str, Check]], settings, now: datetime, timeout: float) -> list[Finding]:
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
    return 1 if any(f.status == ERROR for f in findings) else 0
