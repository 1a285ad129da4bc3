"""The checks of one object of a package (docs/package.md): its content against ``package.json`` and
``metadata.json``, its evidence record(s) against the content, and the journal entry that brought it in.

The content's digests come from the bag pass (:mod:`vault_verify.bagcheck`), which already streamed every payload
file once; an evidence record needing another algorithm (a hash-tree renewal to SHA-3, say) streams it again.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vault_verify.asn1 import HASHES
from vault_verify.bagcheck import READ_ERRORS, BagResult, Check
from vault_verify.der import der_framing_error
from vault_verify.ers import DataObject, extension_problem, verify_evidence_record
from vault_verify.historycheck import Version, check_history, read_versions, sealed_apart
from vault_verify.journalcheck import JournalResult, iso
from vault_verify.recordcheck import (
    MetadataRecord, check_record, check_row_agrees, proven_note, read_record, record_member, same_time,
)
from vault_verify.report import Report


@dataclass
class ObjectVerdict(Report):
    """One object's checks (:class:`~vault_verify.report.Report`); its notes say what is not proven ("not sealed:
    …") or what is ("sealed: the content existed by …")."""

    id: str = "?"


class _ZipData(DataObject):
    """The content as the evidence record sees it: digests already computed by the bag pass, any other algorithm
    (a hash-tree renewal to SHA-3, say) streamed from the ZIP member on demand."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, digests: dict[str, bytes], label: str):
        super().__init__(digests=dict(digests), label=label)
        self._archive, self._info = archive, info

    def digest(self, algorithm: str) -> bytes | None:
        if algorithm not in self.digests and algorithm in HASHES:
            h = HASHES[algorithm]()
            with self._archive.open(self._info) as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    h.update(chunk)
            self.digests[algorithm] = h.digest()
        return self.digests.get(algorithm)


def safe_path(path: Any) -> bool:
    return isinstance(path, str) and bool(path) and not path.startswith("/") and "\\" not in path \
        and all(part not in ("", ".", "..") for part in path.split("/"))


class PackageReader:
    """The open ZIP and what the bag pass learned; ``read`` takes a path relative to ``data/``."""

    def __init__(self, archive: zipfile.ZipFile, bag: BagResult):
        self.archive, self.bag = archive, bag

    def info(self, rel: str) -> zipfile.ZipInfo | None:
        return self.bag.members.get(f"data/{rel}") if safe_path(rel) else None

    def read(self, rel: str) -> bytes | None:
        info = self.info(rel)
        if info is None:
            return None
        try:
            return self.archive.read(info)
        except READ_ERRORS:
            return None  # the bag pass already reported the damaged member


def check_object(package: PackageReader, entry: dict, journal: JournalResult, roots) -> ObjectVerdict:
    if not isinstance(entry, dict):
        return ObjectVerdict([Check("package.json object", False, f"not an object: {entry!r:.60}")])
    oid = str(entry.get("id"))
    verdict = ObjectVerdict(id=oid)
    declared = {k: entry.get(k) for k in ("sha256", "sha512", "size")}
    actual = _content(package, entry, verdict, declared, journal)
    meta = _metadata(package, entry, verdict, declared, journal)
    record = read_record(package.read, entry, verdict.checks)
    sealed_at = _evidence_record(package, entry, verdict, actual or declared, roots, record)
    check_row_agrees(oid, entry, meta, verdict.checks)
    versions = read_versions(package.read, entry, record, verdict.checks) if record is not None else None
    if versions is not None and (len(versions) > 1 or sealed_apart(entry)):
        _history(package, entry, verdict, actual or declared, roots, record, versions, sealed_at, meta)
    elif record is not None:
        check_record(record, oid, actual or declared, meta, verdict.checks)
        if sealed_at is not None and entry.get("metadata_record_sealed") is True and verdict.ok:
            verdict.note(proven_note(record, sealed_at))
    _journal_entry(entry, verdict, actual or declared, journal, _imported_record_sha256(package, entry))
    return verdict


def _history(package: PackageReader, entry: dict, verdict: ObjectVerdict, digests: dict, roots,
             record: MetadataRecord, versions: list[Version], sealed_at: str | None, meta: dict | None) -> None:
    """Several versions of the record, or a version 1 sealed apart (:mod:`vault_verify.historycheck`)."""
    if not versions:
        return  # the list could not be read: a failed check says why
    object_proof = entry.get("evidence_record") if entry.get("metadata_record_sealed") is True else None

    def verify(version: Version) -> str | None:
        return _one_record(package, entry, verdict, digests, roots, version.evidence_record,
                           f"metadata record version {version.number} evidence record",
                           f"metadata record version {version.number}", version.record)

    check_history(versions, verdict.id, digests, meta, record.disclosures, (object_proof, sealed_at),
                  lambda: verdict.ok, verify, verdict.checks, verdict.note)


def _imported_record_sha256(package: PackageReader, entry: dict) -> str | None:
    """SHA-256 (hex, from the bag pass) of the source archive's evidence record the package carries, if any."""
    rel = entry.get("evidence_record_imported")
    found = package.bag.payload.get(f"data/{rel}") if safe_path(rel) else None
    return found["sha256"] if found else None


