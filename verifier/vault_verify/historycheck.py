"""The version history of an object's metadata record in a package (issue 22, docs/package.md).

A package lists every version under the object's ``metadata_records``: ``{version, record, evidence_record}``,
oldest first. Each version's evidence record proves the RFC 4998 §4.2 data group (content, that version's bytes)
— version 1 sealed with the content uses the object's own. The chain: version n's ``previous`` is the SHA-256 of
version n-1's bytes, and no version changes the object id, the tenant or the content. The disclosures and
``metadata.json`` are checked against the newest version; what is *proven* is the newest sealed version, as of
its seal. A package without ``metadata_records`` (older) is checked as before (:mod:`vault_verify.recordcheck`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Callable

from vault_verify.bagcheck import Check
from vault_verify.canonical import CanonicalError
from vault_verify.metadata import parse_record
from vault_verify.recordcheck import MetadataRecord, check_record, proven_note

UNCHANGED = ("object_id", "tenant", "content")  # what no later version may change


@dataclass
class Version:
    number: int
    record: MetadataRecord
    evidence_record: str | None  # the path of the ER proving it with the content; None: not sealed yet


def listed_versions(entry: dict) -> list | None:
    """The object's ``metadata_records`` (None: an older package, or an object without a record)."""
    listed = entry.get("metadata_records")
    return listed if isinstance(listed, list) else None


def sealed_apart(entry: dict) -> bool:
    """Whether version 1 has an evidence record of its own (it was not sealed with the content)."""
    listed = listed_versions(entry) or []
    first = listed[0] if listed and isinstance(listed[0], dict) else {}
    return first.get("evidence_record") not in (None, entry.get("evidence_record"))


def read_versions(read: Callable[[str], bytes | None], entry: dict, first: MetadataRecord,
                  checks: list[Check]) -> list[Version] | None:
    """Every listed version, version 1 being ``first``; None when the package lists none, [] when the list cannot
    be read (a failed check names why)."""
    listed = listed_versions(entry)
    if listed is None:
        return None
    versions = []
    for n, item in enumerate(listed, 1):
        rel = item.get("record") if isinstance(item, dict) else None
        label = f"metadata record version {n} {rel}"
        if not isinstance(item, dict) or item.get("version") != n or not isinstance(rel, str):
            checks.append(Check(f"metadata_records of {entry.get('id')}", False,
                                f"entry {n} is not version {n} with a record path: {item!r:.80}"))
            return []
        if n == 1:
            record = first if rel == first.path else None
            if record is None:
                checks.append(Check(label, False, f"version 1 is not {first.path}"))
                return []
        else:
            data = read(rel)
            if data is None:
                checks.append(Check(label, False, "named in package.json but not in the package"))
                return []
            try:
                record = MetadataRecord(rel, data, parse_record(data, n), [])
            except CanonicalError as exc:
                checks.append(Check(label, False, str(exc)))
                return []
        proof = item.get("evidence_record")
        versions.append(Version(n, record, proof if isinstance(proof, str) else None))
    return versions


def check_chain(versions: list[Version], object_id: str, checks: list[Check]) -> None:
    """Each version names the one before it by the SHA-256 of its bytes and keeps the object, tenant and content."""
    first = versions[0].record.document
    problems = ["version 1 names a previous version"] if first.get("previous") is not None else []
    for before, after in zip(versions, versions[1:]):
        expected = hashlib.sha256(before.record.data).hexdigest()
        stated = after.record.document.get("previous")
        if stated != expected:
            problems.append(f"version {after.number}'s previous is {stated}, the SHA-256 of version "
                            f"{before.number} is {expected}")
        problems += [f"version {after.number} changes {k}" for k in UNCHANGED
                     if after.record.document.get(k) != first.get(k)]
    checks.append(Check(f"metadata record history of {object_id}", not problems, "; ".join(problems) or
                        f"{len(versions)} versions, each naming the one before by its SHA-256; object, tenant and "
                        "content unchanged"))


def check_history(versions: list[Version], object_id: str, content: dict, meta: dict | None,
                  disclosures: list[dict], with_content: tuple[str | None, str | None], ok: Callable[[], bool],
                  verify: Callable[[Version], str | None], checks: list[Check], note: Callable[[str], None]) -> None:
    """The history: the chain, each version's evidence record (``verify`` gives its first timestamp, or None;
    ``with_content``: the object's evidence record when it proves version 1 too, and its first timestamp — already
    checked), the newest version against the content, ``meta`` and the disclosures; then what is proven (the newest
    sealed version) or why nothing is."""
    check_chain(versions, object_id, checks)
    sealed: dict[int, str | None] = {}
    object_proof, object_sealed_at = with_content
    for version in versions:
        if version.number == 1 and object_proof is not None and version.evidence_record == object_proof:
            sealed[1] = object_sealed_at
        elif version.evidence_record is not None:
            sealed[version.number] = verify(version)
    newest = versions[-1]
    check_record(replace(newest.record, disclosures=disclosures), object_id, content, meta, checks)
    proven = [v for v in versions if sealed.get(v.number) is not None]
    if not proven or not ok():
        note("metadata record not sealed yet: its statements are not proven" if not proven else
             "metadata record history does not verify: its statements are not proven")
        return
    last = proven[-1]
    note(proven_note(replace(last.record, disclosures=disclosures if last is newest else []),
                     sealed[last.number], last.number))
    if last is not newest:
        note(f"metadata record version {newest.number} not sealed yet: the business metadata proven is "
             f"version {last.number}'s")
