"""The blobs below the copy quorum, counted incrementally for ``/ready`` (its ``copies`` check, every
``VAULT_READY_PROBE_INTERVAL``).

A full pass over ``archived_objects`` grows with the archive (10⁷ objects would outlast the probe's 15 s timeout).
The watch instead follows the deposits by ``seal_seq`` (dense, :mod:`vault.jobs.follower`) from an in-process
watermark and keeps the set of blobs it found short, so one run costs O(new deposits + blobs under the quorum):

- the deposits past the watermark are checked, in ``seal_seq`` index ranges of ``CHUNK`` rows, and the watermark
  moves over their dense prefix only (a deposit still committing elsewhere leaves a gap, read again next run);
- the blobs found short before are checked again; one now at its quorum, or whose objects were all destroyed
  (disposal deletes its copies), leaves the set.

The first run in a process starts at ``seal_seq`` 0: a full pass, in chunks, for at most ``BUDGET`` seconds per run
(below the probe's timeout). Until it has covered every deposit the count is a lower bound, and the verdict says
so (``degraded: … not yet counted``: the service answers, so 200) rather than a wrong ``ok``.

A copy lost *later* (a blob already checked at its quorum loses a copy) is not seen here: that is the fixity
audit's finding (``copy-missing``/``copy-corrupt``/``content-lost`` in ``fixity_alerts``), which ``/ready``
reports in its own ``fixity`` check (``Vault.ready``) while the alert is open.
"""

from __future__ import annotations

import time
from typing import Callable

from sqlalchemy import Connection, and_, func, select

from vault.db.tables import ArchivedObject, BlobCopy

OBJECTS = ArchivedObject.__table__
COPIES = BlobCopy.__table__
CHUNK = 50_000  # deposits read per query on the first pass
BUDGET = 10.0  # seconds of first pass per run, below the probe's 15 s timeout
RECHECK = 500  # blobs per IN list when checking the short ones again


def good_copies():
    """The number of good copies recorded for the blob of the current ``archived_objects`` row (correlated)."""
    return (select(func.count()).select_from(COPIES)
            .where(and_(COPIES.c.sha256 == OBJECTS.c.sha256, COPIES.c.status == "ok")).scalar_subquery())


class QuorumWatch:
    """The blobs of live objects held by fewer than ``quorum`` stores, kept up to date run after run."""

    def __init__(self, quorum: int, monotonic: Callable[[], float] = time.monotonic):
        self.quorum, self._monotonic = quorum, monotonic
        self.position = 0  # every deposit below this seal_seq has been checked
        self.short: set[str] = set()
        self.complete = False  # the first pass reached the last deposit

    def run(self, connection: Connection) -> int:
        """Check again the blobs found short, then the deposits past the watermark; the number of short blobs."""
        self.short = self._still_short(connection, sorted(self.short))
        deadline = self._monotonic() + BUDGET
        while True:
            read, dense = self._advance(connection)
            if read < CHUNK:  # read up to the last deposit
                self.complete = True
                return len(self.short)
            if dense < read or (not self.complete and self._monotonic() >= deadline):
                return len(self.short)  # a gap (a deposit committing): the rest next run

    def _advance(self, connection: Connection) -> tuple[int, int]:
        """Check up to ``CHUNK`` deposits from the watermark (an index range of ``ux_objects_seal_seq``); returns how
        many rows were read and over how many (their dense prefix) the watermark moved."""
        rows = connection.execute(
            select(OBJECTS.c.seal_seq, OBJECTS.c.sha256, OBJECTS.c.destroyed_at, good_copies().label("good"))
            .where(OBJECTS.c.seal_seq >= self.position).order_by(OBJECTS.c.seal_seq).limit(CHUNK)).all()
        dense = next((i for i, row in enumerate(rows) if row.seal_seq != self.position + i), len(rows))
        self.short.update(row.sha256 for row in rows if row.destroyed_at is None and row.good < self.quorum)
        self.position += dense
        return len(rows), dense

    def _still_short(self, connection: Connection, blobs: list[str]) -> set[str]:
        short = set()
        for i in range(0, len(blobs), RECHECK):
            short.update(connection.execute(
                select(OBJECTS.c.sha256).distinct()
                .where(OBJECTS.c.sha256.in_(blobs[i:i + RECHECK]), OBJECTS.c.destroyed_at.is_(None),
                       good_copies() < self.quorum)).scalars())
        return short
