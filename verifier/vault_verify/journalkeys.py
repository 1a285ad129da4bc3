"""The journal's signing keys in sequence, each valid for a range of tree sizes that the journal itself states.

A deliberate change of the journal key (``vault identity accept``) journals an ``identity_keys_accepted`` entry
whose ``detail.journal_key`` holds the old and the new verifier key (c2sp.org/signed-note ``name+hash+key``) and
whether the handover checkpoint, the first to hold that entry, carries the old key's signature too. The old key
signs checkpoints up to and including that size, the new one from that size on; no key signs outside its range
(docs/journal.md, Key changes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vault_verify.note import Checkpoint, Note, NoteError, Verifier, open_checkpoint

HANDOVER_ACTION = "identity_keys_accepted"


@dataclass(frozen=True)
class Handover:
    """A journal key change recorded by entry ``seq``: checkpoints of ``size`` = seq + 1 entries hold it."""

    seq: int
    old: Verifier
    new: Verifier
    cosigned: bool

    @property
    def size(self) -> int:
        return self.seq + 1


def handover_of(document: dict) -> Handover | None:
    """The key change a journal entry (its parsed JSON) records, None for any other entry; NoteError when its
    keys are malformed."""
    if not isinstance(document, dict) or document.get("action") != HANDOVER_ACTION:
        return None
    change = (document.get("detail") or {}).get("journal_key")
    if not isinstance(change, dict):
        return None  # another key changed, not the journal's
    try:
        return Handover(document["seq"], Verifier.parse(change["old"]), Verifier.parse(change["new"]),
                        change.get("cosigned") is True)
    except (KeyError, TypeError) as exc:
        raise NoteError(f"entry {document.get('seq')}: malformed journal_key ({exc})") from None


@dataclass(frozen=True)
class KeySequence:
    """The keys in order: ``keys[i]`` signs sizes ``bounds[i-1]``..``bounds[i]`` (inclusive; 0 and unbounded at
    the ends), so the handover checkpoint may carry both keys and every other size exactly one."""

    keys: tuple[Verifier, ...]
    bounds: tuple[int, ...]
    handovers: tuple[Handover, ...] = ()

    @classmethod
    def of(cls, pinned: Verifier, handovers: Iterable[Handover]) -> "KeySequence":
        """The sequence the handovers (in journal order) describe, trusted through ``pinned``, which must be the
        newest key: it signs the tree that holds every handover, so it vouches for the keys before it. NoteError
        when the chain breaks or ``pinned`` is not its newest key."""
        handovers = tuple(handovers)
        if not handovers:
            return cls((pinned,), ())
        keys = [handovers[0].old]
        for handover in handovers:
            if handover.old.vkey() != keys[-1].vkey():
                raise NoteError(f"entry {handover.seq} hands over from {handover.old.vkey()}, but the journal key "
                                f"then was {keys[-1].vkey()}")
            keys.append(handover.new)
        if keys[-1].vkey() != pinned.vkey():
            where = [key.vkey() for key in keys]
            detail = (f"it was replaced after entry {handovers[where.index(pinned.vkey())].seq}; pin the newest key "
                      f"{keys[-1].vkey()}" if pinned.vkey() in where else "it is not one the journal introduced")
            raise NoteError(f"the trusted key {pinned.vkey()} is not the journal's newest: {detail}")
        return cls(tuple(keys), tuple(h.size for h in handovers), handovers)

    @property
    def name(self) -> str:
        return self.keys[-1].name

    def summary(self) -> str:
        """One line for a report: how many keys, changed at which entries."""
        return f"{len(self.keys)} keys in sequence, changed at entries {', '.join(str(h.seq) for h in self.handovers)}"

    def valid_at(self, size: int) -> list[Verifier]:
        """The keys that may sign a checkpoint of ``size`` entries (two at a handover size, else one)."""
        return [key for i, key in enumerate(self.keys)
                if (i == 0 or self.bounds[i - 1] <= size) and (i == len(self.bounds) or size <= self.bounds[i])]


def handover_name(size: int) -> str:
    """Where a journal export keeps the handover checkpoint of ``size`` entries (docs/journal.md, Export)."""
    return f"handovers/{size}"


def replaced_from(pinned: Verifier, handovers: Iterable[Handover]) -> tuple[Handover, ...]:
    """The handovers (in journal order) from the one that replaced ``pinned`` on: those an auditor who pinned it
    follows; empty when the journal never replaced that key."""
    handovers = tuple(handovers)
    start = next((i for i, h in enumerate(handovers) if h.old.vkey() == pinned.vkey()), None)
    return () if start is None else handovers[start:]


def chain_broken(pinned: Verifier, handover: Handover) -> str:
    """The start of every refusal of :func:`follow_handovers`: which pinned key's chain broke, at which entry."""
    return f"the chain from the trusted key {pinned.vkey()} is broken at entry {handover.seq}"


