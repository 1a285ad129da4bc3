"""E-mail proofs of sending (.eml, RFC 5322): the header fields that say who sent what to whom, and when.

A pure function over the first bytes of the message (headers come first): it never raises on odd input — a
field it cannot read is simply not returned. What it finds fills metadata the depositor left out, and is
recorded with its source (e.g. ``eml header Date``) so that a reader knows it was extracted, not declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime

MAX_ADDRESS = 320


@dataclass(frozen=True)
class Extracted:
    value: object
    source: str


def _address(raw: str | None) -> str | None:
    if not raw:
        return None
    pairs = getaddresses([raw])
    addresses = [addr for _name, addr in pairs if addr and "@" in addr]
    if not addresses:
        return None
    value = ", ".join(addresses)
    return value if len(value) <= MAX_ADDRESS and all(0x20 <= ord(c) != 0x7F for c in value) else None


def _time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if value is None or value.tzinfo is None:
        return None
    return value.astimezone(timezone.utc)


def eml_fields(head: bytes) -> dict[str, Extracted]:
    """``sender``, ``recipient``, ``event_time``, ``message_id``, ``subject`` found in an e-mail's headers."""
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(head)
        raw = {name: headers.get(name) for name in ("From", "To", "Date", "Message-ID", "Subject")}
        raw = {name: str(value) if value is not None else None for name, value in raw.items()}
    except Exception:  # the email package raises many kinds of errors on hostile headers: nothing is extracted
        return {}
    found: dict[str, Extracted] = {}
    for field, header, parse in (("sender", "From", _address), ("recipient", "To", _address),
                                 ("event_time", "Date", _time)):
        try:
            value = parse(raw[header])
        except Exception:
            value = None
        if value is not None:
            found[field] = Extracted(value, f"eml header {header}")
    for field, header in (("message_id", "Message-ID"), ("subject", "Subject")):
        value = (raw[header] or "").strip()
        if value and len(value) <= 998:
            found[field] = Extracted(value, f"eml header {header}")
    return found



MAX_ATTACHMENTS = 200


def eml_attachments(data: bytes) -> list[dict]:
    """SHA-256 and size of each attachment (a MIME part with a filename or ``Content-Disposition: attachment``)."""
    import hashlib
    from email.parser import BytesParser

    try:
        message = BytesParser(policy=default_policy).parsebytes(data)
        found = []
        for part in message.walk():
            if part.is_multipart():
                continue
            disposition = (part.get_content_disposition() or "").lower()
            filename = part.get_filename()
            if disposition != "attachment" and not filename:
                continue
            payload = part.get_payload(decode=True) or b""
            found.append({"filename": (filename or "")[:255] or None, "media_type": part.get_content_type(),
                          "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()})
            if len(found) >= MAX_ATTACHMENTS:
                break
        return found
    except Exception:  # the email package raises many kinds of errors on hostile messages: report nothing
        return []
