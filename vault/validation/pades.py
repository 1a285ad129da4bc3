"""Offline validation of the signatures in a PDF: PAdES (ETSI EN 319 142-1), legacy ``adbe.pkcs7.*`` and
document timestamps, with pyHanko, following the validation model of ETSI TS 119 102-1 (EN 319 102-1).

Each signature is checked for integrity (ByteRange digest), signature value, coverage and incremental updates
(pyHanko's difference analysis), then for a chain to one of the operator's anchors (``ctx.anchors`` only, never a
root found in the file). Nothing is fetched; revocation data stored in the file (DSS, revocationInfoArchival) is
used, and revocation data that is missing or inconclusive does not fail the check (soft-fail).

Point-in-time validation, a simplified TS 119 102-1 §5.6: document timestamps are checked newest first; one that
validates proves its revision existed at its genTime, and everything signed before it is checked at that time. A
signature timestamp that validates moves its signer's check to its genTime. A timestamp is itself checked at its
own genTime: its TSA certificate must chain to an anchor and be valid (not revoked, by the data at hand) then —
the rule RFC 4998 §5.3 applies to the archive's own evidence records, chosen over the stricter TS 119 102-1 §5.6
past-signature validation (which asks a later proof for a timestamp whose TSA certificate has expired since) so
that a proof deposited years after signing can still be dated; the archive's own seal then dates it for the
future. Without a timestamp the check happens at ``ctx.now``, so a signer certificate that has expired since gives
``indeterminate`` (OUT_OF_BOUNDS_NO_POE), never ``valid``. The ETSI TS 119 102-2 report comes from pyHanko.

pyHanko raises on many malformed files; each step is guarded, so a file gives verdicts, never an exception, and
a pathological file cannot hold the caller longer than :data:`TIME_LIMIT` seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import threading
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from defusedxml.ElementTree import fromstring as defused_fromstring
from vault.validation.asn1_names import load_pyhanko
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed, AdESStatus
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.validation import SignatureCoverageLevel
from pyhanko.sign.validation.ades import AdESWithTimeValidationResult, ValidationObjectSet
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import (EmbeddedPdfSignature, async_validate_pdf_signature,
                                                  async_validate_pdf_timestamp)
from pyhanko.sign.validation.report.tools import NAMESPACES, generate_report
from pyhanko_certvalidator.ltv.poe import ValidationObject, ValidationObjectType

from vault.clock import iso_z
from vault.validation.chain import (KEY_USAGE, NO_REVOCATION, cert_context, soft_failed, trust_verdict,
                                    usable_timestamp, validated)
from vault.validation.pdf_certs import Material, collect_material, describe, raw_integrity, rfc4514
from vault.validation.steps import Step, step
from vault.validation.trust import ValidationContext
from vault.validation.verdicts import INDETERMINATE, INVALID, VALID, SignatureVerdict, Validation, unreadable

for _prefix, _uri in NAMESPACES.items():  # vr:, ds:, XAdES: prefixes in the merged report
    ET.register_namespace(_prefix, _uri)
VR = "{" + NAMESPACES["vr"] + "}"
load_pyhanko()
# pyHanko logs a warning with a traceback for every failed check; the verdicts carry the reasons instead
logging.getLogger("pyhanko").setLevel(logging.ERROR)
logging.getLogger("pyhanko_certvalidator").setLevel(logging.ERROR)

TIME_LIMIT = 8.0  # seconds for one file; a thread that overruns is abandoned (it keeps running as a daemon)
SIG, TS = "pades", "pdf-timestamp"
SUBFILTERS = {str(s.value) for s in SigSeedSubFilter}


def validate_pdf(data: bytes, ctx: ValidationContext) -> Validation:
    """Verdicts on every signature and document timestamp in ``data``; never raises, returns within TIME_LIMIT."""
    box: dict[str, Any] = {}

    def work():
        try:
            box["result"] = _validate(bytes(data), ctx)
        except BaseException as exc:  # noqa: BLE001 - whatever happens becomes a verdict
            box["error"] = exc

    worker = threading.Thread(target=work, name="pades-validation", daemon=True)
    worker.start()
    worker.join(TIME_LIMIT)
    if worker.is_alive():
        return Validation([SignatureVerdict(SIG, None, INDETERMINATE, f"validation did not finish within "
                                            f"{TIME_LIMIT:g} s (pathological or very large PDF)", ctx.now,
                                            {"sub_indication": "FORMAT_FAILURE", "error": "Timeout"})])
    if "error" in box:
        return Validation([unreadable(SIG, "validating the PDF", box["error"], ctx.now)])
    return box["result"]


def _validate(data: bytes, ctx: ValidationContext) -> Validation:
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
    except Exception as exc:  # noqa: BLE001 - pyhanko raises PdfReadError, ValueError, OSError, ...
        return Validation(_unparseable(data, "opening the PDF", exc, ctx.now))
    try:
        encrypted = reader.encrypted
    except Exception as exc:  # noqa: BLE001 - e.g. /Encrypt null
        return Validation(_unparseable(data, "reading the encryption dictionary", exc, ctx.now))
    if encrypted:  # /Contents and ByteRange are not encrypted: the raw digest check still applies
        return Validation(_raw_checked(data, SignatureVerdict(
            SIG, None, INDETERMINATE, "The PDF is encrypted and the archive has no password or key to decrypt it, "
            "so its signatures cannot be checked.", ctx.now, {"sub_indication": "FORMAT_FAILURE", "encrypted": True})))
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:  # noqa: BLE001
        return Validation(_unparseable(data, "listing the signature fields", exc, ctx.now))
    verdicts, signatures = _open_signatures(reader, fields, ctx.now)
    if not signatures:
        return Validation(verdicts)
    material = collect_material(reader, signatures)
    checked, reports = asyncio.run(_check_all(signatures, material, ctx))
    return Validation(verdicts + checked, merge_reports(reports))


def _kind(sig_object) -> str:
    return TS if sig_object.get("/Type") == "/DocTimeStamp" else SIG


def _open_signatures(reader, fields, now):
    """EmbeddedPdfSignature per filled field, oldest revision first; a field that cannot be read gets a verdict.
    Unfilled placeholders (``/Contents`` all zero) are not signatures and are skipped."""
    verdicts, signatures = [], []
    for name, value, field_ref in fields:
        kind = SIG
        try:
            sig_object = value.get_object()
            kind = _kind(sig_object)
            contents = sig_object.raw_get("/Contents")
            if not getattr(contents, "original_bytes", b"x").strip(b"\x00"):
                continue
            subfilter = str(sig_object.get("/SubFilter"))
            if subfilter not in SUBFILTERS:
                verdicts.append(SignatureVerdict(kind, None, INDETERMINATE, f"Signature field {name!r} uses SubFilter "
                                                 f"{subfilter}, which this validator does not support.", now,
                                                 {"field": name, "sub_indication": "FORMAT_FAILURE"}))
                continue
            signatures.append(EmbeddedPdfSignature(reader, field_ref, name))
        except Exception as exc:  # noqa: BLE001
            verdicts.append(_failure(kind, f"reading signature field {name!r}", exc, now, name))
    return verdicts, sorted(signatures, key=lambda s: s.signed_revision)


def _unparseable(data: bytes, what: str, exc: BaseException, now: datetime) -> list[SignatureVerdict]:
    return _raw_checked(data, unreadable(SIG, what, exc, now))


def _raw_checked(data: bytes, verdict: SignatureVerdict) -> list[SignatureVerdict]:
    """The PDF could not be read: the ByteRange digests can still be checked on the raw bytes (pdf_certs)."""
    checks = raw_integrity(data)
    if not checks:
        return [verdict]
    details = {**verdict.details, "raw_byte_range_checks": checks}
    if any(c["intact"] is False for c in checks):
        return [dataclasses.replace(verdict, verdict=INVALID, details={**details, "sub_indication": "HASH_FAILURE"},
                                    reason="A signature's ByteRange does not match the file (the covered bytes differ "
                                    "from what was signed, or lie beyond the end of the file), so the file is not as "
                                    f"signed; beyond that it could not be read ({verdict.reason.rstrip('.')}).")]
    return [dataclasses.replace(verdict, details=details)]


def _failure(kind, what, exc, now, name=None) -> SignatureVerdict:
    """A step that raised: pyHanko's own AdES sub-indication when it gives one, else unreadable()."""
    base = unreadable(kind, what, exc, now)
    sub = getattr(exc, "ades_subindication", None) if isinstance(exc, SignatureValidationError) else None
    sub = None if sub is None or sub.name == "GENERIC" else sub  # GENERIC is pyHanko's, not an ETSI name
    details = {**base.details, **({"field": name} if name else {})}
    if sub is None:
        return SignatureVerdict(kind, None, base.verdict, base.reason, now, details)
    verdict = INVALID if sub.status == AdESStatus.FAILED else INDETERMINATE
    return SignatureVerdict(kind, None, verdict, base.reason, now, {**details, "sub_indication": sub.name})


