"""What a correction may change, validated exactly as at deposit (GDPR art. 16; issue 22).

Pure: the requested ``changes`` ({field: value}) and the object row come in; the row's new values come out, or a
:class:`Refused` naming what is wrong. Ids, tenant, content, policy, ``deposited_at`` and retention are never
corrected here: they have routes of their own (``/policy``, ``/retention-start``) or are facts of the deposit.
"""

from __future__ import annotations

import re
from typing import Any

from vault.clock import iso_z
from vault.deposit.metadata import MetadataError, filename_problem, parse_metadata
from vault.deposit.service import DepositRejected, _check_event_time
from vault.lre.vocabulary import event_conflict
from vault.rectification.erasure import without_sources
from vault.retention.policy import RetentionPolicy
from vault_verify.canonical import CanonicalError, canonical_json_any

COLUMNS = ("case_ref", "contract_number", "sender", "recipient", "filename", "event_type", "event_time",
           "etsi_event")
"""The object columns a correction may change; besides them, ``extra.<name>``."""
EXTRA_FIELD = re.compile(r"^extra\.([A-Za-z_][A-Za-z0-9_]{0,57})$")
"""An ``extra`` member named by a correction (``extra.<name>`` fits a disclosure's 64-character field)."""
MAX_CHANGES_BYTES = 64 * 1024


class Refused(Exception):
    """A correction or erasure that cannot be made; becomes a problem+json answer (status, slug, title)."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail, self.extra = status, slug, title, detail, extra


def corrected_row(row: dict, changes: dict[str, Any], policy: RetentionPolicy) -> dict[str, Any]:
    """The columns to write for ``changes`` to ``row`` (``extra`` whole when an ``extra.<name>`` changes; a
    ``null`` removes an optional value), validated by the deposit's own rules (:func:`parse_metadata`, the event
    time window of :func:`vault.deposit.service._check_event_time` measured from the deposit, the file name rule).
    Under a policy counting from the event time, a corrected event time moves ``retention_until`` — later only."""
    if not changes:
        raise Refused(422, "empty-changes", "Nothing to correct", "'changes' is empty: name at least one field")
    wrong = sorted(name for name in changes if name not in COLUMNS and not EXTRA_FIELD.match(name))
    if wrong:
        raise Refused(422, "not-correctable", "Field not correctable",
                      f"{', '.join(wrong)} cannot be corrected: only {', '.join(COLUMNS)} and extra.<name> can "
                      "(policy and retention have their own routes; ids, tenant, content and dates are facts)",
                      fields=wrong)
    columns = {name: value for name, value in changes.items() if name in COLUMNS}
    extra = dict(row.get("extra") or {})
    for name, value in changes.items():
        if name not in COLUMNS:
            if value is None:
                extra.pop(name[len("extra."):], None)
            else:
                extra[name[len("extra."):]] = value
    checked = {k: v for k, v in columns.items() if k != "filename"}
    if "case_ref" in checked and checked["case_ref"] is None:
        raise Refused(422, "invalid-correction", "Invalid correction", "case_ref: required (it cannot be removed)",
                      errors=[{"field": "case_ref", "problem": "required"}])
    try:
        document = canonical_json_any({"policy": row["policy_id"], **checked, "extra": extra})
        meta = parse_metadata(document, MAX_CHANGES_BYTES, case_ref_required=False)
    except CanonicalError as exc:  # e.g. an integer beyond ±2⁵³, which RFC 8785 cannot keep exactly
        raise Refused(422, "invalid-correction", "Invalid correction", f"a value cannot be archived: {exc}") from None
    except MetadataError as exc:
        raise Refused(422, "invalid-correction", "Invalid correction", str(exc), errors=exc.errors) from None
    out: dict[str, Any] = {name: getattr(meta, name) for name in checked}
    if "filename" in columns:
        name = columns["filename"]
        why = None if name is None else (filename_problem(name) if isinstance(name, str) and name else
                                         "must be a non-empty string or null")
        if why:
            raise Refused(422, "invalid-correction", "Invalid correction", f"filename {why}",
                          errors=[{"field": "filename", "problem": why}])
        out["filename"] = name
    if any(EXTRA_FIELD.match(name) for name in changes):
        out["extra"] = meta.extra
    if "event_type" in out or "etsi_event" in out:
        _events_agree({**row, **out})
    if "event_time" in out:
        out.update(_event_time(row, out["event_time"], policy))
    return {**out, **without_sources(row, columns)}


def _events_agree(row: dict) -> None:
    """The deposit's rule (:func:`vault.lre.vocabulary.event_conflict`) on the corrected ``event_type`` and
    ``etsi_event``, each corrected or kept."""
    conflict = event_conflict(row["event_type"], row.get("etsi_event"))
    if conflict:
        raise Refused(422, "invalid-correction", "Invalid correction", conflict,
                      errors=[{"field": name, "problem": conflict} for name in ("event_type", "etsi_event")])


def _event_time(row: dict, event_time, policy: RetentionPolicy) -> dict[str, Any]:
    try:
        _check_event_time(policy, event_time, row["deposited_at"])
    except DepositRejected as exc:
        raise Refused(422, "invalid-correction", "Invalid correction",
                      exc.detail.replace("a deposit made now", "this object's deposit"), **exc.extra) from None
    if policy.start != "event_time":
        return {}
    until = policy.retention_until(row["deposited_at"], event_time)
    current = row.get("retention_until")
    if current is not None and (until is None or until < current):
        raise Refused(409, "retention-shortened", "Retention would be shortened",
                      "under its policy, retention runs from the event time: this correction would end it "
                      f"earlier than now set; retention is extended, never shortened", retention_until=iso_z(current))
    return {"retention_start": event_time, "retention_until": until}