def followed_detail(pinned: Verifier, followed: tuple[Handover, ...]) -> str:
    """One line for a report: the handover checkpoints followed from ``pinned`` (:func:`replaced_from`)."""
    return (f"followed from the trusted key {pinned.vkey()} through the handover checkpoint"
            f"{'s' if len(followed) > 1 else ''} of size {', '.join(str(h.size) for h in followed)}, each signed by "
            "the key before it")


def follow_handovers(pinned: Verifier, handovers: Iterable[Handover], read_note: Callable[[int], bytes | None],
                     root_at: Callable[[int], bytes]) -> Verifier:
    """The journal's newest key, reached from an older ``pinned`` key through the handovers (in journal order)
    that came after it: each handover checkpoint (``read_note(size)``, None when absent) must carry the key trusted
    so far and sign the root ``root_at(size)`` recomputed from the entries, a tree which holds the key change
    entry naming that key as the old one; its new key is trusted from that size on. ``pinned`` itself when it is
    the newest. NoteError naming the entry where the chain breaks: a handover the old key did not co-sign (its
    private key was lost), an absent or forged handover checkpoint, or a key the journal never introduced."""
    handovers = tuple(handovers)
    followed = replaced_from(pinned, handovers)
    if not followed:
        if handovers and handovers[-1].new.vkey() != pinned.vkey():
            raise NoteError(f"the trusted key {pinned.vkey()} is not one the journal introduced")
        return pinned
    trusted = pinned
    for handover in followed:
        broken = chain_broken(pinned, handover)
        if handover.old.vkey() != trusted.vkey():
            raise NoteError(f"{broken}: it hands over from {handover.old.vkey()}, but the journal key then was "
                            f"{trusted.vkey()}")
        if not handover.cosigned:
            raise NoteError(f"{broken}: the old key did not co-sign the handover to {handover.new.vkey()} (its "
                            "private key was not available at the key change), so no key you trust vouches for the "
                            "new one; pin the journal's newest key, obtained from the archive out of band")
        note = read_note(handover.size)
        if note is None:
            raise NoteError(f"{broken}: the export holds no handover checkpoint {handover_name(handover.size)}")
        try:
            checkpoint = open_checkpoint(note, trusted)
        except (NoteError, UnicodeDecodeError) as exc:
            raise NoteError(f"{broken}: the handover checkpoint does not open with {trusted.vkey()} ({exc})") from None
        if checkpoint.size != handover.size or checkpoint.root != root_at(handover.size):
            raise NoteError(f"{broken}: the handover checkpoint does not sign the tree of the first "
                            f"{handover.size} entries recomputed from the log")
        trusted = handover.new
    return trusted


def signed_by(note: bytes, keys) -> list[Verifier]:
    """The keys valid at the tree size of checkpoint ``note`` (``keys``: a :class:`Verifier` or a
    :class:`KeySequence`) whose signature it carries: the key that actually signed it, for a report to name. Empty
    when none did or the note is malformed."""
    try:
        note_ = Note.parse(note)
        return note_.verified_by(keys.valid_at(Checkpoint.parse_text(note_.text).size))
    except (NoteError, UnicodeDecodeError):
        return []