async def _check_all(signatures, material, ctx):
    """Newest first, so that a document timestamp that validates dates everything signed before it."""
    proofs: list[tuple[int, datetime, str]] = []  # (revision, genTime, field) of validated document timestamps
    verdicts: list[SignatureVerdict] = []
    reports: list[str | None] = []
    for sig in reversed(signatures):
        kind, name = _kind(sig.sig_object), sig.field_name
        later = [(t, f) for rev, t, f in proofs if rev > sig.signed_revision]
        at, source = min(later) if later else (ctx.now, None)
        source = source and f"proven by document timestamp {source!r}"
        step, signer = f"reading the signer certificate of {name!r}", None
        try:
            signer = rfc4514(sig.signer_cert.subject)  # NO_SIGNING_CERTIFICATE_FOUND when the CMS carries none
            step = f"validating {'timestamp' if kind == TS else 'signature'} {name!r}"
            verdict, result, proven = await _check(sig, kind, signer, material, ctx, at, source)
            if proven is not None:
                proofs.append((sig.signed_revision, proven, name))
            if kind == SIG:
                reports.append(_report(sig, result, ctx.now))
        except Exception as exc:  # noqa: BLE001 - pyhanko raises far beyond its own error types
            if kind == SIG:
                reports.append(None)
            verdict = dataclasses.replace(_failure(kind, step, exc, ctx.now, name), signer=signer)
        verdicts.append(verdict)
    return verdicts[::-1], reports[::-1]


