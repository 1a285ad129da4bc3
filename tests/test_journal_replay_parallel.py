"""Offline replay of a several-bundle export, in worker processes and in one: the same verdicts either way.

The workers hash each entry bundle, compare it with its level-0 tile and send back only the bundle's root; the
replay rebuilds the levels above from those roots and hashes a bundle again only where a size cuts through it
(the right edge of a trusted checkpoint or an anchor)."""

from __future__ import annotations

import pytest

import vault_verify.replay as replay
from vault.journal.canonical import canonical_json
from vault.journal.merkle import leaf_hash, new_stored_hashes, tree_hash
from vault.journal.note import Checkpoint, Signer, sign_note
from vault.journal.tiles import bundle_entries, entry_bundles_for_size, tile_hashes, tiles_for_size

SIZE = 256 * 5 + 77  # five full bundles and a partial one; tile/1 holds five hashes
SIGNER = Signer.generate("test.vault/journal")


def entry(seq: int, actor: str = "k1") -> bytes:
    return canonical_json({"v": 1, "seq": seq, "time": "2026-11-29T00:00:00.000000Z", "actor": actor,
                           "role": "auditor", "tenant": "acme", "action": "metadata_read", "objects": [f"o{seq}"],
                           "outcome": "ok", "request_id": None, "detail": {}})


def signed_checkpoint(entries: list[bytes], size: int) -> bytes:
    stored: dict[tuple[int, int], bytes] = {}
    for index, data in enumerate(entries[:size]):
        stored.update({(lvl, n): v for lvl, n, v in new_stored_hashes(index, leaf_hash(data), lambda a, b: stored[(a, b)])})
    root = tree_hash(size, lambda level, index: stored[(level, index)])
    return sign_note(Checkpoint(SIGNER.name, size, root).text(), SIGNER)


def write_export(directory, entries: list[bytes]) -> None:
    stored: dict[tuple[int, int], bytes] = {}
    for index, data in enumerate(entries):
        stored.update({(lvl, n): v for lvl, n, v in new_stored_hashes(index, leaf_hash(data), lambda a, b: stored[(a, b)])})
    for tile in tiles_for_size(len(entries)):
        path = directory / tile.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tile_hashes(tile, lambda level, index: stored[(level, index)]))
    for bundle in entry_bundles_for_size(len(entries)):
        path = directory / bundle.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bundle_entries(entries[bundle.index * 256: bundle.index * 256 + bundle.width]))
    (directory / "checkpoint").write_bytes(signed_checkpoint(entries, len(entries)))


@pytest.fixture(params=["workers", "in-process"])
def mode(request, monkeypatch):
    if request.param == "workers":  # every bundle its own task, whatever the size
        monkeypatch.setattr(replay, "_PARALLEL_FROM", 0)
        monkeypatch.setattr(replay, "_BUNDLES_PER_TASK", 1)
    else:
        monkeypatch.setattr(replay, "_PARALLEL_FROM", 10 ** 9)
    return request.param


@pytest.fixture
def export(tmp_path):
    entries = [entry(seq) for seq in range(SIZE)]
    write_export(tmp_path, entries)
    return tmp_path, entries


def verify(directory, trusted=None):
    return replay.verify_export(directory, SIGNER.verifier, trusted)


def test_a_clean_export_verifies(mode, export):
    report = verify(export[0])
    assert report.ok, report.problems
    assert report.size == SIZE


def test_a_trusted_checkpoint_whose_size_cuts_a_bundle_is_checked(mode, export):
    directory, entries = export
    for size in (1, 255, 257, 700, SIZE - 1):
        report = verify(directory, signed_checkpoint(entries, size))
        assert report.ok, (size, report.problems)
    rewritten = [entry(seq, actor="mallory" if seq == 600 else "k1") for seq in range(SIZE)]
    report = verify(directory, signed_checkpoint(rewritten, 700))  # a tree of 700 this log never held
    assert not report.ok and "rewritten" in " ".join(report.problems)


def test_an_edited_entry_in_a_later_bundle_is_named(mode, export):
    directory, entries = export
    path = directory / "tile/entries/003"
    bundle = entries[768:1024]
    bundle[10] = entry(778, actor="mallory")  # still canonical and carrying its own index
    path.write_bytes(bundle_entries(bundle))
    report = verify(directory)
    assert not report.ok and report.first_bad_index == 778


def test_a_replaced_leaf_tile_is_named(mode, export):
    directory, _entries = export
    path = directory / "tile/0/002"
    data = bytearray(path.read_bytes())
    data[32 * 5] ^= 1
    path.write_bytes(bytes(data))
    report = verify(directory)
    assert not report.ok and report.first_bad_index == 2 * 256 + 5
    assert any("tile/0/002 differs" in p for p in report.problems)


def test_a_replaced_upper_tile_is_caught(mode, export):
    directory, _entries = export
    path = directory / "tile/1/000.p/5"
    data = bytearray(path.read_bytes())
    data[32 * 3 + 7] ^= 1
    path.write_bytes(bytes(data))
    report = verify(directory)
    assert not report.ok and report.first_bad_index == 3 * 256
    assert any("tile/1/000.p/5 differs" in p for p in report.problems)


def test_a_missing_bundle_stops_the_replay_with_its_index(mode, export):
    directory, _entries = export
    (directory / "tile/entries/004").unlink()
    report = verify(directory)
    assert not report.ok and report.first_bad_index == 4 * 256
