"""Verdicts on the signatures found in a proof (ETSI TS 119 102-1 §5.1.3 main indications).

``valid`` is TOTAL-PASSED, ``invalid`` TOTAL-FAILED and ``indeterminate`` INDETERMINATE: the checks could not
conclude (no chain to a configured anchor, a certificate expired with no proof of existence, a file the library
could not read). A verdict is data, never an exception: validators return a :class:`Validation` whatever the
bytes are, and a file without signatures has an empty list of verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from vault.clock import iso_z
from vault.validation.steps import steps_json, steps_report
from vault_verify.report import Report

VALID, INVALID, INDETERMINATE = "valid", "invalid", "indeterminate"
VERDICTS = (VALID, INVALID, INDETERMINATE)
# ETSI TS 119 102-1 main indications, for reports that speak that vocabulary
MAIN_INDICATIONS = {VALID: "TOTAL-PASSED", INVALID: "TOTAL-FAILED", INDETERMINATE: "INDETERMINATE"}
# What a signature kind is: a PDF signature, a document timestamp, an XML signature, a token, an e-mail's DKIM or
# S/MIME signature
KINDS = ("pades", "pdf-timestamp", "xades", "xmldsig", "rfc3161", "dkim", "smime")


@dataclass(frozen=True)
class SignatureVerdict:
    """One signature's verdict; ``details`` holds the JSON-able facts behind it for the validation report.

    Conventional ``details`` keys (all optional): ``validation_time`` (ISO 8601, the time the chain was
    evaluated at: a timestamp's genTime for point-in-time validation), ``signing_time``, ``sub_indication``
    (ETSI TS 119 102-1 §5.1.3, e.g. ``NO_CERTIFICATE_CHAIN_FOUND``), ``steps``
    (checks, :mod:`vault.validation.steps`, kept as ``{"check", "result", "detail"}``), ``certificates`` (list
    of ``{"subject", "issuer", "serial", "not_before", "not_after", "sha256"}``), ``field`` (PDF field name), ``coverage``.
    """

    kind: str
    signer: str | None
    verdict: str
    reason: str
    validated_at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {self.verdict!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if "steps" in self.details:  # checks (vault.validation.steps) kept in their stored form
            self.details["steps"] = steps_json(self.details["steps"])

    @property
    def report(self) -> Report:
        """The steps as :class:`~vault_verify.report.Check`\\ s; the verdict itself stays ETSI's main indication."""
        return steps_report(self.details.get("steps", []))

    def summary(self) -> dict[str, Any]:
        """The five fields ``GET /v1/objects/{id}`` shows in ``validation``."""
        return {"kind": self.kind, "signer": self.signer, "verdict": self.verdict, "reason": self.reason,
                "validated_at": iso_z(self.validated_at)}

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary(), "details": self.details}


@dataclass(frozen=True)
class Validation:
    """What a validator found in one file: verdicts, and optionally a standard report (e.g. ETSI TS 119 102-2 XML)."""

    verdicts: list[SignatureVerdict] = field(default_factory=list)
    etsi_report: bytes | None = None

    @property
    def worst(self) -> str | None:
        """``invalid`` if any is, else ``indeterminate`` if any is, else ``valid``; None without signatures."""
        return worst_of(v.verdict for v in self.verdicts)


def worst_of(verdicts: Iterable[str | None]) -> str | None:
    """The worst of some verdicts: ``invalid`` > ``indeterminate`` > ``valid``; None when there are none."""
    found = set(verdicts)
    return next((verdict for verdict in (INVALID, INDETERMINATE, VALID) if verdict in found), None)


def unreadable(kind: str, what: str, exc: BaseException, now: datetime) -> SignatureVerdict:
    """The verdict for a file (or part of one) the underlying library raised on: indeterminate, with the reason."""
    message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    reason = f"{what}: {type(exc).__name__}{': ' + message if message else ''}"
    return SignatureVerdict(kind, None, INDETERMINATE, reason, now,
                            {"sub_indication": "FORMAT_FAILURE", "error": type(exc).__name__})
