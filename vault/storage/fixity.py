"""Fixity alerts, kept in the ``fixity_alerts`` table so that they survive restarts and are raised once.

A finding is a copy whose bytes differ from the recorded SHA-256 (``copy-corrupt``), a copy that is not there
(``copy-missing``), or a blob with no good copy left on any store (``content-lost``, store ``*``). It comes from a
fixity audit or from a read that checked the bytes on their way out. The same finding seen again bumps ``seen`` and
``last_seen`` of its row (one row per blob, store and kind); a later read or audit that finds the copy good again
resolves it. ``/v1/alerts`` lists the open ones, ``/metrics`` counts them, ``/ready`` reports ``degraded`` while
one is open. Unlike the append-only ``security_alerts`` (an act happened), a fixity alert is a state that ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, func, select, update

from vault.clock import iso_z
from vault.db.tables import ArchivedObject, FixityAlert
from vault.jobs.follower import dialect_insert
from vault_verify.report import FAILED, OK, Check

FIXITY = FixityAlert.__table__
OBJECTS = ArchivedObject.__table__
COPY_CORRUPT, COPY_MISSING, CONTENT_LOST = "copy-corrupt", "copy-missing", "content-lost"
KINDS = (COPY_CORRUPT, COPY_MISSING, CONTENT_LOST)
EVERY_STORE = "*"


@dataclass(frozen=True, init=False)
class Finding(Check):
    """What one look at one copy found, as a check named after the copy: ``ok`` when its bytes are the recorded
    ones (``kind`` None), else ``failed`` with ``kind`` as the detail."""

    sha256: str = ""
    store: str = ""
    kind: str | None = None
    object_id: str = ""

    def __init__(self, sha256: str, store: str, kind: str | None, object_id: str):
        facts = {"sha256": sha256, "store": store, "kind": kind, "object_id": object_id,
                 "name": f"copy of {sha256} on {store}", "status": OK if kind is None else FAILED,
                 "detail": kind or "intact"}
        for key, value in facts.items():
            object.__setattr__(self, key, value)
        self.__post_init__()

    @staticmethod
    def of(sha256: str, store: str, object_id: str, digest: str | None) -> "Finding":
        """The finding for a copy whose SHA-256 is ``digest`` (None: nothing there)."""
        kind = None if digest == sha256 else COPY_MISSING if digest is None else COPY_CORRUPT
        return Finding(sha256, store, kind, object_id)


def record_findings(connection: Connection, findings: list[Finding], at: datetime, source: str,
                    store_count: int) -> None:
    """Raise (or see again) the alerts of bad findings and resolve those of the copies found good; a blob whose
    ``store_count`` stores were all found bad gets a ``content-lost`` alert, resolved once a copy is good."""
    by_blob: dict[str, list[Finding]] = {}
    for finding in findings:
        by_blob.setdefault(finding.sha256, []).append(finding)
        if finding.kind is None:
            _resolve(connection, finding.sha256, finding.store, at)
        else:
            _raise(connection, finding, at, source)
    for sha256, seen in by_blob.items():
        if any(f.kind is None for f in seen):
            _resolve(connection, sha256, EVERY_STORE, at)
        elif len({f.store for f in seen}) >= store_count:
            _raise(connection, Finding(sha256, EVERY_STORE, CONTENT_LOST, seen[0].object_id), at, source)


def _raise(connection: Connection, finding: Finding, at: datetime, source: str) -> None:
    statement = dialect_insert(connection, FIXITY).values(
        sha256=finding.sha256, store=finding.store, kind=finding.kind, object_id=finding.object_id, source=source,
        first_seen=at, last_seen=at, seen=1, resolved_at=None)
    connection.execute(statement.on_conflict_do_update(
        index_elements=[FIXITY.c.sha256, FIXITY.c.store, FIXITY.c.kind],
        set_={"last_seen": at, "seen": FIXITY.c.seen + 1, "source": source, "resolved_at": None}))


def _resolve(connection: Connection, sha256: str, store: str, at: datetime) -> None:
    connection.execute(update(FIXITY).where(FIXITY.c.sha256 == sha256, FIXITY.c.store == store,
                                            FIXITY.c.resolved_at.is_(None)).values(resolved_at=at))


def open_alerts(connection: Connection, tenant: str | None, limit: int) -> list[dict]:
    """Open fixity alerts, the most recently seen first; of blobs held by ``tenant`` (every tenant's for None)."""
    query = (select(FIXITY).where(FIXITY.c.resolved_at.is_(None))
             .order_by(FIXITY.c.last_seen.desc(), FIXITY.c.sha256, FIXITY.c.store, FIXITY.c.kind).limit(limit))
    if tenant is not None:
        query = query.where(select(OBJECTS.c.id).where(and_(OBJECTS.c.sha256 == FIXITY.c.sha256,
                                                           OBJECTS.c.tenant == tenant)).exists())
    return [fixity_view(dict(row)) for row in connection.execute(query).mappings()]


def alerts_of(connection: Connection, sha256: str, limit: int = 100) -> list[dict]:
    """Every fixity alert ever raised about blob ``sha256``, open or resolved, the most recently seen first: what
    the audits and the checked reads found on each of its copies, and when a good copy was found again."""
    query = (select(FIXITY).where(FIXITY.c.sha256 == sha256)
             .order_by(FIXITY.c.last_seen.desc(), FIXITY.c.store, FIXITY.c.kind).limit(limit))
    return [fixity_view(dict(row)) for row in connection.execute(query).mappings()]


def open_counts(connection: Connection) -> dict[str, int]:
    """How many fixity alerts of each kind are open now (every kind named, zero included)."""
    counted = dict(connection.execute(select(FIXITY.c.kind, func.count()).where(FIXITY.c.resolved_at.is_(None))
                                      .group_by(FIXITY.c.kind)).all())
    return {kind: counted.get(kind, 0) for kind in KINDS}


def sightings(connection: Connection) -> dict[str, int]:
    """Bad copies seen so far, every sighting counted (the ``seen`` of every alert, open or resolved), by kind:
    a count that only grows, whichever process saw them."""
    counted = dict(connection.execute(select(FIXITY.c.kind, func.coalesce(func.sum(FIXITY.c.seen), 0))
                                      .group_by(FIXITY.c.kind)).all())
    return {kind: int(counted.get(kind, 0)) for kind in KINDS}


def missing_by_store(connection: Connection) -> dict[str, int]:
    """Open ``copy-missing`` alerts by store (stores with none are absent)."""
    return dict(connection.execute(select(FIXITY.c.store, func.count())
                                   .where(FIXITY.c.resolved_at.is_(None), FIXITY.c.kind == COPY_MISSING)
                                   .group_by(FIXITY.c.store)).all())


def fixity_view(row: dict) -> dict:
    return {"kind": row["kind"], "sha256": row["sha256"], "store": row["store"], "object_id": row["object_id"],
            "source": row["source"], "first_seen": iso_z(row["first_seen"]), "last_seen": iso_z(row["last_seen"]),
            "seen": row["seen"], "resolved_at": iso_z(row["resolved_at"])}


def bytes_by_store(connection: Connection, primary: str, own: list[str] | None = None) -> dict[str, int]:
    """Bytes of the distinct blobs each store holds (``vault_store_bytes``): the ``primary`` (local) store holds
    every blob of an object not destroyed but those held by another host's local store only (a store not in
    ``own``, :mod:`vault.storage.placement`); the others, those with a good copy recorded. Scans: callers cache it."""
    from vault.db.tables import ArchivedObject, BlobCopy
    from vault.storage.placement import recorded_elsewhere

    copies, objects = BlobCopy.__table__, ArchivedObject.__table__
    blobs = (select(objects.c.sha256, func.max(objects.c.size).label("size")).where(objects.c.destroyed_at.is_(None))
             .group_by(objects.c.sha256).subquery())
    held = {store: int(total or 0) for store, total in connection.execute(
        select(copies.c.store, func.sum(blobs.c.size)).join(blobs, blobs.c.sha256 == copies.c.sha256)
        .where(copies.c.status == "ok").group_by(copies.c.store)).all()}
    local = select(func.sum(blobs.c.size))
    if own is not None:
        mine = select(copies.c.sha256).where(copies.c.sha256 == blobs.c.sha256, copies.c.store == primary).exists()
        local = local.where(mine | ~recorded_elsewhere(blobs.c.sha256, own))
    held[primary] = int(connection.execute(local).scalar() or 0)
    return held
