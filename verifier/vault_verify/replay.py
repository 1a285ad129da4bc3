"""Offline replay of an exported journal (``vault-verify journal DIR``, ``vault journal verify DIR``): trust
nothing but the verifier key.

Reads the C2SP tlog-tiles layout written by ``vault journal export``: opens the checkpoint with the key, checks
that every entry is canonical JSON (RFC 8785) carrying its own index, recomputes every leaf and every level of the
tree from the entries alone, compares every tile file with the recomputed hashes (a tile is never trusted), the
root with the signed one, and — given an earlier trusted checkpoint — that the log still holds that tree (the
strongest consistency check: recomputation, not a proof).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vault_verify.anchors import read_exported, verify_anchors
from vault_verify.report import WARNING, Check, Report
from vault_verify.tiles import HEIGHT, WIDTH, Tile, TileError, entry_bundles_for_size, tiles_for_size, unbundle_entries
from vault_verify.canonical import CanonicalError, parse_canonical, parse_canonical_many
from vault_verify.merkle import node_hash, tree_hash
from vault_verify.journalkeys import (HANDOVER_ACTION, KeySequence, follow_handovers, followed_detail, handover_name,
                                      handover_of, replaced_from)
from vault_verify.note import NoteError, Verifier, claimed_size, open_checkpoint
from vault_verify.tenantjournal import EXPORT_NAME, check_tenant_journal


@dataclass
class JournalReport(Report):
    """A journal check's report (this replay, a tenant's view, or the server's ``vault.journal.audit``): the
    checks, the log's size, the signed checkpoints and anchors verified, and the first entry index found wrong."""

    size: int = 0
    checkpoints: int = 0
    anchors: int = 0
    newest_anchor: str | None = None
    first_bad_index: int | None = None
    scope: str = "*"  # the tenant whose view was checked (a tenant auditor's export), '*' for the whole log

    def bad(self, name: str, detail: str, index: int | None = None) -> None:
        """A failed check; ``index`` (an entry's) lowers :attr:`first_bad_index`."""
        if index is not None and (self.first_bad_index is None or index < self.first_bad_index):
            self.first_bad_index = index
        self.fail(name, detail)

    def add_anchors(self, anchors, verifier, roots, root_at) -> None:
        """Check the anchor chain (:func:`vault_verify.anchors.verify_anchors`) against this log's tree."""
        checked = verify_anchors(anchors, verifier, roots, root_at, self.size)
        self.anchors = checked.anchors
        if checked.newest is not None:
            self.newest_anchor = f"{checked.newest.checkpoint_size} entries at {checked.newest.gen_time.isoformat()}"
        self.extend(checked.checks)

    def key_sequence(self, verifier: Verifier, entries: list[dict]):
        """The journal keys that ``entries`` (the log's ``identity_keys_accepted`` ones, parsed) introduce, trusted
        through ``verifier``, which must be their newest (:class:`vault_verify.journalkeys.KeySequence`): older
        checkpoints then verify with the key of their size. A failed check and ``verifier`` alone when they do
        not chain to it."""
        try:
            keys = KeySequence.of(verifier, [h for h in map(handover_of, entries) if h is not None])
        except NoteError as exc:
            self.bad("journal keys", str(exc))
            return verifier
        if keys.handovers:
            self.passed("journal keys", keys.summary())
        return keys

    def facts(self) -> dict:
        return {"scope": self.scope, "entries": self.size, "signed_checkpoints": self.checkpoints,
                "anchors": self.anchors, "newest_anchor": self.newest_anchor, "first_bad_index": self.first_bad_index,
                "problems": self.problems, "notes": self.notes}


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


def _read_bundle(directory: str, path: str) -> list[bytes]:
    return unbundle_entries((Path(directory) / path).read_bytes())