DESTROYED = "destruction_done"
ENTRY_ACTIONS = ("deposit", "import")  # an object enters the archive by a deposit, or by ``vault import``


def _journal_entry(entry: dict, verdict: ObjectVerdict, digests: dict, journal: JournalResult,
                   imported_record: str | None) -> None:
    """The entry that brought the object in (``deposit_journal_index``): present, a deposit (or an import) naming
    the object with its SHA-256 and size — an import also the SHA-256 of the source's evidence record, where it
    states one — and proven against the checkpoint."""
    seq = entry.get("deposit_journal_index")
    found = journal.entries.get(seq) if isinstance(seq, int) and not isinstance(seq, bool) else None
    if found is None:
        verdict.checks.append(Check(f"deposit entry {seq}", False, "not in journal/entries.jsonl"))
        return
    action = found.get("action")
    stated = found.get("detail") if isinstance(found.get("detail"), dict) else {}
    problems = [p for p, bad in [
        (f"action is {action!r}, not 'deposit'", action not in ENTRY_ACTIONS),
        (f"names {found.get('objects')}, not {verdict.id}", verdict.id not in (found.get("objects") or [])),
        (f"detail.sha256 is {stated.get('sha256')}, the content's is {digests['sha256']}",
         stated.get("sha256") != digests["sha256"]),
        (f"detail.size is {stated.get('size')}, the content's is {digests['size']}",
         "size" in stated and stated.get("size") != digests["size"]),
        (f"detail.evidence_record_sha256 is {stated.get('evidence_record_sha256')}, the imported evidence "
         f"record's is {imported_record}", action == "import" and "evidence_record_sha256" in stated
         and stated.get("evidence_record_sha256") != imported_record),
    ] if bad]
    what = action if action in ENTRY_ACTIONS else "deposit"
    verdict.checks.append(Check(f"{what} entry {seq}", not problems, "journal/entries.jsonl: " + "; ".join(problems)
                                if problems else f"a{'n' if what == 'import' else ''} {what} of this object with "
                                "its SHA-256"))
    inclusion = journal.inclusion.get(seq)
    if seq in journal.unproven:
        verdict.note(f"{what} entry {seq} is newer than the checkpoint: not proven")
    elif inclusion is None:
        verdict.checks.append(Check(f"inclusion of entry {seq}", False,
                                    "no inclusion result (the journal could not be read)"))
    elif inclusion.ok and not journal.checkpoint_ok:
        verdict.checks.append(Check(inclusion.name, False,
                                    "journal/checkpoint is not validly signed: the proof proves nothing"))
    else:
        verdict.checks.append(inclusion)
    if journal.anchor_size is not None and seq < journal.anchor_size and verdict.ok:
        verdict.note(f"{what} entry {seq} (SHA-256 of the content) existed by "
                     f"{iso(journal.anchor_time)} (journal anchor)")
        if action == "import" and imported_record is not None and stated.get("evidence_record_sha256"):
            verdict.note(f"the imported evidence record existed by {iso(journal.anchor_time)} (its SHA-256 "
                         f"is in import entry {seq}, under the journal anchor): its own timestamps need "
                         "only have held until then")


