"""RFC 4998 §4 hash trees: build a binary tree over leaf hashes, derive a leaf's reduced hash tree, recover a root.

A node's hash is the hash of the binary-sorted concatenation of its children (§4.2). We build *binary* trees,
promoting the last node of an odd level unchanged, and emit reduced trees whose first partial hash tree holds
the leaf and its first sibling and every later one a single sibling value — the form Bouncy Castle and every
other verifier we know agree on. :func:`recover_root` follows §4.3 literally so that RFC-valid n-ary trees made
by other tools verify too.
"""

from __future__ import annotations

from typing import Callable, Sequence

Hash = Callable[[bytes], bytes]


def node_hash(hash_fn: Hash, children: Sequence[bytes]) -> bytes:
    """§4.2 step 4: hash of the children sorted in ascending binary order, concatenated."""
    return hash_fn(b"".join(sorted(children)))


def build_levels(hash_fn: Hash, leaves: Sequence[bytes]) -> list[list[bytes]]:
    """All levels of the binary tree over ``leaves``, leaves first, root level (one hash) last."""
    if not leaves:
        raise ValueError("a hash tree needs at least one leaf")
    levels = [list(leaves)]
    level = levels[0]
    while len(level) > 1:
        upper = [
            hash_fn(a + b) if a <= b else hash_fn(b + a)
            for a, b in zip(level[0::2], level[1::2])
        ]
        if len(level) % 2:
            upper.append(level[-1])
        levels.append(upper)
        level = upper
    return levels


def sibling_positions(size: int, index: int) -> list[tuple[int, int]]:
    """(level, position) of every sibling on the path from leaf ``index`` to the root of a ``size``-leaf tree.

    Levels where the node is the promoted odd one out contribute nothing.
    """
    if not 0 <= index < size:
        raise IndexError(f"leaf {index} outside a tree of {size}")
    path = []
    level = 0
    while size > 1:
        sibling = index ^ 1
        if sibling < size:
            path.append((level, sibling))
        index //= 2
        size = (size + 1) // 2
        level += 1
    return path


def reduced_hashtree(leaf: bytes, siblings: Sequence[bytes]) -> list[list[bytes]]:
    """The reduced hash tree (§4.2) of ``leaf`` given its siblings bottom-up: ``[[leaf, s0], [s1], [s2], …]``.

    A leaf with no sibling (a one-leaf tree) has no reduced hash tree: the timestamp covers the leaf itself.
    """
    if not siblings:
        return []
    return [[leaf, siblings[0]], *([s] for s in siblings[1:])]


def reduced_hashtree_for_group(group: Sequence[bytes], siblings: Sequence[bytes]) -> list[list[bytes]]:
    """Reduced tree whose first partial tree is a whole data group (e.g. all earlier timestamps of a chain)."""
    return [list(group), *([s] for s in siblings)]


def recover_root(hash_fn: Hash, tree: Sequence[Sequence[bytes]]) -> bytes:
    """§4.3 steps 2–4: the root a reduced hash tree leads to.

    The first partial tree's values are hashed together (sorted); a one-value first list passes its value
    through (Bouncy Castle, DSS). Each later list is hashed together with the running value, sorted.
    """
    if not tree or not tree[0]:
        raise ValueError("empty reduced hash tree")
    first = tree[0]
    value = first[0] if len(first) == 1 else node_hash(hash_fn, first)
    for partial in tree[1:]:
        value = node_hash(hash_fn, [value, *partial])
    return value
