"""Verdicts on the S/MIME signatures of a deposited e-mail (RFC 8551): ``multipart/signed`` with a detached
``application/pkcs7-signature`` (§3.5) and ``application/pkcs7-mime; smime-type=signed-data`` (§3.3), at the top
of the message or inside it (a forwarded message, a part of a ``multipart/mixed``).

The signed entity is cut out of the message's raw bytes, never re-serialised, and its line endings made CRLF: the
canonical form the signer hashed (§3.1.1). The CMS SignedData is checked by pyHanko (message digest, signature
value, key usage) and the signer's chain by the same rules as a PDF signature (:mod:`vault.validation.pades`):
only the configured anchors are trusted, the certificates and CRLs in the CMS only help, revocation data is used
offline with soft-fail, and the chain is evaluated at the deposit time unless a signature timestamp (an RFC 3161
token in the signer's unsigned attributes) that itself validates proves an earlier time. RFC 8550 §3 asks that the
``From`` address be one of the certificate's e-mail addresses: a mismatch is reported as a step of the verdict
and in its reason (the signature still verifies; who signed is the certificate's subject, as ``signer`` says).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.policy
import re
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Iterator

from asn1crypto import cms
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms

from vault.clock import iso_z
from vault.validation.etsi_report import cms_signature_report
from vault.validation.chain import KEY_USAGE, cert_context, trust_verdict, usable_timestamp, validated
from vault.validation.pades import merge_reports
from vault.validation.pdf_certs import Material, describe, rfc4514
from vault.validation.steps import Step, step
from vault.validation.trust import ValidationContext
from vault.validation.verdicts import INVALID, VALID, SignatureVerdict, Validation, unreadable

KIND = "smime"
SIGNATURE_TYPES = {"application/pkcs7-signature", "application/x-pkcs7-signature"}
MIME_TYPES = {"application/pkcs7-mime", "application/x-pkcs7-mime"}
MAX_DEPTH = 8  # nested entities looked into
MAX_SIGNATURES = 16  # signatures checked in one message
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")


def validate_smime(data: bytes, ctx: ValidationContext) -> Validation:
    """One verdict per S/MIME signature found in the e-mail ``data``; an empty list when there is none."""
    headers, _body = _entity(bytes(data))
    try:
        senders = {address.lower() for _name, address in getaddresses(map(str, headers.get_all("From", [])))
                   if address}
    except (TypeError, ValueError, IndexError):  # an unreadable From: no address to compare with
        senders = set()
    verdicts, reports = [], []
    for form, content, signature in _signed(bytes(data), 0):
        if len(verdicts) == MAX_SIGNATURES:
            break
        try:
            verdict, report = asyncio.run(_check(form, content, _decoded(*signature), senders, ctx))
        except Exception as exc:  # noqa: BLE001 - pyHanko and asn1crypto raise far beyond their own types
            verdict, report = unreadable(KIND, f"checking the {form} signature", exc, ctx.now), None
        verdicts.append(verdict)
        reports.append(report)
    return Validation(verdicts, merge_reports(reports))


# --- finding the signed entities in the raw message --------------------------------------------------------------

def _entity(raw: bytes) -> tuple[Message, bytes]:
    """A MIME entity's header fields and its body, as bytes."""
    end = _HEADER_END.search(raw)
    head, body = (raw, b"") if end is None else (raw[:end.start()], raw[end.end():])
    return BytesHeaderParser(policy=email.policy.compat32).parsebytes(head + b"\n\n"), body


def _parts(body: bytes, boundary: str) -> list[bytes]:
    """The body parts of a multipart body (RFC 2046 §5.1.1): the line break before a delimiter belongs to it."""
    delimiter = re.compile(rb"(?:\A|\r?\n)--" + re.escape(boundary.encode("ascii", "replace")) +
                           rb"(--)?[ \t]*(\r?\n|\Z)")
    parts, start = [], None
    for match in delimiter.finditer(body):
        if start is not None:
            parts.append(body[start:match.start()])
        if match.group(1):
            break
        start = match.end()
    return parts


