"""A tenant auditor's check of vault's journal: everything a tenant's key may read, verified offline.

A tenant's key reads the signed checkpoints, the hash tiles (c2sp.org/tlog-tiles, every leaf's hash and no entry)
and its own tenant's entries, each page with its RFC 6962 inclusion proofs against the newest checkpoint
(``GET /v1/journal/entries``); the entry bundles, which hold every tenant's entries, are the platform's. So this
check proves:

* the checkpoint is signed by the pinned key (C2SP signed note), or by the newest key reached from an older pinned
  one through the co-signed handover checkpoints (``handovers/<size>``), each signing the root the tiles give at its
  size, a tree holding the key change entry (:func:`_follow`);
* the journal key changes each page carries (``key_changes``: ``identity_keys_accepted`` entries, public keys and
  no tenant's data) are leaves of that tree (their bytes hash to the tile's leaf at their index), so the newest key
  vouches for the older keys: every other checkpoint and anchor opens with the key valid at its size
  (:mod:`vault_verify.journalkeys`, docs/journal.md "Key changes");
* the hash tiles recompute, level by level, to that checkpoint's root (RFC 6962 §2.1);
* every other checkpoint seen (each page's, a trusted older one) has the root the tiles give at its size: the
  log grew by appending only between them (consistency by recomputation);
* each of the tenant's entries is canonical JSON (RFC 8785) carrying its index, its leaf hash is the tile's hash at
  that index, and its inclusion proof leads to its page's signed root (RFC 9162 §2.1.3.2).

What it cannot prove: the content of the other entries (it sees their hashes only), nor that the server listed
every entry of the tenant — a left-out entry is a leaf whose content the tenant cannot read.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Callable

from vault_verify.canonical import CanonicalError, canonical_json
from vault_verify.journalkeys import (Handover, KeySequence, chain_broken, follow_handovers, followed_detail,
                                      handover_name, handover_of, replaced_from)
from vault_verify.merkle import (HASH_SIZE, ProofError, leaf_hash, node_hash, root_from_leaves, tree_hash,
                                 verify_inclusion)
from vault_verify.note import Checkpoint, NoteError, Verifier, claimed_size, open_checkpoint
from vault_verify.report import Check, Report
from vault_verify.tiles import HEIGHT, WIDTH, encode_index, tiles_for_size

EXPORT_NAME = "tenant-entries.json"
"""In a tenant's journal export, beside the hash tiles: ``{"scope": tenant, "pages": [entries answers]}``."""

TileReader = Callable[[str], "bytes | None"]  # a tile path (``tile/0/000.p/12``) → its bytes, None when absent


@dataclass
class TenantJournalReport(Report):
    """A tenant's view checked (:class:`~vault_verify.report.Report`), with its sizes and the tiles' tree."""

    size: int = 0  # the checkpoint's tree size
    tenant: str | None = None
    entries: int = 0  # the tenant's entries checked
    checkpoints: int = 0  # signed checkpoints verified and consistent with the tiles
    first_bad_index: int | None = None
    hash_at: Callable[[int, int], bytes] | None = None  # the tree the tiles give, for further checks (anchors)
    keys: "Verifier | KeySequence | None" = None  # the journal keys, proven by the tiles, for the anchors

    def add(self, name: str, ok: bool, detail: str = "", index: int | None = None) -> bool:
        self.checks.append(Check.of(name, ok, detail))
        if not ok and index is not None and (self.first_bad_index is None or index < self.first_bad_index):
            self.first_bad_index = index
        return ok


