"""Derive one object's evidence record (RFC 4998 §3) from the stored seal batches, on demand.

Chain by chain: the chain's first ATS is the object's path in the batch that started the chain (the initial
batch, or a hash-tree renewal); each timestamp renewal of that chain adds an ATS whose first partial hash tree
holds the hashes of *all* earlier tokens of the chain (§5.2; the form Bouncy Castle's ``validate`` expects),
followed by the path of that leaf in the renewal's tree. A later hash-tree renewal covering the object starts
the next chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from vault.evidence.batches import (
    StoredBatch, chain_renewals, initial_batch_of, load_batch, next_hash_tree_renewal, read_leaf_and_path,
)
from vault.evidence.record import (
    ArchiveTimeStampParts, encode_archive_time_stamp, encode_chain, encode_evidence_record, encode_sequence,
)
from vault_verify.asn1 import HASHES
from vault_verify.hashtree import reduced_hashtree, reduced_hashtree_for_group


def token_hashes(algorithm: str, tokens: list[bytes]) -> list[bytes]:
    """H(timeStamp) of each token, in the chain's algorithm (§5.2, timestamp renewal)."""
    constructor = HASHES[algorithm]
    return [constructor(t).digest() for t in tokens]


def renewal_leaf(algorithm: str, tokens: list[bytes]) -> bytes:
    """The leaf a chain contributes to its next timestamp renewal: H(ts) for one token, else the node hash
    of the hashes of all its tokens (RFC 4998 §4.2), matching :func:`renewal_first_list`."""
    hashes = token_hashes(algorithm, tokens)
    if len(hashes) == 1:
        return hashes[0]
    return HASHES[algorithm](b"".join(sorted(hashes))).digest()


@dataclass
class AssembledRecord:
    der: bytes
    chains: list[bytes]
    algorithms: list[str]
    batches: list[StoredBatch] = field(default_factory=list)

    @property
    def last_algorithm(self) -> str:
        return self.algorithms[-1]

    @property
    def first_batch(self) -> StoredBatch:
        return self.batches[0]

    @property
    def newest_batch(self) -> StoredBatch:
        return max(self.batches, key=lambda b: b.gen_time)

    @property
    def sealed_at(self) -> datetime:
        return self.batches[0].gen_time


class BatchCache:
    """Batches by id for one assembly run (renewal batches are shared by many objects)."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self._batches: dict[str, StoredBatch] = {}

    def get(self, batch_id: str) -> StoredBatch:
        batch = self._batches.get(batch_id)
        if batch is None:
            batch = self._batches[batch_id] = load_batch(self.connection, batch_id)
        return batch


def assemble(connection: Connection, seal_seq: int, cache: BatchCache | None = None) -> AssembledRecord | None:
    """The evidence record of deposit ``seal_seq``, or None while the deposit is not sealed yet."""
    start = initial_batch_of(connection, seal_seq)
    if start is None:
        return None
    cache = cache or BatchCache(connection)
    index = seal_seq - start.first_seq
    record = AssembledRecord(b"", [], [])
    while True:
        leaf, path = read_leaf_and_path(connection, start, index)
        ats = [encode_archive_time_stamp(ArchiveTimeStampParts(start.algorithm, reduced_hashtree(leaf, path),
                                                               start.token))]
        tokens = [start.token]
        record.batches.append(start)
        for renewal_id, leaf_index in chain_renewals(connection, start.id):
            renewal = cache.get(renewal_id)
            _leaf, renewal_path = read_leaf_and_path(connection, renewal, leaf_index)
            hashes = token_hashes(start.algorithm, tokens)
            tree = (reduced_hashtree(hashes[0], renewal_path) if len(hashes) == 1
                    else reduced_hashtree_for_group(hashes, renewal_path))
            ats.append(encode_archive_time_stamp(ArchiveTimeStampParts(start.algorithm, tree, renewal.token)))
            tokens.append(renewal.token)
            record.batches.append(renewal)
        record.chains.append(encode_chain(ats))
        record.algorithms.append(start.algorithm)
        following = next_hash_tree_renewal(connection, seal_seq, start.id)
        if following is None:
            break
        start, index = cache.get(following[0]), following[1]
    record.der = encode_evidence_record(record.algorithms, encode_sequence(record.chains))
    return record
