"""Where metadata records and their disclosures are kept (tables ``metadata_records``, ``metadata_disclosures``).

The deposit stages both in the unit that inserts the object row; sealing reads the record bytes by seal order.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from vault.db.tables import (
    ArchivedObject, MetadataDisclosureRow, MetadataErasureRow, MetadataRecordRow, RecordSealPending,
)
from vault.evidence.metadata_record import MetadataRecord, build_record
from vault_verify.canonical import canonical_json_any

RECORDS = MetadataRecordRow.__table__
DISCLOSURES = MetadataDisclosureRow.__table__
OBJECTS = ArchivedObject.__table__
PENDING = RecordSealPending.__table__
ERASURES = MetadataErasureRow.__table__
INSERT_RECORD = insert(RECORDS)
INSERT_DISCLOSURE = insert(DISCLOSURES)


def record_rows(object_id: str, record: MetadataRecord, created_at: datetime,
                version: int = 1) -> tuple[dict, list[dict]]:
    """The ``metadata_records`` row and the ``metadata_disclosures`` rows of ``record``."""
    return ({"object_id": object_id, "version": version, "record": record.data, "created_at": created_at},
            [{"object_id": object_id, "field": d.field, "salt": d.salt,
              "value": canonical_json_any(d.value).decode("utf-8")} for d in record.disclosures])


def record_bytes(connection: Connection, object_id: str, version: int | None = None) -> bytes | None:
    """The bytes of version ``version`` (the newest when None) of the object's record, or None."""
    query = select(RECORDS.c.record).where(RECORDS.c.object_id == object_id)
    if version is None:
        query = query.order_by(RECORDS.c.version.desc()).limit(1)
    else:
        query = query.where(RECORDS.c.version == version)
    value = connection.execute(query).scalar()
    return None if value is None else bytes(value)


def disclosures(connection: Connection, object_id: str) -> list[dict]:
    """``{"field", "salt", "value"}`` of every disclosure kept for the object, by field name; ``value`` parsed."""
    return disclosures_many(connection, [object_id]).get(object_id, [])




def first_records_many(connection: Connection, object_ids: list[str]) -> dict[str, bytes]:
    """Version 1 (the one sealed with the content) of the records of those of ``object_ids`` that have one, in one
    query."""
    rows = connection.execute(select(RECORDS.c.object_id, RECORDS.c.record)
                              .where(RECORDS.c.object_id.in_(object_ids), RECORDS.c.version == 1)).all()
    return {r.object_id: bytes(r.record) for r in rows}




def newest_records_many(connection: Connection, object_ids: list[str]) -> dict[str, bytes]:
    """The newest version of the records of those of ``object_ids`` that have one, in one query."""
    return {i: versions[max(versions)] for i, versions in records_many(connection, object_ids).items()}


def first_records_by_seal_seq(connection: Connection, low: int, high: int) -> dict[int, bytes]:
    """Version 1 of the records of deposits ``low..high`` (seal order), for those that have one."""
    rows = connection.execute(
        select(OBJECTS.c.seal_seq, RECORDS.c.record).join(RECORDS, RECORDS.c.object_id == OBJECTS.c.id)
        .where(OBJECTS.c.seal_seq >= low, OBJECTS.c.seal_seq <= high, RECORDS.c.version == 1)).all()
    return {r.seal_seq: bytes(r.record) for r in rows}


def queue_record_seal(connection: Connection, versions: list[tuple[str, int]], now: datetime) -> None:
    """Mark record versions (object id, version) as waiting for a seal of their own: the next seal pass seals each
    as the data group (content, that version) in a ``record-seal`` batch (:mod:`vault.evidence.record_seals`)."""
    if versions:
        connection.execute(insert(PENDING), [{"object_id": o, "version": v, "queued_at": now} for o, v in versions])


def first_record_of(connection: Connection, seal_seq: int) -> bytes | None:
    return first_records_by_seal_seq(connection, seal_seq, seal_seq).get(seal_seq)


def sealed_members_many(connection: Connection, seal_seqs: list[int] | range) -> dict[int, tuple[dict[str, str],
                                                                                              bytes | None]]:
    """The content digests (by algorithm) and version 1 of the record (None if none) of several deposits — what
    each one's data group (RFC 4998 §4.2) is made of — in one query (a ``range`` is read as one index range)."""
    wanted = (OBJECTS.c.seal_seq.between(seal_seqs.start, seal_seqs.stop - 1) if isinstance(seal_seqs, range)
              else OBJECTS.c.seal_seq.in_(sorted(set(seal_seqs))))
    rows = connection.execute(
        select(OBJECTS.c.seal_seq, OBJECTS.c.sha256, OBJECTS.c.sha512, RECORDS.c.record)
        .outerjoin(RECORDS, (RECORDS.c.object_id == OBJECTS.c.id) & (RECORDS.c.version == 1))
        .where(wanted)).all()
    return {r.seal_seq: ({"sha256": r.sha256, "sha512": r.sha512}, None if r.record is None else bytes(r.record))
            for r in rows}






