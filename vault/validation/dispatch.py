"""Which validator looks at a deposit, chosen from its identified format; one guard around all of them.

PDF → PAdES (:mod:`vault.validation.pades`), XML → XAdES / XMLDSig (:mod:`vault.validation.xades`), an RFC 3161
TimeStampResp or token → :mod:`vault.validation.tst`, an e-mail → DKIM (:mod:`vault.validation.dkim`) and S/MIME
(:mod:`vault.validation.smime`). Each
validator already turns odd input into ``indeterminate`` verdicts; the guard here is the last line, so that a
deposit never fails because a signature is odd: the verdict is data.
"""

from __future__ import annotations

from vault.formats import is_timestamp
from vault.validation.trust import ValidationContext
from vault.validation.verdicts import Validation, unreadable

TIMESTAMP_TYPES = {"application/timestamp-reply", "application/timestamp-token", "application/timestamped-data"}
TIMESTAMP_SUFFIXES = (".tsr", ".tst", ".tsd")
MAX_TIMESTAMP_BYTES = 1 << 20
XMLDSIG = b"http://www.w3.org/2000/09/xmldsig#"


def family(detected: str | None, declared: str | None, filename: str | None, data: bytes) -> str | None:
    """``pdf``, ``xml``, ``timestamp``, ``email`` or None: which validator applies to these bytes."""
    detected = (detected or "").lower()
    if detected == "application/pdf" or data[:5] == b"%PDF-":
        return "pdf"
    if detected == "message/rfc822":
        return "email"
    if detected in ("application/xml", "text/xml") or detected.endswith("+xml") or XMLDSIG in data[:65536]:
        return "xml"  # a damaged XML signature is still one: the validator says why it cannot be read
    if data[:1] == b"\x30" and len(data) <= MAX_TIMESTAMP_BYTES and (
            detected in TIMESTAMP_TYPES or is_timestamp(data)
            or (declared or "").split(";")[0].strip().lower() in TIMESTAMP_TYPES
            or (filename or "").lower().endswith(TIMESTAMP_SUFFIXES)):
        return "timestamp"
    return None


def validate(data: bytes, kind: str | None, ctx: ValidationContext) -> Validation:
    """The verdicts on every signature in ``data``, whose :func:`family` is ``kind``; never raises."""
    if kind is None:
        return Validation()
    if kind == "email":  # DKIM and S/MIME, each behind its own guard
        from vault.validation.dkim import validate_dkim
        from vault.validation.smime import validate_smime
        dkim, smime = _guarded("dkim", validate_dkim, data, ctx), _guarded("smime", validate_smime, data, ctx)
        # the ETSI report speaks of AdES signatures: S/MIME's CMS; DKIM verdicts are in the JSON report only
        return Validation(dkim.verdicts + smime.verdicts, smime.etsi_report)
    label = {"pdf": "pades", "xml": "xades", "timestamp": "rfc3161"}[kind]
    validator = {"pdf": _pdf, "xml": _xml, "timestamp": _timestamp}[kind]
    return _guarded(label, validator, data, ctx)


def _pdf(data: bytes, ctx: ValidationContext) -> Validation:
    from vault.validation.pades import validate_pdf
    return validate_pdf(data, ctx)


def _xml(data: bytes, ctx: ValidationContext) -> Validation:
    from vault.validation.xades import validate_xml
    return validate_xml(data, ctx)


def _timestamp(data: bytes, ctx: ValidationContext) -> Validation:
    from vault.validation.tst import validate_timestamp
    return validate_timestamp(data, ctx)


def _guarded(label: str, validator, data: bytes, ctx: ValidationContext) -> Validation:
    try:
        return validator(data, ctx)
    except Exception as exc:  # noqa: BLE001 — the last guard: a validator bug must not fail the deposit
        return Validation([unreadable(label, f"the {label} validator failed", exc, ctx.now)])