def _decoded(headers: Message, body: bytes) -> bytes:
    if (headers.get("Content-Transfer-Encoding") or "").strip().lower() == "base64":
        return base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
    return body


def _signed(raw: bytes, depth: int) -> Iterator[tuple[str, bytes | None, tuple[Message, bytes]]]:
    """(form, signed content in canonical form or None when the CMS encapsulates it, the entity holding the CMS)
    per signature."""
    if depth > MAX_DEPTH:
        return
    headers, body = _entity(raw)
    kind = headers.get_content_type()
    boundary = headers.get_param("boundary")
    if kind == "multipart/signed" and isinstance(boundary, str):
        parts = _parts(body, boundary)
        protocol = str(headers.get_param("protocol") or "").lower()
        if len(parts) >= 2 and protocol in SIGNATURE_TYPES:
            yield "multipart/signed", _LINE_END.sub(b"\r\n", parts[0]), _entity(parts[1])
        if parts:
            yield from _signed(parts[0], depth + 1)
    elif kind in MIME_TYPES and str(headers.get_param("smime-type") or "signed-data").lower() == "signed-data":
        yield "signed-data", None, (headers, body)
    elif kind.startswith("multipart/") and isinstance(boundary, str):
        for part in _parts(body, boundary):
            yield from _signed(part, depth + 1)
    elif kind == "message/rfc822":
        yield from _signed(body, depth + 1)


# --- checking one signature -------------------------------------------------------------------------------------

async def _check(form: str, content: bytes | None, signature: bytes, senders: set[str],
                 ctx: ValidationContext) -> tuple[SignatureVerdict, str | None]:
    """The signature's verdict and its ETSI TS 119 102-2 report (None if none could be written), in steps: the
    SignedData (RFC 8551 §3.3, §3.5), the time it is judged at, its message digest and signature value (RFC 5652
    §5.6), the signer's chain at that time, and the sender's address (RFC 8550 §3)."""
    signed, data = _signed_data(signature, content)
    material = Material(certs=[c.chosen for c in signed["certificates"] or [] if c.name == "certificate"],
                        crls=[c.chosen for c in signed["crls"] or [] if c.name == "crl"])
    steps: list[Step] = []

    def run(context):
        return async_validate_detached_cms(data, signed, signer_validation_context=context,
                                           ts_validation_context=cert_context(material, ctx, ctx.now),
                                           key_usage_settings=KEY_USAGE)

    status = await run(cert_context(material, ctx, ctx.now))
    at, source, first = _validation_time(status, ctx.now, steps)
    broken = _check_integrity(status, steps)
    cert = status.signing_cert
    signer = rfc4514(cert.subject) if cert is not None else None
    if broken:
        sub, verdict, reason = broken[0][0], INVALID, broken[0][1]
    else:  # the signer's chain at the validation time (RFC 5280 §6), as for a PDF signature
        status = await validated(run, material, ctx, at, steps, "signer's", first)
        sub_indication, verdict, reason = trust_verdict(status, "signer's", at, steps)
        sub = sub_indication.name
    sender_ok = _check_sender(senders, cert, steps)
    path = getattr(status, "validation_path", None)
    details = {"form": form, "validation_time": iso_z(at), "validation_time_proven": source is not None,
               "validation_time_source": source or "deposit time",
               "signing_time": iso_z(status.signer_reported_dt) if status.signer_reported_dt else None,
               "sub_indication": None if verdict == VALID else sub, "sender_matches": sender_ok,
               "certificates": [describe(c) for c in (list(path) if path is not None else [cert] if cert else [])],
               "steps": steps}
    result = SignatureVerdict(KIND, signer, verdict, _reason(form, verdict, reason, at, source, sender_ok), ctx.now,
                              details)
    try:
        report = cms_signature_report(signed["signer_infos"][0], data, result, cert, list(path or []), at,
                                      source is not None, status.signer_reported_dt)
    except Exception:  # noqa: BLE001 - the report is optional; it never changes a verdict
        report = None
    return result, report


