"""Derive one object's evidence record (RFC 4998 §3) from the stored seal batches, on demand.

Chain by chain: the chain's first ATS is the object's path in the batch that started the chain (the initial
batch, or a hash-tree renewal); each timestamp renewal of that chain adds an ATS whose first partial hash tree
holds the hashes of *all* earlier tokens of the chain (§5.2; the form Bouncy Castle's ``validate`` expects),
followed by the path of that leaf in the renewal's tree. A later hash-tree renewal covering the object starts
the next chain.

An object sealed with its metadata record (issue 22) is a data group of two (§4.2): its leaf is the hash of the
sorted concatenation of the content's and the record's hashes, and the first partial hash tree of each chain's
first ATS lists those two hashes (rehashed with the sequence hash in a hash-tree renewal, §5.2), so that the
record proves the content alone as well as the group. An object sealed before it had a record keeps its
content-only leaf.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from vault.evidence.batches import (
    CHUNK, HASH_TREE_RENEWAL, StoredBatch, member_content_hash, any_hash_tree_renewal, chain_renewals,
    chain_renewals_many, initial_batch_of,
    initial_batches_between, load_batch, next_hash_tree_renewal, path_chunks, read_chunks, read_leaf_and_path,
)
from vault.evidence.record import (
    ArchiveTimeStampParts, encode_archive_time_stamp, encode_chain, encode_evidence_record, encode_sequence,
)
from vault.evidence.metadata_store import sealed_members_many
from vault_verify.asn1 import HASHES
from vault_verify.hashtree import node_hash, reduced_hashtree, reduced_hashtree_for_group


def data_group_members(algorithm: str, content_hash: bytes, record: bytes,
                       previous_sequence: bytes | None = None) -> list[bytes]:
    """The hashes of the data group (content, metadata record) in ``algorithm``: H(d) of each (§4.2), or, for a
    chain started by a hash-tree renewal, H(H(d) ‖ H(ArchiveTimeStampSequence so far)) of each (§5.2)."""
    h = HASHES[algorithm]
    members = [content_hash, h(record).digest()]
    if previous_sequence is not None:
        sequence_hash = h(previous_sequence).digest()
        members = [h(m + sequence_hash).digest() for m in members]
    return members


def group_leaf(algorithm: str, members: list[bytes]) -> bytes:
    """The leaf of a data group: the hash of its members' hashes sorted and concatenated (§4.2 step 3)."""
    return node_hash(lambda data: HASHES[algorithm](data).digest(), members)


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
    grouped: bool = False
    """Sealed as the data group (content, metadata record)."""

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


MEMBERS_AHEAD = 64  # data groups read at once when a record is assembled without a prefetch


