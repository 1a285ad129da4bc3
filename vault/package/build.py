"""What goes into an export package, and in what order: a BagIt bag (RFC 8493) streamed as a ZIP.

The layout is specified in docs/package.md. For each object: its bytes, its metadata, its RFC 4998 evidence
record (and, for an object imported from another archive, the record that archive made), the
signature-validation report made at deposit. For the whole package: the journal entries that name the
objects, each with an RFC 6962 inclusion proof against a signed checkpoint; the newest anchor (RFC 3161 token over
an earlier checkpoint) with the consistency proof that carries its date forward; the TSA roots, the journal's note
key and the archive's public key; and ``package.json``, the map of it all. ``vault verify-package`` (the separate
``vault-verify`` distribution) checks every piece offline.

The builder takes its sources as plain callables (:class:`PackageSources`), so it runs the same on SQLite or
PostgreSQL, file or S3 stores, and in tests.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

import orjson

from vault.clock import iso_z
from vault.deposit.receipt import object_view
from vault.evidence.metadata_record import still_shown
from vault.evidence.rowcheck import record_view_row
from vault.journal.excerpt import JournalExcerpt
from vault.package.bag import BagWriter, Chunks
from vault.retention.restriction import restricted_fields
from vault.sandbox import NOTICE, marked

FORMAT = "vault-package"
VERSION = 1
PIECE = 1 << 16  # bytes handed to the response at a time, at least (the last piece excepted)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackageSources:
    content: Callable[[str], Iterable[bytes]]  # sha256 → chunks
    # seal_seq → (DER, sealed as the data group of the content and its metadata record), None while pending
    evidence_record: Callable[[int], tuple[bytes, bool] | None]
    validation_report: Callable[[str], dict | None]  # object id → {"report": dict, "etsi_report": bytes | None}
    journal_excerpt: Callable[[list[str]], JournalExcerpt | None]  # object ids → entries with proofs
    journal_key: str  # C2SP note verifier key
    tsa_roots_pem: bytes
    archive_key: str  # the archive's Ed25519 public key (base64 SubjectPublicKeyInfo text)
    archive: str  # e.g. vault.local
    # object id → the evidence record another archive made before the object was imported here (vault import), and
    # that record as this archive continues it (None until its first renewal here)
    imported_evidence_record: Callable[[str], tuple[bytes, bytes | None] | None] = lambda _object_id: None
    # object id → its consent event as exported: subject pseudonym, purpose, key check (None: not a consent event)
    consent: Callable[[str], dict | None] = lambda _object_id: None
    # object id → (version 1 of its metadata record, the one sealed with the content; its disclosures) — None: the
    # object has no record (issue 22, docs/metadata-record.md)
    metadata_record: Callable[[str], tuple[bytes, list[dict]] | None] = lambda _object_id: None
    # object id → every version of its metadata record, oldest first: (version, bytes, the evidence record of a
    # version sealed apart from the content, else None)
    record_versions: Callable[[str], list[tuple[int, bytes, bytes | None]] | None] = lambda _object_id: None
    # object id → the fields where its row disagrees with its newest metadata record (vault.evidence.rowcheck.Mismatch
    # each; None or empty: it agrees, or has no record)
    row_mismatches: Callable[[str], list | None] = lambda _object_id: None
    sandbox: bool = False  # VAULT_SANDBOX: bag-info.txt and package.json say "SANDBOX — no probative value"


def _json(value: Any) -> bytes:
    """``value`` as indented JSON (keys sorted, UTF-8, a final newline): orjson's bytes are
    ``json.dumps(indent=2, sort_keys=True, ensure_ascii=False)``'s for strings, whole numbers, booleans and null
    (a property test holds them equal), in a tenth of the time; a float is written in the ``json`` module's way."""
    if not _has_float(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        except TypeError:  # an integer beyond 64 bits, a key that is not a string: the json module's way
            pass
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"


def _has_float(value: Any) -> bool:
    """Floats are the one type whose text differs (orjson writes 1e16, json 1e+16)."""
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_float(v) for v in value)
    return isinstance(value, float)


def package_name(scope: dict, created: datetime) -> str:
    label = {"object": "object", "case": "case", "query": "query"}[scope["kind"]]
    return f"vault-package-{label}-{created.strftime('%Y%m%dT%H%M%SZ')}"


