"""A journal excerpt that proves itself: some entries, each with its RFC 6962 inclusion proof against a signed
checkpoint, and the newest anchor that timestamps an earlier checkpoint of the same log.

Everything a verifier needs travels with it: the checkpoint note and its verifier key (C2SP signed note), the
proofs, the anchor's checkpoint and RFC 3161 token with the previous anchor's token (what the token's imprint
covers: SHA-256(note ‖ previous token), see :mod:`vault_verify.anchors`), and the consistency proof from the
anchored tree to the checkpoint (RFC 6962 §2.1.2), which carries the anchor's date over to every entry of the
anchored prefix.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from vault.db.tables import JournalAnchor
from vault.journal.checkpoints import latest_checkpoint
from vault.journal.log import StoredHashes, entries_of
from vault.journal.merkle import consistency_proof, inclusion_proof
from vault_verify.journalkeys import HANDOVER_ACTION

ANCHORS = JournalAnchor.__table__


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


@dataclass(frozen=True)
class JournalExcerpt:
    checkpoint: bytes  # the signed note the proofs are against
    size: int
    entries: list[tuple[int, bytes]]  # (seq, canonical entry) with seq < size
    proofs: dict[int, list[bytes]]
    unproven: list[int] = field(default_factory=list)  # entries newer than the checkpoint
    anchor_note: bytes | None = None
    anchor_token: bytes | None = None
    previous_token: bytes | None = None
    anchor_size: int | None = None
    consistency: list[bytes] = field(default_factory=list)  # anchor_size → size

    def proofs_document(self) -> dict[str, Any]:
        """``journal/proofs.json`` of a package (docs/package.md)."""
        return {"checkpoint_size": self.size,
                "inclusion": {str(seq): [_b64(h) for h in proof] for seq, proof in self.proofs.items()},
                "anchor": None if self.anchor_size is None else {
                    "checkpoint_size": self.anchor_size, "consistency": [_b64(h) for h in self.consistency]},
                "unproven": self.unproven}


def with_key_changes(connection: Connection, entries: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """``entries`` and every journal key change (``identity_keys_accepted``), in log order: with their inclusion
    proofs they let a verifier trusting the newest key open checkpoints the older keys signed
    (:class:`vault_verify.journalkeys.KeySequence`, docs/package.md)."""
    return sorted(dict([*entries, *entries_of(connection, HANDOVER_ACTION)]).items())


def journal_excerpt(connection: Connection, entries: list[tuple[int, bytes]]) -> JournalExcerpt | None:
    """Proofs for ``entries`` against the latest signed checkpoint; None when no checkpoint was signed yet."""
    checkpoint = latest_checkpoint(connection)
    if checkpoint is None:
        return None
    size = checkpoint["size"]
    hashes = StoredHashes(connection)
    proven = [(seq, entry) for seq, entry in entries if seq < size]
    proofs = {seq: inclusion_proof(seq, size, hashes.hash_at) for seq, _entry in proven}
    anchors = connection.execute(select(ANCHORS).where(ANCHORS.c.checkpoint_size <= size)
                                 .order_by(ANCHORS.c.seq.desc()).limit(2)).mappings().all()
    anchor = dict(anchors[0]) if anchors else None
    extra: dict[str, Any] = {}
    if anchor is not None:
        extra = {"anchor_note": anchor["checkpoint"].encode(), "anchor_token": bytes(anchor["token"]),
                 "previous_token": bytes(anchors[1]["token"]) if len(anchors) > 1 else None,
                 "anchor_size": anchor["checkpoint_size"],
                 "consistency": consistency_proof(anchor["checkpoint_size"], size, hashes.hash_at)
                 if anchor["checkpoint_size"] < size else []}
    return JournalExcerpt(checkpoint["note"].encode(), size, proven, proofs,
                          [seq for seq, _entry in entries if seq >= size], **extra)