class BatchCache:
    """What assembling records reads, kept for the next records (the objects of a package or a report share their
    initial batch, its upper tree chunks and its chain's renewals): a run of records then costs a query per batch
    or chunk, not several per record. Batches and their trees never change once written; the renewals and
    hash-tree renewals are those that existed when first asked for (one consistent view for one export).

    Not bound to a connection: each call takes the one in use, so the cache can outlive it."""

    def __init__(self):
        self._batches: dict[str, StoredBatch] = {}
        self._initial: dict[int, StoredBatch] = {}  # first_seq → initial batch
        self._firsts: list[int] = []  # the keys of _initial, sorted
        self.chunks: dict[tuple[str, int, int], bytes] = {}
        self._renewals: dict[str, list[tuple[str, int]]] = {}
        self._hash_tree_renewals: bool | None = None
        self._members: dict[int, tuple[dict[str, str], bytes | None]] = {}  # seal_seq → data group (prefetched)

    def members_of(self, connection: Connection, seal_seq: int) -> tuple[dict[str, str], bytes | None]:
        """The content digests and metadata record sealed with deposit ``seal_seq`` (prefetched, else read)."""
        found = self._members.pop(seal_seq, None)
        if found is None:  # not prefetched: this deposit's and the next ones', records being asked in seal order
            self._members.update(sealed_members_many(connection, range(seal_seq, seal_seq + MEMBERS_AHEAD)))
            found = self._members.pop(seal_seq, None)
        return found if found is not None else ({}, None)

    def get(self, connection: Connection, batch_id: str) -> StoredBatch:
        batch = self._batches.get(batch_id)
        if batch is None:
            batch = self._batches[batch_id] = load_batch(connection, batch_id)
        return batch

    def _known_initial(self, seal_seq: int) -> StoredBatch | None:
        at = bisect.bisect_right(self._firsts, seal_seq) - 1
        if at >= 0 and self._initial[self._firsts[at]].last_seq >= seal_seq:
            return self._initial[self._firsts[at]]
        return None

    def _keep_initial(self, batch: StoredBatch) -> None:
        if batch.first_seq not in self._initial:
            self._initial[batch.first_seq] = batch
            bisect.insort(self._firsts, batch.first_seq)

    def initial_batch_of(self, connection: Connection, seal_seq: int) -> StoredBatch | None:
        batch = self._known_initial(seal_seq)
        if batch is None:
            batch = initial_batch_of(connection, seal_seq)
            if batch is not None:
                self._keep_initial(batch)
        return batch

    def prefetch(self, connection: Connection, seal_seqs: list[int]) -> None:
        """Read what assembling the records of ``seal_seqs`` (a window of a package) takes from their initial
        batches — the batches, their chains' renewals, the tree chunks on each leaf's path — in one query each, so
        that :func:`assemble` then finds it here instead of asking per record."""
        unknown = [seq for seq in seal_seqs if self._known_initial(seq) is None]
        if unknown:
            for batch in initial_batches_between(connection, min(unknown), max(unknown)):
                self._keep_initial(batch)
        starts = [(batch, seq - batch.first_seq) for seq in seal_seqs
                  if (batch := self._known_initial(seq)) is not None]
        chains = sorted({batch.id for batch, _ in starts} - self._renewals.keys())
        if chains:
            self._renewals.update(chain_renewals_many(connection, chains))
        read_chunks(connection, {(batch.id, level, chunk) for batch, index in starts
                                 for level, chunk in path_chunks(batch, index)}, self.chunks)
        self._members.update(sealed_members_many(connection, [seq for seq in seal_seqs if seq not in self._members]))

    def chain_renewals(self, connection: Connection, chain_id: str) -> list[tuple[str, int]]:
        found = self._renewals.get(chain_id)
        if found is None:
            found = self._renewals[chain_id] = chain_renewals(connection, chain_id)
        return found

    def next_hash_tree_renewal(self, connection: Connection, seal_seq: int, after_id: str) -> tuple[str, int] | None:
        if self._hash_tree_renewals is None:
            self._hash_tree_renewals = any_hash_tree_renewal(connection)
        return next_hash_tree_renewal(connection, seal_seq, after_id) if self._hash_tree_renewals else None


def renewal_ats(connection: Connection, algorithm: str, tokens: list[bytes], renewal: StoredBatch, leaf_index: int,
                cache: BatchCache) -> bytes:
    """The ATS a timestamp renewal adds to a chain whose tokens so far are ``tokens`` (§5.2): the hashes of all of
    them as the first partial hash tree (one hash alone when there is one token), then the leaf's path."""
    _leaf, path = read_leaf_and_path(connection, renewal, leaf_index, cache.chunks)
    hashes = token_hashes(algorithm, tokens)
    tree = reduced_hashtree(hashes[0], path) if len(hashes) == 1 else reduced_hashtree_for_group(hashes, path)
    return encode_archive_time_stamp(ArchiveTimeStampParts(algorithm, tree, renewal.token))


