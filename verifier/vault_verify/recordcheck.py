"""An object's metadata record in a package (issue 22, docs/metadata-record.md, docs/package.md): the business
metadata sealed with the content as an RFC 4998 §4.2 data group.

``objects/<id>/metadata-record.json`` holds the record's exact bytes (RFC 8785 canonical JSON), and
``objects/<id>/disclosures.json`` the salts and values that open the commitments the exporter may see. Once the
evidence record is verified with the group (content, record) (:func:`record_member` gives the record's side), the
record is checked here: it names the object, its content digests and size are the payload's, every disclosure
opens its commitment, and ``metadata.json`` (the archive's view, not proven) says the same as the record. What the
record states is then *proven*, as of the evidence record's first timestamp.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from vault_verify.asn1 import HASHES
from vault_verify.bagcheck import Check
from vault_verify.canonical import CanonicalError
from vault_verify.ers import DataObject
from vault_verify.metadata import check_disclosure, parse_record

# fields of metadata.json that the record states in clear (unless committed) under the same name
SAME_NAME = ("tenant", "case_ref", "contract_number", "kind", "event_type", "sender", "recipient", "filename",
             "consent_ref", "recipient_type", "etsi_event")
SEALED_WHEN_STATED = ("etsi_event",)  # backfilled for objects deposited before it (issue 23): the record of such
# an object does not state it, and metadata.json's value is then not checked against the record
TIMES = ("event_time", "deposited_at")
PROVEN = ("case_ref", "contract_number", "kind", "event_type", "event_time")  # named in the "proven" note


@dataclass
class MetadataRecord:
    path: str
    data: bytes
    document: dict
    disclosures: list[dict]


def read_record(read: Callable[[str], bytes | None], entry: dict, checks: list[Check]) -> MetadataRecord | None:
    """The object's record and disclosures as the package carries them; None when it names no record (an older
    package or object: nothing to check) or when they cannot be read (a failed check is added, naming why)."""
    rel = entry.get("metadata_record")
    if rel is None:
        return None
    data = read(rel) if isinstance(rel, str) else None
    if data is None:
        checks.append(Check(f"metadata record {rel}", False, "named in package.json but not in the package"))
        return None
    try:
        document = parse_record(data)
    except CanonicalError as exc:
        checks.append(Check(f"metadata record {rel}", False, str(exc)))
        return None
    disclosures = _disclosures(read, entry.get("disclosures"), checks)
    return None if disclosures is None else MetadataRecord(rel, data, document, disclosures)


def _disclosures(read, rel: Any, checks: list[Check]) -> list[dict] | None:
    if rel is None:
        return []
    data = read(rel) if isinstance(rel, str) else None
    try:
        found = json.loads(data) if data is not None else None
    except (ValueError, UnicodeDecodeError) as exc:
        checks.append(Check(f"disclosures {rel}", False, f"not JSON: {exc}"))
        return None
    if not isinstance(found, list) or not all(isinstance(d, dict) for d in found):
        checks.append(Check(f"disclosures {rel}", False, "named in package.json but not in the package"
                            if data is None else "not a list of {field, salt, value} objects"))
        return None
    return found


def record_member(record: MetadataRecord) -> DataObject:
    """The record as the second member of the object's data group (every digest algorithm an ER may use)."""
    return DataObject(digests={name: make(record.data).digest() for name, make in HASHES.items()},
                      label=record.path)


def check_record(record: MetadataRecord, object_id: str, content: dict, meta: dict | None,
                 checks: list[Check]) -> None:
    """The record against the object: its id, its content digests and size (``content``: the payload's), each
    disclosure against its commitment, and ``meta`` (metadata.json) against what the record proves."""
    doc = record.document
    stated = doc.get("content") if isinstance(doc.get("content"), dict) else {}
    differ = ([f"object_id is {doc.get('object_id')}, not {object_id}"] if doc.get("object_id") != object_id else []) \
        + [f"content.{k} is {stated.get(k)}, the content's is {content.get(k)}"
           for k in ("sha256", "sha512", "size") if stated.get(k) != content.get(k)]
    checks.append(Check(f"metadata record {record.path} = content", not differ, "; ".join(differ)
                        or "names this object, with the content's digests and size"))
    problems = [p for p in (check_disclosure(doc, d) for d in record.disclosures) if p is not None]
    checks.append(Check(f"disclosures of {object_id}", not problems, "; ".join(problems)
                        or f"{len(record.disclosures)} disclosure(s) open their commitments"))
    if meta is not None:
        differ = _view_differs(doc, meta, {d.get("field"): d.get("value") for d in record.disclosures})
        checks.append(Check(f"metadata.json = metadata record of {object_id}", not differ, "; ".join(differ)
                            or "the archive's view says what the record proves"))


