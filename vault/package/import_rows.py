"""The object row an import stores, from a package's ``metadata.json`` (the view of ``GET /v1/objects/{id}``),
checked field by field: a package that verified can still carry values this archive would never have written."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vault.clock import parse_iso
from vault.db.tables import EVENT_TYPES, OBJECT_KINDS
from vault.ids import is_object_id
from vault.validation.verdicts import worst_of


class PackageRefused(Exception):
    """This package cannot be imported; nothing of it was stored."""


def _time(view: dict, name: str, required: bool = False) -> datetime | None:
    value = view.get(name)
    if value is None:
        if required:
            raise PackageRefused(f"object {view.get('id')}: metadata.json has no {name}")
        return None
    try:
        parsed = parse_iso(value)
    except (TypeError, ValueError):
        raise PackageRefused(f"object {view.get('id')}: {name} {value!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise PackageRefused(f"object {view.get('id')}: {name} {value!r} has no time zone")
    return parsed


def _text(view: dict, name: str, limit: int, required: bool = False) -> str | None:
    value = view.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise PackageRefused(f"object {view.get('id')}: {name} must be a string of 1 to {limit} characters")
    return value


def row_from_view(view: dict, entry: dict) -> dict[str, Any]:
    """The object row this archive stores for an object of a package, from its ``metadata.json`` (the view of
    ``GET /v1/objects/{id}``), checked field by field; ``journal_index`` and ``seal_seq`` are set at import."""
    object_id = view.get("id")
    if not isinstance(object_id, str) or not is_object_id(object_id) or object_id != entry.get("id"):
        raise PackageRefused(f"object {entry.get('id')!r}: metadata.json names {object_id!r}, not a matching "
                             "UUIDv7 object id")
    for digest, size in (("sha256", 64), ("sha512", 128)):
        value = view.get(digest)
        if not isinstance(value, str) or len(value) != size or value != entry.get(digest):
            raise PackageRefused(f"object {object_id}: {digest} of metadata.json and package.json differ")
    if not isinstance(view.get("size"), int) or view["size"] != entry.get("size") or view["size"] < 0:
        raise PackageRefused(f"object {object_id}: size of metadata.json and package.json differ")
    if view.get("kind") not in OBJECT_KINDS or view.get("event_type") not in EVENT_TYPES:
        raise PackageRefused(f"object {object_id}: unknown kind {view.get('kind')!r} or event type "
                             f"{view.get('event_type')!r}")
    policy_version = view.get("policy_version")
    if not isinstance(policy_version, int):
        raise PackageRefused(f"object {object_id}: policy_version must be an integer")
    fmt = view.get("format") or {}
    deposited_at = _time(view, "deposited_at", required=True)
    event_time = _time(view, "event_time")
    validation = view.get("validation") or []
    extracted, extra = view.get("extracted") or {}, view.get("extra") or {}
    if not isinstance(validation, list) or not all(isinstance(v, dict) for v in validation):
        raise PackageRefused(f"object {object_id}: validation must be a list of verdict summaries")
    if not isinstance(extracted, dict) or not isinstance(extra, dict):
        raise PackageRefused(f"object {object_id}: extracted and extra must be JSON objects")
    check = fmt.get("check", "unknown")
    if check not in ("match", "mismatch", "unknown"):
        raise PackageRefused(f"object {object_id}: format check {check!r} is not match, mismatch or unknown")
    return {
        "id": object_id,
        "tenant": _text(view, "tenant", 64, required=True),
        "case_ref": _text(view, "case_ref", 256, required=True),
        "contract_number": _text(view, "contract_number", 256),
        "kind": view["kind"],
        "event_type": view["event_type"],
        "event_time": event_time,
        "timeline_at": event_time or deposited_at,
        "sender": _text(view, "sender", 320),
        "recipient": _text(view, "recipient", 320),
        "filename": _text(view, "filename", 255),
        "media_type": _text(view, "media_type", 255, required=True),
        "detected_media_type": _text(fmt, "detected", 255),
        "media_type_check": check,
        "extracted": extracted,
        "validation": validation,
        "validation_verdict": worst_of(v.get("verdict") for v in validation),
        "size": view["size"],
        "sha256": view["sha256"],
        "sha512": view["sha512"],
        "policy_id": _text(view, "policy", 64, required=True),
        "policy_version": policy_version,
        "retention_start": _time(view, "retention_start"),
        "retention_until": _time(view, "retention_until"),
        "deposited_at": deposited_at,
        "depositor": _text(view, "depositor", 64, required=True),
        "extra": extra,
        "status": _text(view, "status", 16, required=True),
        "destroyed_at": _time(view, "destroyed_at"),
        "consent_ref": _text(view, "consent_ref", 36),
        "recipient_type": _text(view, "recipient_type", 16),
        "etsi_event": _text(view, "etsi_event", 64),
    }