class _TileTree:
    """Hashes of complete subtrees from the levels the tiles publish (0, 8, 16, …), folded in between."""

    def __init__(self, levels: list[list[bytes]]):
        self._levels = levels
        self._folded: dict[tuple[int, int], bytes] = {}

    def hash_at(self, level: int, index: int) -> bytes:
        if level % HEIGHT == 0:
            return self._levels[level // HEIGHT][index]
        key = (level, index)
        found = self._folded.get(key)
        if found is None:
            found = self._folded[key] = node_hash(self.hash_at(level - 1, 2 * index),
                                                  self.hash_at(level - 1, 2 * index + 1))
        return found


def _read_levels(report: TenantJournalReport, size: int, read: TileReader) -> list[list[bytes]] | None:
    """The hashes of every tile level, each checked against the level below it (a full tile of level L+1 holds the
    roots of the full tiles of level L); None when a tile is missing or has the wrong length."""
    levels: list[list[bytes]] = [[]]
    for tile in tiles_for_size(size):
        data = read(tile.path())
        if data is None or len(data) != tile.width * HASH_SIZE:
            report.add(f"hash tile {tile.path()}", False, "missing" if data is None else
                       f"{len(data)} bytes, expected {tile.width * HASH_SIZE}",
                       tile.index * WIDTH << (HEIGHT * tile.level))
            return None
        while len(levels) <= tile.level:
            levels.append([])
        levels[tile.level] += [data[i:i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
    for level in range(1, len(levels)):
        below = levels[level - 1]
        for n, have in enumerate(levels[level]):
            if root_from_leaves(below[n * WIDTH:(n + 1) * WIDTH]) != have:
                report.add(f"hash tiles of level {level}", False, f"hash {n} of tile/{level}/{encode_index(n // WIDTH)}"
                           " is not the root of the 256 hashes below it", n * WIDTH << (HEIGHT * (level - 1)))
                return None
    return levels


def _signed(report: TenantJournalReport, note: bytes, verifier, what: str) -> Checkpoint | None:
    try:
        checkpoint = open_checkpoint(note, verifier)
    except (NoteError, UnicodeDecodeError) as exc:
        report.add(f"{what} signed by {verifier.name}", False, str(exc))
        return None
    return checkpoint


def _key_changes(pages: list[dict]) -> dict[int, dict]:
    """The key change entries the pages carry, by index (read as given: :func:`_proven_keys` proves them)."""
    found = {}
    for page in pages:
        changes = page.get("key_changes") if isinstance(page, dict) else None
        for entry in changes if isinstance(changes, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("seq"), int):
                found[entry["seq"]] = entry
    return found


def _key_sequence(report: TenantJournalReport, verifier: Verifier, changes: dict[int, dict]) -> KeySequence | None:
    """The journal keys the key changes state, ending at the pinned ``verifier``; None (a failed check) when they
    do not chain to it: the pinned key was replaced since, or the journal never introduced it."""
    try:
        handovers: list[Handover] = [h for h in (handover_of(changes[seq]) for seq in sorted(changes)) if h]
        return KeySequence.of(verifier, handovers)
    except NoteError as exc:
        report.add("journal keys", False, str(exc))
        return None


def _is_leaf(entry: dict, seq: int, size: int, leaves: list[bytes]) -> bool:
    """Whether ``entry`` is leaf ``seq`` of the tiles' tree of ``size`` entries: its canonical bytes (RFC 8785)
    hash to the tile's leaf hash at its index (RFC 6962 §2.1)."""
    try:
        return seq < size and leaf_hash(canonical_json(entry)) == leaves[seq]
    except CanonicalError:
        return False


def _follow(report: TenantJournalReport, note: bytes, read: TileReader, pinned: Verifier, changes: dict[int, dict]):
    """An older ``pinned`` key followed forward to the journal's newest (docs/journal.md, Key changes): for each key
    change from the pinned key on, its entry is a leaf of the tiles' tree below the handover size, so the tree of
    that size, recomputed from the tiles (RFC 6962 §2.1), holds it; the handover checkpoint
    (``handovers/<size>``) must carry the key trusted so far and sign that root
    (:func:`vault_verify.journalkeys.follow_handovers`). ``(key, levels)``: ``pinned`` and None when the journal
    never replaced it (the usual checks then accept or refuse it), the newest key and the tiles read for the
    checkpoint's size when followed, ``(None, None)`` and a failed check when the chain breaks."""
    try:
        followed = replaced_from(pinned, [h for h in (handover_of(changes[seq]) for seq in sorted(changes)) if h])
    except NoteError as exc:
        report.add("journal keys", False, str(exc))
        return None, None
    size = claimed_size(note)
    if not followed or size is None:
        return pinned, None
    levels = _read_levels(report, size, read)
    if levels is None:
        return None, None
    for handover in followed:
        if not _is_leaf(changes[handover.seq], handover.seq, size, levels[0]):
            report.add("journal keys", False, f"{chain_broken(pinned, handover)}: the key change entry is not the "
                       "leaf of the hash tiles at its index", handover.seq)
            return None, None
    hash_at = _TileTree(levels).hash_at
    try:
        newest = follow_handovers(pinned, followed, lambda n: read(handover_name(n)), lambda n: tree_hash(n, hash_at))
    except NoteError as exc:
        report.add("journal keys", False, str(exc))
        return None, None
    report.add("journal keys", True, followed_detail(pinned, followed))
    return newest, levels


def _proven_keys(report: TenantJournalReport, keys: KeySequence, changes: dict[int, dict], leaves: list[bytes]):
    """``keys`` when each key change is a leaf of the signed tree (its canonical bytes hash to the tile's leaf at
    its index, RFC 6962 §2.1), else the pinned key alone and a failed check per change not proven."""
    proven = True
    for handover in keys.handovers:
        ok = _is_leaf(changes[handover.seq], handover.seq, report.size, leaves)
        proven = report.add(f"key change entry {handover.seq}", ok, "" if ok else
                            "not the leaf of the signed tree at its index", handover.seq) and proven
    if not proven:
        return keys.keys[-1]
    if keys.handovers:
        report.add("journal keys", True, f"{keys.summary()} (proven by the hash tiles)")
    return keys


def _consistent(report: TenantJournalReport, checkpoint: Checkpoint, what: str) -> bool:
    """Whether the tiles' tree at ``checkpoint.size`` has its root: the log only grew since (or until) then."""
    if checkpoint.size > report.size:
        return report.add(f"{what} (size {checkpoint.size})", False,
                          f"newer than the checkpoint of size {report.size} the tiles were read for")
    ok = tree_hash(checkpoint.size, report.hash_at) == checkpoint.root
    report.checkpoints += ok
    return report.add(f"{what} (size {checkpoint.size}) consistent with the checkpoint of size {report.size}", ok,
                      "" if ok else "the tiles give another root at its size: the log was rewritten in between")


def check_tenant_journal(note: bytes, read: TileReader, pages: list[dict], verifier: Verifier,
                         trusted: bytes | None = None) -> TenantJournalReport:
    """Check what a tenant's key sees (module docstring). ``note`` is the newest checkpoint, read after the
    ``pages`` (``GET /v1/journal/entries`` answers); ``trusted`` an older checkpoint the log must still hold;
    ``verifier`` the pinned key: the journal's newest (it signs ``note``), or an older one followed forward through
    the co-signed handover checkpoints ``read`` gives (``handovers/<size>``, :func:`_follow`)."""
    report = TenantJournalReport()
    changes = _key_changes(pages)
    verifier, levels = _follow(report, note, read, verifier, changes)
    if verifier is None:
        return report
    sequence = _key_sequence(report, verifier, changes)
    if sequence is None:
        return report
    checkpoint = _signed(report, note, verifier, "checkpoint")
    if checkpoint is None:
        return report
    report.size = checkpoint.size
    report.add(f"checkpoint signed by {verifier.name}", True, f"tree size {checkpoint.size}")
    levels = levels or _read_levels(report, checkpoint.size, read)
    if levels is None:
        return report
    report.hash_at = _TileTree(levels).hash_at
    root_ok = tree_hash(checkpoint.size, report.hash_at) == checkpoint.root
    report.checkpoints += root_ok
    report.add("hash tiles → the signed root", root_ok, f"{len(levels[0])} leaf hashes" if root_ok else
               "the tiles do not hash to the checkpoint's root")
    if not root_ok:
        return report
    keys = report.keys = _proven_keys(report, sequence, changes, levels[0])
    if trusted is not None:
        older = _signed(report, trusted, keys, "trusted checkpoint")
        if older is not None:
            _consistent(report, older, "trusted checkpoint")
    for number, page in enumerate(pages, 1):
        _check_page(report, number, page, keys, levels[0])
    report.add("the tenant's entries", report.ok, f"{report.entries} entries, each in the tree of {report.size}"
               if report.ok else "see the failures above")
    report.note(
        f"verified as tenant {report.tenant!r}: {report.entries} of its entries (content, leaf and inclusion), "
        f"{report.checkpoints} signed checkpoints consistent with the tree of {report.size}; not verified: the "
        "content of the other entries (entry bundles are the platform's), nor that every entry of the tenant was "
        "listed")
    return report


def _check_page(report: TenantJournalReport, number: int, page: dict, verifier, leaves: list[bytes]) -> None:
    """One entries answer: its checkpoint, then each entry's tenant, bytes, leaf hash and inclusion proof."""
    note, proofs = page.get("checkpoint"), page.get("proofs")
    entries = page.get("entries") if isinstance(page.get("entries"), list) else []
    if not isinstance(note, str) or not isinstance(proofs, dict):
        report.add(f"entries page {number}", not entries, "no checkpoint or proofs with its entries")
        return
    checkpoint = _signed(report, note.encode(), verifier, f"entries page {number} checkpoint")
    if checkpoint is None or not _consistent(report, checkpoint, f"entries page {number} checkpoint"):
        return
    inclusion = proofs.get("inclusion") if isinstance(proofs.get("inclusion"), dict) else {}
    for entry in entries:
        seq = entry.get("seq") if isinstance(entry, dict) else None
        name = f"entry {seq}"
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < report.size:
            report.add(name, False, f"page {number}: not an entry of the tree of {report.size}")
            continue
        tenant = entry.get("tenant")
        report.tenant = tenant if report.tenant is None else report.tenant
        if tenant != report.tenant:
            report.add(name, False, f"tenant {tenant!r} in a listing of tenant {report.tenant!r}", seq)
            continue
        try:
            leaf = leaf_hash(canonical_json(entry))
        except CanonicalError as exc:
            report.add(name, False, f"not canonical JSON: {exc}", seq)
            continue
        if leaf != leaves[seq]:
            report.add(name, False, "its leaf hash differs from the hash tile's at its index", seq)
            continue
        if seq >= checkpoint.size:
            if seq not in proofs.get("unproven", ()):
                report.add(name, False, f"newer than page {number}'s checkpoint and not listed as unproven", seq)
                continue
        else:
            try:
                verify_inclusion(seq, checkpoint.size, leaf,
                                 [base64.b64decode(h, validate=True) for h in inclusion.get(str(seq), ())],
                                 checkpoint.root)
            except (ProofError, ValueError, binascii.Error, TypeError) as exc:
                report.add(name, False, f"inclusion proof of page {number}: {exc}", seq)
                continue
        report.entries += 1