def check_row_agrees(object_id: str, entry: dict, meta: dict | None, checks: list[Check]) -> None:
    """A failed check when the exporting archive found the object's row disagreeing with its newest metadata
    record (``row_disagrees`` in package.json's entry or in metadata.json): the archive's own data was edited
    outside its record, so its statements about the object cannot be trusted beyond what the record proves."""
    named = entry.get("row_disagrees") or []
    stated = (meta or {}).get("row_disagrees") or []
    fields = sorted({str(f) for f in named} | {str(m.get("field")) for m in stated if isinstance(m, dict)})
    if fields:
        checks.append(Check(f"object row of {object_id} = its metadata record", False,
                            f"the archive's row disagrees with the sealed record on {', '.join(fields)}; "
                            "metadata.json states the record's values"))


def _view_differs(doc: dict, meta: dict, disclosed: dict) -> list[str]:
    """Where metadata.json says something else than the record (a committed value: than its disclosure; a
    committed value shown but neither disclosed nor committed is a difference; an erased one, shown as null, not)."""
    commitments = doc.get("commitments") if isinstance(doc.get("commitments"), dict) else {}
    policy = doc.get("policy") if isinstance(doc.get("policy"), dict) else {}
    content = doc.get("content") if isinstance(doc.get("content"), dict) else {}
    expected: dict[str, Any] = {"policy": policy.get("id"), "policy_version": policy.get("version"),
                                "media_type": content.get("media_type")}
    extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
    shown = {**{name: meta.get(name) for name in SAME_NAME}, **{f"extra.{k}": v for k, v in extra.items()}}
    clear_extra = doc.get("extra") if isinstance(doc.get("extra"), dict) else {}
    differ = [f"{k}: metadata.json says {meta.get(k)!r}, the record {v!r}" for k, v in expected.items()
              if meta.get(k) != v]
    for name, value in shown.items():
        if name in commitments:
            if value is not None and name in disclosed and disclosed[name] != value:
                differ.append(f"{name}: metadata.json says {value!r}, the record's disclosed value is "
                              f"{disclosed[name]!r}")
            continue
        truth = clear_extra.get(name[len("extra."):]) if name.startswith("extra.") else doc.get(name)
        if name in SEALED_WHEN_STATED and name not in doc:
            continue
        if value != truth:
            differ.append(f"{name}: metadata.json says {value!r}, the record {truth!r}")
    for name in TIMES:
        a, b = meta.get(name), doc.get(name)
        if not (a is b if a is None or b is None else same_time(a, b)):
            differ.append(f"{name}: metadata.json says {meta.get(name)!r}, the record {doc.get(name)!r}")
    return differ


def same_time(a: Any, b: Any) -> bool:
    """Two RFC 3339 times name the same instant (False if either is not one)."""
    try:
        return datetime.fromisoformat(a.replace("Z", "+00:00")) == datetime.fromisoformat(b.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return False


def proven_note(record: MetadataRecord, sealed_at: str, version: int = 1) -> str:
    """The note an object whose record the evidence record proves carries: what is proven, and since when
    (``version``: the record version proven, named when it is a later one)."""
    doc = record.document
    policy = doc.get("policy") if isinstance(doc.get("policy"), dict) else {}
    facts = [f"{k} {doc.get(k)!r}" for k in PROVEN if doc.get(k) is not None]
    facts.append(f"policy {policy.get('id')!r} v{policy.get('version')}")
    committed = sorted(doc.get("commitments") or {})
    if committed:
        facts.append(f"commitments to {', '.join(committed)} ({len(record.disclosures)} disclosed)")
    which = "the metadata record" if version == 1 else f"version {version} of the metadata record"
    return (f"metadata proven: {which} ({', '.join(facts)}) is sealed with the content, by "
            f"{sealed_at} (the evidence record's first timestamp)")