def _integrity(status, steps, docmdp: bool) -> tuple[Any, str] | None:
    """Integrity, signature value, coverage and later changes (EN 319 142-1 §5.1); a failure here is final.
    After a signature pyHanko's DocMDP rules apply; after a document timestamp anything but OTHER is allowed."""
    level, coverage = status.modification_level, getattr(status.coverage, "name", None)
    checks = [("integrity", status.intact, AdESFailure.HASH_FAILURE,
               "the signed bytes were changed after signing (their digest differs from the signed one)"),
              ("signature value", status.valid, AdESFailure.SIG_CRYPTO_FAILURE,
               "the signature value does not verify with the signer's public key"),
              ("coverage", status.coverage is not None and status.coverage >= SignatureCoverageLevel.ENTIRE_REVISION,
               AdESFailure.FORMAT_FAILURE, f"the signature does not cover a whole revision of the file (coverage "
               f"{coverage}: bytes outside the signed range, or a gap larger than the signature value)"),
              ("modifications", status.docmdp_ok if docmdp else level != ModificationLevel.OTHER,
               AdESFailure.FORMAT_FAILURE, "the file was changed after signing in a way the signature does not "
               f"allow (modification level {getattr(level, 'name', None)})")]
    for check, ok, sub, why in checks:
        steps.append(step(check, ok, "" if ok else why))
        if not ok:
            return sub, why
    return None