def build_chain(connection: Connection, start: StoredBatch, index: int, cache: BatchCache,
                members: list[bytes] | None = None) -> tuple[bytes, list[StoredBatch]]:
    """The chain ``start`` began for its leaf ``index`` (an initial or a hash-tree renewal batch), with every
    timestamp renewal of it, and the batches it took. ``members``: the data group's hashes when the leaf is a
    group's (the first partial hash tree then lists them)."""
    leaf, path = read_leaf_and_path(connection, start, index, cache.chunks)
    tree = reduced_hashtree_for_group(members, path) if members else reduced_hashtree(leaf, path)
    ats = [encode_archive_time_stamp(ArchiveTimeStampParts(start.algorithm, tree, start.token))]
    tokens, batches = [start.token], [start]
    for renewal_id, leaf_index in cache.chain_renewals(connection, start.id):
        renewal = cache.get(connection, renewal_id)
        ats.append(renewal_ats(connection, start.algorithm, tokens, renewal, leaf_index, cache))
        tokens.append(renewal.token)
        batches.append(renewal)
    return encode_chain(ats), batches


def assemble(connection: Connection, seal_seq: int, cache: BatchCache | None = None) -> AssembledRecord | None:
    """The evidence record of deposit ``seal_seq``, or None while the deposit is not sealed yet."""
    cache = cache or BatchCache()
    start = cache.initial_batch_of(connection, seal_seq)
    if start is None:
        return None
    index = seal_seq - start.first_seq
    record = AssembledRecord(b"", [], [])
    content, metadata = cache.members_of(connection, seal_seq)
    while True:
        members = _members(connection, start, index, cache, content, metadata,
                           encode_sequence(record.chains) if record.chains else None)
        record.grouped = record.grouped or (members is not None and not record.chains)
        chain, batches = build_chain(connection, start, index, cache, members)
        record.chains.append(chain)
        record.batches += batches
        record.algorithms.append(start.algorithm)
        following = cache.next_hash_tree_renewal(connection, seal_seq, start.id)
        if following is None:
            break
        start, index = cache.get(connection, following[0]), following[1]
    record.der = encode_evidence_record(record.algorithms, encode_sequence(record.chains))
    return record


def _members(connection: Connection, start: StoredBatch, index: int, cache: BatchCache, content: dict[str, str],
             metadata: bytes | None, previous_sequence: bytes | None) -> list[bytes] | None:
    """The data group's hashes for the chain ``start`` begins when its leaf is that group's, else None (a leaf
    sealed before the record existed). The content's hash in the chain's algorithm: the row's SHA-256 or SHA-512,
    else the one a hash-tree renewal kept in ``seal_members``."""
    if metadata is None:
        return None
    content_hash = bytes.fromhex(content[start.algorithm]) if start.algorithm in content else (
        member_content_hash(connection, start.id, index) if start.kind == HASH_TREE_RENEWAL else None)
    if content_hash is None:
        return None
    members = data_group_members(start.algorithm, content_hash, metadata, previous_sequence)
    leaf, _path = read_leaf_and_path(connection, start, index, cache.chunks)
    return members if group_leaf(start.algorithm, members) == leaf else None


def stored_leaf(connection: Connection, batch: StoredBatch, index: int, cache: BatchCache) -> bytes:
    """Leaf ``index`` of ``batch`` as stored (the leaf alone: its path is the verifier's to check)."""
    size = len(batch.root)
    key = (batch.id, 0, index // CHUNK)
    read_chunks(connection, [key], cache.chunks)
    offset = (index % CHUNK) * size
    return bytes(cache.chunks[key][offset:offset + size])


def record_seal(connection: Connection, seal_seq: int, cache: BatchCache, content: dict[str, str],
                record: bytes) -> str:
    """How deposit ``seal_seq``'s initial leaf covers ``record`` (version 1 of its metadata record): ``group`` when
    the leaf is the §4.2 data group (content, record), ``content-only`` when it is the content's hash alone (sealed
    before it had a record: a backfilled record not sealed yet), ``unsealed`` while no batch covers it, else
    ``differs`` (the record is not the one sealed)."""
    start = cache.initial_batch_of(connection, seal_seq)
    if start is None:
        return "unsealed"
    leaf = stored_leaf(connection, start, seal_seq - start.first_seq, cache)
    content_hash = content.get(start.algorithm)
    if content_hash is None:
        return "differs"
    if group_leaf(start.algorithm, data_group_members(start.algorithm, bytes.fromhex(content_hash), record)) == leaf:
        return "group"
    return "content-only" if bytes.fromhex(content_hash) == leaf else "differs"