def stream_package(rows: list[dict], scope: dict, sources: PackageSources, created: datetime,
                   on_object: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The package as ZIP bytes, handed out as they are written (one object's content at a time in memory)."""
    sink = Chunks()
    bag = BagWriter(sink, package_name(scope, created), {
        "Source-Organization": sources.archive, "External-Description": f"vault export package ({scope['kind']})",
        "External-Identifier": scope.get("case_ref") or scope.get("object_id") or "query",
        "Vault-Package-Format": f"{FORMAT}/{VERSION}", **({"Vault-Sandbox": NOTICE} if sources.sandbox else {})},
        created)
    manifest_objects = []
    for n, row in enumerate(rows):
        entry = yield from _add_object(bag, sink, row, sources)
        manifest_objects.append(entry)
        if on_object:
            on_object(n + 1)
    journal = _add_journal(bag, sources, [row["id"] for row in rows])
    certificates = {"tsa_roots": "certificates/tsa-roots.pem", "archive_key": "certificates/archive-key.txt"}
    bag.add_bytes(certificates["tsa_roots"], sources.tsa_roots_pem)
    bag.add_bytes(certificates["archive_key"], sources.archive_key.encode() + b"\n")
    bag.add_bytes("package.json", _json(marked({
        "format": FORMAT, "version": VERSION, "created_at": iso_z(created), "archive": sources.archive,
        "scope": scope, "objects": manifest_objects, "journal": journal, "certificates": certificates},
        sources.sandbox)))
    yield from sink.drain()
    bag.close()
    yield from sink.drain()


def whole_or_broken(chunks: Iterator[bytes], name: str, done: Callable[[], None]) -> Iterator[bytes]:
    """``chunks`` (a package being streamed) handed on; ``done()`` when it ends in any way. A failure mid-way is
    logged with its reason (one line, no traceback) and ends the stream there: the ZIP's central directory comes
    last, so what the client holds is an unreadable ZIP (APPNOTE 4.3.16: no end of central directory record),
    never a plausible shorter package."""
    sent = 0
    try:
        for chunk in chunks:
            sent += len(chunk)
            yield chunk
    except Exception as exc:  # the headers (200) are gone: cutting the ZIP short is the only signal left
        log.error("export package %s cut after %d bytes (the client holds an unreadable ZIP): %s: %s", name, sent,
                  type(exc).__name__, exc)
    finally:
        done()


def _add_object(bag: BagWriter, sink: Chunks, row: dict, sources: PackageSources):
    base = f"objects/{row['id']}"
    entry: dict[str, Any] = {"id": row["id"], "sha256": row["sha256"], "sha512": row["sha512"], "size": row["size"],
                             "status": row["status"], "deposit_journal_index": row["journal_index"],
                             "metadata": f"{base}/metadata.json", "content": None, "evidence_record": None,
                             "evidence_record_imported": None, "evidence_record_imported_continued": None,
                             "validation_report": None,
                             "validation_report_etsi": None, "consent": sources.consent(row["id"])}
    if row.get("destroyed_at") is None:
        entry["content"] = f"{base}/content"
        for _ in bag.add_iter(entry["content"], sources.content(row["sha256"]), size_hint=row["size"]):
            yield from sink.drain(PIECE)
    yield from sink.drain(PIECE)
    found = sources.metadata_record(row["id"])
    bag.add_bytes(entry["metadata"], _json(_metadata_view(row, entry, sources, found)))
    sealed = sources.evidence_record(row["seal_seq"])
    _add_metadata_record(bag, row, entry, base, found, sources.record_versions(row["id"]),
                         sealed is not None and sealed[1])
    entry["seal"] = "sealed" if sealed is not None else "pending"
    if sealed is not None:
        entry["evidence_record"] = f"{base}/evidence-record.ers"
        bag.add_bytes(entry["evidence_record"], sealed[0], compress=False)
    imported = sources.imported_evidence_record(row["id"])
    if imported is not None:
        verbatim, continued = imported
        entry["evidence_record_imported"] = f"{base}/evidence-record-imported.ers"
        bag.add_bytes(entry["evidence_record_imported"], verbatim, compress=False)
        if continued is not None:
            entry["evidence_record_imported_continued"] = f"{base}/evidence-record-imported-continued.ers"
            bag.add_bytes(entry["evidence_record_imported_continued"], continued, compress=False)
    report = sources.validation_report(row["id"])
    if report is not None:
        entry["validation_report"] = f"{base}/validation-report.json"
        bag.add_bytes(entry["validation_report"], _json(report["report"]))
        if report.get("etsi_report"):
            entry["validation_report_etsi"] = f"{base}/validation-report.xml"
            bag.add_bytes(entry["validation_report_etsi"], bytes(report["etsi_report"]))
    yield from sink.drain(PIECE)
    return entry


def _metadata_view(row: dict, entry: dict, sources: PackageSources, found) -> dict:
    """metadata.json: the object's view, taken from its record where its row disagrees with it (the record is the
    truth, issue 22): the fields it disagrees on are named, in the view and the entry (``row_disagrees``), and the
    package verifier fails on them. A restricted object's personal values are null (GDPR art. 18)."""
    mismatches = sources.row_mismatches(row["id"]) or []
    entry["row_disagrees"] = sorted({m.field for m in mismatches}) or None
    if not mismatches:
        return object_view(row)
    view = object_view(record_view_row(row, mismatches, found[1] if found else []))
    view["row_disagrees"] = [m.as_json() for m in mismatches]
    return view


def _add_metadata_record(bag: BagWriter, row: dict, entry: dict, base: str, found: tuple[bytes, list[dict]] | None,
                         versions: list[tuple[int, bytes, bytes | None]] | None, sealed: bool) -> None:
    """The record's exact bytes and the disclosures of the values the object still shows (an erased value is not
    disclosed), both named in the object's entry (None when the object has no record); ``sealed``: the evidence
    record proves the record (data group), else it was made after the object's seal (backfill) or is pending."""
    entry["metadata_record"] = entry["disclosures"] = entry["metadata_records"] = None
    entry["metadata_record_sealed"] = False
    if found is None:
        return
    record, disclosures = found
    versions = versions or [(1, record, None)]
    committed = json.loads(versions[-1][1]).get("commitments") or {}  # the newest version's: those are checked
    entry["metadata_record"], entry["disclosures"] = f"{base}/metadata-record.json", f"{base}/disclosures.json"
    entry["metadata_record_sealed"] = sealed
    bag.add_bytes(entry["metadata_record"], record)
    hidden = restricted_fields(row)  # restricted (GDPR art. 18): the commitments stay, not their openings
    bag.add_bytes(entry["disclosures"], _json([d for d in disclosures if d["field"] in committed
                                               and still_shown(row, d["field"]) and d["field"] not in hidden]))
    entry["metadata_records"] = [_add_version(bag, entry, base, sealed, *version) for version in versions]


def _add_version(bag: BagWriter, entry: dict, base: str, sealed: bool, version: int, data: bytes,
                 der: bytes | None) -> dict:
    """One version of the record in the object's ``metadata_records``: its bytes (version 1: ``metadata_record``)
    and the evidence record proving it with the content — its own, else (version 1 sealed with the content) the
    object's, else None (not sealed yet)."""
    path = entry["metadata_record"] if version == 1 else f"{base}/metadata-record-v{version}.json"
    if version != 1:
        bag.add_bytes(path, data)
    proof = f"{base}/evidence-record.ers" if version == 1 and sealed else None
    if der is not None:
        proof = f"{base}/metadata-record-v{version}.ers"
        bag.add_bytes(proof, der, compress=False)
    return {"version": version, "record": path, "evidence_record": proof}


def _add_journal(bag: BagWriter, sources: PackageSources, object_ids: list[str]) -> dict:
    excerpt = sources.journal_excerpt(object_ids)
    if excerpt is None:
        return {"checkpoint": None, "note": "no signed checkpoint of the journal exists yet"}
    paths = {"checkpoint": "journal/checkpoint", "key": "journal/vkey", "entries": "journal/entries.jsonl",
             "proofs": "journal/proofs.json", "anchor_checkpoint": None, "anchor_token": None,
             "anchor_previous_token": None}
    bag.add_bytes(paths["checkpoint"], excerpt.checkpoint)
    bag.add_bytes(paths["key"], sources.journal_key.encode() + b"\n")
    bag.add_bytes(paths["entries"], b"".join(entry + b"\n" for _seq, entry in excerpt.entries))
    bag.add_bytes(paths["proofs"], _json(excerpt.proofs_document()))
    if excerpt.anchor_note is not None:
        paths.update(anchor_checkpoint="journal/anchor.checkpoint", anchor_token="journal/anchor.tsr")
        bag.add_bytes(paths["anchor_checkpoint"], excerpt.anchor_note)
        bag.add_bytes(paths["anchor_token"], excerpt.anchor_token, compress=False)
        if excerpt.previous_token is not None:
            paths["anchor_previous_token"] = "journal/anchor-previous.tsr"
            bag.add_bytes(paths["anchor_previous_token"], excerpt.previous_token, compress=False)
    return {**paths, "entries_count": len(excerpt.entries), "checkpoint_size": excerpt.size}

