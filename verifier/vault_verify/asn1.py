"""RFC 4998 §3 (Evidence Record Syntax) ASN.1 types on asn1crypto.

    EvidenceRecord ::= SEQUENCE {
        version                   INTEGER { v1(1) } ,
        digestAlgorithms          SEQUENCE OF AlgorithmIdentifier,
        cryptoInfos               [0] CryptoInfos OPTIONAL,
        encryptionInfo            [1] EncryptionInfo OPTIONAL,
        archiveTimeStampSequence  ArchiveTimeStampSequence }

    ArchiveTimeStamp ::= SEQUENCE {
        digestAlgorithm [0] AlgorithmIdentifier OPTIONAL,
        attributes      [1] Attributes OPTIONAL,
        reducedHashtree [2] SEQUENCE OF PartialHashtree OPTIONAL,
        timeStamp       ContentInfo }

    PartialHashtree ::= SEQUENCE OF OCTET STRING
    ArchiveTimeStampChain ::= SEQUENCE OF ArchiveTimeStamp
    ArchiveTimeStampSequence ::= SEQUENCE OF ArchiveTimeStampChain

The module is definitions only, plus the digest algorithms an evidence record may name.
"""

from __future__ import annotations

import hashlib
from typing import Callable

from asn1crypto import algos, cms, core


class PartialHashtree(core.SequenceOf):
    _child_spec = core.OctetString


class ReducedHashtree(core.SequenceOf):
    _child_spec = PartialHashtree


class CryptoInfos(core.SequenceOf):
    _child_spec = cms.CMSAttribute


class EncryptionInfo(core.Sequence):
    _fields = [
        ("encryption_info_type", core.ObjectIdentifier),
        ("encryption_info_value", core.Any),
    ]


class ArchiveTimeStamp(core.Sequence):
    _fields = [
        ("digest_algorithm", algos.DigestAlgorithm, {"implicit": 0, "optional": True}),
        ("attributes", cms.CMSAttributes, {"implicit": 1, "optional": True}),
        ("reduced_hashtree", ReducedHashtree, {"implicit": 2, "optional": True}),
        ("time_stamp", cms.ContentInfo),
    ]


class ArchiveTimeStampChain(core.SequenceOf):
    _child_spec = ArchiveTimeStamp


class ArchiveTimeStampSequence(core.SequenceOf):
    _child_spec = ArchiveTimeStampChain


class DigestAlgorithms(core.SequenceOf):
    _child_spec = algos.DigestAlgorithm


class EvidenceRecord(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("digest_algorithms", DigestAlgorithms),
        ("crypto_infos", CryptoInfos, {"implicit": 0, "optional": True}),
        ("encryption_info", EncryptionInfo, {"implicit": 1, "optional": True}),
        ("archive_time_stamp_sequence", ArchiveTimeStampSequence),
    ]


# Digest algorithms an evidence record may use, by asn1crypto name (FIPS 180-4, FIPS 202).
HASHES: dict[str, Callable[[], "hashlib._Hash"]] = {
    "sha224": hashlib.sha224,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
    "sha3_256": hashlib.sha3_256,
    "sha3_384": hashlib.sha3_384,
    "sha3_512": hashlib.sha3_512,
    "sha1": hashlib.sha1,
}

# Names used in settings and the API ("sha3-512") mapped to asn1crypto names ("sha3_512").
def algorithm_name(name: str) -> str:
    """Normalise a user-facing algorithm name (``sha3-512``, ``SHA512``) to the asn1crypto one."""
    normal = name.strip().lower().replace("-", "_")
    if normal.startswith("sha_"):
        normal = "sha" + normal[4:]
    if normal not in HASHES or normal in ("sha1", "sha224"):
        raise ValueError(f"unsupported hash algorithm {name!r}; use one of sha256, sha384, sha512, sha3-256, sha3-384, sha3-512")
    return normal


def digest_algorithm(name: str) -> algos.DigestAlgorithm:
    """An AlgorithmIdentifier with absent parameters, the form RFC 5754 §2 recommends for SHA-2."""
    return algos.DigestAlgorithm({"algorithm": name})


def digest_function(name: str) -> Callable[[bytes], bytes]:
    """The digest function of an algorithm by asn1crypto name (``sha256``, ``sha3_512`` …)."""
    constructor = HASHES[name]
    return lambda data: constructor(data).digest()
