"""Offline replay of an exported journal (``vault journal verify DIR``): trust nothing but the verifier key.

Reads the C2SP tlog-tiles layout written by ``vault journal export``: opens the checkpoint with the key, checks
that every entry is canonical JSON (RFC 8785) carrying its own index, recomputes every leaf and every level of the
tree from the entries alone, compares every tile file with the recomputed hashes (a tile is never trusted), the
root with the signed one, and — given an earlier trusted checkpoint — that the log still holds that tree (the
strongest consistency check: recomputation, not a proof).
"""

from __future__ import annotations

from pathlib import Path

from vault.journal.anchors import read_exported
from vault.journal.audit import AuditReport
from vault.journal.canonical import CanonicalError, parse_canonical, parse_canonical_many
from vault.journal.merkle import leaf_hash, node_hash, tree_hash
from vault.journal.note import NoteError, Verifier, open_checkpoint
from vault.journal.tiles import HEIGHT, TileError, entry_bundles_for_size, tiles_for_size, unbundle_entries


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """All stored hashes by level: levels[l][n] covers leaves [n·2^l, (n+1)·2^l)."""
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


def verify_export(directory: Path, verifier: Verifier, trusted_checkpoint: bytes | None = None,
                  tsa_roots=None) -> AuditReport:
    """Replay an export; ``tsa_roots`` (certificates) are the TSA roots its anchors must chain to."""
    directory = Path(directory)
    report = AuditReport()
    try:
        checkpoint = open_checkpoint((directory / "checkpoint").read_bytes(), verifier)
    except (OSError, NoteError) as exc:
        report.bad(None, f"checkpoint: {exc}")
        return report
    report.checkpoints = 1
    leaves: list[bytes] = []
    for bundle in entry_bundles_for_size(checkpoint.size):
        try:
            entries = unbundle_entries((directory / bundle.path()).read_bytes())
        except (OSError, TileError) as exc:
            report.bad(len(leaves), f"{bundle.path()}: {exc}")
            return report
        if len(entries) != bundle.width:
            report.bad(len(leaves), f"{bundle.path()} holds {len(entries)} entries, not {bundle.width}")
            return report
        documents = parse_canonical_many(entries)
        start = len(leaves)
        if documents is not None and all(isinstance(d, dict) and d.get("seq") == start + i
                                         for i, d in enumerate(documents)):
            leaves.extend(leaf_hash(entry) for entry in entries)
            continue
        for entry in entries:  # some entry is odd: find which, one by one
            index = len(leaves)
            problem = _entry_problem(entry, index)
            if problem:
                report.bad(index, f"entry {index}: {problem}")
            leaves.append(leaf_hash(entry))
    report.size = len(leaves)
    levels = _levels(leaves)

    def hash_at(level: int, index: int) -> bytes:
        return levels[level][index]

    for tile in tiles_for_size(checkpoint.size):
        want = levels[HEIGHT * tile.level][tile.index * 256: tile.index * 256 + tile.width]
        try:
            have = (directory / tile.path()).read_bytes()
        except OSError as exc:
            report.bad(None, f"{tile.path()}: {exc}")
            continue
        if have != b"".join(want):
            first = next((i for i in range(tile.width) if have[32 * i: 32 * i + 32] != want[i]), 0)
            # a level-0 tile names the leaf; a higher tile only the start of the range it covers
            index = (tile.index * 256 + first) << (HEIGHT * tile.level)
            report.bad(index if tile.level == 0 or report.first_bad_index is None else None,
                       f"{tile.path()} differs from the hashes recomputed from the entries")
    if tree_hash(checkpoint.size, hash_at) != checkpoint.root:
        report.bad(None, f"the entries do not hash to the signed root of size {checkpoint.size}")
    report.add_anchors(read_exported(directory), verifier, tsa_roots, lambda n: tree_hash(n, hash_at))
    if trusted_checkpoint is not None:
        try:
            trusted = open_checkpoint(trusted_checkpoint, verifier)
        except NoteError as exc:
            report.bad(None, f"trusted checkpoint: {exc}")
            return report
        if trusted.size > checkpoint.size:
            report.bad(checkpoint.size, f"the log shrank: {checkpoint.size} entries, a trusted checkpoint says {trusted.size}")
        elif tree_hash(trusted.size, hash_at) != trusted.root:
            report.bad(None, f"the log was rewritten: its first {trusted.size} entries no longer match the trusted checkpoint")
    return report


def _entry_problem(entry: bytes, index: int) -> str | None:
    try:
        document = parse_canonical(entry)
    except CanonicalError as exc:
        return str(exc)
    if not isinstance(document, dict) or document.get("seq") != index:
        return f"carries seq {document.get('seq') if isinstance(document, dict) else None!r}, not its index"
    return None
