"""C2SP tlog-tiles (c2sp.org/tlog-tiles): tile coordinates, paths and contents, tile height 8.

A tile at level ``L`` and index ``N`` holds, in order, the stored hashes at tree level ``8·L`` with indexes
``N·256 … N·256+W-1`` (``W`` = 256 for a full tile, fewer for the partial tile at the right edge). An entry
bundle ``N`` holds entries ``N·256 …``, each prefixed by its length as a big-endian uint16.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from vault_verify.merkle import HASH_SIZE, HashAt

HEIGHT = 8
WIDTH = 1 << HEIGHT
MAX_ENTRY = 0xFFFF

_PATH = re.compile(r"^tile/(?:(?P<level>\d+)|(?P<entries>entries))/(?P<index>(?:x\d{3}/)*\d{3})(?:\.p/(?P<width>\d+))?$")


class TileError(ValueError):
    pass


@dataclass(frozen=True)
class Tile:
    level: int  # -1 for an entry bundle
    index: int
    width: int

    @property
    def is_entries(self) -> bool:
        return self.level < 0

    def path(self) -> str:
        kind = "entries" if self.is_entries else str(self.level)
        suffix = "" if self.width == WIDTH else f".p/{self.width}"
        return f"tile/{kind}/{encode_index(self.index)}{suffix}"


def encode_index(n: int) -> str:
    """Tile index as path elements of three digits, all but the last prefixed with 'x' (x001/x234/067)."""
    digits = f"{n:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


def parse_path(path: str) -> Tile:
    match = _PATH.match(path)
    if not match:
        raise TileError(f"not a tile path: {path!r}")
    parts = match["index"].split("/")
    if len(parts) > 1 and parts[0] == "x000":
        raise TileError("tile index has a leading zero group")
    index = int("".join(p.lstrip("x") for p in parts))
    width = int(match["width"]) if match["width"] else WIDTH
    if not 1 <= width <= WIDTH - 1 and match["width"]:
        raise TileError("partial tile width must be 1 to 255")
    if match["width"] and match["width"].startswith("0"):
        raise TileError("partial tile width has a leading zero")
    level = -1 if match["entries"] else int(match["level"])
    if level > 63:
        raise TileError("tile level above 63")
    return Tile(level, index, width)


def tiles_for_size(size: int) -> Iterator[Tile]:
    """Every tile (full and the right-edge partials) that a tree of ``size`` leaves publishes, entries excluded."""
    level = 0
    count = size
    while count > 0:
        full, rest = divmod(count, WIDTH)
        for n in range(full):
            yield Tile(level, n, WIDTH)
        if rest:
            yield Tile(level, full, rest)
        level += 1
        count = count >> HEIGHT
        if count == 0:
            break


def entry_bundles_for_size(size: int) -> Iterator[Tile]:
    full, rest = divmod(size, WIDTH)
    for n in range(full):
        yield Tile(-1, n, WIDTH)
    if rest:
        yield Tile(-1, full, rest)


def tile_hashes(tile: Tile, hash_at: HashAt) -> bytes:
    """The bytes of a hash tile: ``width`` stored hashes at level 8·L."""
    if tile.is_entries:
        raise TileError("an entry bundle holds entries, not hashes")
    base = tile.index * WIDTH
    return b"".join(hash_at(HEIGHT * tile.level, base + i) for i in range(tile.width))


def split_tile(data: bytes, width: int) -> list[bytes]:
    if len(data) != width * HASH_SIZE:
        raise TileError(f"tile has {len(data)} bytes, expected {width * HASH_SIZE}")
    return [data[i:i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def bundle_entries(entries: Iterable[bytes]) -> bytes:
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY:
            raise TileError(f"entry of {len(entry)} bytes is over the 65535-byte limit of an entry bundle")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def unbundle_entries(data: bytes) -> list[bytes]:
    entries, position = [], 0
    while position < len(data):
        if position + 2 > len(data):
            raise TileError("entry bundle ends inside a length prefix")
        length = int.from_bytes(data[position:position + 2], "big")
        position += 2
        if position + length > len(data):
            raise TileError("entry bundle ends inside an entry")
        entries.append(data[position:position + length])
        position += length
    return entries
