"""A whole export package (docs/package.md) checked offline, straight from its ZIP.

Three parts, each a list of named :class:`Check`\\ s:

* ``bag`` — BagIt 1.0 (:mod:`vault_verify.bagcheck`), ``package.json``'s format, the TSA roots;
* ``objects`` — per object (:mod:`vault_verify.objectcheck`): the content's size, SHA-256 and SHA-512 equal
  ``package.json`` and ``metadata.json``; the evidence record covers the content (:mod:`vault_verify.ers`: every
  chain and renewal, every token chaining at its genTime to the TSA roots); the deposit entry
  (``deposit_journal_index``) is in ``entries.jsonl``, is a ``deposit`` (or ``import``) naming the object and
  stating its SHA-256 and size, agrees with ``metadata.json``, and is proven against the checkpoint;
* ``journal`` — :mod:`vault_verify.journalcheck`: the checkpoint's signature, every inclusion proof, the anchor.

**What ``ok`` means.** ``ok`` is False only when something is *contradicted*: a digest, a signature, a proof, a
file named but absent. What the package cannot prove is a *note*, not a failure: an object still waiting for its
seal (no evidence record, ``package.json`` says ``"seal": "pending"``) is ok with the note "not sealed: existence
time not proven by an evidence record"; TSA roots or the journal key taken from the package itself (instead of
``--tsa-roots`` / ``--journal-key``) are noted, since they are only as trustworthy as the package; a package with
no anchor is noted. An object's metadata record (issue 22), when the evidence record covers it as a data group
with the content, makes its business metadata **proven** as of the first timestamp (:mod:`vault_verify.recordcheck`;
a record that fails fails the object); otherwise the fields of ``metadata.json`` beyond the digests, size,
tenant, depositor and deposit time are the archive's statements that no proof covers (noted once), as are the
validation reports.
"""

from __future__ import annotations

import argparse
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vault_verify.bagcheck import Check, check_bag
from vault_verify.journalcheck import check_journal
from vault_verify.note import NoteError, Verifier
from vault_verify.objectcheck import ObjectVerdict, PackageReader, check_object
from vault_verify.report import WARNING, Report
from vault_verify.tokens import load_pem_roots

__all__ = ["Check", "ObjectVerdict", "PackageVerdict", "verify_package", "add_arguments", "run"]
FORMAT, VERSION = "vault-package", 1


@dataclass
class PackageVerdict(Report):
    """The package's report: ``checks`` are the bag's, then the journal's (a root cause for objects), then each
    object's, then the package's notes; ``bag``, ``objects`` and ``journal`` keep the parts for the JSON form."""

    bag: list[Check] = field(default_factory=list)
    objects: list[ObjectVerdict] = field(default_factory=list)
    journal: list[Check] = field(default_factory=list)

    @classmethod
    def of(cls, bag: list[Check], objects: list[ObjectVerdict], journal: list[Check],
           notes: list[str]) -> "PackageVerdict":
        checks = [*bag, *journal, *(c for o in objects for c in o.steps), *(Check("note", WARNING, n) for n in notes)]
        return cls(checks, bag, objects, journal)

    @property
    def ok(self) -> bool:
        return bool(self.bag) and super().ok

    def as_dict(self) -> dict[str, Any]:
        def checks(items):
            return [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in items]
        failure = self.first_failure
        return {"ok": self.ok, "first_failure": None if failure is None else checks([failure])[0],
                "bag": checks(self.bag), "journal": checks(self.journal),
                "objects": [{"id": o.id, "ok": o.ok, "checks": checks(o.steps), "notes": o.notes}
                            for o in self.objects], "notes": self.notes}


def verify_package(path, *, tsa_roots: list | None = None, journal_key: str | None = None) -> PackageVerdict:
    """Check the package at ``path`` (a file name or a binary file object). ``tsa_roots``: trusted TSA root
    certificates (``cryptography`` objects; PEM ``bytes`` items are read too), else the package's own;
    ``journal_key``: the archive's published note verifier key (``name+hash+key``), else the package's own.
    Raises ValueError for an unusable ``journal_key`` or ``tsa_roots``; a bad package is a failed verdict."""
    pinned = Verifier.parse(journal_key.strip()) if journal_key else None
    roots = None
    if tsa_roots is not None:
        roots = [c for item in tsa_roots for c in (load_pem_roots(item) if isinstance(item, bytes) else [item])]
    notes: list[str] = []
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        return PackageVerdict.of([Check("zip", False, f"not a readable ZIP: {exc}")], [], [], notes)
    with archive:
        bag = check_bag(archive)
        notes.extend(bag.notes)
        package = PackageReader(archive, bag)
        if bag.top is None:
            return PackageVerdict.of(bag.steps, [], [], notes)
        manifest = _package_json(package, bag.checks)
        if manifest is None:
            return PackageVerdict.of(bag.steps, [], [], notes)
        roots = _roots(package, manifest, roots, bag.checks, notes)
        journal = check_journal(manifest.get("journal"), package.read, roots, pinned)
        notes.extend(journal.notes)
        objects = [check_object(package, entry, journal, roots) for entry in manifest.get("objects") or []]
        if any(o.get("validation_report") for o in manifest.get("objects") or []):
            notes.append("validation reports are the archive's findings at deposit: no proof in the package "
                         "covers them")
        notes.append(_metadata_note(objects))
        return PackageVerdict.of(bag.steps, objects, journal.steps, notes)


