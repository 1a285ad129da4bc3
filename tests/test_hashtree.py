"""RFC 4998 §4 hash trees: every leaf's reduced tree leads to the root, in our reading and Bouncy Castle's."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings, strategies as st

from vault.evidence.hashtree import build_levels, node_hash, recover_root, reduced_hashtree, sibling_positions


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def bc_recover(tree):
    """Bouncy Castle 1.72's BinaryTreeRootCalculator.recoverRootHash, restated: pairwise fold of node hashes."""
    def node(values):
        return values[0] if len(values) == 1 else sha256(b"".join(sorted(values)))
    value = node(tree[0])
    for partial in tree[1:]:
        other = node(partial)
        value = sha256(b"".join(sorted([value, other])))
    return value


def path_of(levels, index):
    return [levels[level][pos] for level, pos in sibling_positions(len(levels[0]), index)]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_leaf_recovers_the_root(n, data):
    leaves = [sha256(i.to_bytes(4, "big")) for i in range(n)]
    levels = build_levels(sha256, leaves)
    root = levels[-1][0]
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    tree = reduced_hashtree(leaves[index], path_of(levels, index))
    if n == 1:
        assert tree == [] and root == leaves[0]
        return
    assert recover_root(sha256, tree) == root
    assert bc_recover(tree) == root
    assert all(len(partial) == 1 for partial in tree[1:])


def test_node_hash_sorts_children():
    a, b = sha256(b"a"), sha256(b"b")
    assert node_hash(sha256, [a, b]) == node_hash(sha256, [b, a]) == sha256(min(a, b) + max(a, b))


def test_odd_leaf_is_promoted_not_duplicated():
    leaves = [sha256(bytes([i])) for i in range(3)]
    levels = build_levels(sha256, leaves)
    assert levels[1][1] == leaves[2]
    assert sibling_positions(3, 2) == [(1, 0)]


def test_rfc_reading_of_an_nary_later_list():
    a, b, c, d = (sha256(bytes([i])) for i in range(4))
    first = node_hash(sha256, [a, b])
    assert recover_root(sha256, [[a, b], [c, d]]) == sha256(b"".join(sorted([first, c, d])))
