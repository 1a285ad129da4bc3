"""The journal excerpt of a package (docs/package.md ``journal/``): the checkpoint's signature, every entry's
RFC 6962 inclusion proof against it, and the anchor — its checkpoint signed by the same key, its RFC 3161 token
over SHA-256(anchor checkpoint ‖ previous anchor token) chaining to the TSA roots at genTime, and the consistency
proof from the anchored tree to the checkpoint, which dates every entry of the anchored prefix. After a journal key
change the package carries the ``identity_keys_accepted`` entries with their inclusion proofs: trusted through the
newest key that signs the checkpoint, they state the older keys, and an anchor checkpoint opens with the key valid
at its size (:mod:`vault_verify.journalkeys`, docs/journal.md "Key changes").
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from vault_verify.anchors import anchor_imprint
from vault_verify.bagcheck import Check
from vault_verify.der import der_framing_error
from vault_verify.journalkeys import KeySequence, handover_of, signed_by
from vault_verify.merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from vault_verify.note import Checkpoint, Note, NoteError, Verifier, open_checkpoint
from vault_verify.report import Report
from vault_verify.tokens import TokenError, parse_token, policy_note, verify_token

def iso(when: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``."""
    return when.isoformat().replace("+00:00", "Z")


Reader = Callable[[str], "bytes | None"]  # a path under data/ → its bytes, None when absent


@dataclass
class JournalResult(Report):
    """The package journal's checks and notes (:class:`~vault_verify.report.Report`), with the facts the object
    checks reuse."""

    entries: dict[int, dict] = field(default_factory=dict)  # seq → the parsed entry
    inclusion: dict[int, Check] = field(default_factory=dict)  # seq → its inclusion check
    unproven: set[int] = field(default_factory=set)  # newer than the checkpoint
    checkpoint_ok: bool = False
    anchor_size: int | None = None  # set only when the whole anchor verified
    anchor_time: datetime | None = None


def _b64_list(values) -> list[bytes]:
    if not isinstance(values, list):
        raise ValueError("not a list of base64 hashes")
    return [base64.b64decode(v, validate=True) for v in values]


def _parse_json(result: JournalResult, path: str, data: bytes | None):
    if data is None:
        result.add(f"journal {path}", False, "named in package.json but not in the package")
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        result.add(f"journal {path}", False, f"not JSON: {exc}")
        return None


def _verifier(result: JournalResult, paths: dict, read: Reader, pinned: Verifier | None) -> Verifier | None:
    path = paths.get("key")
    data = read(path) if isinstance(path, str) else None
    if pinned is not None:
        ours = data.decode("utf-8", "replace").strip() if data is not None else None
        result.add(f"journal key {path} = the pinned key", ours == pinned.vkey(),
                   "" if ours == pinned.vkey() else f"{path} holds {ours!r}, the pinned key is {pinned.vkey()!r}")
        return pinned
    if data is None:
        result.add(f"journal key {path}", False, "named in package.json but not in the package")
        return None
    try:
        verifier = Verifier.parse(data.decode("utf-8"))
    except (NoteError, UnicodeDecodeError) as exc:
        result.add(f"journal key {path}", False, str(exc))
        return None
    result.add(f"journal key {path}", True, verifier.name)
    result.note(f"journal key taken from the package ({path}): pin the archive's published key with "
                "--journal-key for the checkpoints to prove anything")
    return verifier


def _checkpoint(result: JournalResult, path: str, data: bytes | None, verifier: Verifier | None,
                what: str) -> Checkpoint | None:
    """Open a signed checkpoint; when the signature fails the stated tree is still returned (its proofs are then
    checked for the record, but prove nothing)."""
    if data is None:
        result.add(f"{what} {path}", False, "named in package.json but not in the package")
        return None
    try:
        if verifier is None:
            raise NoteError("no usable journal key")
        checkpoint = open_checkpoint(data, verifier)
        signer = signed_by(data, verifier)[0]
        result.add(f"{what} {path} signed by {signer.name}", True,
                   f"tree size {checkpoint.size}, key hash {signer.key_hash.hex()}")
        return checkpoint
    except (NoteError, UnicodeDecodeError) as exc:
        result.add(f"{what} {path} signed by {verifier.name if verifier else 'the journal key'}", False, str(exc))
    try:
        return Checkpoint.parse_text(Note.parse(data).text)
    except (NoteError, UnicodeDecodeError):
        return None


