"""Anchoring the journal: the server's side of anchors — timestamping the newest signed checkpoint on a schedule,
each anchor chained to the previous, kept append-only in ``journal_anchors`` and exported with the journal.

What an anchor is and how it is checked (the imprint, the chain, the export file names) lives in the standalone
verifier, :mod:`vault_verify.anchors`, re-exported here: one implementation for the server, the reports and
``vault-verify journal``. Anchors are written every ``interval`` seconds when the journal grew (and at least once
a day).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select

from vault.db.tables import JournalAnchor
from vault.journal.checkpoints import latest_checkpoint
from vault.storage.headroom import is_out_of_space
from vault.timestamping.client import TsaClient, TsaUnavailable
from vault_verify.anchors import Anchor, anchor_imprint

ANCHORS = JournalAnchor.__table__
MAX_AGE = timedelta(hours=24)
log = logging.getLogger(__name__)


def load_anchors(connection: Connection) -> list[Anchor]:
    rows = connection.execute(select(ANCHORS).order_by(ANCHORS.c.seq)).all()
    return [Anchor(r.seq, r.checkpoint_size, r.checkpoint.encode(), r.token, r.gen_time, r.tsa_url) for r in rows]


def latest_anchor_time(connection: Connection) -> datetime | None:
    """The TSA genTime of the newest anchor, None before the first."""
    return connection.execute(select(ANCHORS.c.gen_time).order_by(ANCHORS.c.seq.desc()).limit(1)).scalar()


class Anchorer:
    def __init__(self, reader: Engine, writer, tsa: TsaClient, clock, interval: float):
        self.reader = reader
        self.writer = writer
        self.tsa = tsa
        self.clock = clock
        self.interval = interval
        self.last_error: str | None = None
        self.job_locks = None  # vault.jobs.coordination.JobLocks
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def anchor_now(self, force: bool = False) -> Anchor | None:
        """Timestamp the newest checkpoint if the journal grew since the last anchor (or it is a day old); only
        one process at a time anchors (the chain must not fork)."""
        if self.job_locks is None:
            return self._anchor(force)
        with self.job_locks.hold("anchor") as mine:
            return self._anchor(force) if mine else None

    def _anchor(self, force: bool) -> Anchor | None:
        with self.reader.connect() as connection:
            checkpoint = latest_checkpoint(connection)
            last = connection.execute(select(ANCHORS).order_by(ANCHORS.c.seq.desc()).limit(1)).first()
        if checkpoint is None:
            return None
        now = self.clock.now()
        if last is not None and not force and checkpoint["note"] == last.checkpoint and now - last.created_at < MAX_AGE:
            self.last_error = None
            return None
        note = checkpoint["note"].encode()
        token, endpoint = self.tsa.timestamp(anchor_imprint(note, last.token if last else None), "sha256")
        if last is not None and token.gen_time < last.gen_time:
            # the TSA's clock stepped back: storing this token would break the chain's time order for good, so
            # keep the chain as it is and anchor again once the TSA's time has passed the last anchor's
            self.last_error = (f"TSA time {token.gen_time.isoformat()} is earlier than the last anchor's "
                               f"({last.gen_time.isoformat()}); anchoring postponed")
            log.warning("%s", self.last_error)
            return None
        row = {"seq": (last.seq + 1) if last else 0, "checkpoint_size": checkpoint["size"],
               "checkpoint": checkpoint["note"], "token": token.der, "gen_time": token.gen_time,
               "tsa_url": endpoint.url, "created_at": now}
        self.writer.run(lambda c: c.execute(insert(ANCHORS), row))
        self.last_error = None
        return Anchor(row["seq"], row["checkpoint_size"], note, token.der, token.gen_time, endpoint.url)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def due_in(self) -> float:
        """Seconds until the next anchor is due, counted from the last anchor stored (0 when there is none or it
        is older than the interval): the schedule survives restarts, however often the process is restarted."""
        with self.reader.connect() as connection:
            last = connection.execute(select(ANCHORS.c.created_at).order_by(ANCHORS.c.seq.desc()).limit(1)).scalar()
        if last is None:
            return 0.0
        return max(0.0, self.interval - (self.clock.now() - last).total_seconds())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vault-anchorer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        wait = self._guarded(self.due_in, self.interval)
        while not self._stop.wait(wait):
            self._guarded(self.anchor_now, None)
            wait = self._guarded(self.due_in, self.interval) or self.interval

    def _guarded(self, step, failed):
        try:
            return step()  # anchor_now clears last_error, or sets it when it postpones
        except TsaUnavailable as exc:  # retried at the next interval; the gap shows in the anchor times
            self.last_error = str(exc)
            log.warning("journal anchor postponed: %s", exc)
        except Exception as exc:
            if is_out_of_space(exc):  # a known condition (/ready says so): one line, not a traceback
                log.warning("journal anchor postponed: the disk is full")
            else:
                log.exception("journal anchor failed")
        return failed

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def anchor_at_shutdown(self) -> None:
        """A clean shutdown anchors what the journal holds (if it grew): the next start has nothing unanchored."""
        self._guarded(self.anchor_now, None)
