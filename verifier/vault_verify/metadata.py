"""Metadata records (issue 22): salted commitments to personal values and the check of a disclosure.

A record names each personal field only by ``SHA-256(salt ‖ JCS(value))`` — the 16-byte salt, then the value's
RFC 8785 serialization — under ``commitments``. A disclosure ``{"field", "salt", "value"}`` (like an SD-JWT
disclosure ``[salt, name, value]``, RFC 9901 §4.2.1, but hashed over the raw salt and canonical value) opens
one of them; the field's place in the record binds the name. See docs/metadata-record.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from vault_verify.canonical import CanonicalError, canonical_json_any

SALT_BYTES = 16
RECORD_VERSION = 1


def commitment(salt: bytes, value: Any) -> str:
    """Hex ``SHA-256(salt ‖ JCS(value))``."""
    return hashlib.sha256(salt + canonical_json_any(value)).hexdigest()


def check_disclosure(record: dict, disclosure: dict) -> str | None:
    """Why ``disclosure`` does not open the commitment ``record`` holds for its field; None when it does."""
    name = disclosure.get("field")
    expected = (record.get("commitments") or {}).get(name)
    if expected is None:
        return f"the record commits to no field {name!r}"
    try:
        salt = bytes.fromhex(disclosure.get("salt") or "")
    except ValueError:
        return f"{name}: the salt is not hex"
    if len(salt) != SALT_BYTES:
        return f"{name}: the salt has {len(salt)} bytes, not {SALT_BYTES}"
    try:
        actual = commitment(salt, disclosure.get("value"))
    except CanonicalError as exc:
        return f"{name}: the value has no canonical JSON form: {exc}"
    if not hmac.compare_digest(actual, expected):
        return f"{name}: SHA-256(salt ‖ value) ≠ the record's commitment"
    return None


def parse_record(data: bytes, version: int = RECORD_VERSION) -> dict:
    """The record ``data`` holds, checked to be RFC 8785 canonical JSON of version ``version`` of an object's
    record (CanonicalError): version 1 is the deposit's, a later one a reassignment's or a correction's."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CanonicalError(f"not JSON: {exc}") from None
    if canonical_json_any(document) != data:  # numbers allowed: business metadata may hold them
        raise CanonicalError("not in RFC 8785 canonical form")
    if not isinstance(document, dict) or document.get("version") != version:
        raise CanonicalError(f"not version {version} of a metadata record")
    return document
