"""RFC 4998 §5.3: verify an evidence record against the data it covers, offline.

Every archive timestamp chain is checked, not only the last (Bouncy Castle checks only the last one):

* chain 0, first ATS: the data hash is in the first partial hash tree (or, for a data group, equals it), and the
  reduced hash tree leads to the token's message imprint;
* each later ATS of a chain (timestamp renewal, §5.2): the hash of the previous ATS's ``timeStamp`` is covered;
* chain j > 0 (hash-tree renewal, §5.2): the first ATS covers H(H(d) ‖ H(ArchiveTimeStampSequence of chains
  0…j-1)) with chain j's algorithm;
* every token verifies (:func:`vault_verify.tokens.verify_token`), chains to the given roots at its
  genTime, and was made while the previous token's certificate was still valid.

The result is an :class:`EvidenceReport` (the one :class:`~vault_verify.report.Report` shape) listing each step
with its outcome; the first failing step names the cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Sequence

from asn1crypto import core
from cryptography import x509

from vault_verify.asn1 import HASHES, digest_function, ArchiveTimeStamp, EvidenceRecord
from vault_verify.der import der_framing_error, der_sequence
from vault_verify.hashtree import node_hash, recover_root
from vault_verify.report import INFO, WARNING, Derived, Report
from vault_verify.tokens import TokenError, hash_parameters_ok, parse_token, policy_note, verify_token


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


@dataclass
class EvidenceReport(Report):
    """The checks of one evidence record (:class:`~vault_verify.report.Report`), with the genTime of every token
    checked. A note (a warning) is named after the ATS it concerns."""

    gen_times: list = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """Each note as ``ATS: detail``."""
        return Derived(check.line() for check in self.checks if check.status in (WARNING, INFO))

    def facts(self) -> dict:
        return {"gen_times": [t.isoformat() for t in self.gen_times]}


@dataclass
class _Timeline:
    """The previous token's genTime and its signer's expiry, carried from one ATS to the next across chains."""

    gen_time: object = None
    expiry: object = None


def verify_evidence_record(
    er_der: bytes,
    data: Sequence[DataObject] = (),
    *,
    roots: Sequence[x509.Certificate] | None = None,
    group: bool = False,
    structure_only: bool = False,
) -> EvidenceReport:
    """Verify ``er_der`` (RFC 4998 §5.3). ``data`` are the covered objects (each must be proven, or all
    together as one data group when ``group``); ``structure_only`` checks only the internal links and tokens.
    """
    report = EvidenceReport()
    record = _parse_record(report, er_der)
    if record is None:
        return report
    if not structure_only and not data:
        report.add("data", False, "no data given to verify against (give data, hashes, or ask for structure only)")
        return report
    chains = record["archive_time_stamp_sequence"]
    declared = {a["algorithm"].native for a in record["digest_algorithms"]}
    timeline = _Timeline()
    for j, chain in enumerate(chains):
        _check_chain(report, chains, j, declared, None if structure_only else data, group, roots, timeline)
    return report


def _parse_record(report: EvidenceReport, er_der: bytes) -> EvidenceRecord | None:
    """The record when it is a DER ``EvidenceRecord`` of version 1 with well-formed digestAlgorithms and no
    empty chain (RFC 4998 §3), else None with the failing check added."""
    try:
        record = EvidenceRecord.load(er_der, strict=True)
        version = record["version"].native
        [a["algorithm"].native for a in record["digest_algorithms"]]
        chains = record["archive_time_stamp_sequence"]
        for chain in chains:
            for ats in chain:
                ats["reduced_hashtree"].native
                ats["digest_algorithm"].native
                ats["attributes"].native
                ats["time_stamp"]["content_type"].native
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        report.add("parse evidence record", False, f"not a DER EvidenceRecord: {exc}")
        return None
    if version != 1:
        report.add("evidence record version", False, f"version {version}, must be 1")
        return None
    if not all(hash_parameters_ok(a) for a in record["digest_algorithms"]):
        report.add("evidence record digestAlgorithms", False,
                   "a digest algorithm has parameters other than absent or NULL (RFC 5754 §2, RFC 8702 §2)")
        return None
    if len(chains) == 0 or any(len(chain) == 0 for chain in chains):
        report.add("evidence record structure", False, "empty ArchiveTimeStampSequence or chain")
        return None
    return record


def _check_chain(report, chains, j, declared, data, group, roots, timeline: _Timeline) -> None:
    """One ArchiveTimeStampChain (RFC 4998 §5.3): one digest algorithm, listed in the record's digestAlgorithms
    (§3), for every ATS of the chain; then each ATS in order. ``data`` is None for a structure-only check."""
    chain = chains[j]
    chain_alg = _chain_algorithm(chain)
    prefix = f"chain {j + 1} ({chain_alg})"
    if chain_alg not in declared:
        report.add(f"{prefix} listed in digestAlgorithms", False,
                   "the record's digestAlgorithms does not list this chain's algorithm (RFC 4998 §3)")
    if chain_alg not in HASHES:
        report.add(prefix, False, f"unsupported digest algorithm {chain_alg}")
        return
    hash_fn = digest_function(chain_alg)
    for i, ats in enumerate(chain):
        name = f"{prefix} ATS {i + 1}"
        own_alg = _ats_algorithm(ats)
        if own_alg != chain_alg:
            report.add(name, False, f"digest algorithm {own_alg} differs from the chain's {chain_alg}")
            continue
        try:
            token = parse_token(ats["time_stamp"].dump())
        except (TokenError, ValueError) as exc:
            report.add(f"{name} token", False, str(exc))
            continue
        tree = ats["reduced_hashtree"].native or []
        if i == 0 and data is not None:
            leaves = _data_leaves(report, name, data, hash_fn, chain_alg, j, chains)
            if leaves is not None:
                _check_covered(report, name, leaves, tree, group, hash_fn, token.imprint)
        elif i > 0:
            # the previous ATS's timeStamp is hashed as stored, even if it failed to parse
            _check_covers_previous(report, name, tree, hash_fn, chain[i - 1]["time_stamp"], token.imprint)
        if tree:
            _check_tree_root(report, name, tree, hash_fn, token.imprint)
        _check_token(report, name, token, roots)
        _check_time_order(report, name, token, timeline)


def _check_covers_previous(report, name, tree, hash_fn, previous: core.Asn1Value, imprint: bytes) -> None:
    """Timestamp renewal (RFC 4998 §5.2, verified per §5.3): the first hash list of a later ATS of a chain
    holds H(timeStamp) of the ATS before it (the imprint itself when the tree is absent)."""
    first = tree[0] if tree else [imprint]
    ok = any(c in first for c in _ts_hashes(hash_fn, previous))
    report.add(f"{name} covers the previous timestamp", ok, "" if ok else
               "the renewal's first partial hash tree does not contain H(previous timeStamp)")


def _check_tree_root(report, name, tree, hash_fn, imprint: bytes) -> None:
    """The reduced hash tree leads to the token's message imprint (RFC 4998 §4.3 verification)."""
    root = _root(hash_fn, tree)
    literal = len(tree) == 1 and len(tree[0]) == 1 and hash_fn(tree[0][0]) == imprint
    if root != imprint and literal:
        report.note("one-value tree hashed once more (RFC 4998 §4.3 literal reading)", name)
    ok = root == imprint or literal
    report.add(f"{name} reduced hash tree leads to the token imprint", ok,
               "" if ok else "root of the reduced hash tree ≠ the token's message imprint")


