"""The deposit receipt: what was stored, derived from the stored row so that a replay returns the same bytes."""

from __future__ import annotations

from typing import Any

from vault.clock import iso_z
from vault.retention.restriction import hide, restricted_fields


def receipt_from_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "tenant": row["tenant"],
        "case_ref": row["case_ref"],
        "sha256": row["sha256"],
        "sha512": row["sha512"],
        "size": row["size"],
        "media_type": row["media_type"],
        "format": {"detected": row.get("detected_media_type"), "check": row.get("media_type_check", "unknown")},
        "filename": row["filename"],
        "deposited_at": iso_z(row["deposited_at"]),
        "policy": row["policy_id"],
        "policy_version": row["policy_version"],
        "retention_start": iso_z(row["retention_start"]),
        "retention_until": iso_z(row["retention_until"]),
        "journal_index": row["journal_index"],
        "status": row["status"],
        "validation": row.get("validation") or [],
    }


VIEW_COLUMNS = ("id", "tenant", "case_ref", "sha256", "sha512", "size", "media_type", "detected_media_type",
                "media_type_check", "filename", "deposited_at", "policy_id", "policy_version", "retention_start",
                "retention_until", "journal_index", "status", "validation", "contract_number", "kind", "event_type",
                "event_time", "sender", "recipient", "depositor", "extra", "destroyed_at", "extracted",
                "consent_ref", "recipient_type", "etsi_event", "restriction")
"""The ``archived_objects`` columns :func:`object_view` reads: what a page of search results needs to fetch (the
search keys, ``timeline_at``, ``seal_seq`` and ``validation_verdict`` are not shown)."""


def object_view(row: dict[str, Any], reveal: bool = False) -> dict[str, Any]:
    """The metadata view of an object (``GET /v1/objects/{id}``). A restricted object's personal fields are null,
    with ``"restricted": true``, unless ``reveal`` (an archivist gave a reason: vault.retention.restriction)."""
    view = receipt_from_row(row)
    view.update(
        {
            "contract_number": row["contract_number"],
            "kind": row["kind"],
            "event_type": row["event_type"],
            "event_time": iso_z(row["event_time"]),
            "sender": row["sender"],
            "recipient": row["recipient"],
            "depositor": row["depositor"],
            "extra": row["extra"],
            "destroyed_at": iso_z(row.get("destroyed_at")),
            "extracted": row.get("extracted") or {},
            "consent_ref": row.get("consent_ref"),
            "recipient_type": row.get("recipient_type"),
            "etsi_event": row.get("etsi_event"),
        }
    )
    hidden = restricted_fields(row)
    if hidden:
        view = view if reveal else hide(view, hidden)
        view.update(restricted=True, restricted_fields=list(hidden))
    return view
