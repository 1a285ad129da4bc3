"""A journal that no longer holds the tree it vouched for: checked at every start, accepted only explicitly.

At start the newest signed checkpoint and the newest TSA anchor are compared with the stored log (RFC 6962 §2.1:
the log's first *n* entries must still hash to the root signed, or timestamped, at size *n*). A log that is shorter
than either, or whose first *n* entries hash to another root, has been rolled back or rewritten behind vault's
back: a **fork**. The service then refuses writes (503 ``journal-fork``) and raises a critical alert until an
operator runs ``vault journal accept-fork --reason …``, which appends a ``journal_fork_accepted`` entry naming the
anchor and the sizes. The lost anchor keeps failing ``vault journal verify``: accepting a fork lets the archive
work again, it does not make lost entries verify. See docs/journal.md, "Forks".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import Connection, select

from vault.db.tables import JournalAnchor, JournalEntry
from vault.journal.alerts import ALERTS, JOURNAL_FORK, raise_alert
from vault.journal.checkpoints import latest_checkpoint
from vault.journal.entries import AccessEvent, Action
from vault.journal.log import entries_of, journal_root, journal_size
from vault_verify.journalkeys import HANDOVER_ACTION, KeySequence, handover_of
from vault_verify.note import NoteError, Verifier, open_checkpoint

ANCHORS = JournalAnchor.__table__
ENTRIES = JournalEntry.__table__
FORK_ACCEPTED = Action.FORK_ACCEPTED.value
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JournalFork:
    """The log holds ``log_size`` entries; ``witness`` (an anchor or a checkpoint) vouched for ``lost_size``."""

    log_size: int
    lost_size: int
    anchor: int | None  # the anchor's seq, when an anchor is the witness
    witness: str  # e.g. "anchor 3 (timestamped 2026-12-06T09:40:00+00:00)" or "the signed checkpoint of size 620"

    def describe(self) -> str:
        return (f"the journal holds {self.log_size} entries but {self.witness} vouches for {self.lost_size}: "
                f"the log was rolled back or rewritten")

    def detail(self) -> dict:
        return {"log_size": self.log_size, "lost_size": self.lost_size, "anchor": self.anchor}


def _mismatch(connection: Connection, size: int, log_size: int, root: bytes) -> bool:
    return log_size < size or journal_root(connection, size) != root


def find_fork(connection: Connection, verifier: Verifier) -> JournalFork | None:
    """The newest anchor, then the newest checkpoint, checked against the stored tree; None when both hold (or the
    fork they show was accepted by a ``journal_fork_accepted`` entry)."""
    log_size = journal_size(connection)
    fork = None
    anchor = connection.execute(select(ANCHORS).order_by(ANCHORS.c.seq.desc()).limit(1)).first()
    if anchor is not None:
        try:
            anchored = open_checkpoint(anchor.checkpoint.encode(), _keys(connection, verifier))
        except NoteError as exc:
            anchored, fork = None, JournalFork(log_size, anchor.checkpoint_size, anchor.seq,
                                               f"anchor {anchor.seq} (its checkpoint does not open: {exc})")
        if anchored is not None and _mismatch(connection, anchored.size, log_size, anchored.root):
            fork = JournalFork(log_size, anchored.size, anchor.seq,
                               f"anchor {anchor.seq} (timestamped {anchor.gen_time.isoformat()})")
    checkpoint = latest_checkpoint(connection)
    if fork is None and checkpoint is not None \
            and _mismatch(connection, checkpoint["size"], log_size, bytes(checkpoint["root"])):
        fork = JournalFork(log_size, checkpoint["size"], None, f"the signed checkpoint of size {checkpoint['size']}")
    if fork is None or _accepted(connection, fork):
        return None
    return fork


def _keys(connection: Connection, verifier: Verifier):
    """The journal's keys by tree size after recorded key changes (an anchor made before the last change opens
    with the old key, docs/journal.md "Key changes"); NoteError when they do not lead to ``verifier``."""
    handovers = (handover_of(json.loads(entry)) for _seq, entry in entries_of(connection, HANDOVER_ACTION))
    return KeySequence.of(verifier, [h for h in handovers if h is not None])


def _accepted(connection: Connection, fork: JournalFork) -> bool:
    rows = connection.execute(select(ENTRIES.c.entry).where(ENTRIES.c.action == FORK_ACCEPTED)
                              .order_by(ENTRIES.c.seq.desc())).scalars()
    for entry in rows:
        detail = json.loads(bytes(entry)).get("detail", {})
        if detail.get("anchor") == fork.anchor and detail.get("lost_size") == fork.lost_size:
            return True
    return False


def alert_fork(connection: Connection, fork: JournalFork, at) -> None:
    """Raise the critical ``journal-fork`` alert once per fork (a restart does not raise it again)."""
    subject = f"anchor {fork.anchor}" if fork.anchor is not None else "checkpoint"
    subject = f"{subject}: {fork.lost_size} entries, log {fork.log_size}"[:64]
    seen = connection.execute(select(ALERTS.c.id).where(ALERTS.c.kind == JOURNAL_FORK, ALERTS.c.subject == subject)
                              .limit(1)).first()
    if seen is None:
        raise_alert(connection, at=at, tenant="*", kind=JOURNAL_FORK, actor="vault", subject=subject,
                    journal_index=None)


def accept_fork(journal, fork: JournalFork, reason: str, actor: str = "local-operator") -> int:
    """Journal the acceptance of ``fork`` (``journal_fork_accepted``, with the reason); returns its index. The next
    start no longer treats this fork as one."""
    event = AccessEvent(actor=actor, action=Action.FORK_ACCEPTED, role="operator", tenant="*",
                        detail={**fork.detail(), "reason": reason[:500]})
    return journal.record(event).result(60)


def check_at_start(reader, writer, verifier: Verifier, now) -> JournalFork | None:
    """Run at every start: a fork found is logged as critical and alerted (once) through ``writer``."""
    with reader.connect() as connection:
        fork = find_fork(connection, verifier)
    if fork is not None:
        log.critical("journal fork: %s; writes are refused until `vault journal accept-fork --reason …`",
                     fork.describe())
        writer.run(lambda connection: alert_fork(connection, fork, now))
    return fork