def _check_bundles(directory: str, bundles: list[tuple[int, int, str, str]]) -> list[tuple]:
    """For each (first index, width, entry bundle path, level-0 tile path): ``(readable, subtree root, problems,
    tile problem, journal key changes)``. The root is the bundle's level-8 hash (None for a partial bundle);
    problems are (index, check name, detail); key changes are the bundle's ``identity_keys_accepted`` entries.

    Runs in a worker process for large exports: reading, the canonical-form check, hashing and the comparison
    with the level-0 tile (which covers exactly the bundle's leaves) are per bundle, and only 32 bytes per
    bundle travel back."""
    results = []
    for start, width, path, tile_path in bundles:
        problems = []
        try:
            entries = _read_bundle(directory, path)
        except (OSError, TileError) as exc:
            results.append((False, None, [(start, path, str(exc))], None, []))
            continue
        if len(entries) != width:
            results.append((False, None, [(start, path, f"holds {len(entries)} entries, not {width}")], None, []))
            continue
        documents = parse_canonical_many(entries)
        if documents is None or not all(isinstance(d, dict) and d.get("seq") == start + i
                                        for i, d in enumerate(documents)):
            for i, entry in enumerate(entries):  # some entry is odd: find which, one by one
                problem = _entry_problem(entry, start + i)
                if problem:
                    problems.append((start + i, f"entry {start + i}", problem))
        levels = _bundle_levels(entries)
        changes = [d for d in documents or () if isinstance(d, dict) and d.get("action") == HANDOVER_ACTION]
        results.append((True, levels[HEIGHT] if width == WIDTH else None, problems,
                        _tile_problem(Path(directory), tile_path, levels[0], start, 0), changes))
    return results