def next_version(connection: Connection, object_id: str, row: dict, personal_fields, start_rule: str,
                 created_at: datetime, correction: dict | None = None, renewed=()) -> int | None:
    """Write the next version of the object's record from its (updated) ``row``: the same salts for the fields
    already disclosed, ``previous`` the SHA-256 of the newest version's bytes; new disclosures for fields personal
    only now. ``renewed`` fields (a rectified value) lose their disclosure and get a fresh salt with the new value
    (none if the value is gone); ``correction`` goes into the record (:func:`build_record`). Returns the version
    written (None for an object without a record: it gets none here)."""
    newest = connection.execute(select(RECORDS.c.version, RECORDS.c.record).where(RECORDS.c.object_id == object_id)
                                .order_by(RECORDS.c.version.desc()).limit(1)).first()
    if newest is None:
        return None
    renewed = set(renewed)
    if renewed:
        connection.execute(delete(DISCLOSURES).where(DISCLOSURES.c.object_id == object_id,
                                                     DISCLOSURES.c.field.in_(sorted(renewed))))
    held = {d["field"]: d for d in disclosures(connection, object_id)}
    salts = {field: bytes.fromhex(d["salt"]) for field, d in held.items()}
    record = build_record(row, personal_fields, start_rule, salts=salts, version=newest.version + 1,
                          previous=hashlib.sha256(bytes(newest.record)).hexdigest(), correction=correction)
    record_row, disclosure_rows = record_rows(object_id, record, created_at, newest.version + 1)
    connection.execute(INSERT_RECORD, [record_row])
    queue_record_seal(connection, [(object_id, newest.version + 1)], created_at)
    fresh = [d for d in disclosure_rows if d["field"] not in held]
    if fresh:
        connection.execute(INSERT_DISCLOSURE, fresh)
    return newest.version + 1


def _scoped(query, object_id, scope: list[str] | tuple[int, int]):
    """``query`` restricted to the objects of ``scope`` — a list of object ids, or ``(low, high)``: the deposits
    ``low..high`` in seal order (``vault verify --data-dir`` reads by span); ``object_id`` the column naming the
    object."""
    if isinstance(scope, tuple):
        return query.join(OBJECTS, object_id == OBJECTS.c.id).where(OBJECTS.c.seal_seq.between(*scope))
    return query.where(object_id.in_(scope))


def _disclosures(connection: Connection, scope) -> dict[str, list[dict]]:
    rows = connection.execute(_scoped(select(DISCLOSURES.c.object_id, DISCLOSURES.c.field, DISCLOSURES.c.salt,
                                             DISCLOSURES.c.value), DISCLOSURES.c.object_id, scope)
                              .order_by(DISCLOSURES.c.field)).all()
    found: dict[str, list[dict]] = {}
    for r in rows:
        found.setdefault(r.object_id, []).append({"field": r.field, "salt": bytes(r.salt).hex(),
                                                  "value": json.loads(r.value)})
    return found


def _records(connection: Connection, scope) -> dict[str, dict[int, bytes]]:
    rows = connection.execute(_scoped(select(RECORDS.c.object_id, RECORDS.c.version, RECORDS.c.record),
                                      RECORDS.c.object_id, scope)).all()
    found: dict[str, dict[int, bytes]] = {}
    for r in rows:
        found.setdefault(r.object_id, {})[r.version] = bytes(r.record)
    return found


def _erased(connection: Connection, scope) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for r in connection.execute(_scoped(select(ERASURES.c.object_id, ERASURES.c.field), ERASURES.c.object_id,
                                        scope)):
        found.setdefault(r.object_id, set()).add(r.field)
    return found


def disclosures_many(connection: Connection, object_ids: list[str]) -> dict[str, list[dict]]:
    """:func:`disclosures` of each of ``object_ids`` that has any, in one query."""
    return _disclosures(connection, object_ids)


def disclosures_between(connection: Connection, low: int, high: int) -> dict[str, list[dict]]:
    """The disclosures of the deposits ``low..high`` (seal order), as :func:`disclosures` gives them, by object."""
    return _disclosures(connection, (low, high))


def records_many(connection: Connection, object_ids: list[str]) -> dict[str, dict[int, bytes]]:
    """Every version of the records of ``object_ids``: ``{object id: {version: bytes}}``, in one query."""
    return _records(connection, object_ids)


def records_between(connection: Connection, low: int, high: int) -> dict[str, dict[int, bytes]]:
    """Every record version of the deposits ``low..high`` (seal order): ``{object id: {version: bytes}}``."""
    return _records(connection, (low, high))


def erased_fields(connection: Connection, object_ids: list[str]) -> dict[str, set[str]]:
    """The fields with an erasure marker, by object, for those of ``object_ids`` that have any."""
    return _erased(connection, object_ids)


def erased_between(connection: Connection, low: int, high: int) -> dict[str, set[str]]:
    """:func:`erased_fields` of the deposits ``low..high`` (seal order)."""
    return _erased(connection, (low, high))