UNPROVEN = ("metadata.json fields other than the digests, size, tenant, depositor and deposit time are the "
            "archive's statements: no proof in the package covers them")


def _metadata_note(objects: list[ObjectVerdict]) -> str:
    """What the package proves of the business metadata: the objects whose metadata record the evidence record
    covers (issue 22) have it proven; for the others it is the archive's statements (as before records)."""
    proven = sum(1 for o in objects if any(n.startswith("metadata proven") for n in o.notes))
    if not proven:
        return UNPROVEN
    if proven == len(objects):
        return (f"the business metadata of all {proven} object(s) is proven: their metadata records are sealed "
                "with the content (evidence record data groups); metadata.json is checked against them")
    return (f"the business metadata of {proven} of {len(objects)} object(s) is proven by their sealed metadata "
            f"records; for the other {len(objects) - proven}, " + UNPROVEN)


def _package_json(package: PackageReader, checks: list[Check]) -> dict | None:
    data = package.read("package.json")
    try:
        manifest = json.loads(data) if data is not None else None
    except (ValueError, UnicodeDecodeError) as exc:
        checks.append(Check("package.json", False, f"not JSON: {exc}"))
        return None
    if not isinstance(manifest, dict):
        checks.append(Check("package.json", False, "absent" if data is None else "not a JSON object"))
        return None
    ok = manifest.get("format") == FORMAT and manifest.get("version") == VERSION \
        and isinstance(manifest.get("objects"), list)
    checks.append(Check("package.json format", ok, "" if ok else
                        f"format {manifest.get('format')!r} version {manifest.get('version')!r}: this verifier reads "
                        f"{FORMAT} version {VERSION} with a list of objects"))
    return manifest if ok else None


def _roots(package: PackageReader, manifest: dict, roots, checks: list[Check], notes: list[str]):
    path = (manifest.get("certificates") or {}).get("tsa_roots")
    if roots is not None:
        data = package.read(path) if path else None
        try:
            own = load_pem_roots(data) if data else []
        except ValueError:
            own = []
        if {c.tbs_certificate_bytes for c in own} != {c.tbs_certificate_bytes for c in roots}:
            notes.append(f"the package's {path} differs from the TSA roots given; the given ones are used")
        return roots
    data = package.read(path) if path else None
    try:
        roots = load_pem_roots(data or b"")
    except ValueError as exc:
        checks.append(Check(f"TSA roots {path}", False, f"no usable certificate: {exc}"))
        return []
    checks.append(Check(f"TSA roots {path}", True, f"{len(roots)} certificate(s)"))
    notes.append(f"TSA roots taken from the package ({path}): they are only as trustworthy as the package; give "
                 "the TSAs' published roots with --tsa-roots")
    return roots


# ---------------------------------------------------------------------------------------------------------------
# vault-verify package


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("package", help="the package (.zip)")
    parser.add_argument("--tsa-roots", action="append", metavar="PEM",
                        help="trusted TSA roots (repeatable); default: the package's certificates/tsa-roots.pem")
    parser.add_argument("--journal-key", metavar="VKEY",
                        help="the archive's published journal key (name+hash+key, or a file holding it); "
                             "default: the package's journal/vkey")
    parser.add_argument("--json", action="store_true", help="print every check as JSON")


def run(args: argparse.Namespace) -> int:
    from vault_verify.cli import UsageError

    if not Path(args.package).is_file():
        raise UsageError(f"{args.package}: no such file")
    try:
        roots = None
        for pem in args.tsa_roots or []:
            roots = (roots or []) + load_pem_roots(Path(pem).read_bytes())
        key = args.journal_key
        if key and os.path.isfile(key):
            key = Path(key).read_text()
        verdict = verify_package(args.package, tsa_roots=roots, journal_key=key)
    except (OSError, ValueError, NoteError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(verdict.as_dict(), indent=2, ensure_ascii=False))
    else:
        _print_verdict(verdict)
    return 0 if verdict.ok else 1


def _print_verdict(verdict: PackageVerdict) -> None:
    def line(label: str, checks: list[Check], summary: str) -> None:
        failed = [c for c in checks if not c.ok]
        print(f"{'OK  ' if not failed else 'FAIL'} {label:8} {summary}")
        for check in failed:
            print(f"     {'':8} {check.name}: {check.detail}")

    line("bag", verdict.bag, next((c.detail for c in verdict.bag if c.name == "bag structure"), ""))
    for obj in verdict.objects:
        failure = obj.first_failure
        state = next((n.split(":")[0] for n in obj.notes if n.startswith(("not sealed", "destroyed"))), "sealed")
        print(f"{'OK  ' if obj.ok else 'FAIL'} object   {obj.id}  "
              + (f"{failure.name}: {failure.detail}" if failure else
                 "; ".join(n for n in obj.notes if "existed by" in n
                           or n.startswith(("not sealed", "destroyed", "metadata proven")))
                 or state))
    line("journal", verdict.journal, next((c.detail for c in verdict.journal if c.name == "inclusion proofs"), ""))
    for note in verdict.notes:
        print(f"note {note}")
    failure = verdict.first_failure
    print("VALID" if verdict.ok else f"INVALID: {failure.name}: {failure.detail}" if failure else "INVALID")
