"""The fixity audit of :class:`vault.storage.copies.Copies`: re-read copies, repair a bad one from a good one,
journal what was found and done, keep it as fixity alerts (:mod:`vault.storage.fixity`).

The audit is a function over a ``Copies`` (its stores, reader, writer and clock) so that the copy bookkeeping stays
in :mod:`vault.storage.copies`. Another host's local copies are neither read nor expected here
(:mod:`vault.storage.placement`), and a copy to a shared store that only another host can make (never recorded,
no good copy here, another host's local store holds the blob) is counted apart as ``waiting_for_other_host``,
not as missing: no alert until that host's copy pass makes it. A recorded copy that is gone is missing as ever.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime

from sqlalchemy import Connection, func, select

from vault.crypto.digests import Digests
from vault.db.tables import ArchivedObject, BlobCopy
from vault.journal.entries import AccessEvent, Action, Outcome, append_entry
from vault.storage.blobstore import BlobNotFound
from vault.storage.fixity import Finding
from vault.storage.placement import expected_locally, held_elsewhere, other_hosts_of, owed_by_other_host

OBJECTS = ArchivedObject.__table__
COPIES = BlobCopy.__table__
SYSTEM_ACTOR = "system"


def audit(copies, sample: int | None = None, rate_limit_bytes: int | None = None) -> dict:
    """Re-read every copy (or ``sample`` blobs, the least recently verified first), repair, journal, alert; the
    summary, also kept as ``copies.last_audit`` by the caller."""
    started = copies.clock.now()
    query = (select(OBJECTS.c.sha256, OBJECTS.c.sha512, OBJECTS.c.size, func.min(OBJECTS.c.id).label("object"),
                    func.max(OBJECTS.c.retention_until).label("until"))
             .where(OBJECTS.c.destroyed_at.is_(None))
             .group_by(OBJECTS.c.sha256, OBJECTS.c.sha512, OBJECTS.c.size))
    with copies.reader.connect() as connection:
        blobs = connection.execute(query).all()
        verified = {(r.sha256, r.store): r.verified_at for r in connection.execute(select(COPIES))}
    elsewhere = held_elsewhere(verified, copies.names)
    if sample is not None:
        oldest = lambda b: min((verified.get((b.sha256, s.name)) or datetime.min.replace(tzinfo=started.tzinfo))  # noqa: E731
                               for s in copies.stores)
        blobs = sorted(blobs, key=oldest)[:sample]
    summary = {"started_at": started.isoformat(), "blobs": len(blobs), "copies_checked": 0, "bad": [],
               "repaired": [], "lost": [], "mode": "sample" if sample is not None else "full",
               "held_elsewhere": 0, "waiting_for_other_host": []}
    budget_start, read_bytes = time.monotonic(), 0
    for blob in blobs:
        digests = Digests(blob.sha256, blob.sha512, blob.size)
        states = {}
        here = [s for s in copies.stores if s is not copies.stores[0]
                or expected_locally(blob.sha256, s.name, verified, elsewhere)]
        summary["held_elsewhere"] += len(here) < len(copies.stores)
        for store in here:
            states[store.name] = digest_of(store, blob.sha256)
            summary["copies_checked"] += 1
            read_bytes += blob.size
            if rate_limit_bytes:
                ahead = read_bytes / rate_limit_bytes - (time.monotonic() - budget_start)
                if ahead > 0:
                    time.sleep(ahead)
        good = [name for name, digest in states.items() if digest == blob.sha256]
        for name in [n for n, digest in states.items() if digest is None and not good
                     and owed_by_other_host(blob.sha256, n, verified, elsewhere)]:
            del states[name]
            summary["waiting_for_other_host"].append(
                {"sha256": blob.sha256, "store": name, "hosts": other_hosts_of(blob.sha256, verified, copies.names)})
        findings = [Finding.of(blob.sha256, name, blob.object, digest) for name, digest in states.items()]
        bad = [name for name, digest in states.items() if digest != blob.sha256]
        rows = [copies._row(blob.sha256, name, "", copies.clock.now()) | {"verified_at": copies.clock.now()}
                for name in good]
        for name in bad:
            what = "missing" if states[name] is None else "corrupt"
            summary["bad"].append({"sha256": blob.sha256, "store": name, "problem": what, "object": blob.object})
            if not good:
                continue
            try:
                source = copies.by_name(good[0])
                target = copies.by_name(name)
                version = copies._copy_from(source, target, digests, blob.until)
                if digest_of(target, blob.sha256) == blob.sha256:
                    rows.append(copies._row(blob.sha256, name, version, copies.clock.now())
                                | {"verified_at": copies.clock.now()})
                    summary["repaired"].append({"sha256": blob.sha256, "store": name, "from": good[0]})
                    findings.append(Finding(blob.sha256, name, None, blob.object))
            except Exception as exc:
                summary["bad"][-1]["repair_failed"] = f"{exc.__class__.__name__}: {exc}"
        if not good and blob.sha256 not in elsewhere:
            summary["lost"].append({"sha256": blob.sha256, "object": blob.object})
        if rows:
            copies._record(rows)
        copies.record_findings(findings, "audit", len(here) + (blob.sha256 in elsewhere))
    summary["finished_at"] = copies.clock.now().isoformat()
    summary["journal_index"] = copies.writer.run(lambda connection: journal_audit(connection, summary, copies.clock))
    return summary


def journal_audit(connection: Connection, summary: dict, clock) -> int:
    """Journal an audit (``fixity_audit``, denied when content was lost) and each repair (``copy_repaired``); the
    index of the audit's entry."""
    objects = tuple(sorted({b["object"] for b in summary["bad"]}))[:1000]
    detail = {k: summary[k] for k in ("mode", "blobs", "copies_checked", "started_at", "finished_at")}
    detail.update(bad=len(summary["bad"]), repaired=len(summary["repaired"]), lost=len(summary["lost"]))
    outcome = Outcome.OK if not summary["lost"] else Outcome.DENIED
    index = append_entry(connection, AccessEvent(actor=SYSTEM_ACTOR, action=Action.FIXITY_AUDIT, outcome=outcome,
                                                 object_ids=objects, detail=detail), clock.now())
    for repair in summary["repaired"]:
        append_entry(connection, AccessEvent(actor=SYSTEM_ACTOR, action=Action.COPY_REPAIRED, detail=repair),
                     clock.now())
    return index


def digest_of(store, sha256: str) -> str | None:
    """SHA-256 of what a store returns for an address, or None when it has nothing there."""
    digest = hashlib.sha256()
    try:
        for chunk in store.read(sha256):
            digest.update(chunk)
    except (BlobNotFound, FileNotFoundError):
        return None
    return digest.hexdigest()
