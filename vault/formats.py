"""Format identification of deposits from their first bytes (magic numbers), and the check of the declared type.

The declared media type comes from the depositor and is not trusted: the bytes are identified with puremagic's
signature tables, and the verdict — ``match``, ``mismatch`` or ``unknown`` — is stored with the object beside both
types. A mismatch is recorded, never silently corrected, and never a reason to refuse a proof.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

from vault_verify.report import FAILED, OK, WARNING, Check, Report

HEAD_BYTES = 8192
GENERIC = {"application/octet-stream", "binary/octet-stream", ""}
# Media types that name the same family of bytes for this check (left: what a depositor may declare).
FAMILIES = {
    "text/xml": "application/xml", "application/xml": "application/xml",
    "message/rfc822": "message/rfc822", "application/pdf": "application/pdf",
    "application/json": "application/json", "text/json": "application/json",
    "application/timestamp-reply": "application/timestamp-reply",
    "application/timestamp-token": "application/timestamp-reply",
}


_CHECK_STATUS = {"match": OK, "mismatch": FAILED, "unknown": WARNING}


@dataclass
class FormatVerdict(Report):
    """The declared media type checked against the detected one: one check, ``media type``, ok when they match,
    failed when they differ, a warning when nothing (or only a generic type) allows the comparison."""

    detected: str | None = None
    name: str | None = None

    @classmethod
    def of(cls, detected: str | None, name: str | None, check: str) -> "FormatVerdict":
        """From the stored word of the comparison: ``match``, ``mismatch`` or ``unknown``."""
        return cls([Check("media type", _CHECK_STATUS[check], check)], detected, name)

    @property
    def check(self) -> str:
        """The stored word: ``match``, ``mismatch`` or ``unknown``."""
        return next(word for word, status in _CHECK_STATUS.items() if status == self.checks[0].status)

    def as_dict(self, declared: str) -> dict:
        return {"declared": declared, "detected": self.detected, "name": self.name, "check": self.check}


def _family(media_type: str) -> str:
    base = media_type.split(";")[0].strip().lower()
    if base.endswith("+xml"):
        return "application/xml"
    return FAMILIES.get(base, base)


def _looks_like_json(head: bytes) -> bool:
    text = head.lstrip()
    if not text[:1] in (b"{", b"["):
        return False
    try:
        json.loads(text.decode("utf-8"))
        return True
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        # a JSON document longer than the head is cut mid-way: accept a parse error only at its very end
        return isinstance(exc, json.JSONDecodeError) and len(head) >= HEAD_BYTES and exc.pos >= len(text) - 64


_XML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]{0,200}\?>\s*)?(?:<!--.*?-->\s*)*"
                        rb"<(?:[A-Za-z_][\w.-]*:)?[A-Za-z_][\w.-]*[\s/>]", re.S)
# A PDF whose header line is damaged still has its object syntax (ISO 32000-1 §7.3.10)
_PDF_OBJECT = re.compile(rb"\d{1,10} \d{1,5} obj\s*<<")
# puremagic's guess for any DER SEQUENCE; a timestamp is checked by its structure instead
GENERIC_DER = {"application/vnd.ms-pki.seccat"}


def _looks_like_xml(head: bytes) -> bool:
    """XML without an XML declaration (which the magic tables need): an element start tag first, and a document
    that ends with a tag when the head holds all of it."""
    if not _XML_START.match(head):
        return False
    return len(head) >= HEAD_BYTES or head.rstrip().endswith(b">")


_HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}:")
_MAIL_FIELDS = {b"from", b"to", b"date", b"subject", b"message-id", b"received", b"dkim-signature", b"mime-version"}


def _looks_like_email(head: bytes) -> bool:
    """An RFC 5322 header block (the magic tables know only a few first fields): field lines and folded
    continuations up to a blank line, with ``From`` and at least two other usual fields."""
    block, blank, _rest = head.replace(b"\r\n", b"\n").partition(b"\n\n")
    if not blank and len(head) < HEAD_BYTES:
        return False
    names = set()
    for line in block.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        if not _HEADER_LINE.match(line):
            return False
        names.add(line.split(b":", 1)[0].strip().lower())
    return b"from" in names and len(names & _MAIL_FIELDS) >= 3


def looks_like_pdf(head: bytes) -> bool:
    """A PDF header within the first KiB (ISO 32000-1 §7.5.2 allows it there), or PDF object syntax when the
    header is damaged; the regular expression runs only where " obj" occurs at all (cheap on other bytes)."""
    if b"%PDF-" in head[:1024]:
        return True
    window = head[:4096]
    return b" obj" in window and _PDF_OBJECT.search(window) is not None


def is_timestamp(data: bytes) -> str | None:
    """``application/timestamp-reply`` for a DER TimeStampResp, ``application/timestamp-token`` for a bare
    TimeStampToken (RFC 3161 §2.4.2), by their structure alone; None for anything else."""
    from asn1crypto import cms, tsp

    if data[:1] != b"\x30":
        return None
    try:
        response = tsp.TimeStampResp.load(data, strict=True)
        response["status"]["status"].native
        token = response["time_stamp_token"]
        if token.native is None or token["content"]["encap_content_info"]["content_type"].native == "tst_info":
            return "application/timestamp-reply"
    except Exception:  # noqa: BLE001 — a sniff: anything unparsable is simply not a response
        pass
    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content"]["encap_content_info"]["content_type"].native == "tst_info":
            return "application/timestamp-token"
    except Exception:  # noqa: BLE001
        pass
    return None


@functools.cache
def _signature_index():
    """puremagic's header signatures by offset (one- and two-byte prefixes) and its footer signatures: enough to
    tell, in a few dictionary lookups, that no signature can match — then puremagic, which compares every one of
    its ~1 400 signatures in Python (~200 µs), need not run. Whenever any prefix matches, puremagic decides."""
    import puremagic.main as tables

    offsets: dict[int, tuple[set, set]] = {}
    for row in tables.magic_header_array:
        ones, twos = offsets.setdefault(row.offset, (set(), set()))
        (ones if len(row.byte_match) < 2 else twos).add(row.byte_match[:2])
    footers = [(row.offset, row.byte_match) for row in tables.magic_footer_array]
    return tuple((offset, ones, twos) for offset, (ones, twos) in sorted(offsets.items())), footers, tables.max_foot


def magic_may_match(head: bytes) -> bool:
    """False only when no puremagic signature can match ``head`` (then puremagic would find nothing)."""
    offsets, footers, max_foot = _signature_index()
    for offset, ones, twos in offsets:
        if head[offset:offset + 2] in twos or (ones and head[offset:offset + 1] in ones):
            return True
    foot = head[-max_foot:]
    for offset, match in footers:
        end = offset + len(match)
        if (foot[offset:end] if end != 0 else foot[offset:]) == match:
            return True
    return False


def identify(head: bytes, declared: str) -> FormatVerdict:
    """Identify ``head`` (the first bytes) and compare it with ``declared``."""
    import puremagic

    detected = name = None
    candidates = []
    try:
        candidates = puremagic.magic_string(head) if magic_may_match(head) else []
    except (puremagic.PureError, ValueError):
        pass
    stamp = is_timestamp(head) if len(head) < HEAD_BYTES else None
    if stamp:
        return FormatVerdict.of(stamp, "RFC 3161 timestamp", "match" if _family(declared) == _family(stamp) else
                             "unknown" if declared.split(";")[0].strip().lower() in GENERIC else "mismatch")
    candidates = [c for c in candidates if c.mime_type and c.mime_type not in GENERIC_DER]
    if candidates:
        declared_family = _family(declared)
        best = next((c for c in candidates if c.mime_type and _family(c.mime_type) == declared_family),
                    next((c for c in candidates if c.mime_type), candidates[0]))
        detected, name = best.mime_type or None, best.name
    elif _looks_like_json(head):
        detected, name = "application/json", "JSON document"
    elif _looks_like_email(head):
        detected, name = "message/rfc822", "e-mail message (RFC 5322)"
    elif _looks_like_xml(head):
        detected, name = "application/xml", "XML document"
    elif looks_like_pdf(head):
        detected, name = "application/pdf", "PDF document (damaged or displaced header)"
    if detected is None:
        return FormatVerdict.of(None, None, "unknown")
    if declared.split(";")[0].strip().lower() in GENERIC:
        return FormatVerdict.of(detected, name, "unknown")
    return FormatVerdict.of(detected, name, "match" if _family(detected) == _family(declared) else "mismatch")
