"""The business fields a proof's own content states, by format: e-mail headers, REM and ERDS evidence XML, JSON
event logs. Each parser is a pure function that never raises; this module only picks the parser."""

from __future__ import annotations

from vault.lre.eml import Extracted, eml_fields

REM_NAMESPACE = b"uri.etsi.org/02640/"
ERDS_NAMESPACE = b"uri.etsi.org/19522/"


def evidence_fields(data: bytes, family: str | None, detected: str | None) -> tuple[str | None, dict[str, Extracted]]:
    """(format read, fields) for ``data``; ``family`` is the validation family (``email``, ``xml``, …)."""
    if family == "email" or detected == "message/rfc822":
        return "eml", eml_fields(data[:256 * 1024])
    if family == "xml":
        if REM_NAMESPACE in data[:64 * 1024] or REM_NAMESPACE in data:
            from vault.lre.rem import rem_fields
            return "rem", rem_fields(data)
        if ERDS_NAMESPACE in data:
            from vault.lre.erds import erds_fields
            return "erds", erds_fields(data)
        return None, {}
    if detected == "application/json":
        from vault.lre.eventlog import eventlog_fields
        found = eventlog_fields(data)
        return ("event-log", found) if found else (None, {})
    return None, {}
