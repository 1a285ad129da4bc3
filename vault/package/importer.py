"""``vault import``: bring the packages of another archive's ``vault export-all`` into this (empty) one.

Each package is verified first by the offline verifier (``vault_verify.package.verify_package``: BagIt fixity, the
contents against their digests, every evidence record against the content and the TSA roots, the journal excerpt
and its proofs); a package that does not verify is refused whole and nothing of it is stored. Then, in ONE
transaction per package: every object keeps its id, tenant, case reference, metadata, digests, dates, retention,
policy and version, depositor, extracted fields and signature verdicts; its content goes through the blob store
(and its copies); its validation report is kept; the source archive's evidence record is kept verbatim in
``imported_evidence`` beside the package's certificates and keys (``imported_packages``); the object gets a new
``seal_seq``, so this archive seals it like a deposit; and one ``import`` journal entry per object (its
``journal_index`` here) names it with its SHA-256, the package and the source archive.

Idempotent: a package already imported (same file digest) is skipped, and so is every object already here with
the same content. See docs/reversibility.md.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from vault.catalog.index import stage_object
from vault.clock import iso_z, parse_iso
from vault.consents.registry import INSERT as INSERT_CONSENT
from vault.consents.registry import consent_row
from vault.crypto.digests import file_sha256
from vault.db.tables import ArchivedObject, ImportedEvidence, ImportedPackage
from vault.db.writer import next_in_sequence, stage, stage_rows
from vault.evidence.imported import register_chain
from vault.evidence.metadata_record import build_record
from vault.evidence.metadata_store import INSERT_DISCLOSURE, INSERT_RECORD, record_rows
from vault.journal.entries import AccessEvent, Action, append_entry
from vault.deposit.service import CONSENT_EVENTS, INSERT_COPY, INSERT_REPORT, NEXT_SEAL_SEQ
from vault.package.import_rows import PackageRefused, row_from_view
from vault.retention.policy import DEFAULT_PERSONAL_FIELDS

OBJECTS = ArchivedObject.__table__
IMPORTED = ImportedEvidence.__table__
PACKAGES = ImportedPackage.__table__
SYSTEM_ACTOR = "system"
CHUNK = 1 << 20
_INSERT_OBJECT, _INSERT_IMPORTED, _INSERT_PACKAGE = insert(OBJECTS), insert(IMPORTED), insert(PACKAGES)


class ImportRefused(Exception):
    """The whole import cannot start (the target vault is not empty, say)."""


@dataclass
class PackageOutcome:
    file: str
    status: str  # imported, skipped, refused
    name: str | None = None
    objects: int = 0
    imported: int = 0
    skipped: int = 0
    reason: str | None = None
    consent_events: int = 0
    consent_events_not_rebuilt: int = 0
    sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class _Object:
    entry: dict
    row: dict
    report: dict | None = None
    etsi: bytes | None = None
    evidence_record: bytes | None = None
    consent: tuple[str, str] | None = None
    copy_rows: list[dict] = field(default_factory=list)


def foreign_objects(vault) -> int:
    """How many objects of this vault were deposited here rather than imported (an import needs none)."""
    with vault.reader.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(OBJECTS.outerjoin(IMPORTED, IMPORTED.c.object_id == OBJECTS.c.id))
            .where(IMPORTED.c.object_id.is_(None))).scalar_one()


def _verify_with_package_verifier():
    try:
        from vault_verify.package import verify_package
    except ImportError as exc:
        raise ImportRefused(f"the offline package verifier is missing (vault_verify.package: {exc}); install the "
                            "vault-verify distribution that provides verify-package") from None
    return verify_package


def _failure_text(verdict) -> str:
    failure = getattr(verdict, "first_failure", None)
    if callable(failure):  # a verifier older than the one Report shape (first_failure was a method)
        failure = failure()
    if failure is None:
        return "the package does not verify"
    if isinstance(failure, str):
        return failure
    parts = [str(getattr(failure, name)) for name in ("name", "check", "object_id", "detail", "reason", "message")
             if getattr(failure, name, None)]
    return ": ".join(parts) if parts else str(failure)


class PackageReader:
    """One package ZIP: its bag's top directory, ``data/package.json`` and the payload files it names."""

    def __init__(self, path: Path):
        try:
            self.zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise PackageRefused(f"not a readable ZIP: {exc}") from None
        tops = {name.split("/", 1)[0] for name in self.zip.namelist()}
        if len(tops) != 1:
            raise PackageRefused(f"a package holds one bag (one top directory), this one has {len(tops)}")
        self.name = tops.pop()
        try:
            self.manifest = json.loads(self.read("package.json"))
        except (KeyError, ValueError) as exc:
            raise PackageRefused(f"data/package.json is missing or not JSON: {exc}") from None
        if self.manifest.get("format") != "vault-package" or self.manifest.get("version") != 1:
            raise PackageRefused("data/package.json is not a vault-package version 1")

    def close(self) -> None:
        self.zip.close()

    def _member(self, path: str) -> str:
        if not isinstance(path, str) or path.startswith("/") or ".." in path.split("/"):
            raise PackageRefused(f"package.json names a path outside data/: {path!r}")
        return f"{self.name}/data/{path}"

    def read(self, path: str) -> bytes:
        return self.zip.read(self._member(path))

    def optional(self, path: str | None) -> bytes | None:
        if path is None:
            return None
        try:
            return self.read(path)
        except KeyError:
            raise PackageRefused(f"package.json names {path}, which the bag does not hold") from None

    def chunks(self, path: str) -> Iterator[bytes]:
        try:
            with self.zip.open(self._member(path)) as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk
        except KeyError:
            raise PackageRefused(f"package.json names {path}, which the bag does not hold") from None


