"""C2SP tlog-tiles paths, tile sets and entry bundles."""

from __future__ import annotations

import pytest

from tests.test_merkle import MemoryLog
from vault.journal.merkle import node_hash, tree_hash
from vault.journal.tiles import (
    WIDTH, Tile, TileError, bundle_entries, encode_index, entry_bundles_for_size, parse_path, split_tile,
    tile_hashes, tiles_for_size, unbundle_entries,
)


@pytest.mark.parametrize("n,text", [(0, "000"), (7, "007"), (1000, "x001/000"), (1234067, "x001/x234/067")])
def test_index_encoding(n, text):
    assert encode_index(n) == text
    assert parse_path(f"tile/0/{text}").index == n


@pytest.mark.parametrize("path,tile", [
    ("tile/0/x001/x234/067", Tile(0, 1234067, 256)), ("tile/1/000.p/7", Tile(1, 0, 7)),
    ("tile/entries/x001/000.p/255", Tile(-1, 1000, 255)),
])
def test_paths_round_trip(path, tile):
    assert parse_path(path) == tile and tile.path() == path


@pytest.mark.parametrize("path", ["tile/0/1", "tile/0/0001", "tile/0/x000/001", "tile/0/000.p/0", "tile/0/000.p/256",
                                  "tile/0/000.p/07", "tile/64/000", "tiles/0/000", "tile/0/000/", "tile/-1/000"])
def test_bad_paths(path):
    with pytest.raises(TileError):
        parse_path(path)


def test_tile_set_for_a_size():
    assert list(tiles_for_size(0)) == []
    assert list(tiles_for_size(5)) == [Tile(0, 0, 5)]
    size = 256 * 256 + 256 * 3 + 10
    tiles = list(tiles_for_size(size))
    assert tiles[-1] == Tile(2, 0, 1)
    assert Tile(1, 0, 256) in tiles and Tile(1, 1, 3) in tiles and Tile(0, 259, 10) in tiles
    assert list(entry_bundles_for_size(300)) == [Tile(-1, 0, 256), Tile(-1, 1, 44)]


def test_level_one_tile_hashes_are_roots_of_level_zero_tiles():
    log = MemoryLog()
    for i in range(WIDTH * 2 + 5):
        log.append(f"e{i}".encode())
    level0 = split_tile(tile_hashes(Tile(0, 1, WIDTH), log.hash_at), WIDTH)
    level1 = split_tile(tile_hashes(Tile(1, 0, 2), log.hash_at), 2)

    def fold(hashes):
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    assert fold(level0) == level1[1]
    assert node_hash(level1[0], level1[1]) == tree_hash(2 * WIDTH, log.hash_at)


def test_entry_bundles():
    entries = [b"", b"a", b"x" * 300]
    assert unbundle_entries(bundle_entries(entries)) == entries
    with pytest.raises(TileError):
        unbundle_entries(bundle_entries(entries)[:-1])
    with pytest.raises(TileError):
        bundle_entries([b"x" * 70000])
