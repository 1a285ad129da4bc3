"""Encode RFC 4998 evidence records (§3) straight to DER from their parts.

Building the bytes directly (not through asn1crypto objects) keeps one object's ER extraction well under a
millisecond of CPU and makes the encoding obviously canonical: every length is definite and minimal, the
``digestAlgorithm`` of every ATS is written, byte-identical within a chain: NULL parameters for SHA-2 (as in
the tokens' message imprints that OpenSSL and our TSA request write), absent for SHA-3 (RFC 8702 §2).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from asn1crypto import algos

from vault_verify.der import der_length, der_sequence


@dataclass(frozen=True)
class ArchiveTimeStampParts:
    """One ATS: the digest algorithm of its chain, its reduced hash tree (may be empty), and its token (DER)."""

    algorithm: str
    tree: Sequence[Sequence[bytes]]
    token: bytes


@lru_cache(maxsize=None)
def algorithm_identifier(name: str) -> bytes:
    """DER AlgorithmIdentifier of a digest algorithm, as asn1crypto writes it (the form used in our requests)."""
    return algos.DigestAlgorithm({"algorithm": name}).dump()


def _tlv(tag: int, contents: bytes) -> bytes:
    return bytes([tag]) + der_length(len(contents)) + contents


def encode_reduced_hashtree(tree: Sequence[Sequence[bytes]]) -> bytes:
    """Contents of ``reducedHashtree``: SEQUENCE OF PartialHashtree, each a SEQUENCE OF OCTET STRING."""
    return b"".join(der_sequence(b"".join(_tlv(0x04, value) for value in partial)) for partial in tree)


def encode_archive_time_stamp(parts: ArchiveTimeStampParts) -> bytes:
    """ArchiveTimeStamp (§4.1) with ``[0] digestAlgorithm`` and, when non-empty, ``[2] reducedHashtree``."""
    algorithm = algorithm_identifier(parts.algorithm)
    body = _tlv(0xA0, _contents(algorithm))
    if parts.tree:
        body += _tlv(0xA2, encode_reduced_hashtree(parts.tree))
    return der_sequence(body + parts.token)


def _contents(tlv: bytes) -> bytes:
    first = tlv[1]
    return tlv[2 + (first & 0x7F):] if first & 0x80 else tlv[2:]


def encode_chain(archive_time_stamps: Sequence[bytes]) -> bytes:
    """ArchiveTimeStampChain (§5): SEQUENCE OF ArchiveTimeStamp, oldest first."""
    return der_sequence(b"".join(archive_time_stamps))


def encode_sequence(chains: Sequence[bytes]) -> bytes:
    """ArchiveTimeStampSequence (§5): SEQUENCE OF ArchiveTimeStampChain, oldest first."""
    return der_sequence(b"".join(chains))


def encode_evidence_record(algorithms: Sequence[str], sequence: bytes) -> bytes:
    """EvidenceRecord (§3) version 1, listing every digest algorithm its chains use, in order of first use."""
    names = list(dict.fromkeys(algorithms))
    digest_algorithms = der_sequence(b"".join(algorithm_identifier(n) for n in names))
    return der_sequence(b"\x02\x01\x01" + digest_algorithms + sequence)