def _content(package: PackageReader, entry: dict, verdict: ObjectVerdict, declared: dict,
             journal: JournalResult) -> dict | None:
    """The content's actual size and digests (from the bag pass), checked against package.json; for a destroyed
    object (no content), the journaled destruction that names it."""
    rel = entry.get("content")
    if rel is None:
        if entry.get("status") != "destroyed":
            verdict.checks.append(Check(f"content of {verdict.id}", False,
                                        f"package.json names no content but the status is {entry.get('status')!r}"))
            return None
        done = sorted(seq for seq, e in journal.entries.items()
                      if e.get("action") == DESTROYED and verdict.id in (e.get("objects") or []))
        proven = [seq for seq in done if getattr(journal.inclusion.get(seq), "ok", False)]
        verdict.checks.append(Check(f"destruction of {verdict.id} journaled", bool(proven),
                                    f"entry {proven[0]}" if proven else f"no proven '{DESTROYED}' entry naming it in "
                                    "journal/entries.jsonl, yet package.json says destroyed and carries no content"))
        verdict.note("destroyed: the content is not in the package; its digests are checked as stated")
        return None
    actual = package.bag.payload.get(f"data/{rel}") if safe_path(rel) else None
    if actual is None:
        verdict.checks.append(Check(f"content {rel}", False, "named in package.json but not in the package"))
        return None
    differ = [f"{k} of the content is {actual[k]}, package.json says {declared[k]}"
              for k in ("size", "sha256", "sha512") if actual[k] != declared[k]]
    verdict.checks.append(Check(f"content {rel} = package.json", not differ, "; ".join(differ)
                                or f"{actual['size']} bytes, SHA-256 {actual['sha256'][:16]}…"))
    return {k: actual[k] for k in ("size", "sha256", "sha512")}


def _metadata(package: PackageReader, entry: dict, verdict: ObjectVerdict, declared: dict,
              journal: JournalResult) -> dict | None:
    """metadata.json (the archive's view, returned) against package.json and the entry that brought the object."""
    rel = entry.get("metadata")
    data = package.read(rel) if rel else None
    try:
        meta = json.loads(data) if data is not None else None
    except (ValueError, UnicodeDecodeError) as exc:
        verdict.checks.append(Check(f"metadata {rel}", False, f"not JSON: {exc}"))
        return None
    if not isinstance(meta, dict):
        verdict.checks.append(Check(f"metadata {rel}", False, "named in package.json but not in the package"
                                    if data is None else "not a JSON object"))
        return None
    wanted = {**declared, "id": verdict.id, "journal_index": entry.get("deposit_journal_index")}
    differ = [f"{k} is {meta.get(k)}, package.json says {v}"
              for k, v in wanted.items() if meta.get(k) != v]
    verdict.checks.append(Check(f"metadata {rel} = package.json", not differ, "; ".join(differ)))
    seq = entry.get("deposit_journal_index")
    found = journal.entries.get(seq) if isinstance(seq, int) else None
    action = found.get("action") if isinstance(found, dict) else None
    if action in ENTRY_ACTIONS:
        # A deposit entry's actor is the depositor and its time the deposit time; an import entry is made by the
        # importing archive at import time and states the original deposit time in its detail.
        detail = found.get("detail") if isinstance(found.get("detail"), dict) else {}
        pairs = [("tenant", found.get("tenant"), "tenant")]
        if action == "deposit":
            pairs.append(("depositor", found.get("actor"), "actor"))
        stated_time, where = (found.get("time"), "time") if action == "deposit" else \
            (detail.get("deposited_at"), "detail.deposited_at")
        differ = [f"{k} is {meta.get(k)!r}, the {action} entry's {j} is {v!r}" for k, v, j in pairs if meta.get(k) != v]
        if not same_time(meta.get("deposited_at"), stated_time):
            differ.append(f"deposited_at is {meta.get('deposited_at')}, the {action} entry's {where} is {stated_time}")
        verdict.checks.append(Check(f"metadata {rel} = {action} entry {seq}", not differ, "; ".join(differ)))
    return meta


