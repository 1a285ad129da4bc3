"""Metadata record versions sealed apart from their content (issue 22): a later version (a policy reassignment, a
correction), a version 1 backfilled for an object sealed before records, or one whose initial batch used a hash the
rows do not keep.

Each such version is queued in ``record_seal_pending`` and sealed in the next seal pass as a leaf of a
``record-seal`` batch: the RFC 4998 §4.2 data group (content, that version's exact bytes) — the same
:func:`~vault.evidence.assemble.group_leaf` as a deposit's — with its membership in ``record_seal_members``. Such a
batch starts a chain like an initial one: timestamp renewals carry it (§5.2, ``seal_links``), and a hash-tree
renewal rehashes both members with the sequence hash into a new chain (members in ``record_seal_members`` too). The
version's evidence record is assembled from those chains; version 1 sealed with the content is the object's own.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, func, select, tuple_

from vault.db.tables import RecordSealMember
from vault.evidence.assemble import (
    AssembledRecord, BatchCache, assemble, build_chain, data_group_members, group_leaf, record_seal, stored_leaf,
)
from vault.evidence.batches import BATCHES, HASH_TREE_RENEWAL, RECORD_SEAL, initial_batch_of
from vault.evidence.metadata_store import OBJECTS, PENDING, RECORDS
from vault.evidence.record import encode_evidence_record, encode_sequence
from vault.journal.entries import Action

if TYPE_CHECKING:
    from vault.evidence.sealing import RenewalReport, Sealer

RECORD_MEMBERS = RecordSealMember.__table__


class AlreadySealed(RuntimeError):
    """Another pass sealed some of these versions first: this batch is undone."""


def record_backlog(connection: Connection) -> tuple[int, datetime | None]:
    """How many record versions wait for their own seal, and since when the oldest."""
    count, oldest = connection.execute(select(func.count(), func.min(PENDING.c.queued_at))).one()
    return count, oldest


def _pending(connection: Connection, limit: int) -> list:
    return connection.execute(
        select(PENDING.c.object_id, PENDING.c.version, RECORDS.c.record, OBJECTS.c.sha256, OBJECTS.c.sha512)
        .join(RECORDS, (RECORDS.c.object_id == PENDING.c.object_id) & (RECORDS.c.version == PENDING.c.version))
        .join(OBJECTS, OBJECTS.c.id == PENDING.c.object_id)
        .order_by(PENDING.c.queued_at, PENDING.c.object_id, PENDING.c.version).limit(limit)).all()


def seal_records(sealer: "Sealer") -> str | None:
    """One ``record-seal`` batch over the oldest pending versions (up to ``batch_max``), journaled as a seal; the
    pending rows go in the same unit, so a version is sealed once even if two passes raced (the later undone)."""
    algorithm = sealer.policy.sealing_algorithm()
    with sealer.reader.connect() as connection:
        rows = _pending(connection, sealer.policy.batch_max)
    if not rows:
        return None
    members, leaves = [], []
    for r in rows:
        content_hash = sealer._data_hash(algorithm, r.sha256, r.sha512)
        leaves.append(group_leaf(algorithm, data_group_members(algorithm, content_hash, bytes(r.record))))
        members.append({"object_id": r.object_id, "version": r.version, "content_hash": content_hash})
    keys = [(r.object_id, r.version) for r in rows]

    def dequeue(connection: Connection) -> None:
        done = connection.execute(delete(PENDING).where(
            tuple_(PENDING.c.object_id, PENDING.c.version).in_(keys))).rowcount
        if done != len(keys):
            raise AlreadySealed(f"{len(keys) - done} of these record versions were sealed by another pass")

    return sealer.write_tree_batch(RECORD_SEAL, algorithm, leaves, RECORD_MEMBERS, members, Action.SEAL,
                                   then=dequeue, records=len(keys))


def _chain_starts(connection: Connection, object_id: str, version: int) -> list:
    """(batch id, leaf index, content hash) of each chain start of the version, oldest first."""
    return connection.execute(
        select(RECORD_MEMBERS.c.batch_id, RECORD_MEMBERS.c.leaf_index, RECORD_MEMBERS.c.content_hash)
        .where(RECORD_MEMBERS.c.object_id == object_id, RECORD_MEMBERS.c.version == version)
        .order_by(RECORD_MEMBERS.c.batch_id)).all()


def first_starts_many(connection: Connection, object_ids: list[str]) -> dict[tuple[str, int], tuple[str, int, bytes]]:
    """(batch id, leaf index, content hash) of the first chain start of each record version of ``object_ids``
    sealed apart, by (object id, version), in one query."""
    found: dict[tuple[str, int], tuple[str, int, bytes]] = {}
    for r in connection.execute(
            select(RECORD_MEMBERS.c.object_id, RECORD_MEMBERS.c.version, RECORD_MEMBERS.c.batch_id,
                   RECORD_MEMBERS.c.leaf_index, RECORD_MEMBERS.c.content_hash)
            .where(RECORD_MEMBERS.c.object_id.in_(object_ids)).order_by(RECORD_MEMBERS.c.batch_id)):
        found.setdefault((r.object_id, r.version), (r.batch_id, r.leaf_index, bytes(r.content_hash)))
    return found


def sealed_apart_leaf(connection: Connection, start: tuple[str, int, bytes], content: dict[str, str], record: bytes,
                      cache: BatchCache) -> bool:
    """Whether the first chain start ``start`` of a version sealed apart has for its leaf the data group (the
    object's content, ``record``), RFC 4998 §4.2 — the content hash it names being the content's where the row
    keeps that algorithm's digest."""
    batch_id, index, content_hash = start
    batch = cache.get(connection, batch_id)
    if batch.algorithm in content and bytes.fromhex(content[batch.algorithm]) != content_hash:
        return False
    return stored_leaf(connection, batch, index, cache) == group_leaf(
        batch.algorithm, data_group_members(batch.algorithm, content_hash, record))


def sealed_apart_many(connection: Connection, object_ids: list[str]) -> set[tuple[str, int]]:
    """The (object id, version) of those record versions of ``object_ids`` that have chains of their own."""
    return {(r.object_id, r.version) for r in connection.execute(
        select(RECORD_MEMBERS.c.object_id, RECORD_MEMBERS.c.version)
        .where(RECORD_MEMBERS.c.object_id.in_(object_ids)).distinct())}


def assemble_version(connection: Connection, object_id: str, version: int, record: bytes, seal_seq: int,
                     cache: BatchCache | None = None) -> AssembledRecord | None:
    """The evidence record proving the data group (content, ``record`` = that version's bytes), RFC 4998 §3/§4.2:
    its own chains when it was sealed apart, else (version 1 sealed with the content) the object's record; None
    while it is not sealed."""
    cache = cache or BatchCache()
    starts = _chain_starts(connection, object_id, version)
    if not starts:
        if version != 1:
            return None
        assembled = assemble(connection, seal_seq, cache)
        return assembled if assembled is not None and assembled.grouped else None
    result = AssembledRecord(b"", [], [], grouped=True)
    for batch_id, index, content_hash in starts:
        start = cache.get(connection, batch_id)
        previous = encode_sequence(result.chains) if result.chains else None
        chain, batches = build_chain(connection, start, index, cache,
                                     data_group_members(start.algorithm, bytes(content_hash), record, previous))
        result.chains.append(chain)
        result.batches += batches
        result.algorithms.append(start.algorithm)
    result.der = encode_evidence_record(result.algorithms, encode_sequence(result.chains))
    return result


def _sealed_with_content(connection: Connection, seal_seq: int, row: dict, record: bytes,
                         cache: BatchCache) -> dict | None:
    if record_seal(connection, seal_seq, cache, {"sha256": row["sha256"], "sha512": row["sha512"]}, record) != "group":
        return None
    batch = initial_batch_of(connection, seal_seq)
    return {"batch": batch.id, "gen_time": batch.gen_time}


def history(connection: Connection, row: dict) -> list[dict]:
    """Every version of the object's record, oldest first: ``{version, previous, sha256, created_at, correction,
    sealed: {batch, gen_time} | None}`` (``sealed``: the batch that first sealed it as a data group with the
    content)."""
    versions = connection.execute(select(RECORDS.c.version, RECORDS.c.record, RECORDS.c.created_at)
                                  .where(RECORDS.c.object_id == row["id"]).order_by(RECORDS.c.version)).all()
    firsts = {r.version: (r.batch_id, r.gen_time) for r in connection.execute(
        select(RECORD_MEMBERS.c.version, BATCHES.c.id.label("batch_id"), BATCHES.c.gen_time)
        .join(BATCHES, BATCHES.c.id == RECORD_MEMBERS.c.batch_id)
        .where(RECORD_MEMBERS.c.object_id == row["id"], BATCHES.c.kind == RECORD_SEAL))}
    cache, found = BatchCache(), []
    for v in versions:
        data = bytes(v.record)
        document = json.loads(data)
        if v.version in firsts:
            sealed = {"batch": firsts[v.version][0], "gen_time": firsts[v.version][1]}
        else:
            sealed = _sealed_with_content(connection, row["seal_seq"], row, data, cache) if v.version == 1 else None
        found.append({"version": v.version, "previous": document.get("previous"),
                      "sha256": hashlib.sha256(data).hexdigest(), "created_at": v.created_at,
                      "correction": document.get("correction"), "sealed": sealed})
    return found


def _versions_not_on(connection: Connection, algorithm: str) -> list[tuple[str, int]]:
    """Record versions sealed apart whose newest chain uses another algorithm."""
    latest = (select(RECORD_MEMBERS.c.object_id, RECORD_MEMBERS.c.version,
                     func.max(RECORD_MEMBERS.c.batch_id).label("batch_id"))
              .group_by(RECORD_MEMBERS.c.object_id, RECORD_MEMBERS.c.version).subquery("latest"))
    rows = connection.execute(select(latest.c.object_id, latest.c.version)
                              .join(BATCHES, BATCHES.c.id == latest.c.batch_id)
                              .where(BATCHES.c.algorithm != algorithm)
                              .order_by(latest.c.object_id, latest.c.version)).all()
    return [(r.object_id, r.version) for r in rows]


def renew_record_hash_trees(sealer: "Sealer", algorithm: str, report: "RenewalReport") -> None:
    """A new ``algorithm`` chain for every record version sealed apart whose newest chain uses another one (§5.2):
    its leaf the group of H(H(d) ‖ H(ArchiveTimeStampSequence)) of the content (re-read) and of the record."""
    with sealer.reader.connect() as connection:
        targets = _versions_not_on(connection, algorithm)
    leaves, members = [], []
    for object_id, version in targets:
        with sealer.reader.connect() as connection:
            row = connection.execute(select(OBJECTS.c.seal_seq, OBJECTS.c.sha256).where(OBJECTS.c.id == object_id)).one()
            record = bytes(connection.execute(select(RECORDS.c.record).where(
                RECORDS.c.object_id == object_id, RECORDS.c.version == version)).scalar_one())
            assembled = assemble_version(connection, object_id, version, record, row.seal_seq)
        try:
            content_hash = sealer._rehash(row.sha256, algorithm)
        except (ValueError, LookupError, OSError) as exc:
            report.failures.append(f"record {object_id} v{version}: {exc}")
            continue
        group = data_group_members(algorithm, content_hash, record, encode_sequence(assembled.chains))
        leaves.append(group_leaf(algorithm, group))
        members.append({"object_id": object_id, "version": version, "content_hash": content_hash})
    for part in range(0, len(leaves), sealer.policy.batch_max):
        chunk = members[part:part + sealer.policy.batch_max]
        report.batches.append(sealer.write_tree_batch(
            HASH_TREE_RENEWAL, algorithm, leaves[part:part + sealer.policy.batch_max], RECORD_MEMBERS, chunk,
            Action.RESEAL, records=len(chunk)))
        report.renewed += len(chunk)