@dataclasses.dataclass
class _Revalidation:
    """The trust check of one PDF signature again, in a given certificate context (no difference analysis: it is
    done by the first pass); a signature's timestamp is checked at ``stamp_at``."""

    sig: EmbeddedPdfSignature
    kind: str
    material: Material
    ctx: ValidationContext
    stamp_at: datetime

    def __call__(self, context, ts_revocation=None):
        if self.kind == TS:
            return async_validate_pdf_timestamp(self.sig, context, skip_diff=True)
        return async_validate_pdf_signature(
            self.sig, context, cert_context(self.material, self.ctx, self.stamp_at, ts_revocation), skip_diff=True,
            key_usage_settings=KEY_USAGE)


async def _check(sig, kind, signer, material, ctx, at, source):
    """One signature (EN 319 142-1 §5.1, TS 119 102-1 §5.5) or document timestamp (EN 319 142-1 §5.4.3):
    integrity first, then the signature timestamp, the best proven time, and the chain at that time. Returns
    (verdict, report input, proven genTime)."""
    steps: list[Step] = []
    who = "TSA" if kind == TS else "signer's"
    if kind == TS:
        status = await async_validate_pdf_timestamp(sig, cert_context(material, ctx, at))
    else:
        status = await async_validate_pdf_signature(sig, cert_context(material, ctx, at), key_usage_settings=KEY_USAGE)
    broken = _integrity(status, steps, docmdp=kind == SIG)
    run = _Revalidation(sig, kind, material, ctx, at)
    stamp = await _signature_timestamp(run, status, at, steps) if kind == SIG else None
    at, source, first = _best_time(kind, status, stamp, broken, at, source)
    trust = await validated(run, material, ctx, at, steps, who, first)
    if broken:
        sub, verdict, reason = broken[0], INVALID, broken[1]
    elif kind == SIG and not status.seed_value_ok:  # ISO 32000-2 §12.7.5.5: the field's seed value constraints
        sub, verdict = AdESIndeterminate.SIG_CONSTRAINTS_FAILURE, INDETERMINATE
        reason = f"the signature violates its field's seed value constraints ({status.seed_value_constraint_error})"
    else:
        sub, verdict, reason = trust_verdict(trust, who, at, steps)
    level, path = status.modification_level, trust.validation_path
    details = {"field": sig.field_name, "subfilter": str(sig.sig_object.get("/SubFilter")),
               "signed_revision": sig.signed_revision, "validation_time": iso_z(at),
               "validation_time_proven": source is not None, "validation_time_source": source or "current time",
               "signing_time": iso_z(status.timestamp if kind == TS else sig.self_reported_timestamp),
               "sub_indication": None if verdict == VALID else sub.name,
               "coverage": getattr(status.coverage, "name", None), "modification_level": getattr(level, "name", None),
               "certificates": [describe(c) for c in (list(path) if path is not None else [sig.signer_cert])],
               "steps": steps, **({"file_problems": material.problems} if material.problems else {})}
    text = _reason(sig, kind, status, verdict, reason, at, source)
    covered = status.coverage is not None and status.coverage >= SignatureCoverageLevel.ENTIRE_REVISION
    proven = status.timestamp if kind == TS and usable_timestamp(trust) and covered else None
    return SignatureVerdict(kind, signer, verdict, text, ctx.now, details), (trust, sub, text, at), proven


async def _signature_timestamp(run: _Revalidation, status, at: datetime, steps: list[Step]):
    """The signature timestamp (EN 319 142-1 §5.3, TS 119 102-1 §5.6.2.4): checked at its own genTime when it is
    intact but not usable at ``at`` (see the module docstring), and with soft-fail for inconclusive revocation
    data; recorded as a step. None when the signature has none."""
    stamp = status.timestamp_validity
    if stamp is not None and not usable_timestamp(stamp) and stamp.intact and stamp.valid and stamp.timestamp < at:
        run.stamp_at = stamp.timestamp
        stamp = (await run(cert_context(run.material, run.ctx, at))).timestamp_validity
    if soft_failed(stamp):  # the signature timestamp's revocation data, same soft-fail rule
        retry = (await run(cert_context(run.material, run.ctx, at), NO_REVOCATION)).timestamp_validity
        if usable_timestamp(retry):
            steps.append(step("TSA revocation", "indeterminate", "inconclusive at "
                              f"{iso_z(at)} ({stamp.trust_problem_indic.name}); soft-fail"))
            stamp = retry
    if stamp is not None:
        problem = getattr(stamp.trust_problem_indic, "name", None) or "not intact or signature value invalid"
        steps.append(step("signature timestamp", usable_timestamp(stamp), f"genTime {iso_z(stamp.timestamp)}" + (
            "" if usable_timestamp(stamp) else f", not usable at {iso_z(at)}: {problem}")))
    return stamp


