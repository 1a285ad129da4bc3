"""Where a package's pieces come from: the archive's facts of the moment (picklable, handed to a child process
that builds the package) and the readers of one process (its database snapshot, blob files, journal index)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from vault.db.snapshot import Snapshot
from vault.package.build import PackageSources

_PEM_CERTIFICATE = re.compile(rb"((?:^#[^\n]*\n)*)(-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----)",
                              re.M)  # with the comment lines before it (a root's period of use, /v1/tsa/roots)


def pem_union(*pems: bytes) -> bytes:
    """The PEM certificates of ``pems``, each once (with the comments of its first appearance), in that order."""
    seen: dict[bytes, bytes] = {}
    for pem in pems:
        for comments, block in _PEM_CERTIFICATE.findall(pem):
            seen.setdefault(block.strip(), comments)
    return b"".join(comments + block + b"\n" for block, comments in seen.items())


@dataclass(frozen=True)
class ArchiveFacts:
    """What every package of this archive carries, as of the export: plain values (they cross to a child)."""
    journal_key: str  # C2SP note verifier key
    tsa_roots_pem: bytes  # every root that ever sealed here, with its period of use
    archive_key: str  # the archive's Ed25519 public key
    archive: str  # e.g. vault.local
    sandbox: bool = False  # VAULT_SANDBOX: the package says "SANDBOX — no probative value"


@dataclass(frozen=True)
class Readers:
    """How one process reads the archive's data."""
    content: Callable[[str], Iterable[bytes]]  # sha256 → chunks
    journal_entries: Callable  # (object ids, connection=) → journal entries naming them
    pseudonym: Callable[[str, str], str]  # (kind, value) → keyed pseudonym


def facts_of(vault) -> ArchiveFacts:
    from vault.retention.certificate import public_key_text

    return ArchiveFacts(journal_key=vault.checkpointer.signer.verifier.vkey(), tsa_roots_pem=vault.tsa_roots_pem(),
                        archive_key=public_key_text(vault.retention.archive_key.public_key()),
                        archive=vault.settings.journal_origin.split("/")[0], sandbox=vault.settings.sandbox)


def readers_of(vault) -> Readers:
    return Readers(content=vault.copies.read_any, journal_entries=vault.journal_objects.entries,
                   pseudonym=vault.pseudonyms.pseudonym)


def package_sources(readers: Readers, facts: ArchiveFacts, rows: list[dict], snapshot: Snapshot) -> PackageSources:
    """The sources of a package of ``rows`` (in package order), every lookup read from ``snapshot`` (one
    consistent view: deposits committing meanwhile neither block nor change it); its TSA roots are this archive's
    plus those of the packages any of them was imported from (their imported evidence records are checked against
    those).

    Per-object lookups are fetched a window of objects at a time (:class:`Lookahead`), evidence records assembled
    with one cache for the package (its objects share their seal batches), which reads what a window's records
    need in one query per kind (``BatchCache.prefetch``)."""
    from vault.catalog.queries import Catalog
    from vault.consents.registry import ConsentRegistry
    from vault.evidence.assemble import BatchCache, assemble
    from vault.evidence.imported import continued_record
    from vault.evidence.metadata_store import (
        disclosures_many, erased_fields, first_records_many, newest_records_many, records_many,
    )
    from vault.evidence.record_seals import assemble_version, sealed_apart_many
    from vault.evidence.rowcheck import compare_row
    from vault.journal.excerpt import journal_excerpt, with_key_changes
    from vault.package.lookahead import Lookahead
    from vault.retention.registry import recorded_policies

    object_ids = [row["id"] for row in rows]
    batches = BatchCache()
    connection = snapshot.connection
    catalog = Catalog(snapshot)

    def evidence_records(seal_seqs: list[int]) -> dict[int, tuple[bytes, bool]]:
        batches.prefetch(connection, seal_seqs)
        records = {seq: assemble(connection, seq, batches) for seq in seal_seqs}
        return {seq: (record.der, record.grouped) for seq, record in records.items() if record is not None}

    def excerpt(object_ids: list[str]):
        return journal_excerpt(connection, with_key_changes(connection, readers.journal_entries(
            object_ids, connection=connection)))

    def imported_records(object_ids: list[str]) -> dict[str, tuple[bytes, bytes | None]]:
        """(verbatim, continued here or None) of the imported records among ``object_ids``."""
        found = {i: bytes(r["der"]) for i, r in catalog.imported_evidence_many(object_ids).items()
                 if r["der"] is not None}
        if not found:
            return {}
        continued = {i: continued_record(connection, der, i, batches) for i, der in found.items()}
        return {i: (der, continued[i][0] if continued[i][1] else None) for i, der in found.items()}

    def metadata_records(object_ids: list[str]) -> dict[str, tuple[bytes, list[dict]]]:
        """(version 1 of the record, the disclosures kept) of those of ``object_ids`` that have a record."""
        records = first_records_many(connection, object_ids)
        found = disclosures_many(connection, list(records)) if records else {}
        return {i: (data, found.get(i, [])) for i, data in records.items()}

    def record_versions(object_ids: list[str]) -> dict[str, list[tuple[int, bytes, bytes | None]]]:
        """Every version of the records of ``object_ids``, oldest first, with the evidence record of each version
        sealed apart from the content (None: sealed with it, or not sealed yet)."""
        versions, apart = records_many(connection, object_ids), sealed_apart_many(connection, object_ids)
        seal_seqs = {row["id"]: row["seal_seq"] for row in rows}

        def own(object_id: str, version: int, data: bytes) -> bytes | None:
            if (object_id, version) not in apart:
                return None
            return assemble_version(connection, object_id, version, data, seal_seqs[object_id], batches).der

        return {i: [(v, data, own(i, v, data)) for v, data in sorted(found.items())] for i, found in versions.items()}
    by_id = {row["id"]: row for row in rows}
    policies: list = []

    def row_mismatches(object_ids: list[str]) -> dict[str, list]:
        """Where each row (of those with a record) disagrees with its newest record (issue 22)."""
        if not policies:
            policies.append(recorded_policies(connection))
        records = newest_records_many(connection, object_ids)
        opened = disclosures_many(connection, list(records)) if records else {}
        erased = erased_fields(connection, list(records)) if records else {}
        return {i: compare_row(by_id[i], data, opened.get(i, []), policies[0], erased.get(i, set()))
                for i, data in records.items()}

    return PackageSources(
        row_mismatches=Lookahead(object_ids, row_mismatches).get,
        metadata_record=Lookahead(object_ids, metadata_records).get,
        record_versions=Lookahead(object_ids, record_versions).get,
        imported_evidence_record=Lookahead(object_ids, imported_records).get,
        consent=Lookahead(object_ids, ConsentRegistry(snapshot, readers.pseudonym).export_views).get,
        content=readers.content, evidence_record=Lookahead([row["seal_seq"] for row in rows], evidence_records).get,
        validation_report=Lookahead(object_ids, catalog.validation_reports).get, journal_excerpt=excerpt,
        journal_key=facts.journal_key,
        tsa_roots_pem=pem_union(facts.tsa_roots_pem, *(pem.encode() for pem in catalog.imported_tsa_roots(object_ids))),
        archive_key=facts.archive_key, archive=facts.archive, sandbox=facts.sandbox)