class Importer:
    """Imports packages into ``vault`` (a :class:`vault.app.Vault` opened on the target data directory)."""

    def __init__(self, vault, verify: Callable | None = None, tsa_roots=None, journal_key: str | None = None,
                 progress: Callable[[str], None] | None = None):
        self.vault = vault
        self._verify = verify
        self.tsa_roots = tsa_roots
        self.journal_key = journal_key
        self.progress = progress or (lambda _message: None)

    def check_target(self) -> None:
        """Refuse a vault holding any object that was not imported: an import rebuilds an archive, it never
        merges into a live one."""
        foreign = foreign_objects(self.vault)
        if foreign:
            raise ImportRefused(f"this vault is not empty: it holds {foreign} object(s) deposited here; import into "
                                "a fresh vault (a new VAULT_DATA_DIR, or a new database with VAULT_DATABASE_URL)")

    # -- one package ---------------------------------------------------------------------------------------------

    def import_package(self, path: Path, label: str, expected_sha256: str | None = None) -> PackageOutcome:
        """Import one package file (``label``: its name in the export); ``expected_sha256``: what the export's
        inventory (export.json) recorded for it."""
        outcome = PackageOutcome(file=label, status="refused")
        try:
            outcome.sha256 = file_sha256(path)
            if expected_sha256 and outcome.sha256 != expected_sha256:
                raise PackageRefused(f"the file's SHA-256 is {outcome.sha256}, export.json records {expected_sha256}")
            if self._package_known(outcome.sha256):
                outcome.status, outcome.reason = "skipped", "already imported (same package digest)"
                return outcome
            verify = self._verify or _verify_with_package_verifier()
            try:
                verdict = verify(path, tsa_roots=self.tsa_roots, journal_key=self.journal_key)
            except ImportRefused:
                raise
            except Exception as exc:  # an unreadable package is a refused one, with the reason
                raise PackageRefused(f"does not verify: {exc.__class__.__name__}: {exc}") from None
            if not verdict.ok:
                raise PackageRefused(f"does not verify: {_failure_text(verdict)}")
            reader = PackageReader(path)
            try:
                self._import(reader, label, outcome)
            finally:
                reader.close()
        except PackageRefused as exc:
            outcome.status, outcome.reason = "refused", str(exc)
        return outcome

    def _package_known(self, sha256: str) -> bool:
        with self.vault.reader.connect() as connection:
            return connection.execute(select(PACKAGES.c.sha256).where(PACKAGES.c.sha256 == sha256)).first() is not None

    def _existing(self, ids: list[str]) -> dict[str, dict]:
        found = {}
        with self.vault.reader.connect() as connection:
            for i in range(0, len(ids), 500):
                for row in connection.execute(
                        select(OBJECTS.c.id, OBJECTS.c.sha256, IMPORTED.c.object_id.label("imported"))
                        .outerjoin(IMPORTED, IMPORTED.c.object_id == OBJECTS.c.id)
                        .where(OBJECTS.c.id.in_(ids[i:i + 500]))).mappings():
                    found[row["id"]] = dict(row)
        return found

    def _import(self, reader: PackageReader, label: str, outcome: PackageOutcome) -> None:
        manifest = reader.manifest
        outcome.name = reader.name
        entries = manifest.get("objects")
        if not isinstance(entries, list) or not entries:
            raise PackageRefused("package.json lists no object")
        source = manifest.get("archive")
        if not isinstance(source, str) or not source or len(source) > 255 or not source.isascii() \
                or not source.isprintable():
            raise PackageRefused(f"package.json names no usable source archive ({source!r})")
        outcome.objects = len(entries)
        if not all(isinstance(entry, dict) for entry in entries):
            raise PackageRefused("package.json lists an object that is not a JSON object")
        existing = self._existing([str(e.get("id")) for e in entries])
        todo: list[_Object] = []
        for entry in entries:
            try:
                view = json.loads(reader.optional(entry.get("metadata")) or b"null")
            except ValueError:
                raise PackageRefused(f"object {entry.get('id')}: metadata.json is not JSON") from None
            if not isinstance(view, dict):
                raise PackageRefused(f"object {entry.get('id')}: no metadata.json")
            row = row_from_view(view, entry)
            here = existing.get(row["id"])
            if here is not None:
                if here["sha256"] != row["sha256"] or here["imported"] is None:
                    raise PackageRefused(f"object {row['id']} already exists in this vault with other content or "
                                         "as a deposit of its own")
                outcome.skipped += 1
                continue
            if self.vault.policies.version(row["policy_id"], row["policy_version"]) is None:
                raise PackageRefused(
                    f"object {row['id']}: policy {row['policy_id']} version {row['policy_version']} is not known to "
                    f"this vault; add that policy file (same id and version) to {self.vault.settings.policies_dir} "
                    "and run the import again")
            if entry.get("content") is None and row["destroyed_at"] is None:
                raise PackageRefused(f"object {row['id']}: no content, yet not destroyed")
            todo.append(_Object(entry, row))
        if not todo:
            outcome.status, outcome.reason = "skipped", "every object is already here"
            return
        for item in todo:
            self._read_extras(reader, item, outcome)
        # a failure from here on leaves blobs no row references: the orphan sweep removes them
        for n, item in enumerate(todo, 1):
            if item.entry.get("content") is not None:
                self._store_content(reader, item)
            if n % 1000 == 0:
                self.progress(f"{label}: {n}/{len(todo)} objects stored")
        package_row = self._package_row(reader, label, outcome.sha256, source, len(entries))
        try:
            self.vault.writer.run(lambda connection: self._record(connection, package_row, todo, source), timeout=600)
        except IntegrityError as exc:  # another import of the same objects at the same time
            raise PackageRefused(f"conflicts with objects stored meanwhile ({exc.orig}); run the import again") from None
        outcome.status, outcome.imported = "imported", len(todo)

    def _read_extras(self, reader: PackageReader, item: _Object, outcome: PackageOutcome) -> None:
        entry, row = item.entry, item.row
        item.evidence_record = reader.optional(entry.get("evidence_record"))
        report = reader.optional(entry.get("validation_report"))
        if report is not None:
            try:
                item.report = json.loads(report)
            except ValueError:
                raise PackageRefused(f"object {row['id']}: validation-report.json is not JSON") from None
            item.etsi = reader.optional(entry.get("validation_report_etsi"))
        consent = entry.get("consent")
        if row["kind"] == "consent-record" and row["event_type"] in CONSENT_EVENTS and row["destroyed_at"] is None:
            usable = (isinstance(consent, dict) and isinstance(consent.get("subject_pseudonym"), str)
                      and isinstance(consent.get("purpose"), str) and 0 < len(consent["purpose"]) <= 128
                      and len(consent["subject_pseudonym"]) <= 64
                      and consent.get("key_check") == self.vault.consents.key_check())
            if usable:
                item.consent = (consent["subject_pseudonym"], consent["purpose"])
                outcome.consent_events += 1
            else:
                outcome.consent_events_not_rebuilt += 1

    def _store_content(self, reader: PackageReader, item: _Object) -> None:
        row = item.row
        writer = self.vault.store.writer()
        try:
            for chunk in reader.chunks(item.entry["content"]):
                writer.write(chunk)
            digests = writer.digests()
            if (digests.sha256, digests.sha512, digests.size) != (row["sha256"], row["sha512"], row["size"]):
                raise PackageRefused(f"object {row['id']}: its content does not match its digests")
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        copies = self.vault.copies
        if copies is not None and copies.replicas:
            try:
                item.copy_rows = copies.replicate_for_deposit(digests, row["retention_until"])
            except Exception as exc:
                raise PackageRefused(f"object {row['id']}: copies unavailable: {exc}") from None

    def _package_row(self, reader: PackageReader, label: str, sha256: str, source: str, count: int) -> dict:
        manifest = reader.manifest
        certificates, journal = manifest.get("certificates") or {}, manifest.get("journal") or {}
        roots = reader.optional(certificates.get("tsa_roots")) or b""
        journal_key = reader.optional(journal.get("key"))
        archive_key = reader.optional(certificates.get("archive_key"))
        created = manifest.get("created_at")
        try:
            created_at = parse_iso(created)
        except (TypeError, ValueError):
            raise PackageRefused(f"package.json created_at {created!r} is not an RFC 3339 time") from None
        return {"sha256": sha256, "name": reader.name, "file": label, "source_archive": source,
                "created_at": created_at, "object_count": count, "tsa_roots": roots.decode("ascii", "replace"),
                "journal_key": journal_key.decode("utf-8", "replace").strip() if journal_key else None,
                "archive_key": archive_key.decode("utf-8", "replace").strip() if archive_key else None,
                "imported_at": self.vault.clock.now()}

    def _stage_record(self, connection, row: dict, now) -> None:
        """Version 1 of the object's metadata record, made here from its row (docs/metadata-record.md): this
        archive's seal pass seals it with the content as a data group, like a deposit's."""
        policy = self.vault.policies.version(row["policy_id"], row["policy_version"])
        personal, start = ((policy.personal_fields, policy.start) if policy is not None
                           else (DEFAULT_PERSONAL_FIELDS, "deposit"))
        record_row, disclosure_rows = record_rows(row["id"], build_record(row, personal, start), now)
        stage(connection, INSERT_RECORD, record_row)
        if disclosure_rows:
            stage_rows(connection, INSERT_DISCLOSURE, disclosure_rows)

    def _record(self, connection, package_row: dict, items: list[_Object], source: str) -> None:
        now = package_row["imported_at"]
        stage(connection, _INSERT_PACKAGE, package_row)
        for item in items:
            row = item.row
            event = AccessEvent(
                actor=SYSTEM_ACTOR, tenant=row["tenant"], action=Action.IMPORT, object_ids=(row["id"],),
                detail={"sha256": row["sha256"], "size": row["size"],
                        "policy": f"{row['policy_id']}@{row['policy_version']}", "source": source,
                        "package": package_row["name"], "package_sha256": package_row["sha256"],
                        "package_objects": package_row["object_count"],
                        "source_journal_index": item.entry.get("deposit_journal_index"),
                        "deposited_at": iso_z(row["deposited_at"]),
                        # binds the source's record into this log: its anchors then date it (RFC 4998 §5.2's
                        # reasoning: the record existed, and held, when a later timestamp covered it)
                        "evidence_record_sha256": hashlib.sha256(item.evidence_record).hexdigest()
                        if item.evidence_record is not None else None})
            seq = append_entry(connection, event, now)
            seal_seq = next_in_sequence(connection, "seal", NEXT_SEAL_SEQ)
            stage_object(connection, _INSERT_OBJECT, {**row, "journal_index": seq, "seal_seq": seal_seq},
                         self.vault.policies)
            self._stage_record(connection, row, now)
            if item.evidence_record is not None:
                register_chain(connection, item.evidence_record, now)  # this archive renews it from now on
            source_index = item.entry.get("deposit_journal_index")
            stage(connection, _INSERT_IMPORTED, {
                "object_id": row["id"], "package_sha256": package_row["sha256"],
                "source_journal_index": source_index if isinstance(source_index, int) else None,
                "der": item.evidence_record, "imported_at": now, "import_journal_index": seq})
            if item.report is not None:
                validated = item.report.get("validated_at")
                try:
                    validated_at = parse_iso(validated) if isinstance(validated, str) else row["deposited_at"]
                except ValueError:
                    validated_at = row["deposited_at"]
                stage(connection, INSERT_REPORT, {
                    "object_id": row["id"], "validated_at": validated_at, "report": item.report,
                    "etsi_report": item.etsi})
            if item.consent is not None:
                stage(connection, INSERT_CONSENT, consent_row(row, *item.consent))
            for copy_row in item.copy_rows:
                stage(connection, INSERT_COPY[connection.dialect.name], copy_row)
