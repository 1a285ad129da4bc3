"""Anchors: the journal's newest signed checkpoint timestamped by the TSA, each anchor chained to the previous.

Anchor n's RFC 3161 token covers ``SHA-256(checkpoint note n ‖ DER of anchor n-1's token)`` (nothing after the
note for the first anchor). The note proves who signed the tree; the token proves the tree existed at its genTime;
the chain proves that no anchor was dropped or re-made later — the scheme Vitam uses for its journals, with a
transparency-log checkpoint as the thing anchored. Anchors are written every ``interval`` seconds when the journal
grew (and at least once a day), kept append-only, exported with the journal and checked by ``vault journal verify``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Sequence

from cryptography import x509
from sqlalchemy import Connection, Engine, insert, select

from vault.db.tables import JournalAnchor
from vault.journal.checkpoints import latest_checkpoint
from vault.storage.headroom import is_out_of_space
from vault.timestamping.client import TsaClient, TsaUnavailable
from vault_verify.note import NoteError, Verifier, open_checkpoint
from vault_verify.tokens import TokenError, parse_token, verify_token

ANCHORS = JournalAnchor.__table__
MAX_AGE = timedelta(hours=24)
log = logging.getLogger(__name__)


def anchor_imprint(note: bytes, previous_token: bytes | None) -> bytes:
    """What anchor n timestamps: SHA-256 of the checkpoint note followed by the previous anchor's token."""
    return hashlib.sha256(note + (previous_token or b"")).digest()


@dataclass(frozen=True)
class Anchor:
    seq: int
    checkpoint_size: int
    note: bytes
    token: bytes
    gen_time: datetime
    tsa_url: str


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


@dataclass
class AnchorReport:
    anchors: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    newest: Anchor | None = None


def verify_anchors(anchors: Sequence[Anchor], verifier: Verifier, roots: Sequence[x509.Certificate] | None,
                   tree_root_at: Callable[[int], bytes] | None = None, log_size: int | None = None) -> AnchorReport:
    """Check the chain: each note signed by ``verifier``, each token valid and covering note ‖ previous token,
    sizes and genTimes never going back, and (given ``tree_root_at``) each anchored root equal to the root the
    log recomputes at that size. Only ``seq``, ``note`` and ``token`` of each anchor are trusted as input."""
    report = AnchorReport(anchors=len(anchors))
    previous_token, previous_size, previous_gen = None, 0, None
    for position, anchor in enumerate(anchors):
        where = f"anchor {anchor.seq}"
        if anchor.seq != position:
            report.problems.append(f"{where}: expected anchor {position} here (one is missing or out of order)")
        imprint = anchor_imprint(anchor.note, previous_token)
        previous_token = anchor.token
        try:
            checkpoint = open_checkpoint(anchor.note, verifier)
            token = parse_token(anchor.token)
        except (NoteError, TokenError) as exc:
            report.problems.append(f"{where}: {exc}")
            continue
        verdict = verify_token(token, roots, expected_imprint=imprint)
        report.problems.extend(f"{where}: {failure}" for failure in verdict.failures)
        if previous_gen is not None and token.gen_time < previous_gen:
            report.problems.append(f"{where}: genTime earlier than the previous anchor's")
        if checkpoint.size < previous_size:
            report.problems.append(f"{where}: anchors a smaller log ({checkpoint.size}) than the previous anchor")
        if tree_root_at is not None and log_size is not None:
            if checkpoint.size > log_size:
                report.problems.append(f"{where}: anchors {checkpoint.size} entries but the log holds {log_size}")
            elif tree_root_at(checkpoint.size) != checkpoint.root:
                report.problems.append(
                    f"{where}: the log's first {checkpoint.size} entries no longer match the anchored checkpoint "
                    f"(timestamped {token.gen_time.isoformat()})")
        previous_size, previous_gen = checkpoint.size, token.gen_time
        report.newest = Anchor(anchor.seq, checkpoint.size, anchor.note, anchor.token, token.gen_time, anchor.tsa_url)
    if roots is None and anchors:
        report.notes.append("anchor tokens' TSA trust not checked: no TSA roots given")
    return report


def export_names(seq: int) -> tuple[str, str]:
    """File names of anchor ``seq`` in a journal export: ``anchors/NNNNNNNN.checkpoint`` and ``….tsr``."""
    stem = f"anchors/{seq:08d}"
    return f"{stem}.checkpoint", f"{stem}.tsr"


def read_exported(directory: Path) -> list[Anchor]:
    """The anchors of an export directory, in file order (no ``anchors/`` folder: none). Nothing is checked here."""
    folder = Path(directory) / "anchors"
    if not folder.is_dir():
        return []
    anchors = []
    for note_path in sorted(folder.glob("*.checkpoint")):
        token_path = note_path.with_suffix(".tsr")
        token = token_path.read_bytes() if token_path.exists() else b""
        anchors.append(Anchor(int(note_path.stem), 0, note_path.read_bytes(), token, datetime.min, ""))
    return anchors
