"""Check a live journal database against its own signed checkpoints (``vault journal verify --data-dir``).

Catches what an administrator with SQL access could do behind vault's back: edit an entry's columns or bytes,
edit, add or drop stored hashes, delete or reorder entries, or drop the tail. Every leaf is recomputed from the stored entry
bytes, every entry's columns are compared with its bytes, the tree is rebuilt and its root compared with every
signed checkpoint (each signature checked with the key valid at its size, :mod:`vault_verify.journalkeys`); the
report names the first index that differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Engine, select

from vault.db.tables import JournalCheckpoint, JournalEntry, JournalHash
from vault.journal.anchors import load_anchors
from vault.journal.log import columns_match, is_stored
from vault_verify.merkle import leaf_hash, new_stored_hashes, tree_hash
from vault_verify.journalkeys import HANDOVER_ACTION
from vault_verify.note import Note, NoteError, Verifier, open_checkpoint
from vault_verify.replay import JournalReport

ENTRIES = JournalEntry.__table__
HASHES = JournalHash.__table__
CHECKPOINTS = JournalCheckpoint.__table__
PROGRESS_STEP = 1000


def audit_journal(engine: Engine, verifier: Verifier, batch: int = 10_000, tsa_roots=None,
                  progress: Callable[[int], None] | None = None) -> JournalReport:
    """Recompute the live journal and check it against every signed checkpoint and every anchor; ``progress`` is
    told the number of entries recomputed so far, every :data:`PROGRESS_STEP` entries."""
    report = JournalReport()
    recomputed: dict[tuple[int, int], bytes] = {}
    with engine.connect() as connection:
        checkpoints = [dict(r) for r in connection.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.size))
                       .mappings()]
        anchors = load_anchors(connection)
        handovers = []

        expected = 0
        columns = select(ENTRIES).order_by(ENTRIES.c.seq)
        for row in connection.execution_options(stream_results=True, yield_per=batch).execute(columns).mappings():
            seq = row["seq"]
            if seq != expected:
                report.bad(f"entry {expected}", f"missing (the next stored entry is {seq})", expected)
                break
            if not columns_match(row):
                report.bad(f"entry {seq}", "its columns differ from its leaf bytes", seq)
            elif row["action"] == HANDOVER_ACTION:
                handovers.append(bytes(row["entry"]))
            for level, index, value in new_stored_hashes(seq, leaf_hash(bytes(row["entry"])),
                                                         lambda l, n: recomputed[(l, n)]):
                recomputed[(level, index)] = value
            expected += 1
            if progress is not None and expected % PROGRESS_STEP == 0:
                progress(expected)
        report.size = expected

        seen = set()
        for row in connection.execution_options(stream_results=True, yield_per=batch).execute(
                select(HASHES).order_by(HASHES.c.level, HASHES.c.idx)).mappings():
            key = (row["level"], row["idx"])
            seen.add(key)
            if not is_stored(key[0]):
                report.bad("stored hashes", f"stored hash at level {key[0]} index {key[1]}: the journal keeps none at "
                                            "that level", row["idx"] << row["level"])
                break
            if recomputed.get(key) != bytes(row["hash"]):
                index = row["idx"] << row["level"]
                report.bad("stored hashes", f"stored hash at level {key[0]} index {key[1]} does not match the entries",
                           index)
                break
        else:
            missing = [key for key in recomputed if is_stored(key[0]) and key not in seen]
            if missing:
                level, index = min(missing, key=lambda key: key[1] << key[0])
                report.bad("stored hashes", f"stored hash at level {level} index {index} is missing", index << level)

    keys = _key_sequence(report, verifier, handovers, checkpoints)
    signed: dict[int, bytes] = {}
    for row in checkpoints:
        try:
            checkpoint = open_checkpoint(row["note"].encode(), keys)
        except NoteError as exc:
            report.bad(f"checkpoint at size {row['size']}", str(exc))
            continue
        if checkpoint.size != row["size"] or checkpoint.root != row["root"]:
            report.bad(f"checkpoint at size {row['size']}", "its row differs from its signed text")
        signed[checkpoint.size] = checkpoint.root
    report.checkpoints = len(signed)

    newest_good = 0
    for size, root in sorted(signed.items()):
        if size > report.size:
            report.bad("signed checkpoints", f"the log has {report.size} entries but a signed checkpoint says {size}",
                       report.size)
            break
        if tree_hash(size, lambda l, n: recomputed[(l, n)]) != root:
            # the signed roots only bound the damage: it lies at or after the newest checkpoint that still matches
            index = newest_good if report.first_bad_index is None else None
            report.bad("signed checkpoints", f"entries 0..{size - 1} no longer hash to the signed checkpoint of size "
                                             f"{size} (the last matching checkpoint is of size {newest_good})", index)
            break
        newest_good = size
    if not report.failures:  # otherwise the failing entry, stored hash or checkpoint was named above
        report.passed("entries", f"{report.size} entries: columns equal their leaf bytes")
        report.passed("stored hashes", "every stored hash equals the one recomputed from the entries")
        report.passed("signed checkpoints", f"{report.checkpoints} signed checkpoints: their roots recomputed")

    def root_at(size: int) -> bytes | None:
        try:
            return tree_hash(size, lambda l, n: recomputed[(l, n)])
        except KeyError:  # entries missing: that was reported above
            return None

    report.add_anchors(anchors, keys, tsa_roots, root_at)
    return report


def _key_sequence(report: JournalReport, verifier: Verifier, entries: list[bytes], checkpoints: list[dict]):
    """The journal keys the handover entries introduce (:meth:`JournalReport.key_sequence`), each handover checked
    for the old key's co-signature it claims on the checkpoint that first holds it."""
    keys = report.key_sequence(verifier, [json.loads(entry) for entry in entries])
    notes = {row["size"]: row["note"].encode() for row in checkpoints}
    for handover in getattr(keys, "handovers", ()):
        where = f"key change at entry {handover.seq}"
        if not handover.cosigned:
            report.note(f"{where}: the old key did not co-sign (it was not available); from size {handover.size} "
                        f"on the journal rests on the new key {handover.new.vkey()} alone", "journal keys")
            continue
        try:
            both = Note.parse(notes[handover.size]).verified_by([handover.old, handover.new])
        except (KeyError, NoteError):
            both = []
        if len(both) != 2:
            report.bad("journal keys", f"{where}: no checkpoint of size {handover.size} signed by both the old and "
                                       "the new key, though the entry says the old key co-signed", handover.seq)
    return keys