def check_journal(paths: dict | None, read: Reader, roots, pinned: Verifier | None) -> JournalResult:
    result = JournalResult()
    if not isinstance(paths, dict) or not paths.get("checkpoint"):
        note = paths.get("note") if isinstance(paths, dict) else None
        result.add("journal", False, "package.json names no journal checkpoint"
                   + (f" ({note})" if note else "") + ": the export itself is journaled, a package always has one")
        return result
    verifier = _verifier(result, paths, read, pinned)
    checkpoint = _checkpoint(result, paths["checkpoint"], read(paths["checkpoint"]), verifier, "checkpoint")
    result.checkpoint_ok = checkpoint is not None and result.checks[-1].ok  # its signature check is the last one
    proofs = _parse_json(result, paths.get("proofs"), read(paths.get("proofs") or ""))
    lines = _entries(result, paths, read)
    if checkpoint is None or not isinstance(proofs, dict) or lines is None:
        result.checkpoint_ok = False
        return result
    stated = {"journal/proofs.json checkpoint_size": proofs.get("checkpoint_size"),
              "package.json journal.checkpoint_size": paths.get("checkpoint_size")}
    differ = [f"{k} is {v}" for k, v in stated.items() if v != checkpoint.size]
    result.add("checkpoint size", not differ, "" if not differ else
               f"the checkpoint's tree has {checkpoint.size} entries; " + ", ".join(differ))
    _inclusions(result, lines, proofs, checkpoint, paths)
    _anchor(result, paths, read, proofs, checkpoint, _key_sequence(result, verifier), roots)
    return result