_VERDICTS: dict[tuple, object] = {}  # (token DER, roots) → TokenReport; bounded by _VERDICTS_MAX
_VERDICTS_MAX = 1024


def _token_verdict(token, roots):
    """:func:`verify_token` once per distinct (token, roots): every object of one seal batch carries the same
    token, so a package of N objects sealed together checks its signature and certificate path once, not N times.
    The verdict depends on nothing else (certificates are judged at the token's own genTime, not now)."""
    key = (token.der, None if roots is None else tuple(roots))
    verdict = _VERDICTS.get(key)
    if verdict is None:
        verdict = verify_token(token, roots, allow_sha1_signature=True)
        if len(_VERDICTS) >= _VERDICTS_MAX:
            _VERDICTS.clear()
        _VERDICTS[key] = verdict
    return verdict


def _check_token(report, name, token, roots) -> None:
    """The ATS's timestamp token is valid (RFC 3161 §2.4.2) and chains to ``roots`` at its genTime (RFC 4998
    §5.3: each ATS valid at its own time); SHA-1 signatures are accepted for old tokens, with a note."""
    token_report = _token_verdict(token, roots)
    for note in token_report.notes:
        report.note(note, name)
    if policy_note(token.policy):
        report.note(f"token from {policy_note(token.policy)}", name)
    report.add(f"{name} token", token_report.ok, "; ".join(token_report.failure_details))
    report.gen_times.append(token.gen_time)


def _check_time_order(report, name, token, timeline: _Timeline) -> None:
    """ATSs follow each other in time, and each was made before the previous TSA certificate expired (RFC 4998
    §5.2: renew before the previous timestamp loses its validity); the latter only noted."""
    if timeline.gen_time is not None and token.gen_time < timeline.gen_time:
        report.add(f"{name} time order", False, "genTime is earlier than the previous timestamp's")
    if timeline.expiry is not None and token.gen_time > timeline.expiry:
        report.note("made after the previous TSA certificate had expired; §5.2 asks for renewal before expiry", name)
    signer = token.signer_certificate()
    timeline.gen_time = token.gen_time
    timeline.expiry = signer.not_valid_after_utc if signer is not None else None


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


def _data_leaves(report, name, data, hash_fn, alg, j, chains) -> list[bytes] | None:
    """The value each data object contributes to chain j's first tree (RFC 4998 §5.3): H(d) for the first chain,
    H(H(d) ‖ H(ArchiveTimeStampSequence of the chains before)) for a hash-tree renewal's chain (§5.2)."""
    leaves = []
    if j > 0:
        previous = der_sequence(b"".join(chains[k].dump() for k in range(j)))
        sequence_hash = hash_fn(previous)
    for obj in data:
        digest = obj.digest(alg)
        if digest is None:
            report.add(f"{name} data hash", False, f"no {alg} digest of {obj.label} available")
            return None
        leaves.append(digest if j == 0 else hash_fn(digest + sequence_hash))
    return leaves


def _check_covered(report, name, leaves, tree, group, hash_fn, imprint) -> None:
    """The first ATS of a chain covers the data (RFC 4998 §5.3): each object's value is in the first hash list
    of the reduced hash tree, or the data group's values are that list (§4.2); without a tree, the value (or the
    group's node hash) is the token's message imprint."""
    if not tree:
        value = leaves[0] if len(leaves) == 1 else node_hash(hash_fn, leaves)
        report.add(f"{name} covers the data", value == imprint,
                   "" if value == imprint else "data hash ≠ the token's message imprint (no reduced hash tree)")
        return
    first = tree[0]
    if group and len(leaves) > 1:
        ok = sorted(first) == sorted(leaves) or node_hash(hash_fn, leaves) in first
        report.add(f"{name} covers the data group", ok,
                   "" if ok else "the data group's hashes are not the first partial hash tree")
        return
    for leaf in leaves:
        ok = leaf in first or (len(first) > 1 and node_hash(hash_fn, first) == leaf)
        report.add(f"{name} covers the data", ok,
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
