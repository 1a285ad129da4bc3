"""Continuing the evidence records of imported objects (RFC 4998 §5.2 timestamp renewal, done by their new holder).

An object brought in by ``vault import`` keeps the record the source archive made, verbatim; its renewals ended
with the export. This archive renews it from then on like its own chains: the record's last ArchiveTimeStampChain
("an imported chain", shared by every object the source sealed in the same batch) joins this archive's timestamp
renewals while its newest token is due, and each renewal appends one ArchiveTimeStamp to that chain — its first
partial hash tree holds the hashes of all the chain's earlier tokens (the form :mod:`vault.evidence.assemble`
writes), followed by the leaf's path in the renewal's tree. The continued record is the verbatim one with those
ATSs appended: its earlier bytes are unchanged, and any RFC 4998 verifier checks it with the source's TSA roots
and this archive's.

A chain is known by its key: the leaf its first renewal timestamps, hex (``imported_chains.key``). A chain whose
algorithm is weak is not renewed (a hash-tree renewal would need this archive to start a new chain over the data:
the object's own record here does that).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from asn1crypto import cms, core
from sqlalchemy import Connection, select

from vault.db.tables import ImportedChain, ImportedEvidence, ImportedRenewal
from vault.evidence.assemble import renewal_leaf, token_hashes
from vault.evidence.batches import load_batch, read_leaf_and_path
from vault.evidence.record import ArchiveTimeStampParts, encode_archive_time_stamp
from vault_verify.asn1 import EvidenceRecord
from vault_verify.der import der_sequence
from vault_verify.hashtree import reduced_hashtree, reduced_hashtree_for_group
from vault.jobs.follower import dialect_insert
from vault_verify.tokens import TokenError, parse_token

CHAINS = ImportedChain.__table__
RENEWALS = ImportedRenewal.__table__
IMPORTED = ImportedEvidence.__table__


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
    except (ValueError, TypeError, KeyError, AttributeError, TokenError):
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


def continued_record(connection: Connection, der: bytes) -> tuple[bytes, int]:
    """The imported record ``der`` with the ATSs of this archive's renewals of its last chain appended, and how
    many there are (0: the verbatim bytes)."""
    try:
        tip = chain_tip(der)
    except (ValueError, TypeError, KeyError, AttributeError, TokenError):
        return der, 0  # unreadable here: kept verbatim, never continued (register_chain skipped it too)
    renewals = renewals_of(connection, tip.key)
    if not renewals:
        return der, 0
    tokens = list(tip.tokens)
    appended = []
    for renewal_id, leaf_index in renewals:
        batch = load_batch(connection, renewal_id)
        _leaf, path = read_leaf_and_path(connection, batch, leaf_index)
        hashes = token_hashes(tip.algorithm, tokens)
        tree = reduced_hashtree(hashes[0], path) if len(hashes) == 1 else reduced_hashtree_for_group(hashes, path)
        appended.append(encode_archive_time_stamp(ArchiveTimeStampParts(tip.algorithm, tree, batch.token)))
        tokens.append(batch.token)
    record = EvidenceRecord.load(der, strict=True)
    chains = record["archive_time_stamp_sequence"]
    last = der_sequence(b"".join(ats.dump() for ats in chains[-1]) + b"".join(appended))
    sequence = der_sequence(b"".join(chain.dump() for chain in list(chains)[:-1]) + last)
    head = b"".join(record[name].dump() for name in ("version", "digest_algorithms", "crypto_infos",
                                                     "encryption_info") if record[name].native is not None)
    return der_sequence(head + sequence), len(appended)