def _tile_problem(directory: Path, path: str, want: bytes, first_index: int, level: int) -> tuple | None:
    """``(index or None, message)`` when the tile file at ``path`` is not ``want``; a level-0 tile names the
    leaf, a higher one only where the range it covers starts."""
    try:
        have = (directory / path).read_bytes()
    except OSError as exc:
        return None, f"{path}: {exc}"
    if have == want:
        return None
    first = next((i for i in range(len(want) // 32) if have[32 * i: 32 * i + 32] != want[32 * i: 32 * i + 32]), 0)
    return (first_index + first) << (HEIGHT * level), f"{path} differs from the hashes recomputed from the entries"


class _Tree:
    """The recomputed tree: levels ≥ 8 as flat buffers built from the bundles' roots; ``hash_at`` below level 8
    (the right edge of a size that is not a multiple of 256) hashes that one bundle again, once."""

    def __init__(self, directory: Path, size: int, roots: bytearray):
        self._directory = directory
        self._size = size
        self.upper = [roots]
        while len(self.upper[-1]) > 32:
            below = self.upper[-1]
            self.upper.append(bytearray(b"".join(
                node_hash(bytes(below[i:i + 32]), bytes(below[i + 32:i + 64]))
                for i in range(0, len(below) - 32, 64))))
        self._bundles: dict[int, list[bytes]] = {}

    def hash_at(self, level: int, index: int) -> bytes:
        if level >= HEIGHT:
            return bytes(self.upper[level - HEIGHT][32 * index: 32 * index + 32])
        bundle, offset = divmod(index << level, WIDTH)
        levels = self._bundles.get(bundle)
        if levels is None:
            path = Tile(-1, bundle, min(WIDTH, self._size - bundle * WIDTH)).path()
            levels = self._bundles[bundle] = _bundle_levels(_read_bundle(str(self._directory), path))
        offset >>= level
        return levels[level][32 * offset: 32 * offset + 32]

    def span(self, level: int, start: int, count: int) -> bytes:
        """``count`` hashes at ``level`` (≥ 8) from ``start``."""
        return bytes(self.upper[level - HEIGHT][32 * start: 32 * (start + count)])


def _recompute(directory: Path, size: int, report: JournalReport) -> tuple[_Tree | None, list, list]:
    """The tree recomputed from the entries, the level-0 tile problems (reported after the entries') and the
    ``identity_keys_accepted`` entries (parsed)."""
    bundles = [(b.index * WIDTH, b.width, b.path(), Tile(0, b.index, b.width).path())
               for b in entry_bundles_for_size(size)]
    tasks = [bundles[i:i + _BUNDLES_PER_TASK] for i in range(0, len(bundles), _BUNDLES_PER_TASK)]
    workers = min(os.cpu_count() or 1, 8)
    if size >= _PARALLEL_FROM and workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            outcomes = [r for part in pool.map(_check_bundles, [str(directory)] * len(tasks), tasks) for r in part]
    else:
        outcomes = [r for task in tasks for r in _check_bundles(str(directory), task)]
    roots, tile_problems, hashed, changes = bytearray(), [], 0, []
    for (readable, root, problems, tile_problem, found), (_start, width, _path, _tile) in zip(outcomes, bundles):
        for index, name, detail in problems:
            report.bad(name, detail, index)
        if not readable:
            return None, [], []
        changes += found
        roots += root or b""
        hashed += width
        if tile_problem:
            tile_problems.append(tile_problem)
    report.size = hashed
    return _Tree(directory, size, roots), tile_problems, changes


def verify_export(directory: Path, verifier: Verifier, trusted_checkpoint: bytes | None = None,
                  tsa_roots=None) -> JournalReport:
    """Replay an export; ``tsa_roots`` (certificates) are the TSA roots its anchors must chain to. ``verifier`` is
    the pinned key: the journal's newest, which opens the export's checkpoint, or an older one, followed forward
    through the co-signed handover checkpoints (``handovers/<size>``) to the newest; the key change entries
    replayed give the older keys, for the anchors and the trusted checkpoint."""
    directory = Path(directory)
    report = JournalReport()
    try:
        note = (directory / "checkpoint").read_bytes()
        checkpoint, refused = open_checkpoint(note, verifier), None
    except OSError as exc:
        report.bad("checkpoint", str(exc))
        return report
    except NoteError as exc:  # perhaps an older pinned key: followed forward once the entries are replayed
        checkpoint, refused = None, exc
    size = checkpoint.size if checkpoint is not None else claimed_size(note)
    if size is None:
        report.bad("checkpoint", str(refused))
        return report
    if checkpoint is not None:
        report.passed("checkpoint", f"{size} entries, signed by {verifier.name}")
    tree, leaf_tile_problems, changes = _recompute(directory, size, report)
    if tree is None:
        return report
    if checkpoint is None:
        verifier, checkpoint = _follow(report, directory, verifier, changes, tree, note, refused)
        if checkpoint is None:
            return report
    report.checkpoints = 1
    if not report.failures:
        report.passed("entries", f"{checkpoint.size} canonical entries, each carrying its index")
    hash_at = tree.hash_at
    for index, message in leaf_tile_problems:  # level-0 tiles, compared by the workers
        report.bad("tiles", message, index)
    tiles = 0
    for tile in tiles_for_size(checkpoint.size):
        tiles += 1
        if tile.level == 0:
            continue
        problem = _tile_problem(directory, tile.path(), tree.span(HEIGHT * tile.level, tile.index * WIDTH, tile.width),
                                tile.index * WIDTH, tile.level)
        if problem:
            index, message = problem
            report.bad("tiles", message, index if report.first_bad_index is None else None)
    report.passed("tiles", f"{tiles} hash tiles equal the hashes recomputed from the entries")
    same = tree_hash(checkpoint.size, hash_at) == checkpoint.root
    report.add("signed root", same, f"the entries {'hash' if same else 'do not hash'} to the signed root of size "
                                    f"{checkpoint.size}")
    keys = report.key_sequence(verifier, changes)
    report.add_anchors(read_exported(directory), keys, tsa_roots, lambda n: tree_hash(n, hash_at))
    if trusted_checkpoint is not None:
        _check_trusted(report, keys, trusted_checkpoint, checkpoint.size, hash_at)
    return report


def _follow(report: JournalReport, directory: Path, pinned: Verifier, changes: list[dict], tree: _Tree, note: bytes,
            refused: NoteError):
    """An older ``pinned`` key followed through the exported handover checkpoints to the newest key
    (:func:`vault_verify.journalkeys.follow_handovers`), which must open the export's checkpoint: ``(newest key,
    checkpoint)``, or ``(pinned, None)`` and a failed check naming where the chain broke."""
    try:
        handovers = [h for h in map(handover_of, changes) if h is not None]
    except NoteError as exc:
        report.bad("journal keys", str(exc))
        return pinned, None
    followed = replaced_from(pinned, handovers)
    if not followed:
        report.bad("checkpoint", str(refused))  # not a key the journal replaced: nothing to follow
        return pinned, None

    def read_note(size: int) -> bytes | None:
        path = directory / handover_name(size)
        return path.read_bytes() if path.is_file() else None

    try:
        newest = follow_handovers(pinned, followed, read_note, lambda n: tree_hash(n, tree.hash_at))
        checkpoint = open_checkpoint(note, newest)
    except NoteError as exc:
        report.bad("journal keys", str(exc))
        return pinned, None
    report.passed("journal keys", followed_detail(pinned, followed))
    report.passed("checkpoint", f"{checkpoint.size} entries, signed by {newest.name} (the newest key, {newest.vkey()})")
    return newest, checkpoint


def _check_trusted(report: JournalReport, verifier, note: bytes, size: int, hash_at) -> None:
    """The log of ``size`` entries still holds the tree of an earlier trusted checkpoint (by recomputation)."""
    try:
        trusted = open_checkpoint(note, verifier)
    except NoteError as exc:
        report.bad("trusted checkpoint", str(exc))
        return
    if trusted.size > size:
        report.bad("trusted checkpoint", f"the log shrank: {size} entries, a trusted checkpoint says {trusted.size}",
                   size)
    elif tree_hash(trusted.size, hash_at) != trusted.root:
        report.bad("trusted checkpoint",
                   f"the log was rewritten: its first {trusted.size} entries no longer match the trusted checkpoint")
    else:
        report.passed("trusted checkpoint", f"the log still holds the trusted tree of size {trusted.size}")


def _entry_problem(entry: bytes, index: int) -> str | None:
    try:
        document = parse_canonical(entry)
    except CanonicalError as exc:
        return str(exc)
    if not isinstance(document, dict) or document.get("seq") != index:
        return f"carries seq {document.get('seq') if isinstance(document, dict) else None!r}, not its index"
    return None


def verify_tenant_export(directory: Path, verifier: Verifier, trusted_checkpoint: bytes | None = None,
                         tsa_roots=None) -> JournalReport:
    """Check a tenant auditor's export (hash tiles, its own entries with their proofs, no entry bundle) with
    :func:`vault_verify.tenantjournal.check_tenant_journal`, then the anchors against the tiles' tree."""
    directory = Path(directory)
    report = JournalReport()
    try:
        listing = json.loads((directory / EXPORT_NAME).read_bytes())
        note = (directory / "checkpoint").read_bytes()
    except (OSError, ValueError) as exc:
        report.bad("export", str(exc))
        return report

    def read(path: str) -> bytes | None:
        tile = directory / path
        return tile.read_bytes() if tile.is_file() else None

    checked = check_tenant_journal(note, read, listing.get("pages", []), verifier, trusted_checkpoint)
    report.size, report.checkpoints, report.scope = checked.size, checked.checkpoints, listing.get("scope", "?")
    report.extend(checked.steps)
    report.extend(Check("note", WARNING, text) for text in checked.notes)
    report.first_bad_index = checked.first_bad_index
    if checked.hash_at is not None:
        report.add_anchors(read_exported(directory), checked.keys or verifier, tsa_roots,
                           lambda n: tree_hash(n, checked.hash_at))
    return report
