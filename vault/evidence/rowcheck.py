"""The record is the truth (issue 22): an object row checked against its newest metadata record.

Pure: the row (the columns of ``archived_objects``), the record's bytes, its disclosures and the policy book come
in; the fields where the row says something else than the record come out. The row is re-rendered as a record
(:func:`vault.evidence.metadata_record.build_record`, the code that made the record at deposit) and compared
member by member; personal fields through their commitments (the disclosure's salt with the row's value must give
the record's commitment, RFC 9901 §4.2.1 style); ``retention_until`` against what the record's policy version and
start rule give (:meth:`vault.retention.policy.RetentionPolicy.retention_until`). Format: docs/metadata-record.md.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from vault.clock import iso_z
from vault.evidence.metadata_record import MAYBE_PERSONAL, build_record
from vault_verify.metadata import SALT_BYTES, commitment

SKIPPED = ("version", "previous", "commitments", "correction")  # the record's own bookkeeping, not the row's
SEALED_WHEN_STATED = "etsi_event"
"""A field backfilled for objects deposited before it (migration 0035, from the content's own evidence event):
checked when the record states it, else the record keeps the bytes it had and the row's value is not compared."""
ERASED = "(erased)"
COMMITTED_MARKS = ("(committed)", "(not given)", ERASED)  # what a Mismatch says of a committed field's record side


@dataclass(frozen=True)
class Mismatch:
    """One field where the row disagrees with its record: what each says (JSON values; personal ones masked)."""

    field: str
    row: Any
    record: Any

    def as_json(self) -> dict:
        return {"field": self.field, "row": self.row, "record": self.record}


def _states(record: bytes, name: str) -> bool:
    """Whether the record names ``name`` at its top level (the byte test spares the parse of most records)."""
    if f'"{name}"'.encode() not in record:
        return False
    try:
        document = json.loads(record)
    except ValueError:
        return True  # not JSON: the comparison below says so
    return isinstance(document, dict) and name in document


class Policies(Protocol):
    def version(self, policy_id: str, version: int): ...


def compare_row(row: dict, record: bytes, disclosures: list[dict], policies: Policies,
                erased: set[str] | None = None) -> list[Mismatch]:
    """Every field where ``row`` disagrees with ``record`` (its newest version), ``disclosures`` being the
    ``{"field", "salt" (hex), "value"}`` kept for it (:func:`vault.evidence.metadata_store.disclosures`) and
    ``erased`` the fields with an erasure marker (:func:`vault.evidence.metadata_store.erased_fields`): a committed
    field with neither value nor disclosure is erased when marked, a mismatch when not (None: not checked).

    A destroyed row is compared on what disposal keeps (digests, size, policy, dates): its personal fields and
    case reference were erased on purpose."""
    salts = _salts(disclosures)
    if row.get(SEALED_WHEN_STATED) is not None and not _states(record, SEALED_WHEN_STATED):
        row = {**row, SEALED_WHEN_STATED: None}
    policy = policies.version(row.get("policy_id"), row.get("policy_version"))
    if policy is not None:  # the usual case: the row renders back into the record, byte for byte
        rendered = build_record(row, policy.personal_fields, policy.start, salt=bytes, salts=salts)
        if rendered.data == record:
            return _retention(row, policy, policy.start, row["deposited_at"], row.get("event_time"))
    try:
        document = json.loads(record)  # its canonical form is what its seal proves (rowaudit's record_seal)
    except ValueError as exc:
        return [Mismatch("record", None, f"not JSON: {exc}")]
    if not isinstance(document, dict) or not isinstance(document.get("version"), int) or document["version"] < 1:
        return [Mismatch("record", None, "not a metadata record (no version number)")]
    destroyed = row.get("destroyed_at") is not None
    personal = _personal_fields(document, row)
    stated = document.get("policy") or {}
    rendered = build_record(row, personal, stated.get("start"), salt=bytes, salts=salts)
    mine = json.loads(rendered.data)
    out = [Mismatch(name, mine.get(name), document.get(name))
           for name in sorted(set(mine) | set(document))
           if name not in SKIPPED and mine.get(name) != document.get(name)
           and not (destroyed and name in ("case_ref", "extra"))]
    if not destroyed:
        out += _commitments(document.get("commitments") or {}, {d.field: d.value for d in rendered.disclosures},
                            {d["field"]: d for d in disclosures}, erased)
    policy = policies.version(stated.get("id"), stated.get("version"))
    if policy is None:
        return out + [Mismatch("retention_until", iso_z(row.get("retention_until")),
                               f"(policy {stated.get('id')}@{stated.get('version')} unknown)")]
    return out + _retention(row, policy, stated.get("start"), _time(document.get("deposited_at")),
                            _time(document.get("event_time")))


def _salts(disclosures: list[dict]) -> dict[str, bytes]:
    salts = {}
    for d in disclosures:
        try:
            salts[d["field"]] = bytes.fromhex(d["salt"])
        except ValueError:
            continue  # a malformed salt opens nothing: the commitment check names the field
    return salts


def _personal_fields(document: dict, row: dict) -> list[str]:
    """The fields the record keeps as commitments: those of :data:`MAYBE_PERSONAL` it does not state in clear, and
    the ``extra`` members it does not hold in clear (the row's, and the record's committed ones)."""
    clear_extra = document.get("extra") or {}
    names = [n for n in MAYBE_PERSONAL if n not in document]
    names += [f"extra.{k}" for k in (row.get("extra") or {}) if k not in clear_extra]
    return names + [n for n in document.get("commitments") or {} if n not in names]


def _commitments(committed: dict, values: dict, disclosures: dict, erased: set[str] | None) -> list[Mismatch]:
    out = []
    for name in sorted(set(committed) | set(values)):
        expected, value = committed.get(name), values.get(name)
        disclosure = disclosures.get(name)
        if expected is None:
            out.append(Mismatch(name, "(a value)", "(not given)"))
        elif value is None:
            if disclosure is not None:  # erased values leave no disclosure; a kept one means the row lost it
                out.append(Mismatch(name, None, "(committed)"))
            elif erased is not None and name not in erased:
                out.append(Mismatch(name, None, "(committed; no erasure recorded)"))
        elif disclosure is None:
            out.append(Mismatch(name, "(a value)", ERASED))
        elif not _opens(expected, disclosure["salt"], value):
            out.append(Mismatch(name, "(differs)", "(committed)"))
    return out


def _opens(expected: str, salt_hex: str, value: Any) -> bool:
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return len(salt) == SALT_BYTES and hmac.compare_digest(commitment(salt, value), expected)


def _retention(row: dict, policy, start: str | None, deposited_at: datetime | None,
               event_time: datetime | None) -> list[Mismatch]:
    """``retention_until`` against what the record's policy version, start rule and times give; a start rule other
    than the deposit or the event time runs from the journaled start event (``retention_start``,
    :meth:`vault.retention.service.RetentionService.record_start`)."""
    if policy.start != start:
        return [Mismatch("policy.start", policy.start, start)]
    expected = policy.retention_until(deposited_at, event_time)
    if expected is None and policy.start not in ("deposit", "event_time") and row.get("retention_start"):
        expected = policy.duration.after(row["retention_start"])
    actual = row.get("retention_until")
    if iso_z(actual) != iso_z(expected):
        return [Mismatch("retention_until", iso_z(actual), iso_z(expected))]
    return []


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def record_view_row(row: dict, mismatches: list[Mismatch], disclosures: list[dict]) -> dict:
    """``row`` with each field it disagrees on (``mismatches`` of :func:`compare_row`) set to what the record
    states: a clear member to its value, a committed one to its disclosure's value (null without one),
    ``retention_until`` to what the record's policy gives. What the record does not state (the content, the
    record itself) stays the row's. For views taken from the record, not from an edited row."""
    fixed = dict(row)
    opened = {d["field"]: d.get("value") for d in disclosures}
    for m in mismatches:
        if m.record in COMMITTED_MARKS:  # a personal field: the row's value did not open the commitment
            value = opened.get(m.field) if m.record == "(committed)" else None
            if m.field.startswith("extra."):
                fixed["extra"] = {**(fixed.get("extra") or {}), m.field[len("extra."):]: value}
            else:
                fixed[m.field] = value
        elif m.field in ("case_ref", "contract_number", "kind", "event_type") + MAYBE_PERSONAL:
            fixed[m.field] = m.record
        elif m.field in ("event_time", "deposited_at", "retention_until"):
            fixed[m.field] = _time(m.record) if isinstance(m.record, str) and not m.record.startswith("(") else \
                fixed[m.field]
        elif m.field == "policy" and isinstance(m.record, dict):
            fixed.update(policy_id=m.record.get("id"), policy_version=m.record.get("version"))
        elif m.field == "extra" and isinstance(m.record, dict):
            personal = {k: v for k, v in (fixed.get("extra") or {}).items() if f"extra.{k}" in opened}
            fixed["extra"] = {**m.record, **personal}
    return fixed
