"""The journal lines of a probative-value report: an object's access history, each entry proven in the log.

From the entries that name the object (the journal's object index, :mod:`vault.journal.object_index`), their
excerpt with inclusion proofs against the newest signed checkpoint (:mod:`vault.journal.excerpt`), the stored
log's hashes and the TSA anchors, re-checked now:

* ``journal.checkpoint`` — the newest checkpoint's signed note opens with the journal's key, and the root the
  stored log recomputes at that size equals the signed root; when the journal key changed (``identity_keys_accepted``
  entries, :mod:`vault_verify.journalkeys`, docs/journal.md "Key changes") each change is proven in that tree, and
  every older checkpoint and anchor below is opened with the key valid at its size;
* ``journal.entries`` — every entry naming the object: its canonical bytes carry its own index and the object's
  id, and its RFC 6962 inclusion proof leads from its leaf hash to the *signed* root; plus the first anchor whose
  checkpoint covers it, with the entry's inclusion proof against that anchored (timestamped) root;
* ``journal.anchors`` — the anchor chain: each note signed, each token valid against the TSA roots at its genTime
  and covering note ‖ previous token, each anchored root equal to the log's root at that size; and the
  consistency proof from the newest anchored tree to the checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Sequence

from cryptography import x509

from vault.clock import iso_z
from vault_verify.anchors import Anchor, verify_anchors
from vault.journal.excerpt import JournalExcerpt
from vault.journal.merkle import (
    ProofError, inclusion_proof, leaf_hash, tree_hash, verify_consistency, verify_inclusion,
)
from vault.journal.note import Checkpoint, NoteError, Verifier, open_checkpoint
from vault_verify.journalkeys import KeySequence, handover_of, signed_by
from vault.reports.checks import FAIL, INFO, PASS, WARNING, check, item

AUDIT_ACTIONS = ("fixity_audit", "copy_repaired")


@dataclass
class JournalEvidence:
    """What the report reads from the journal, at one moment."""

    object_id: str
    log_size: int
    entries: list[tuple[int, bytes]]  # (seq, canonical entry) naming the object, oldest first
    excerpt: JournalExcerpt | None  # their proofs against the newest checkpoint (None: no checkpoint yet)
    anchors: list[Anchor]
    hash_at: Callable[[int, int], bytes]
    truncated: bool = False
    key_changes: list[tuple[int, bytes]] = field(default_factory=list)  # (seq, entry) of identity_keys_accepted


def _included(seq: int, entry: bytes, proof: list[bytes], checkpoint: Checkpoint) -> str | None:
    """None when the proof puts entry ``seq`` in the tree ``checkpoint`` signs, else why not."""
    try:
        verify_inclusion(seq, checkpoint.size, leaf_hash(entry), proof, checkpoint.root)
    except (ProofError, ValueError) as exc:
        return str(exc)
    return None


def _document(seq: int, entry: bytes, object_id: str) -> tuple[dict, str | None]:
    try:
        document = json.loads(entry)
    except ValueError:
        return {}, "the entry is not JSON"
    if document.get("seq") != seq:
        return document, f"the entry says index {document.get('seq')}"
    if object_id not in (document.get("objects") or []):
        return document, "the entry does not name the object (the object index is wrong)"
    return document, None


def journal_keys(evidence: JournalEvidence, verifier: Verifier) -> tuple[Verifier | KeySequence, str | None]:
    """The journal's keys in sequence (:meth:`vault_verify.journalkeys.KeySequence.of`), trusted through
    ``verifier``, the newest; ``verifier`` alone and why when the recorded key changes do not chain to it."""
    try:
        handovers = [handover_of(json.loads(entry)) for _seq, entry in evidence.key_changes]
        return KeySequence.of(verifier, [h for h in handovers if h is not None]), None
    except (NoteError, ValueError) as exc:
        return verifier, f"the journal's key changes do not lead to its key {verifier.vkey()}: {exc}"


def _key_changes_proven(evidence: JournalEvidence, checkpoint: Checkpoint) -> str | None:
    """None when every key change entry is in the tree ``checkpoint`` signs (the newest key vouches for the older
    ones only through it), else why not."""
    for seq, entry in evidence.key_changes:
        try:
            why = _included(seq, entry, inclusion_proof(seq, checkpoint.size, evidence.hash_at), checkpoint)
        except Exception as exc:  # past the checkpoint, or a stored hash missing
            why = f"no proof ({exc})"
        if why:
            return f"the journal key change recorded by entry {seq} is not proven in the signed tree: {why}"
    return None


def checkpoint_check(evidence: JournalEvidence, verifier, key_problem: str | None = None
                     ) -> tuple[dict, Checkpoint | None]:
    """``verifier``: the journal's key or its :class:`KeySequence` (:func:`journal_keys`)."""
    title = "Newest signed checkpoint of the journal"
    if evidence.excerpt is None:
        return check("journal.checkpoint", "journal", title, WARNING, "the journal has no signed checkpoint yet"), None
    if key_problem:
        return check("journal.checkpoint", "journal", title, FAIL, key_problem), None
    try:
        checkpoint = open_checkpoint(evidence.excerpt.checkpoint, verifier)
    except NoteError as exc:
        return check("journal.checkpoint", "journal", title, FAIL,
                     f"the checkpoint does not open with the journal's key {verifier.name}: {exc}"), None
    signer = signed_by(evidence.excerpt.checkpoint, verifier)[0]
    data = {"size": checkpoint.size, "origin": checkpoint.origin, "log_size": evidence.log_size,
            "note": evidence.excerpt.checkpoint.decode(), "key": signer.vkey()}
    handovers = getattr(verifier, "handovers", ())
    if handovers:
        data["key_changes"] = [{"seq": h.seq, "old": h.old.vkey(), "new": h.new.vkey()} for h in handovers]
    if checkpoint.size > evidence.log_size:
        return check("journal.checkpoint", "journal", title, FAIL,
                     f"the checkpoint signs {checkpoint.size} entries but the log holds {evidence.log_size}",
                     data=data), None
    try:
        recomputed = tree_hash(checkpoint.size, evidence.hash_at)
    except Exception as exc:  # a stored hash missing is a broken log, reported as such
        recomputed = f"unavailable ({exc.__class__.__name__})"
    if recomputed != checkpoint.root:
        return check("journal.checkpoint", "journal", title, FAIL,
                     f"the stored log's root at size {checkpoint.size} differs from the signed root", data=data), None
    unproven = _key_changes_proven(evidence, checkpoint)
    if unproven:
        return check("journal.checkpoint", "journal", title, FAIL, unproven, data=data), None
    changed = (f"; the journal key changed at entr{'ies' if len(handovers) > 1 else 'y'} "
               f"{', '.join(str(h.seq) for h in handovers)} (proven in this tree): older checkpoints and anchors "
               "open with the key of their size" if handovers else "")
    return check("journal.checkpoint", "journal", title, PASS,
                 f"signed by {signer.name} (key hash {signer.key_hash.hex()}); the stored log's root at size "
                 f"{checkpoint.size} equals the signed root" + changed, data=data), checkpoint


