"""Merkle tree hashing and proofs of RFC 6962 §2.1 (the same as RFC 9162 §2.1), as plain functions over hashes.

Leaf hash ``SHA-256(0x00 ‖ entry)``, node hash ``SHA-256(0x01 ‖ left ‖ right)``; the root of the empty tree is
``SHA-256("")``. Stored hashes are those of *complete* subtrees: level ``l``, index ``n`` covers leaves
``[n·2^l, (n+1)·2^l)`` — the hashes tlog tiles publish. Any other subtree hash a proof needs is folded from them,
so producing a proof reads O(log² n) stored hashes and never re-hashes leaves.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

HashAt = Callable[[int, int], bytes]
"""``hash_at(level, index)``: the stored hash of a complete subtree."""


class ProofError(ValueError):
    """A proof does not verify; the message says at which check."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (``size`` ≥ 2), RFC 6962 §2.1's k."""
    return 1 << ((size - 1).bit_length() - 1)


def new_stored_hashes(index: int, leaf: bytes, hash_at: HashAt) -> list[tuple[int, int, bytes]]:
    """Hashes that appending leaf ``index`` completes: ``(0, index, leaf)`` then every parent it closes."""
    out = [(0, index, leaf)]
    level, n, current = 0, index, leaf
    while n & 1:
        current = node_hash(hash_at(level, n - 1), current)
        level, n = level + 1, n >> 1
        out.append((level, n, current))
    return out


def subtree_hash(start: int, end: int, hash_at: HashAt) -> bytes:
    """MTH(D[start:end]) (RFC 6962 §2.1) from stored complete-subtree hashes; ``start`` is aligned as in proofs."""
    size = end - start
    if size <= 0:
        raise ValueError("empty range")
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return hash_at(level, start >> level)
    k = _split(size)
    return node_hash(subtree_hash(start, start + k, hash_at), subtree_hash(start + k, end, hash_at))


def tree_hash(size: int, hash_at: HashAt) -> bytes:
    return EMPTY_ROOT if size == 0 else subtree_hash(0, size, hash_at)


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves, straight from the definition (for tests and small trees)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_from_leaves(leaves[:k]), root_from_leaves(leaves[k:]))


def inclusion_proof(index: int, size: int, hash_at: HashAt) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 6962 §2.1.1, leaf to root."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    return _path(index, 0, size, hash_at)


def _path(m: int, start: int, end: int, hash_at: HashAt) -> list[bytes]:
    size = end - start
    if size == 1:
        return []
    k = _split(size)
    if m < k:
        return _path(m, start, start + k, hash_at) + [subtree_hash(start + k, end, hash_at)]
    return _path(m - k, start + k, end, hash_at) + [subtree_hash(start, start + k, hash_at)]


def consistency_proof(old: int, new: int, hash_at: HashAt) -> list[bytes]:
    """PROOF(old, D[0:new]) of RFC 6962 §2.1.2; empty when ``old`` is 0 or equals ``new``."""
    if not 0 <= old <= new:
        raise ValueError(f"cannot prove size {old} consistent with size {new}")
    if old == 0 or old == new:
        return []
    return _subproof(old, 0, new, True, hash_at)


def _subproof(m: int, start: int, end: int, complete: bool, hash_at: HashAt) -> list[bytes]:
    size = end - start
    if m == size:
        return [] if complete else [subtree_hash(start, end, hash_at)]
    k = _split(size)
    if m <= k:
        return _subproof(m, start, start + k, complete, hash_at) + [subtree_hash(start + k, end, hash_at)]
    return _subproof(m - k, start + k, end, False, hash_at) + [subtree_hash(start, start + k, hash_at)]


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_SIZE}")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Iterable[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2; raises :class:`ProofError` unless ``leaf`` is at ``index`` in the tree of ``root``."""
    proof = list(proof)
    for value, what in [(leaf, "leaf hash"), (root, "root"), *[(p, f"proof[{i}]") for i, p in enumerate(proof)]]:
        _check_hash(value, what)
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("computed root differs from the given root")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Iterable[bytes]) -> None:
    """RFC 9162 §2.1.4.2; raises :class:`ProofError` unless the tree of ``new_root`` extends that of ``old_root``.

    As transparency-dev/merkle does, a proof from size 0 is refused (it proves nothing) and equal sizes need an
    empty proof and equal roots.
    """
    proof = list(proof)
    if not 0 <= old <= new:
        raise ProofError(f"old size {old} is larger than new size {new}")
    if old == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing: check the new tree directly")
    if old == new:
        if proof:
            raise ProofError("equal sizes need an empty proof")
        if old_root != new_root:
            raise ProofError("equal sizes but different roots")
        return
    for value, what in [(old_root, "old root"), (new_root, "new root"),
                        *[(p, f"proof[{i}]") for i, p in enumerate(proof)]]:
        _check_hash(value, what)
    if not proof:
        raise ProofError("empty proof for different sizes")
    if old & (old - 1) == 0:
        proof = [old_root] + proof
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise ProofError("proof is longer than needed")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than needed")
    if fr != old_root:
        raise ProofError("proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("proof does not lead to the new root")
