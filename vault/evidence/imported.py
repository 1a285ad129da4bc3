"""Continuing the evidence records of imported objects (RFC 4998 §5.2 timestamp renewal, done by their new holder).

An object brought in by ``vault import`` keeps the record the source archive made, verbatim; its renewals ended
with the export. This archive renews it from then on like its own chains: the record's last ArchiveTimeStampChain
("an imported chain", shared by every object the source sealed in the same batch) joins this archive's timestamp
renewals while its newest token is due, and each renewal appends one ArchiveTimeStamp to that chain — its first
partial hash tree holds the hashes of all the chain's earlier tokens (the form :mod:`vault.evidence.assemble`
writes), followed by the leaf's path in the renewal's tree. The continued record is the verbatim one with those
ATSs appended: its earlier bytes are unchanged, and any RFC 4998 verifier checks it with the source's TSA roots
and this archive's.

A chain is known by its key: the leaf its first renewal timestamps, hex (``imported_chains.key``). When an
algorithm weakens, a hash-tree renewal starts a new chain for each imported record as for this archive's own
(h' = H(H(d) ‖ H(ArchiveTimeStampSequence)) over the record as continued so far, the data re-read here;
``imported_members``), that chain is renewed like any of this archive's chains, and the imported chains it
replaces are closed (``imported_chain_closures``): no more timestamps over a weak chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from asn1crypto import cms, core
from sqlalchemy import Connection, select

from vault.db.tables import ImportedChain, ImportedChainClosure, ImportedEvidence, ImportedMember, ImportedRenewal
from vault.evidence.assemble import BatchCache, build_chain, renewal_ats, renewal_leaf
from vault.evidence.record import algorithm_identifier
from vault.jobs.follower import dialect_insert
from vault_verify.asn1 import HASHES, EvidenceRecord
from vault_verify.der import der_sequence
from vault_verify.tokens import TokenError, parse_token

CHAINS = ImportedChain.__table__
RENEWALS = ImportedRenewal.__table__
IMPORTED = ImportedEvidence.__table__
MEMBERS = ImportedMember.__table__
CLOSURES = ImportedChainClosure.__table__
UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, IndexError, TokenError)  # what odd DER raises


@dataclass(frozen=True)
class ImportedChainTip:
    """The last chain of an imported record: its key, algorithm, tokens (DER, oldest first), and when its newest
    token was made and its TSA certificate expires (what makes it due)."""

    key: str
    algorithm: str
    tokens: tuple[bytes, ...]
    gen_time: datetime
    not_after: datetime


def chain_tip(der: bytes) -> ImportedChainTip:
    """The last chain of the evidence record ``der``; ValueError when it cannot be read."""
    record = EvidenceRecord.load(der, strict=True)
    chains = record["archive_time_stamp_sequence"]
    if len(chains) == 0 or len(chains[-1]) == 0:
        raise ValueError("the evidence record has no archive timestamp")
    last = chains[-1]
    algorithm = last[0]["digest_algorithm"]["algorithm"].native if last[0]["digest_algorithm"].native else None
    tokens = tuple(ats["time_stamp"].dump() for ats in last)
    newest = parse_token(tokens[-1])
    algorithm = algorithm or newest.imprint_algorithm
    signer = newest.signer_certificate()
    not_after = signer.not_valid_after_utc if signer is not None else newest.gen_time
    return ImportedChainTip(renewal_leaf(algorithm, list(tokens)).hex(), algorithm, tokens, newest.gen_time,
                            not_after)


def chain_row(tip: ImportedChainTip, now: datetime) -> dict:
    return {"key": tip.key, "algorithm": tip.algorithm, "tokens": der_sequence(b"".join(tip.tokens)),
            "gen_time": tip.gen_time, "not_after": tip.not_after, "created_at": now}


class _Tokens(core.SequenceOf):
    _child_spec = cms.ContentInfo


def register_chain(connection: Connection, der: bytes, now: datetime) -> str | None:
    """Record the last chain of imported record ``der`` for renewal (once per chain); its key, or None when the
    record cannot be read (it is still kept verbatim, just not continued)."""
    try:
        tip = chain_tip(der)
    except UNREADABLE:
        return None
    connection.execute(dialect_insert(connection, CHAINS).on_conflict_do_nothing(), chain_row(tip, now))
    return tip.key


def register_existing_chains(connection: Connection) -> None:
    """Migration 0014: the chains of the records imported before renewals existed."""
    now = datetime.now(timezone.utc)
    for row in connection.execute(select(IMPORTED.c.der).where(IMPORTED.c.der.is_not(None))):
        register_chain(connection, bytes(row.der), now)


def stored_tokens(row) -> list[bytes]:
    """The tokens of an ``imported_chains`` row (a DER SEQUENCE of ContentInfos), oldest first."""
    return [token.dump() for token in _Tokens.load(bytes(row.tokens))]


def renewals_of(connection: Connection, key: str) -> list[tuple[str, int]]:
    """(renewal batch id, leaf index) of every renewal of imported chain ``key``, oldest first."""
    rows = connection.execute(select(RENEWALS.c.renewal_id, RENEWALS.c.leaf_index)
                              .where(RENEWALS.c.chain_key == key).order_by(RENEWALS.c.renewal_id)).all()
    return [(r.renewal_id, r.leaf_index) for r in rows]


def hash_tree_renewals_of(connection: Connection, object_id: str) -> list[tuple[str, int]]:
    """(hash-tree renewal batch id, leaf index) of every new chain started here for ``object_id``'s imported
    record, oldest first."""
    rows = connection.execute(select(MEMBERS.c.batch_id, MEMBERS.c.leaf_index)
                              .where(MEMBERS.c.object_id == object_id).order_by(MEMBERS.c.batch_id)).all()
    return [(r.batch_id, r.leaf_index) for r in rows]


def continued_record(connection: Connection, der: bytes, object_id: str | None = None,
                     cache: BatchCache | None = None) -> tuple[bytes, int]:
    """The imported record ``der`` as this archive continues it, and how many timestamps this archive added to it
    (0: the verbatim bytes): the ATSs of the timestamp renewals of its last chain appended to that chain, then —
    given the ``object_id`` it belongs to — each chain a hash-tree renewal started for it, with its own renewals."""
    try:
        tip = chain_tip(der)
    except UNREADABLE:
        return der, 0  # unreadable here: kept verbatim, never continued (register_chain skipped it too)
    cache = cache or BatchCache()
    tokens = list(tip.tokens)
    appended = []
    for renewal_id, leaf_index in renewals_of(connection, tip.key):
        renewal = cache.get(connection, renewal_id)
        appended.append(renewal_ats(connection, tip.algorithm, tokens, renewal, leaf_index, cache))
        tokens.append(renewal.token)
    chains, algorithms, added = [], [], len(appended)
    for batch_id, leaf_index in hash_tree_renewals_of(connection, object_id) if object_id else []:
        start = cache.get(connection, batch_id)
        chain, batches = build_chain(connection, start, leaf_index, cache)
        chains.append(chain)
        algorithms.append(start.algorithm)
        added += len(batches)
    if not appended and not chains:
        return der, 0
    record = EvidenceRecord.load(der, strict=True)
    old = record["archive_time_stamp_sequence"]
    last = der_sequence(b"".join(ats.dump() for ats in old[-1]) + b"".join(appended))
    sequence = der_sequence(b"".join(chain.dump() for chain in list(old)[:-1]) + last + b"".join(chains))
    declared = [a["algorithm"].native for a in record["digest_algorithms"]]
    missing = [a for a in dict.fromkeys(algorithms) if a not in declared]  # §3: every algorithm the chains use
    head = record["version"].dump() + (der_sequence(record["digest_algorithms"].contents + b"".join(
        algorithm_identifier(a) for a in missing)) if missing else record["digest_algorithms"].dump())
    head += b"".join(record[name].dump() for name in ("crypto_infos", "encryption_info")
                     if record[name].native is not None)
    return der_sequence(head + sequence), added


def renewed_leaf(continued: bytes, data_hash: bytes, algorithm: str) -> bytes:
    """The leaf a hash-tree renewal to ``algorithm`` timestamps for the continued record ``continued`` of data
    whose ``algorithm`` hash is ``data_hash``: h' = H(H(d) ‖ H(ArchiveTimeStampSequence)) (RFC 4998 §5.2)."""
    sequence = EvidenceRecord.load(continued, strict=True)["archive_time_stamp_sequence"].dump()
    h = HASHES[algorithm]
    return h(data_hash + h(sequence).digest()).digest()


def newest_algorithm(der: bytes) -> str | None:
    """The algorithm of the record's last chain; None when unreadable."""
    try:
        return chain_tip(der).algorithm
    except UNREADABLE:
        return None
