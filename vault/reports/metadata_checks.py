"""The "metadata" section of a probative-value report (issue 22, docs/metadata-record.md): what the archive can
prove about an object's business metadata.

* ``metadata.record`` — the newest version of the object's metadata record (version, SHA-256) and whether an
  evidence record proves it: version 1 sealed with the content as an RFC 4998 §4.2 data group is verified now as
  the group's second member ("proven by the evidence record sealed at T"); otherwise it is "the archive's
  statement" (not yet sealed);
* ``metadata.row`` — the object row against that record (:func:`vault.evidence.rowcheck.compare_row`): each field
  that differs is named and the line fails (the record is the truth);
* ``metadata.personal`` — each personal field as its commitment: disclosed, erased or restricted (GDPR art. 17/18).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from vault.evidence.asn1 import HASHES
from vault.evidence.rowcheck import Mismatch
from vault.evidence.verify import DataObject, verify_evidence_record
from vault.reports.checks import FAIL, INFO, PASS, WARNING, check, item
from vault.retention.restriction import restricted_fields

NOT_SEALED = "not yet sealed"


@dataclass
class MetadataFacts:
    """What the section reads about one object (one read transaction in the service)."""

    versions: dict[int, bytes]  # version → the record's exact bytes
    disclosures: list[dict] = field(default_factory=list)  # {"field", "salt", "value"} kept
    mismatches: list[Mismatch] = field(default_factory=list)  # where the row disagrees with the newest version


def metadata_checks(row: dict, facts: MetadataFacts | None, evidence, content: DataObject, roots) -> list[dict]:
    """The section's lines; ``evidence`` is the object's assembled evidence record (None while pending) and
    ``content`` the content's data object it is verified against."""
    if facts is None or not facts.versions:
        return [check("metadata.record", "metadata", "Metadata record (issue 22)", WARNING,
                      "the object has no metadata record: its business metadata is the archive's statement only")]
    version = max(facts.versions)
    data = facts.versions[version]
    sealed_at = _sealed_at(facts.versions, evidence, content, roots) if version == 1 else None
    return [_record_line(version, data, sealed_at), _row_line(facts.mismatches, sealed_at),
            _personal_line(row, data, facts.disclosures)]


def _sealed_at(versions: dict[int, bytes], evidence, content: DataObject, roots) -> str | None:
    """The genTime of the first timestamp of the evidence record that proves version 1 with the content as a
    data group (RFC 4998 §4.2), verified now; None when none does."""
    if evidence is None or not getattr(evidence, "grouped", False):
        return None
    record = DataObject(digests={name: make(versions[1]).digest() for name, make in HASHES.items()},
                        label="the metadata record")
    result = verify_evidence_record(evidence.der, [content, record], roots=list(roots) or None, group=True)
    return result.gen_times[0].isoformat().replace("+00:00", "Z") if result.ok and result.gen_times else None


def _record_line(version: int, data: bytes, sealed_at: str | None) -> dict:
    facts = {"version": version, "sha256": hashlib.sha256(data).hexdigest(), "sealed_at": sealed_at or NOT_SEALED,
             "bytes": len(data)}
    if sealed_at is not None:
        return check("metadata.record", "metadata", "Metadata record, sealed with the content", PASS,
                     f"version {version} (SHA-256 {facts['sha256'][:16]}…) is proven by the evidence record sealed "
                     f"at {sealed_at}: verified now as a member of the content's data group (RFC 4998 §4.2)",
                     data=facts)
    why = ("a later version (a correction or reassignment): sealed in a later batch" if version > 1 else
           "made after the object was sealed (backfill), or its seal is pending")
    return check("metadata.record", "metadata", "Metadata record, sealed with the content", INFO,
                 f"version {version} (SHA-256 {facts['sha256'][:16]}…), {NOT_SEALED}: {why}; until then the "
                 "business metadata is the archive's statement", data=facts)


def _row_line(mismatches: list[Mismatch], sealed_at: str | None) -> dict:
    title = "Object row against its metadata record, compared now"
    truth = f"the record proven by the evidence record sealed at {sealed_at}" if sealed_at else \
        "the record (the archive's statement)"
    if not mismatches:
        return check("metadata.row", "metadata", title, PASS, f"the row states exactly what {truth} states")
    fields = sorted({m.field for m in mismatches})
    return check("metadata.row", "metadata", title, FAIL,
                 f"the row DISAGREES with {truth} on {', '.join(fields)}: it was changed outside the archive's "
                 "record; the record is the truth and the archive does not act on the row",
                 items=[item(m.field, FAIL, f"row {m.row!r}, record {m.record!r}") for m in mismatches],
                 data={"fields": fields})


def _personal_line(row: dict, data: bytes, disclosures: list[dict]) -> dict:
    try:
        commitments = json.loads(data).get("commitments") or {}
    except (ValueError, AttributeError):
        commitments = {}
    opened = {d["field"] for d in disclosures}
    hidden = set(restricted_fields(row))
    items = []
    for name in sorted(commitments):
        state = "restricted" if name in hidden and name in opened else "disclosed" if name in opened else "erased"
        detail = {"disclosed": "the salt and value are kept: the value can be proven against the commitment",
                  "erased": "the salt and value were erased; the commitment stays and proves nothing about it",
                  "restricted": "kept but hidden (processing restricted, GDPR art. 18)"}[state]
        items.append(item(name, INFO, detail, state=state, commitment=commitments[name]))
    counts = {s: sum(1 for i in items if i["state"] == s) for s in ("disclosed", "erased", "restricted")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
    return check("metadata.personal", "metadata", "Personal fields, as salted commitments", INFO,
                 f"{len(items)} committed field(s): {summary}", items=items, data=counts)