def _best_time(kind: str, status, stamp, broken, at: datetime, source: str | None):
    """(time, its source, the first pass's status to reuse or None): the earliest proven time, TS 119 102-1
    §5.6.2 (best signature time): a usable signature timestamp, or a document timestamp's own genTime."""
    first = status
    if usable_timestamp(stamp) and stamp.timestamp < at:
        at, source, first = stamp.timestamp, "proven by its signature timestamp", None
    if kind == TS and not broken and status.timestamp is not None and status.timestamp < at:
        at, source, first = status.timestamp, "the timestamp's own genTime", None
    return at, source, first


def _reason(sig, kind: str, status, verdict: str, reason: str, at: datetime, source: str | None) -> str:
    label = f"{'Document timestamp' if kind == TS else 'Signature'} {sig.field_name!r}"
    when = f"{iso_z(at)} ({source or 'the current time: no timestamp proves an earlier one'})"
    if verdict != VALID:
        return f"{label} is {verdict}: {reason}."
    if kind == TS:
        return (f"{label} is intact and proves its revision existed at {iso_z(status.timestamp)}; the TSA "
                f"certificate chains to a configured trust anchor at {when}.")
    return f"{label} is intact and its signer's certificate chains to a configured trust anchor at {when}."


def _report(sig, result, now: datetime) -> str | None:
    """ETSI TS 119 102-2 report for one signature with pyHanko's generator; None if it cannot make one.
    ValidationTime is when the validation ran (``now``); BestSignatureTime is the proven time it used."""
    status, sub, text, at = result
    try:
        certs = list(status.validation_path) if status.validation_path is not None else [status.signing_cert]
        objects = ValidationObjectSet([ValidationObject(ValidationObjectType.CERTIFICATE, c) for c in certs])
        return generate_report(sig, AdESWithTimeValidationResult(
            ades_subindic=sub, api_status=dataclasses.replace(status, validation_time=now),
            failure_msg=None if sub == AdESPassed.OK else text, validation_objects=objects, best_signature_time=at,
            signature_not_before_time=None))
    except Exception:  # noqa: BLE001 - the report is optional; it never changes a verdict
        return None


def merge_reports(reports: list[str | None]) -> bytes | None:
    """One ValidationReport with every signature's SignatureValidationReport and validation objects, or None if
    a signature has none (a report that leaves a signature out would mislead). TOTAL-PASSED carries no
    sub-indication (TS 119 102-1 §5.1.3), so pyHanko's ``subindication:OK`` is dropped."""
    try:
        if not reports or any(r is None for r in reports):
            return None
        base, *others = [defused_fromstring(r) for r in reports]
        objects = base.find(VR + "SignatureValidationObjects")
        seen = {o.get("id") for o in objects.iter(VR + "ValidationObject")}
        for tree in others:
            position = len(base.findall(VR + "SignatureValidationReport"))
            for offset, single in enumerate(tree.findall(VR + "SignatureValidationReport")):
                base.insert(position + offset, single)
            for obj in tree.iter(VR + "ValidationObject"):
                if obj.get("id") not in seen:
                    seen.add(obj.get("id"))
                    objects.append(obj)
        for status in base.iter(VR + "SignatureValidationStatus"):
            for sub in status.findall(VR + "SubIndication"):
                if (sub.text or "").endswith(":OK"):
                    status.remove(sub)
        return ET.tostring(base, encoding="utf-8", xml_declaration=True)
    except Exception:  # noqa: BLE001
        return None
