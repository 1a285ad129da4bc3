"""Check a live journal database against its own signed checkpoints (``vault journal verify --data-dir``).

Catches what an administrator with SQL access could do behind vault's back: edit an entry's columns or bytes,
edit, add or drop stored hashes, delete or reorder entries, or drop the tail. Every leaf is recomputed from the stored entry
bytes, every entry's columns are compared with its bytes, the tree is rebuilt and its root compared with every
signed checkpoint (whose signatures are checked first); the report names the first index that differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from vault.db.tables import JournalCheckpoint, JournalEntry, JournalHash
from vault.journal.log import columns_match, is_stored
from vault_verify.merkle import leaf_hash, new_stored_hashes, tree_hash
from vault_verify.note import NoteError, Verifier, open_checkpoint

ENTRIES = JournalEntry.__table__
HASHES = JournalHash.__table__
CHECKPOINTS = JournalCheckpoint.__table__
PROGRESS_STEP = 1000


@dataclass
class AuditReport:
    size: int = 0
    checkpoints: int = 0
    anchors: int = 0
    newest_anchor: str | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first_bad_index: int | None = None
    scope: str = "*"  # the tenant whose view was checked (a tenant auditor's export), '*' for the whole log

    @property
    def ok(self) -> bool:
        return not self.problems

    def add_anchors(self, anchors, verifier, roots, root_at) -> None:
        """Check the anchor chain (:func:`vault.journal.anchors.verify_anchors`) against this log's tree."""
        from vault.journal.anchors import verify_anchors

        checked = verify_anchors(anchors, verifier, roots, root_at, self.size)
        self.anchors = checked.anchors
        if checked.newest is not None:
            self.newest_anchor = f"{checked.newest.checkpoint_size} entries at {checked.newest.gen_time.isoformat()}"
        for problem in checked.problems:
            self.bad(None, problem)
        self.notes.extend(checked.notes)

    def bad(self, index: int | None, message: str) -> None:
        if index is not None and (self.first_bad_index is None or index < self.first_bad_index):
            self.first_bad_index = index
        self.problems.append(message)


def audit_journal(engine: Engine, verifier: Verifier, batch: int = 10_000, tsa_roots=None,
                  progress: Callable[[int], None] | None = None) -> AuditReport:
    """Recompute the live journal and check it against every signed checkpoint and every anchor; ``progress`` is
    told the number of entries recomputed so far, every :data:`PROGRESS_STEP` entries."""
    from vault.journal.anchors import load_anchors

    report = AuditReport()
    recomputed: dict[tuple[int, int], bytes] = {}
    with engine.connect() as connection:
        checkpoints = [dict(r) for r in connection.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.size))
                       .mappings()]
        signed: dict[int, bytes] = {}
        for row in checkpoints:
            try:
                checkpoint = open_checkpoint(row["note"].encode(), verifier)
            except NoteError as exc:
                report.bad(None, f"checkpoint at size {row['size']}: {exc}")
                continue
            if checkpoint.size != row["size"] or checkpoint.root != row["root"]:
                report.bad(None, f"checkpoint at size {row['size']}: its row differs from its signed text")
            signed[checkpoint.size] = checkpoint.root
        report.checkpoints = len(signed)
        anchors = load_anchors(connection)

        expected = 0
        columns = select(ENTRIES).order_by(ENTRIES.c.seq)
        for row in connection.execution_options(stream_results=True, yield_per=batch).execute(columns).mappings():
            seq = row["seq"]
            if seq != expected:
                report.bad(expected, f"entry {expected} is missing (next stored entry is {seq})")
                break
            if not columns_match(row):
                report.bad(seq, f"entry {seq}: its columns differ from its leaf bytes")
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
                report.bad(row["idx"] << row["level"], f"stored hash at level {key[0]} index {key[1]}: "
                                                       f"the journal keeps none at that level")
                break
            if recomputed.get(key) != bytes(row["hash"]):
                index = row["idx"] << row["level"]
                report.bad(index, f"stored hash at level {key[0]} index {key[1]} does not match the entries")
                break
        else:
            missing = [key for key in recomputed if is_stored(key[0]) and key not in seen]
            if missing:
                level, index = min(missing, key=lambda key: key[1] << key[0])
                report.bad(index << level, f"stored hash at level {level} index {index} is missing")

    newest_good = 0
    for size, root in sorted(signed.items()):
        if size > report.size:
            report.bad(report.size, f"the log has {report.size} entries but a signed checkpoint says {size}")
            break
        if tree_hash(size, lambda l, n: recomputed[(l, n)]) != root:
            # the signed roots only bound the damage: it lies at or after the newest checkpoint that still matches
            index = newest_good if report.first_bad_index is None else None
            report.bad(index, f"entries 0..{size - 1} no longer hash to the signed checkpoint of size {size}"
                              f" (the last matching checkpoint is of size {newest_good})")
            break
        newest_good = size
    def root_at(size: int) -> bytes | None:
        try:
            return tree_hash(size, lambda l, n: recomputed[(l, n)])
        except KeyError:  # entries missing: that was reported above
            return None

    report.add_anchors(anchors, verifier, tsa_roots, root_at)
    return report
