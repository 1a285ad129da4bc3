"""The metadata record of a deposit (issue 22): the business metadata as RFC 8785 canonical JSON, sealed with the
content as a data group of two (RFC 4998 §4.2).

Personal fields (the policy's ``personal_fields``: ``sender``, ``recipient``, ``filename``, ``extra.<name>`` …)
appear only as salted commitments ``SHA-256(salt ‖ JCS(value))``, a fresh 128-bit salt each; the salts and
clear values are returned apart as disclosures (like SD-JWT's, RFC 9901 §4.2.1) and stored in their own table,
so that erasing one leaves the record, its seal and every other proof intact. Format: docs/metadata-record.md.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from vault.clock import iso_z
from vault_verify.canonical import canonical_json_any
from vault_verify.metadata import RECORD_VERSION, SALT_BYTES, commitment

# fields a policy may list as personal; anything else in the record is never personal
MAYBE_PERSONAL = ("case_ref", "contract_number", "sender", "recipient", "filename")
# LRE fields (never personal: an object id, a category, an ETSI event name), in the record only when given
LRE_FIELDS = ("consent_ref", "recipient_type", "etsi_event")


@dataclass(frozen=True)
class Disclosure:
    """What opens one commitment: the salt and the clear value (RFC 9901 §4.2.1 ``[salt, name, value]``)."""

    field: str
    salt: bytes
    value: Any

    def as_json(self) -> dict:
        return {"field": self.field, "salt": self.salt.hex(), "value": self.value}


@dataclass(frozen=True)
class MetadataRecord:
    data: bytes
    """The exact bytes sealed and served (canonical JSON)."""
    disclosures: tuple[Disclosure, ...]


def build_record(row: dict, personal_fields: Iterable[str], start_rule: str,
                 salt: Callable[[int], bytes] = secrets.token_bytes,
                 salts: Mapping[str, bytes] | None = None, version: int = RECORD_VERSION,
                 previous: str | None = None, correction: Mapping[str, Any] | None = None) -> MetadataRecord:
    """The record of an object row (the columns of ``archived_objects``): version 1 at deposit; a later version
    (``version`` > 1) names the one before it by ``previous``, the hex SHA-256 of its bytes. ``salts`` (by field)
    are reused where given — the salts of a record's disclosures render its row back into the very same bytes.
    A version made by a rectification (GDPR art. 16) carries ``correction`` (``{"reason", "fields"}``), sealed
    with it; a record without one has no such member (version 1's bytes are unchanged).

    A personal field with no value (None, or absent from ``extra``) has no commitment: the record then shows it
    was not given. ``extra`` members not listed as personal stay in clear under ``extra``."""
    personal = set(personal_fields)
    extra = row.get("extra") or {}
    document: dict[str, Any] = {
        "version": version, "previous": previous,
        "object_id": row["id"], "tenant": row["tenant"],
        "kind": row["kind"], "event_type": row["event_type"], "event_time": _time(row.get("event_time")),
        "policy": {"id": row["policy_id"], "version": row["policy_version"], "start": start_rule},
        "deposited_at": _time(row["deposited_at"]),
        "content": {"sha256": row["sha256"], "sha512": row["sha512"], "size": row["size"],
                    "media_type": row["media_type"]},
        "extra": {k: v for k, v in extra.items() if f"extra.{k}" not in personal},
    }
    for name in LRE_FIELDS:  # only when given: a record without them keeps the bytes it had before them
        if row.get(name) is not None:
            document[name] = row[name]
    clear = {name: row.get(name) for name in MAYBE_PERSONAL}
    clear.update({f"extra.{k}": v for k, v in extra.items()})
    commitments, disclosures = {}, []
    for name, value in clear.items():
        if name in personal:
            if value is not None:
                disclosure = Disclosure(name, (salts or {}).get(name) or salt(SALT_BYTES), value)
                commitments[name] = commitment(disclosure.salt, value)
                disclosures.append(disclosure)
        elif not name.startswith("extra."):
            document[name] = value
    document["commitments"] = commitments
    if correction is not None:
        document["correction"] = dict(correction)
    return MetadataRecord(canonical_json_any(document), tuple(disclosures))


def still_shown(row: dict, field: str) -> bool:
    """Whether the object's metadata view (its row) still holds ``field`` (``extra.<name>`` or a column): a value
    the archive no longer holds (erased on request or at disposal) is not disclosed."""
    if field.startswith("extra."):
        return (row.get("extra") or {}).get(field[len("extra."):]) is not None
    return row.get(field) is not None


def _time(value: datetime | None) -> str | None:
    return iso_z(value)