def _evidence_record(package: PackageReader, entry: dict, verdict: ObjectVerdict, digests: dict, roots,
                     record: MetadataRecord | None) -> str | None:
    """This archive's evidence record — of the data group (content, metadata record) when the object has a record
    (RFC 4998 §4.2) — and the one the source archive made when the object was imported; the time of this
    archive's record's first timestamp when it verifies."""
    imported = entry.get("evidence_record_imported")
    if imported is not None:
        _one_record(package, entry, verdict, digests, roots, imported, "imported evidence record",
                    "the source archive's evidence record, before the import")
    continued = entry.get("evidence_record_imported_continued")
    if continued is not None:
        _one_record(package, entry, verdict, digests, roots, continued, "continued imported evidence record",
                    "the source archive's evidence record, continued by this archive")
        verbatim, longer = (package.read(r) if isinstance(r, str) else None for r in (imported, continued))
        problem = "package.json names no imported evidence record to continue" if verbatim is None else \
            extension_problem(verbatim, longer) if longer is not None else None
        if longer is not None:
            verdict.checks.append(Check(f"{continued} continues {imported}", problem is None, problem or
                                        "the source's timestamps unchanged, this archive's renewals appended"))
    rel = entry.get("evidence_record")
    if rel is not None:
        if record is not None and entry.get("metadata_record_sealed") is not True:
            if not sealed_apart(entry):
                verdict.note("metadata record made after the object was sealed: the evidence record does not "
                             "cover it, its statements are the archive's")
            record = None
        return _one_record(package, entry, verdict, digests, roots, rel, "evidence record", "evidence record",
                           record)
    if entry.get("seal") == "pending":
        verdict.note("not sealed: existence time not proven by an evidence record (seal pending)"
                     if imported is None else "not sealed here yet (seal pending)")
    else:
        verdict.checks.append(Check(f"evidence record of {verdict.id}", False,
                                    "absent, and package.json does not say the seal is pending"))
    if record is not None:
        verdict.note("metadata record not sealed yet: its statements are not proven")
    return None


def _one_record(package: PackageReader, entry: dict, verdict: ObjectVerdict, digests: dict, roots, rel: Any,
                label: str, source: str, record: MetadataRecord | None = None) -> str | None:
    """One evidence record verified against the content (and ``record``: as the data group's second member); the
    time of its first timestamp when it verifies."""
    er = package.read(rel) if isinstance(rel, str) else None
    if er is None:
        verdict.checks.append(Check(f"{label} {rel}", False, "named in package.json but not in the package"))
        return None
    framing = der_framing_error(er)
    if framing is not None:
        # vault refuses tokens that are not strict DER, so its own records are DER throughout; bytes changed in
        # parts no signature covers (a SignedData's digestAlgorithms, say) show here. Another archive's may be BER.
        if label == "evidence record":
            verdict.checks.append(Check(f"{label} {rel} is DER", False, framing))
        else:
            verdict.note(f"{label} {rel} is not strict DER: {framing}")
    try:
        known = {k: bytes.fromhex(digests[k]) for k in ("sha256", "sha512")}
    except (TypeError, ValueError):
        known = {}
    content = entry.get("content")
    info = package.info(content) if isinstance(content, str) else None
    data = _ZipData(package.archive, info, known, content) if info is not None else \
        DataObject(digests=known, label="stated digests")
    members = [data] if record is None else [data, record_member(record)]
    result = verify_evidence_record(er, members, roots=roots, group=record is not None)
    failure = result.first_failure
    first = min(result.gen_times) if result.gen_times else None
    verdict.checks.append(Check(f"{label} {rel}", result.ok, f"{failure.name}: {failure.detail}" if failure
                                else f"{len(result.gen_times)} timestamp(s) from {iso(first)}" if first else ""))
    for note in sorted({n.split(": ", 1)[-1] for n in result.notes}):
        if note not in verdict.notes:
            verdict.note(note)
    if result.ok and first is not None:
        verdict.note(f"sealed: the content existed by {iso(first)} ({source})")
        return iso(first)
    return None