def _anchored(evidence: JournalEvidence, verifier: Verifier) -> list[tuple[Anchor, Checkpoint]]:
    opened = []
    for anchor in evidence.anchors:
        try:
            opened.append((anchor, open_checkpoint(anchor.note, verifier)))
        except NoteError:
            continue  # reported by journal.anchors
    return opened


def entries_check(evidence: JournalEvidence, verifier: Verifier, checkpoint: Checkpoint | None) -> dict:
    anchored = _anchored(evidence, verifier)
    proofs = evidence.excerpt.proofs if evidence.excerpt else {}
    items, results = [], []
    for seq, entry in evidence.entries:
        document, problem = _document(seq, entry, evidence.object_id)
        problems, notes = ([problem] if problem else []), []
        if checkpoint is None or seq >= checkpoint.size:
            notes.append("after the newest checkpoint: covered by the next one")
            result = WARNING if checkpoint is None else INFO
        else:
            why = _included(seq, entry, proofs.get(seq, []), checkpoint)
            if why:
                problems.append(f"inclusion proof against checkpoint {checkpoint.size} fails: {why}")
            else:
                notes.append(f"included in checkpoint {checkpoint.size}")
            result = PASS
        anchor_view = None
        covering = next(((a, c) for a, c in anchored if c.size > seq), None)
        if covering:
            anchor, anchored_checkpoint = covering
            try:
                proof = inclusion_proof(seq, anchored_checkpoint.size, evidence.hash_at)
            except Exception:  # a stored hash missing: the empty proof fails below, naming the anchor
                proof = []
            why = _included(seq, entry, proof, anchored_checkpoint)
            anchor_view = {"seq": anchor.seq, "checkpoint_size": anchored_checkpoint.size,
                           "gen_time": iso_z(anchor.gen_time), "tsa": anchor.tsa_url, "included": why is None}
            if why:
                problems.append(f"inclusion proof against anchor {anchor.seq} fails: {why}")
            else:
                notes.append(f"anchored by anchor {anchor.seq} (TSA genTime {iso_z(anchor.gen_time)})")
        else:
            notes.append("no anchor covers it yet")
        result = FAIL if problems else result
        results.append(result)
        items.append(item(f"#{seq} {document.get('action')}", result, "; ".join(problems + notes), seq=seq,
                          time=document.get("time"), action=document.get("action"), actor=document.get("actor"),
                          role=document.get("role"), outcome=document.get("outcome"),
                          request_id=document.get("request_id"), anchor=anchor_view))
    title = "Access history: every journal entry naming the object, proven in the signed log"
    count = len(items)
    if FAIL in results:
        result, detail = FAIL, f"{results.count(FAIL)} of {count} entries fail their checks"
    elif checkpoint is None:
        result, detail = WARNING, f"{count} entries; no signed checkpoint to prove them against"
    elif not items:
        result, detail = WARNING, "no journal entry names this object"
    else:
        proven = results.count(PASS)
        result = PASS
        detail = (f"{proven} of {count} entries proven included in the signed checkpoint of size {checkpoint.size}"
                  + (f"; {count - proven} newer ones not checkpointed yet" if proven < count else ""))
    if evidence.truncated:
        detail += f" (the first {count} entries only)"
    return check("journal.entries", "journal", title, result, detail, items=items,
                 data={"count": count, "truncated": evidence.truncated})


