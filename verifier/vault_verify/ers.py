"""RFC 4998 §5.3: verify an evidence record against the data it covers, offline.

Every archive timestamp chain is checked, not only the last (Bouncy Castle checks only the last one):

* chain 0, first ATS: the data hash is in the first partial hash tree (or, for a data group, equals it), and the
  reduced hash tree leads to the token's message imprint;
* each later ATS of a chain (timestamp renewal, §5.2): the hash of the previous ATS's ``timeStamp`` is covered;
* chain j > 0 (hash-tree renewal, §5.2): the first ATS covers H(H(d) ‖ H(ArchiveTimeStampSequence of chains
  0…j-1)) with chain j's algorithm;
* every token verifies (:func:`vault_verify.tokens.verify_token`), chains to the given roots at its
  genTime, and was made while the previous token's certificate was still valid.

The result is a :class:`Verdict` listing each step with its outcome; the first failing step names the cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Sequence

from asn1crypto import core
from cryptography import x509

from vault_verify.asn1 import HASHES, digest_function, ArchiveTimeStamp, EvidenceRecord
from vault_verify.der import der_framing_error, der_sequence
from vault_verify.hashtree import node_hash, recover_root
from vault_verify.tokens import (DEVELOPMENT_LABEL, DEVELOPMENT_POLICY, TokenError, hash_parameters_ok,
                                  parse_token, verify_token)


@dataclass
class DataObject:
    """A covered data object: its bytes (read on demand, once per algorithm) or known digests by algorithm."""

    digests: dict[str, bytes] = field(default_factory=dict)
    path: str | None = None
    label: str = "data"

    def digest(self, algorithm: str) -> bytes | None:
        if algorithm not in self.digests and self.path is not None:
            h = HASHES[algorithm]()
            with open(self.path, "rb") as f:
                _feed(h, f)
            self.digests[algorithm] = h.digest()
        return self.digests.get(algorithm)

    @classmethod
    def from_hashes(cls, hex_values: Sequence[str], label: str = "hash") -> "DataObject":
        """Digests given as hex; the algorithm is read off the length (SHA-256, SHA-384 or SHA-512)."""
        by_len = {32: "sha256", 48: "sha384", 64: "sha512"}
        digests = {}
        for value in hex_values:
            raw = bytes.fromhex(value)
            if len(raw) not in by_len:
                raise ValueError(f"{value[:16]}…: not a SHA-256/384/512 digest")
            digests[by_len[len(raw)]] = raw
        return cls(digests=digests, label=label)


def _feed(h, f: BinaryIO) -> None:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)


@dataclass(frozen=True)
class Step:
    """One named check: ``name`` says what was checked (and where), ``detail`` what differs when it failed."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class Verdict:
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gen_times: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def first_failure(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.steps.append(Step(name, ok, detail))
        return ok


def verify_evidence_record(
    er_der: bytes,
    data: Sequence[DataObject] = (),
    *,
    roots: Sequence[x509.Certificate] | None = None,
    group: bool = False,
    structure_only: bool = False,
) -> Verdict:
    """Verify ``er_der`` (RFC 4998 §5.3). ``data`` are the covered objects (each must be proven, or all
    together as one data group when ``group``); ``structure_only`` checks only the internal links and tokens.
    """
    verdict = Verdict()
    try:
        record = EvidenceRecord.load(er_der, strict=True)
        version = record["version"].native
        declared = {a["algorithm"].native for a in record["digest_algorithms"]}
        chains = record["archive_time_stamp_sequence"]
        for chain in chains:
            for ats in chain:
                ats["reduced_hashtree"].native
                ats["digest_algorithm"].native
                ats["attributes"].native
                ats["time_stamp"]["content_type"].native
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        verdict.add("parse evidence record", False, f"not a DER EvidenceRecord: {exc}")
        return verdict
    if version != 1:
        verdict.add("evidence record version", False, f"version {version}, must be 1")
        return verdict
    if not all(hash_parameters_ok(a) for a in record["digest_algorithms"]):
        verdict.add("evidence record digestAlgorithms", False,
                    "a digest algorithm has parameters other than absent or NULL (RFC 5754 §2, RFC 8702 §2)")
        return verdict
    if len(chains) == 0 or any(len(chain) == 0 for chain in chains):
        verdict.add("evidence record structure", False, "empty ArchiveTimeStampSequence or chain")
        return verdict
    if not structure_only and not data:
        verdict.add("data", False, "no data given to verify against (give data, hashes, or ask for structure only)")
        return verdict
    previous_gen = None
    previous_expiry = None
    for j, chain in enumerate(chains):
        chain_alg = _chain_algorithm(chain)
        prefix = f"chain {j + 1} ({chain_alg})"
        if chain_alg not in declared:
            verdict.add(f"{prefix} listed in digestAlgorithms", False,
                        "the record's digestAlgorithms does not list this chain's algorithm (RFC 4998 §3)")
        if chain_alg not in HASHES:
            verdict.add(prefix, False, f"unsupported digest algorithm {chain_alg}")
            continue
        hash_fn = digest_function(chain_alg)
        previous_ts = []
        for i, ats in enumerate(chain):
            name = f"{prefix} ATS {i + 1}"
            previous = previous_ts[-1] if previous_ts else None
            previous_ts.append(ats["time_stamp"])  # hashed as bytes by the next ATS, even if it fails to parse
            own_alg = _ats_algorithm(ats)
            if own_alg != chain_alg:
                verdict.add(name, False, f"digest algorithm {own_alg} differs from the chain's {chain_alg}")
                continue
            try:
                token = parse_token(ats["time_stamp"].dump())
            except (TokenError, ValueError) as exc:
                verdict.add(f"{name} token", False, str(exc))
                continue
            tree = ats["reduced_hashtree"].native or []
            imprint = token.imprint
            if i == 0 and not structure_only:
                leaves = _data_leaves(verdict, name, data, hash_fn, chain_alg, j, chains)
                if leaves is not None:
                    _check_covered(verdict, name, leaves, tree, group, hash_fn, imprint)
            elif i > 0:
                candidates = _ts_hashes(hash_fn, previous)
                first = tree[0] if tree else [imprint]
                ok = any(c in first for c in candidates)
                verdict.add(f"{name} covers the previous timestamp", ok, "" if ok else
                            "the renewal's first partial hash tree does not contain H(previous timeStamp)")
            if tree:
                root = _root(hash_fn, tree)
                literal = len(tree) == 1 and len(tree[0]) == 1 and hash_fn(tree[0][0]) == imprint
                if root != imprint and literal:
                    verdict.notes.append(f"{name}: one-value tree hashed once more (RFC 4998 §4.3 literal reading)")
                ok = root == imprint or literal
                verdict.add(f"{name} reduced hash tree leads to the token imprint", ok,
                            "" if ok else "root of the reduced hash tree ≠ the token's message imprint")
            token_verdict = verify_token(token, roots, allow_sha1_signature=True)
            verdict.notes.extend(f"{name}: {n}" for n in token_verdict.notes)
            if token.policy == DEVELOPMENT_POLICY:
                verdict.notes.append(f"{name}: token from a {DEVELOPMENT_LABEL} TSA")
            verdict.add(f"{name} token", token_verdict.ok, "; ".join(token_verdict.failures))
            verdict.gen_times.append(token.gen_time)
            if previous_gen is not None and token.gen_time < previous_gen:
                verdict.add(f"{name} time order", False, "genTime is earlier than the previous timestamp's")
            if previous_expiry is not None and token.gen_time > previous_expiry:
                verdict.notes.append(f"{name}: made after the previous TSA certificate had expired; §5.2 asks "
                                     "for renewal before expiry")
            signer = token.signer_certificate()
            previous_gen = token.gen_time
            previous_expiry = signer.not_valid_after_utc if signer is not None else None
    return verdict


def _chain_algorithm(chain) -> str:
    return _ats_algorithm(chain[0])


def _ats_algorithm(ats: ArchiveTimeStamp) -> str:
    if ats["digest_algorithm"].native:
        return ats["digest_algorithm"]["algorithm"].native
    # Absent digestAlgorithm: the token's imprint algorithm is the one used (RFC 4998 §4.1).
    try:
        return ats["time_stamp"]["content"]["encap_content_info"]["content"].parsed["message_imprint"][
            "hash_algorithm"]["algorithm"].native
    except (ValueError, TypeError, KeyError, AttributeError):
        return "unreadable"


def _ts_hashes(hash_fn, time_stamp: core.Asn1Value) -> list[bytes]:
    """H(timeStamp) over the bytes as stored and over their DER re-encoding (they differ only for BER input)."""
    original = time_stamp.dump()
    values = [hash_fn(original)]
    if der_framing_error(original) is not None:
        try:
            values.append(hash_fn(time_stamp.copy().dump(force=True)))
        except (ValueError, TypeError, KeyError, AttributeError):  # not re-encodable: only the stored bytes count
            pass
    return values


def _root(hash_fn, tree):
    try:
        return recover_root(hash_fn, tree)
    except ValueError:
        return None


def _data_leaves(verdict, name, data, hash_fn, alg, j, chains) -> list[bytes] | None:
    """The value each data object contributes to chain j's first tree: H(d), or H(H(d) ‖ H(ATSSeq)) for j > 0."""
    leaves = []
    if j > 0:
        previous = der_sequence(b"".join(chains[k].dump() for k in range(j)))
        sequence_hash = hash_fn(previous)
    for obj in data:
        digest = obj.digest(alg)
        if digest is None:
            verdict.add(f"{name} data hash", False, f"no {alg} digest of {obj.label} available")
            return None
        leaves.append(digest if j == 0 else hash_fn(digest + sequence_hash))
    return leaves


def _check_covered(verdict, name, leaves, tree, group, hash_fn, imprint) -> None:
    if not tree:
        value = leaves[0] if len(leaves) == 1 else node_hash(hash_fn, leaves)
        verdict.add(f"{name} covers the data", value == imprint,
                    "" if value == imprint else "data hash ≠ the token's message imprint (no reduced hash tree)")
        return
    first = tree[0]
    if group and len(leaves) > 1:
        ok = sorted(first) == sorted(leaves) or node_hash(hash_fn, leaves) in first
        verdict.add(f"{name} covers the data group", ok,
                    "" if ok else "the data group's hashes are not the first partial hash tree")
        return
    for leaf in leaves:
        ok = leaf in first or (len(first) > 1 and node_hash(hash_fn, first) == leaf)
        verdict.add(f"{name} covers the data", ok,
                    "" if ok else "data hash is not in the first partial hash tree")


def extension_problem(earlier: bytes, later: bytes) -> str | None:
    """Why ``later`` is not ``earlier`` continued (RFC 4998 §5.2): the same chains, byte for byte, with
    ArchiveTimeStamps appended to the last one (timestamp renewals) and chains after it (hash-tree renewals), at
    least one of them; None when it is."""
    try:
        old = EvidenceRecord.load(earlier, strict=True)["archive_time_stamp_sequence"]
        new = EvidenceRecord.load(later, strict=True)["archive_time_stamp_sequence"]
        old_chains, new_chains = [list(c) for c in old], [list(c) for c in new]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return f"not a DER EvidenceRecord: {exc}"
    last = len(old_chains) - 1
    if last < 0 or len(new_chains) < len(old_chains):
        return f"{len(new_chains)} chain(s), the earlier record has {len(old_chains)}"
    if [c.dump() for c in new][:last] != [c.dump() for c in old][:last]:
        return "an earlier chain differs"
    kept, added = new_chains[last][:len(old_chains[last])], new_chains[last][len(old_chains[last]):]
    if [a.dump() for a in kept] != [a.dump() for a in old_chains[last]]:
        return "the last chain's earlier timestamps differ"
    if not added and len(new_chains) == len(old_chains):
        return "no timestamp appended"
    return None