def _entries(result: JournalResult, paths: dict, read: Reader) -> list[tuple[int, int, bytes]] | None:
    """(line number, seq, line bytes) of entries.jsonl; each line is an entry's exact canonical bytes."""
    path = paths.get("entries")
    data = read(path) if isinstance(path, str) else None
    if data is None:
        result.add(f"journal {path}", False, "named in package.json but not in the package")
        return None
    if data and not data.endswith(b"\n"):
        result.add(f"journal {path}", False, "the last line has no newline (the file was cut)")
    lines, problems = [], []
    for number, line in enumerate(data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"), 1):
        try:
            entry = json.loads(line)
            seq = entry["seq"]
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
                raise ValueError(f"seq {seq!r} is not an index")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            problems.append(f"line {number} is not a journal entry: {exc}")
            continue
        if seq in result.entries:
            problems.append(f"line {number}: entry {seq} appears twice")
            continue
        result.entries[seq] = entry
        lines.append((number, seq, line))
    count, found = paths.get("entries_count"), data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if count != found:
        problems.append(f"{found} lines, package.json journal.entries_count says {count}")
    result.add(f"journal {path}", not problems, "; ".join(problems[:5]) or f"{len(lines)} entries")
    return lines


def _inclusions(result: JournalResult, lines, proofs: dict, checkpoint: Checkpoint, paths: dict) -> None:
    inclusion = proofs.get("inclusion") if isinstance(proofs.get("inclusion"), dict) else {}
    listed = proofs.get("unproven") if isinstance(proofs.get("unproven"), list) else []
    unproven = {u for u in listed if isinstance(u, int)}
    entries_path, proofs_path, checkpoint_path = paths.get("entries"), paths.get("proofs"), paths["checkpoint"]
    failed = 0
    for number, seq, line in lines:
        name = f"inclusion of entry {seq}"
        if seq >= checkpoint.size:
            result.unproven.add(seq)
            ok = seq in unproven
            check = Check(name, ok, f"newer than the checkpoint (size {checkpoint.size})"
                          + ("" if ok else f" and not listed as unproven in {proofs_path}"))
        elif str(seq) not in inclusion:
            check = Check(name, False, f"{proofs_path} has no inclusion proof for entry {seq}")
        else:
            try:
                verify_inclusion(seq, checkpoint.size, leaf_hash(line), _b64_list(inclusion[str(seq)]),
                                 checkpoint.root)
                check = Check(name, True)
            except (ProofError, ValueError, binascii.Error) as exc:
                check = Check(name, False, f"entry {seq} ({entries_path} line {number}) with its audit path in "
                              f"{proofs_path} does not lead to the root of {checkpoint_path}: {exc}")
        result.inclusion[seq] = check
        if not check.ok:
            failed += 1
            result.checks.append(check)
    proven = len(lines) - len(result.unproven)
    result.add("inclusion proofs", failed == 0, f"{proven} entries in the tree of {checkpoint.size}"
               if failed == 0 else f"{failed} of {len(lines)} entries not proven")
    if result.unproven:
        result.note(f"{len(result.unproven)} entries are newer than the checkpoint: not proven")


def _key_sequence(result: JournalResult, verifier: Verifier | None):
    """The journal keys the package's proven key change entries state, trusted through ``verifier`` (the key of
    the checkpoint, the newest); ``verifier`` alone when none is carried or they do not chain to it."""
    if verifier is None or not result.checkpoint_ok:
        return verifier
    try:
        handovers = [handover_of(result.entries[seq]) for seq in sorted(result.entries)
                     if seq not in result.unproven and seq in result.inclusion and result.inclusion[seq].ok]
        keys = KeySequence.of(verifier, [h for h in handovers if h is not None])
    except NoteError as exc:
        result.add("journal keys", False, str(exc))
        return verifier
    if not keys.handovers:
        return verifier
    result.add("journal keys", True, f"{keys.summary()} (proven in the checkpoint)")
    return keys


def _anchor(result: JournalResult, paths: dict, read: Reader, proofs: dict, checkpoint: Checkpoint,
            verifier: Verifier | KeySequence | None, roots) -> None:
    note_path, token_path = paths.get("anchor_checkpoint"), paths.get("anchor_token")
    previous_path = paths.get("anchor_previous_token")
    if not note_path:
        result.note("no anchor in the package: the journal entries are signed by the archive but not "
                    "timestamped")
        return
    failures_before = sum(not c.ok for c in result.checks)
    note = read(note_path)
    anchored = _checkpoint(result, note_path, note, verifier, "anchor checkpoint")
    anchor = proofs.get("anchor") if isinstance(proofs.get("anchor"), dict) else {}
    if anchored is not None:
        ok = anchor.get("checkpoint_size") == anchored.size and anchored.size <= checkpoint.size
        result.add("anchor size", ok, "" if ok else
                   f"{note_path} has {anchored.size} entries, {paths.get('proofs')} anchor.checkpoint_size says "
                   f"{anchor.get('checkpoint_size')}, the checkpoint has {checkpoint.size}")
    token_bytes = read(token_path) if token_path else None
    previous = read(previous_path) if previous_path else None
    gen_time = None
    if token_bytes is None or (previous_path and previous is None):
        result.add(f"anchor token {token_path}", False,
                   f"{previous_path if token_bytes is not None else token_path} is named in package.json but not in "
                   "the package")
    elif note is not None:
        covered = f"SHA-256({note_path}" + (f" ‖ {previous_path})" if previous_path else ")")
        try:
            token = parse_token(token_bytes)
            verdict = verify_token(token, roots, expected_imprint=anchor_imprint(note, previous))
            failures = [covered + " ≠ the token's message imprint" if "imprint" in f else f
                        for f in verdict.failure_details]
            framing = der_framing_error(token_bytes)
            if framing is not None:  # vault keeps only strict-DER tokens: unsigned parts changed show here
                failures.append(f"not DER: {framing}")
            if token.imprint_algorithm != "sha256":
                failures.append(f"imprint algorithm {token.imprint_algorithm}, expected sha256")
            for note in verdict.notes:
                result.note(f"anchor token: {note}")
            if policy_note(token.policy):
                result.note(f"anchor token from {policy_note(token.policy)}")
            ok = result.add(f"anchor token {token_path}", not failures, "; ".join(failures) or
                            f"over {covered}, genTime {iso(token.gen_time)}")
            gen_time = token.gen_time if ok else None
        except TokenError as exc:
            result.add(f"anchor token {token_path}", False, str(exc))
    if anchored is not None:
        try:
            proof = _b64_list(anchor.get("consistency", []))
            verify_consistency(anchored.size, checkpoint.size, anchored.root, checkpoint.root, proof)
            result.add(f"consistency {note_path} → {paths['checkpoint']}", True,
                       f"tree of {anchored.size} is a prefix of the tree of {checkpoint.size}")
        except (ProofError, ValueError, binascii.Error) as exc:
            result.add(f"consistency {note_path} → {paths['checkpoint']}", False,
                       f"the consistency proof in {paths.get('proofs')} fails: {exc}")
    if anchored is not None and gen_time is not None and sum(not c.ok for c in result.checks) == failures_before \
            and result.checkpoint_ok:
        result.anchor_size, result.anchor_time = anchored.size, gen_time
        dated = sum(1 for seq in result.entries if seq < anchored.size)
        result.note(f"journal entries 0…{anchored.size - 1} existed by {iso(gen_time)} (anchor "
                    f"token); {dated} of the package's {len(result.entries)} entries are among them")
