"""What a deposit's own content says, read once at deposit: business fields and signature verdicts.

Declared metadata always wins; a field the depositor left out is filled from the content (an e-mail's headers, a
REM or ERDS evidence, a JSON event log) and recorded in ``extracted`` with its source, so a reader knows it was
read, not declared. Every signature found is validated now, while certificates and keys are fresh
(:mod:`vault.validation`), and the verdicts become part of the object's record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vault.clock import iso_z
from vault.deposit.metadata import DepositMetadata
from vault.formats import looks_like_pdf
from vault.lre.eml import Extracted
from vault.lre.evidence import evidence_fields
from vault.lre.vocabulary import etsi_event_of
from vault.validation import dispatch
from vault.validation.trust import ValidationContext
from vault.validation.verdicts import Validation

COLUMNS = ("sender", "recipient", "event_time", "event_type", "case_ref")
KEPT = ("message_id", "evidence_id", "evidence_event", "digests", "attachments")
_HEADER_FIELD = re.compile(rb"[A-Za-z][A-Za-z0-9-]{0,76}:")
KIND_BY_FORMAT = {"eml": "email-proof", "rem": "lre-evidence", "erds": "lre-evidence", "event-log": "lre-evidence"}


@dataclass
class ContentFindings:
    values: dict[str, Any]  # column values: declared, else read from the content
    extracted: dict[str, Any]  # {column: source} for filled columns, {field: {value, source}} for the rest
    validation: Validation = field(default_factory=Validation)
    evidence_format: str | None = None


def needs_reading(head: bytes) -> bool:
    """Whether the content may hold fields or signatures worth a thread hop (cheap byte checks on the head)."""
    start = head.lstrip().removeprefix(b"\xef\xbb\xbf")[:1]
    return (start in (b"<", b"{", b"[") or head[:1] == b"\x30" or looks_like_pdf(head)
            or _HEADER_FIELD.match(head) is not None or dispatch.XMLDSIG in head)


def understand(data: bytes, *, detected: str | None, declared: str | None, filename: str | None,
               meta: DepositMetadata, ctx: ValidationContext, case_ref_pattern: str | None,
               validate: bool = True) -> ContentFindings:
    """Read ``data`` (the whole file, or its head when it is too large to validate) against ``meta``."""
    family = dispatch.family(detected, declared, filename, data)
    fmt, found = evidence_fields(data, family, detected)
    values = {"sender": meta.sender, "recipient": meta.recipient, "event_time": meta.event_time,
              "event_type": meta.event_type, "case_ref": meta.case_ref, "kind": meta.kind}
    declared_fields = meta.model_fields_set
    extracted: dict[str, Any] = {}
    mapped = _case_ref_from(found.get("message_id"), case_ref_pattern)
    if mapped is not None and "case_ref" not in found:
        found["case_ref"] = mapped
    for column in COLUMNS:
        if column in found and (values[column] is None or column not in declared_fields):
            value = found[column].value
            if column == "event_time" and not isinstance(value, datetime):
                continue
            values[column], extracted[column] = value, found[column].source
    etsi_event = etsi_event_of(found["evidence_event"].value) if "evidence_event" in found else None
    values["etsi_event"] = meta.etsi_event
    if meta.etsi_event is None and etsi_event is not None:  # declared wins, as for the columns above
        values["etsi_event"], extracted["etsi_event"] = etsi_event, found["evidence_event"].source
    if fmt in KIND_BY_FORMAT and "kind" not in declared_fields:
        values["kind"], extracted["kind"] = KIND_BY_FORMAT[fmt], f"{fmt} format"
    for name in KEPT:
        if name in found:
            extracted[name] = {"value": _json(found[name].value), "source": found[name].source}
    if fmt == "eml":
        from vault.lre.eml import eml_attachments
        attachments = eml_attachments(data)
        if attachments:
            extracted["attachments"] = {"value": attachments, "source": "eml MIME parts"}
    validation = dispatch.validate(data, family, ctx) if validate else Validation()
    return ContentFindings(values, extracted, validation, fmt)


def _case_ref_from(message_id: Extracted | None, pattern: str | None) -> Extracted | None:
    if message_id is None or pattern is None or not isinstance(message_id.value, str):
        return None
    match = re.search(pattern, message_id.value)
    if not match or not match.group("case_ref") or len(match.group("case_ref")) > 256:
        return None
    return Extracted(match.group("case_ref"), f"{message_id.source} mapped by VAULT_CASE_REF_PATTERN")


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    return value


def validation_report(object_id: str, findings: ContentFindings, anchors, now: datetime) -> dict[str, Any]:
    """The full report kept with the object (``GET /v1/objects/{id}/validation-report``)."""
    return {
        "object_id": object_id,
        "validated_at": iso_z(now),
        "policy": "offline validation at deposit against the configured trust anchors; point-in-time at a "
                  "timestamp's genTime where one proves existence",
        "trust_anchors": [{"sha256": fp} for fp in anchors.fingerprints()],
        "evidence_format": findings.evidence_format,
        "worst": findings.validation.worst,
        "signatures": [_json(v.as_dict()) for v in findings.validation.verdicts],
    }
