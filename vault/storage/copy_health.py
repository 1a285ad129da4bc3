"""Are the copies at their quorum? The verdict ``/ready`` shows for the stores of ``VAULT_STORES``.

Failing (503) when fewer stores answer than ``VAULT_COPY_QUORUM``: no deposit can be acknowledged. Degraded (200)
when a store does not answer but the quorum still can be reached, or when blobs are held by fewer stores than the
quorum (the background copy job behind, the quorum raised), counted incrementally (:mod:`.quorum_watch`); a copy
lost after its blob was counted at the quorum is the fixity audit's alert, ``/ready``'s ``fixity`` check.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from vault.storage.quorum_watch import OBJECTS, QuorumWatch, good_copies


def under_quorum(connection: Connection, quorum: int) -> int:
    """How many blobs still archived (not destroyed) have fewer than ``quorum`` good copies recorded: the full pass
    (O(objects)); ``/ready`` keeps the same count incrementally with :class:`QuorumWatch`."""
    blobs = (select(OBJECTS.c.sha256).where(OBJECTS.c.destroyed_at.is_(None), good_copies() < quorum)
             .group_by(OBJECTS.c.sha256).subquery())
    return connection.execute(select(func.count()).select_from(blobs)).scalar_one()


def copies_verdict(copies, watch: QuorumWatch) -> str:
    """Ask every replica whether its bucket answers, then count the blobs below the quorum with ``watch``."""
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
        short = watch.run(connection)
    if not watch.complete:
        return (f"degraded: copies not yet counted: the first pass after start has checked the deposits below "
                f"seal_seq {watch.position} ({short} blob(s) below the copy quorum so far), it goes on next probe")
    if short:
        return (f"degraded: {short} blob(s) held by fewer than {copies.quorum} stores (copy quorum); the copy job "
                "completes them, see /v1/alerts and the copies report")
    return "ok"