def anchors_check(evidence: JournalEvidence, verifier: Verifier, roots: Sequence[x509.Certificate],
                  checkpoint: Checkpoint | None) -> dict:
    title = "TSA anchors of the journal (RFC 3161 timestamps of checkpoints, chained)"
    if not evidence.anchors:
        return check("journal.anchors", "journal", title, INFO,
                     "no anchor yet: the journal is anchored every VAULT_ANCHOR_INTERVAL (at least daily)")
    report = verify_anchors(evidence.anchors, verifier, list(roots) or None,
                            tree_root_at=lambda size: tree_hash(size, evidence.hash_at), log_size=evidence.log_size)
    problems = list(report.problems)
    excerpt = evidence.excerpt
    consistent = None
    if checkpoint is not None and excerpt is not None and excerpt.anchor_size:
        try:
            anchored_root = open_checkpoint(excerpt.anchor_note, verifier).root
            verify_consistency(excerpt.anchor_size, checkpoint.size, anchored_root, checkpoint.root,
                               excerpt.consistency)
            consistent = True
        except (NoteError, ProofError) as exc:
            consistent = False
            problems.append(f"the newest anchored tree ({excerpt.anchor_size}) is not consistent with the "
                            f"checkpoint ({checkpoint.size}): {exc}")
    newest = report.newest
    data = {"anchors": report.anchors, "problems": problems, "notes": report.notes,
            "consistent_with_checkpoint": consistent,
            "newest": {"seq": newest.seq, "checkpoint_size": newest.checkpoint_size,
                       "gen_time": iso_z(newest.gen_time), "tsa": newest.tsa_url} if newest else None}
    if problems:
        return check("journal.anchors", "journal", title, FAIL, f"{len(problems)} problem(s): {problems[0]}",
                     data=data)
    return check("journal.anchors", "journal", title, PASS,
                 f"{report.anchors} anchor(s) verified: tokens against the TSA roots at their genTime, the chain, "
                 "every anchored root against the log"
                 + (", and the newest anchored tree is consistent with the checkpoint" if consistent else ""),
                 data=data)


def journal_checks(evidence: JournalEvidence, verifier: Verifier, roots: Sequence[x509.Certificate]) -> list[dict]:
    """The three journal lines; ``verifier`` is the journal's newest key, older checkpoints and anchors open with
    the key the journal's recorded key changes make valid at their size."""
    keys, key_problem = journal_keys(evidence, verifier)
    checkpoint_line, checkpoint = checkpoint_check(evidence, keys, key_problem)
    return [checkpoint_line, entries_check(evidence, keys, checkpoint),
            anchors_check(evidence, keys, roots, checkpoint)]


def audit_entries(evidence: JournalEvidence) -> list[dict]:
    """The fixity-audit entries that named the object (an audit names the objects it found bad)."""
    out = []
    for seq, entry in evidence.entries:
        document, _problem = _document(seq, entry, evidence.object_id)
        if document.get("action") in AUDIT_ACTIONS:
            out.append({"seq": seq, "time": document.get("time"), "action": document["action"],
                        "outcome": document.get("outcome"), "detail": document.get("detail")})
    return out
