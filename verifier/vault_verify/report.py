"""The one result shape of an offline check: named :class:`Check`\\ s gathered in a :class:`Report`.

A verifier returns a report with the failing step named, and raises only on misuse (the pyHanko habit, STYLE.md).
A check's ``status`` is one of :data:`STATUSES`: ``ok`` (verified), ``failed`` (verified and wrong: the report is
not OK), ``warning`` (something was not verified or is weaker than it could be, e.g. a key taken from the input
itself) and ``info`` (a fact worth stating, e.g. a proven time). A report is OK when it holds at least one check
and none failed: a verifier that checked nothing never says OK.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

OK, FAILED, WARNING, INFO = "ok", "failed", "warning", "info"
STATUSES = (OK, FAILED, WARNING, INFO)
_LABEL = {OK: "ok  ", FAILED: "FAIL", WARNING: "warn", INFO: "note"}


@dataclass(frozen=True)
class Check:
    """One named check: ``name`` says what was checked (and where), ``detail`` what was found or what differs.
    ``status`` may be given as a boolean: True is ``ok``, False ``failed`` (as :meth:`of`)."""

    name: str
    status: str
    detail: str = ""

    def __post_init__(self):
        if isinstance(self.status, bool):
            object.__setattr__(self, "status", OK if self.status else FAILED)
        if self.status not in STATUSES:
            raise ValueError(f"check status {self.status!r} is not one of {', '.join(STATUSES)}")

    @classmethod
    def of(cls, name: str, ok: bool, detail: str = "") -> "Check":
        """``ok`` or ``failed`` from a boolean."""
        return cls(name, OK if ok else FAILED, detail)

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    def line(self) -> str:
        """``name: detail`` (the name alone without a detail)."""
        return f"{self.name}: {self.detail}" if self.detail else self.name

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail}


class Derived(list):
    """A list computed from a report's checks: appending to it would be lost, so it refuses."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("this list is derived from the report's checks: add a check (report.note(...)) instead")

    append = extend = insert = __iadd__ = _refuse

    def __reduce__(self):  # copied or pickled as the plain list it is
        return list, (list(self),)


@dataclass
class Report:
    """Checks in the order they ran. Subclasses add the facts their subject has (sizes, times)."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if check.status == FAILED]

    @property
    def first_failure(self) -> Check | None:
        return next(iter(self.failures), None)

    @property
    def reason(self) -> str:
        """One sentence: the first failure's detail, else the last check's (e.g. "signature valid")."""
        failure = self.first_failure
        return failure.detail if failure else self.checks[-1].detail if self.checks else "nothing checked"

    @property
    def problems(self) -> list[str]:
        """Each failed check as one line."""
        return [check.line() for check in self.failures]

    @property
    def failure_details(self) -> list[str]:
        """Each failed check's detail alone (the reason, for a caller that names the step itself)."""
        return [check.detail for check in self.failures]

    @property
    def steps(self) -> list[Check]:
        """The verified and failed checks, without the notes."""
        return [check for check in self.checks if check.status in (OK, FAILED)]

    @property
    def notes(self) -> list[str]:
        """Each warning and info as its detail (read-only: add one with :meth:`note`)."""
        return Derived(check.detail for check in self.checks if check.status in (WARNING, INFO))

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check.of(name, ok, detail))
        return ok

    def fail(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, FAILED, detail))

    def passed(self, name: str, detail: str = "") -> None:
        """Record ``name`` as verified unless a check of that name already failed."""
        if not any(check.name == name for check in self.failures):
            self.checks.append(Check(name, OK, detail))

    def note(self, detail: str, name: str = "note", status: str = WARNING) -> None:
        self.checks.append(Check(name, status, detail))

    def extend(self, checks) -> None:
        self.checks.extend(checks)

    def facts(self) -> dict:
        """What the subject is (sizes, times…), for the JSON form; none by default."""
        return {}

    def to_json(self) -> dict:
        return {"ok": self.ok, **self.facts(), "checks": [check.to_json() for check in self.checks]}

    def render_json(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    def render_text(self) -> str:
        """One line per check, then ``VALID`` or ``INVALID: <first failing check>``."""
        lines = [f"{_LABEL[check.status]} {check.line()}" for check in self.checks]
        failure = self.first_failure
        lines.append("VALID" if self.ok else f"INVALID: {failure.line()}" if failure else "INVALID: nothing checked")
        return "\n".join(lines)
