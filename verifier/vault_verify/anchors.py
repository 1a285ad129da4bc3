"""Journal anchors, checked offline: each a signed checkpoint timestamped by a TSA, chained to the previous one.

Anchor n's RFC 3161 token covers ``SHA-256(checkpoint note n ‖ DER of anchor n-1's token)`` (nothing after the
note for the first anchor). The note proves who signed the tree; the token proves the tree existed at its genTime;
the chain proves that no anchor was dropped or re-made later — the scheme Vitam uses for its journals, with a
transparency-log checkpoint (c2sp.org/tlog-checkpoint) as the thing anchored. The server writes anchors
(``vault.journal.anchors``); this module reads and checks them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

from cryptography import x509

from vault_verify.note import NoteError, open_checkpoint
from vault_verify.report import Report
from vault_verify.tokens import TokenError, parse_token, verify_token


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


@dataclass
class AnchorReport(Report):
    """The chain's checks (one ``anchor N`` check per problem, one ``anchors`` check when all held)."""

    anchors: int = 0
    newest: Anchor | None = None


def verify_anchors(anchors: Sequence[Anchor], verifier, roots: Sequence[x509.Certificate] | None,
                   tree_root_at: Callable[[int], bytes | None] | None = None,
                   log_size: int | None = None) -> AnchorReport:
    """Check the chain: each note signed by ``verifier`` (a :class:`~vault_verify.note.Verifier`, or after a
    journal key change the :class:`vault_verify.journalkeys.KeySequence`, which opens each note with the key of its
    size), each token valid and covering note ‖ previous token, sizes and genTimes never going back, and (given
    ``tree_root_at``) each anchored root equal to the root the log recomputes at that size. Only ``seq``, ``note``
    and ``token`` of each anchor are trusted as input."""
    report = AnchorReport(anchors=len(anchors))
    previous_token, previous_size, previous_gen = None, 0, None
    for position, anchor in enumerate(anchors):
        where = f"anchor {anchor.seq}"
        if anchor.seq != position:
            report.fail(where, f"expected anchor {position} here (one is missing or out of order)")
        imprint = anchor_imprint(anchor.note, previous_token)
        previous_token = anchor.token
        try:
            checkpoint = open_checkpoint(anchor.note, verifier)
            token = parse_token(anchor.token)
        except (NoteError, TokenError) as exc:
            report.fail(where, str(exc))
            continue
        for failure in verify_token(token, roots, expected_imprint=imprint).failure_details:
            report.fail(where, failure)
        if previous_gen is not None and token.gen_time < previous_gen:
            report.fail(where, "genTime earlier than the previous anchor's")
        if checkpoint.size < previous_size:
            report.fail(where, f"anchors a smaller log ({checkpoint.size}) than the previous anchor")
        if tree_root_at is not None and log_size is not None:
            if checkpoint.size > log_size:
                report.fail(where, f"anchors {checkpoint.size} entries but the log holds {log_size}")
            elif tree_root_at(checkpoint.size) != checkpoint.root:
                report.fail(where, f"the log's first {checkpoint.size} entries no longer match the anchored "
                                   f"checkpoint (timestamped {token.gen_time.isoformat()})")
        previous_size, previous_gen = checkpoint.size, token.gen_time
        report.newest = Anchor(anchor.seq, checkpoint.size, anchor.note, anchor.token, token.gen_time, anchor.tsa_url)
    if anchors:
        newest = report.newest
        report.passed("anchors", f"{len(anchors)} chained"
                      + (f", newest: {newest.checkpoint_size} entries at {newest.gen_time.isoformat()}" if newest else ""))
        if roots is None:
            report.note("anchor tokens' TSA trust not checked: no TSA roots given", "anchors")
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
