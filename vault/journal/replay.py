"""Offline replay of an exported journal (``vault journal verify DIR``): trust nothing but the verifier key.

Reads the C2SP tlog-tiles layout written by ``vault journal export``: opens the checkpoint with the key, checks
that every entry is canonical JSON (RFC 8785) carrying its own index, recomputes every leaf and every level of the
tree from the entries alone, compares every tile file with the recomputed hashes (a tile is never trusted), the
root with the signed one, and — given an earlier trusted checkpoint — that the log still holds that tree (the
strongest consistency check: recomputation, not a proof).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from vault.journal.anchors import read_exported
from vault.journal.audit import AuditReport
from vault.journal.tiles import HEIGHT, TileError, entry_bundles_for_size, tiles_for_size, unbundle_entries
from vault_verify.canonical import CanonicalError, parse_canonical, parse_canonical_many
from vault_verify.merkle import node_hash, tree_hash
from vault_verify.note import NoteError, Verifier, open_checkpoint


_PARALLEL_FROM = 50_000  # entries: below this, worker processes cost more than they save
_BUNDLES_PER_TASK = 64


def _bundle_levels(entries: list[bytes], _sha256=hashlib.sha256) -> list[bytes]:
    """Levels 0…HEIGHT of one entry bundle's subtree (RFC 6962 §2.1 leaf and node hashes, inlined for speed),
    each as concatenated 32-byte hashes of complete nodes only."""
    level = [_sha256(b"\x00" + entry).digest() for entry in entries]
    out = [b"".join(level)]
    for _ in range(HEIGHT):
        level = [_sha256(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2])]
        out.append(b"".join(level))
    return out


def _check_bundles(directory: str, bundles: list[tuple[int, int, str]]) -> list[tuple[list[bytes] | None, list]]:
    """For each (first index, width, path) bundle: its subtree levels and the problems found (index, message).

    Runs in a worker process for large exports: reading, the canonical-form check and hashing are per bundle."""
    results = []
    for start, width, path in bundles:
        problems = []
        try:
            entries = unbundle_entries((Path(directory) / path).read_bytes())
        except (OSError, TileError) as exc:
            results.append((None, [(start, f"{path}: {exc}")]))
            continue
        if len(entries) != width:
            results.append((None, [(start, f"{path} holds {len(entries)} entries, not {width}")]))
            continue
        documents = parse_canonical_many(entries)
        if documents is None or not all(isinstance(d, dict) and d.get("seq") == start + i
                                        for i, d in enumerate(documents)):
            for i, entry in enumerate(entries):  # some entry is odd: find which, one by one
                problem = _entry_problem(entry, start + i)
                if problem:
                    problems.append((start + i, f"entry {start + i}: {problem}"))
        results.append((_bundle_levels(entries), problems))
    return results


class _Levels:
    """Stored hashes by level as flat buffers: ``hash_at(l, n)`` covers leaves [n·2^l, (n+1)·2^l)."""

    def __init__(self, low: list[bytearray]):
        self.buffers = low
        while len(self.buffers[-1]) > 32:
            below = self.buffers[-1]
            self.buffers.append(bytearray(b"".join(
                node_hash(bytes(below[i:i + 32]), bytes(below[i + 32:i + 64]))
                for i in range(0, len(below) - 32, 64))))

    def hash_at(self, level: int, index: int) -> bytes:
        return bytes(self.buffers[level][32 * index: 32 * index + 32])

    def span(self, level: int, start: int, count: int) -> bytes:
        return bytes(self.buffers[level][32 * start: 32 * (start + count)])


def _recompute(directory: Path, size: int, report: AuditReport) -> _Levels | None:
    bundles = [(b.index * 256, b.width, b.path()) for b in entry_bundles_for_size(size)]
    tasks = [bundles[i:i + _BUNDLES_PER_TASK] for i in range(0, len(bundles), _BUNDLES_PER_TASK)]
    workers = min(os.cpu_count() or 1, 8)
    if size >= _PARALLEL_FROM and workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            outcomes = [r for part in pool.map(_check_bundles, [str(directory)] * len(tasks), tasks) for r in part]
    else:
        outcomes = [r for task in tasks for r in _check_bundles(str(directory), task)]
    low = [bytearray() for _ in range(HEIGHT + 1)]
    for levels, problems in outcomes:
        for index, message in problems:
            report.bad(index, message)
        if levels is None:
            return None
        for level, hashes in enumerate(levels):
            low[level] += hashes
    report.size = len(low[0]) // 32
    while len(low) > 1 and not low[-1]:
        low.pop()
    return _Levels(low)


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
    levels = _recompute(directory, checkpoint.size, report)
    if levels is None:
        return report
    hash_at = levels.hash_at

    for tile in tiles_for_size(checkpoint.size):
        want = levels.span(HEIGHT * tile.level, tile.index * 256, tile.width)
        try:
            have = (directory / tile.path()).read_bytes()
        except OSError as exc:
            report.bad(None, f"{tile.path()}: {exc}")
            continue
        if have != want:
            first = next((i for i in range(tile.width) if have[32 * i: 32 * i + 32] != want[32 * i: 32 * i + 32]), 0)
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
