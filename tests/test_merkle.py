"""RFC 6962 Merkle hashing and proofs, against the transparency-dev vectors and against the definition."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from vault.journal.merkle import (
    EMPTY_ROOT, ProofError, consistency_proof, inclusion_proof, leaf_hash, new_stored_hashes, root_from_leaves,
    tree_hash, verify_consistency, verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "rfc6962"
REFERENCE_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
REFERENCE_ROOT = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def vector_files(kind: str):
    if not VECTORS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason="../shared/vectors/rfc6962 is absent (not a CI checkout)"))]
    return [pytest.param(p, id=str(p.relative_to(VECTORS / kind))) for p in sorted((VECTORS / kind).rglob("*.json"))]


def b64(value) -> bytes:
    return base64.b64decode(value or "")


class MemoryLog:
    """Stored hashes in a dict, appended exactly as the journal appends them."""

    def __init__(self):
        self.hashes: dict[tuple[int, int], bytes] = {}
        self.size = 0

    def hash_at(self, level: int, index: int) -> bytes:
        return self.hashes[(level, index)]

    def append(self, entry: bytes) -> None:
        for level, index, value in new_stored_hashes(self.size, leaf_hash(entry), self.hash_at):
            self.hashes[(level, index)] = value
        self.size += 1


def test_reference_tree_root():
    log = MemoryLog()
    for leaf in REFERENCE_LEAVES:
        log.append(bytes.fromhex(leaf))
    assert tree_hash(8, log.hash_at).hex() == REFERENCE_ROOT
    assert tree_hash(0, log.hash_at) == EMPTY_ROOT


@pytest.mark.parametrize("path", vector_files("inclusion"))
def test_inclusion_vectors(path):
    case = json.loads(path.read_text())
    args = (case["leafIdx"], case["treeSize"], b64(case["leafHash"]), [b64(p) for p in case["proof"] or []], b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", vector_files("consistency"))
def test_consistency_vectors(path):
    case = json.loads(path.read_text())
    args = (case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]), [b64(p) for p in case["proof"] or []])
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_our_proofs_match_the_vectors_happy_paths():
    log = MemoryLog()
    for leaf in REFERENCE_LEAVES:
        log.append(bytes.fromhex(leaf))
    if not VECTORS.is_dir():
        pytest.skip("../shared/vectors/rfc6962 is absent")
    for path in (VECTORS / "inclusion").rglob("*.json"):
        case = json.loads(path.read_text())
        if not case["wantErr"] and case["treeSize"] <= 8 and case["desc"] == "happy path":
            assert inclusion_proof(case["leafIdx"], case["treeSize"], log.hash_at) == [b64(p) for p in case["proof"] or []]
    for path in (VECTORS / "consistency").rglob("*.json"):
        case = json.loads(path.read_text())
        if not case["wantErr"] and case["size2"] <= 8 and case["desc"] == "happy path":
            assert consistency_proof(case["size1"], case["size2"], log.hash_at) == [b64(p) for p in case["proof"] or []]


def test_every_proof_in_small_trees_verifies_and_matches_the_definition():
    log = MemoryLog()
    entries = [f"entry {i}".encode() for i in range(70)]
    for entry in entries:
        log.append(entry)
    leaves = [leaf_hash(e) for e in entries]
    for size in range(1, 71):
        root = tree_hash(size, log.hash_at)
        assert root == root_from_leaves(leaves[:size])
        for index in range(size):
            verify_inclusion(index, size, leaves[index], inclusion_proof(index, size, log.hash_at), root)
        for old in range(1, size + 1):
            verify_consistency(old, size, tree_hash(old, log.hash_at), root, consistency_proof(old, size, log.hash_at))


def test_tampered_proofs_fail():
    log = MemoryLog()
    for i in range(1000):
        log.append(str(i).encode())
    rng = random.Random(7)
    for _ in range(50):
        size = rng.randint(2, 1000)
        index = rng.randrange(size)
        proof = inclusion_proof(index, size, log.hash_at)
        root = tree_hash(size, log.hash_at)
        bad = list(proof)
        position = rng.randrange(len(bad))
        bad[position] = bytes([bad[position][0] ^ 1]) + bad[position][1:]
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf_hash(str(index).encode()), bad, root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf_hash(b"other"), proof, root)
        old = rng.randint(1, size - 1)
        cproof = consistency_proof(old, size, log.hash_at)
        with pytest.raises(ProofError):
            verify_consistency(old, size, leaf_hash(b"forged"), root, cproof)