def _signed_data(signature: bytes, content: bytes | None) -> tuple[cms.SignedData, bytes]:
    """The SignedData (RFC 5652 §5.1) and the content it signs: the detached entity of a ``multipart/signed``
    (RFC 8551 §3.5), or the encapsulated content of a ``signed-data`` (§3.3), then checked as detached."""
    info = cms.ContentInfo.load(signature, strict=True)
    if info["content_type"].native != "signed_data":
        raise ValueError(f"the CMS content is {info['content_type'].native}, not signed data")
    signed = info["content"]
    if content is None:  # opaque: the same check on the encapsulated content, taken out of the SignedData
        encapsulated = signed["encap_content_info"]
        content = encapsulated["content"].native if encapsulated["content"] else b""
        signed = signed.copy()
        signed["encap_content_info"] = cms.ContentInfo({"content_type": encapsulated["content_type"]})
    return signed, content


def _validation_time(status, now, steps: list[Step]):
    """(time, its source, the deposit-time status to reuse or None): the genTime of a signature timestamp that
    validates and is earlier than ``now`` (RFC 3161 token in the unsigned attributes), else ``now``."""
    stamp = status.timestamp_validity
    if stamp is None:
        return now, None, status
    steps.append(step("signature timestamp", usable_timestamp(stamp), f"genTime {iso_z(stamp.timestamp)}"))
    if usable_timestamp(stamp) and stamp.timestamp < now:
        return stamp.timestamp, "proven by its signature timestamp", None
    return now, None, status


def _check_integrity(status, steps: list[Step]) -> list[tuple[str, str]]:
    """RFC 5652 §5.6: the message digest of the content equals the signed one (§5.4), and the signature value
    verifies with the signer's key; each failure as (ETSI sub-indication, reason)."""
    broken = [(sub, why) for ok, sub, why in [
        (status.intact, "HASH_FAILURE", "the signed content was changed after signing (its digest differs from "
                                        "the signed one)"),
        (status.valid, "SIG_CRYPTO_FAILURE", "the signature value does not verify with the signer's public key")]
        if not ok]
    for check, ok in (("integrity", status.intact), ("signature value", status.valid)):
        steps.append(step(check, ok))
    return broken


def _check_sender(senders: set[str], cert, steps: list[Step]) -> bool:
    """RFC 8550 §3: the ``From`` address is one of the certificate's e-mail addresses (true when no From)."""
    addresses = _addresses(cert)
    sender_ok = not senders or bool(senders & addresses)
    steps.append(step("sender address", sender_ok, f"From: {', '.join(sorted(senders))}; the certificate names "
                       f"{', '.join(sorted(addresses)) or 'no e-mail address'} (RFC 8550 §3)"))
    return sender_ok


def _reason(form: str, verdict: str, reason: str, at, source: str | None, sender_ok: bool) -> str:
    when = f"{iso_z(at)} ({source or 'the deposit time: no timestamp proves an earlier one'})"
    if verdict != VALID:
        text = f"S/MIME signature ({form}) is {verdict}: {reason}."
    else:
        text = f"S/MIME signature ({form}) is intact and its signer's certificate chains to a configured trust " \
               f"anchor at {when}."
    if not sender_ok:
        text += " The From address is not one of the certificate's e-mail addresses."
    return text


def _addresses(cert) -> set[str]:
    """The certificate's e-mail addresses: subjectAltName rfc822Name entries and the subject's emailAddress."""
    if cert is None:
        return set()
    found = {str(name.native).lower() for name in (cert.subject_alt_name_value or []) if name.name == "rfc822_name"}
    try:
        subject = cert.subject.native
    except (ValueError, binascii.Error):
        subject = {}
    emails = subject.get("email_address") if isinstance(subject, dict) else None
    found.update(e.lower() for e in ([emails] if isinstance(emails, str) else emails or []))
    return found
