"""Are the copies at their quorum? The verdict ``/ready`` shows for the stores of ``VAULT_STORES``.

Failing (503) when fewer stores answer than ``VAULT_COPY_QUORUM``: no deposit can be acknowledged. Degraded (200)
when a store does not answer but the quorum still can be reached, or when blobs are held by fewer stores than the
quorum (a copy lost, or the background copy job behind).
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, func, select

from vault.db.tables import ArchivedObject, BlobCopy

OBJECTS = ArchivedObject.__table__
COPIES = BlobCopy.__table__


def under_quorum(connection: Connection, quorum: int) -> int:
    """How many blobs still archived (not destroyed) have fewer than ``quorum`` good copies recorded."""
    held = (select(func.count()).select_from(COPIES)
            .where(and_(COPIES.c.sha256 == OBJECTS.c.sha256, COPIES.c.status == "ok")).scalar_subquery())
    blobs = (select(OBJECTS.c.sha256).where(OBJECTS.c.destroyed_at.is_(None), held < quorum)
             .group_by(OBJECTS.c.sha256).subquery())
    return connection.execute(select(func.count()).select_from(blobs)).scalar_one()


def copies_verdict(copies) -> str:
    """Ask every replica whether its bucket answers, then count the blobs below the quorum."""
    unreachable = []
    for store in copies.replicas:
        try:
            store.reachable()
        except Exception as exc:  # noqa: BLE001 — any failure to answer is "unreachable", named in the verdict
            unreachable.append(f"{store.name} ({exc.__class__.__name__})")
    answering = len(copies.stores) - len(unreachable)
    if answering < copies.quorum:
        return (f"failing: store(s) {', '.join(unreachable)} unreachable: {answering} of the {copies.quorum} stores "
                "the copy quorum needs answer, deposits are refused (VAULT_COPY_QUORUM)")
    if unreachable:
        return f"degraded: store(s) {', '.join(unreachable)} unreachable; deposits still reach the copy quorum"
    with copies.reader.connect() as connection:
        short = under_quorum(connection, copies.quorum)
    if short:
        return (f"degraded: {short} blob(s) held by fewer than {copies.quorum} stores (copy quorum); the copy job "
                "completes them, see /v1/alerts and the copies report")
    return "ok"
