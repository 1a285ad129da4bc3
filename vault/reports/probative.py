"""Probative-value reports (*relevé de valeur probante*, as Vitam issues them): what the archive can prove about an
object, or a case, now — every line a check run again while the report is made, with its result.

The report is built from injected readers (:class:`Sources`), so it runs the same on any store and database and
is tested without HTTP. Lines, in order:

* ``content.size``, ``content.sha256``, ``content.sha512`` — the stored bytes re-read from the primary store and
  re-hashed, against the digests recorded at deposit;
* ``evidence.seal``, ``evidence.record`` — the object's RFC 4998 evidence record assembled from the seal batches
  and verified offline against the digests just computed: every chain, every renewal, every token's signature
  and chain to the TSA roots at its genTime;
* ``metadata.record``, ``metadata.row``, ``metadata.personal`` — the business metadata: its sealed record, the row
  against it, the personal fields as commitments (:mod:`vault.reports.metadata_checks`);
* ``signatures.deposit`` — the signature verdicts recorded at deposit (*not* re-validated: certificates expire
  and revocation data ages, the deposit-time verdict is the one that proves);
* ``journal.*`` — the access history, each entry proven in the signed log (:mod:`vault.reports.journal_checks`);
* ``storage.copies`` (every store re-read now), ``storage.fixity`` (the audit history, recorded);
* ``retention.period`` (the end recomputed from the policy version), ``retention.holds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from cryptography import x509

from vault.clock import iso_z
from vault.deposit.receipt import receipt_from_row
from vault.evidence.asn1 import HASHES
from vault.evidence.verify import DataObject, verify_evidence_record
from vault.reports.checks import FAIL, INFO, NOT_APPLICABLE, PASS, WARNING, check, item, verdict
from vault.reports.journal_checks import JournalEvidence, audit_entries, journal_checks
from vault.reports.metadata_checks import MetadataFacts, metadata_checks
from vault.retention.restriction import hide, restricted_fields

REPORT_TYPE = "vault-probative-report"
VERSION = 1
NOT_REVALIDATED = ("recorded at deposit, not re-validated: the certificates and revocation data of the time may "
                   "no longer be available, and the deposit-time verdict is the one that proves")


@dataclass
class Sources:
    """Everything a report reads, injected (one read transaction in the service; fakes in tests)."""

    now: datetime
    issuer: str
    stores: Sequence[str]  # store names, the primary first
    read: Callable[[str, str], Iterable[bytes]]  # (store, sha256) -> chunks; raises LookupError when absent
    evidence_record: Callable[[int], Any]  # seal_seq -> AssembledRecord (.der, .algorithms) or None
    seal_state: Callable[[int], dict]
    validation_report: Callable[[str], dict | None]
    journal: Callable[[str], JournalEvidence]
    journal_verifier: Any  # vault.journal.note.Verifier
    copies: Callable[[str], list[dict]]  # sha256 -> blob_copies rows
    holds: Callable[[dict], list[dict]]  # object row -> active holds covering it
    policy: Callable[[str, int], Any]  # (id, version) -> RetentionPolicy or None
    tsa_roots: Sequence[x509.Certificate]
    metadata: Callable[[dict], MetadataFacts | None] = lambda _row: None  # object row -> its record's facts


def _hash(chunks: Iterable[bytes], algorithms: set[str]) -> tuple[int, dict[str, bytes]]:
    hashers = {name: HASHES[name]() for name in algorithms}
    size = 0
    for chunk in chunks:
        size += len(chunk)
        for h in hashers.values():
            h.update(chunk)
    return size, {name: h.digest() for name, h in hashers.items()}


def content_checks(row: dict, sources: Sources, algorithms: set[str]) -> tuple[list[dict], dict[str, bytes] | None]:
    """Size, SHA-256 and SHA-512 of the bytes re-read now; the digests computed (None when nothing was read)."""
    titles = {"content.size": "Size of the stored bytes", "content.sha256": "SHA-256 of the stored bytes",
              "content.sha512": "SHA-512 of the stored bytes"}
    if row.get("destroyed_at") is not None:
        why = f"the content was destroyed on {iso_z(row['destroyed_at'])} after its retention ended"
        return [check(cid, "content", title, NOT_APPLICABLE, why) for cid, title in titles.items()], None
    store = sources.stores[0]
    try:
        size, digests = _hash(sources.read(store, row["sha256"]), {"sha256", "sha512"} | algorithms)
    except (LookupError, OSError) as exc:
        why = f"the bytes cannot be read from store {store}: {exc.__class__.__name__}"
        return [check(cid, "content", title, FAIL, why) for cid, title in titles.items()], None
    lines = [check("content.size", "content", titles["content.size"], PASS if size == row["size"] else FAIL,
                   f"{size} bytes read from store {store}; {row['size']} recorded at deposit",
                   data={"store": store, "recorded": row["size"], "computed": size})]
    for name in ("sha256", "sha512"):
        computed, recorded = digests[name].hex(), row[name]
        same = computed == recorded
        lines.append(check(f"content.{name}", "content", titles[f"content.{name}"], PASS if same else FAIL,
                           "recomputed now, equal to the digest recorded at deposit" if same else
                           "recomputed now, DIFFERENT from the digest recorded at deposit: the stored bytes changed",
                           data={"store": store, "recorded": recorded, "computed": computed}))
    return lines, digests


def content_object(row: dict, digests: dict[str, bytes] | None) -> tuple[DataObject, str]:
    """The content as the data object an evidence record is verified against, and what its digests are."""
    if digests is not None:
        return DataObject(digests=dict(digests), label="the stored bytes"), "the digests of the bytes re-read now"
    gone = "destroyed" if row.get("destroyed_at") is not None else "unreadable"
    return (DataObject.from_hashes([row["sha256"], row["sha512"]], label="the recorded digests"),
            f"the digests recorded at deposit (the bytes are {gone})")


def evidence_checks(row: dict, sources: Sources, record, digests: dict[str, bytes] | None) -> list[dict]:
    seal = sources.seal_state(row["seal_seq"])
    if record is None:
        return [check("evidence.seal", "evidence", "Seal (RFC 3161 timestamp over the deposit's seal batch)", WARNING,
                      "pending: the deposit's seal batch is not timestamped yet", data=seal),
                check("evidence.record", "evidence", "Evidence record (RFC 4998), verified offline", WARNING,
                      "no evidence record until the deposit is sealed")]
    lines = [check("evidence.seal", "evidence", "Seal (RFC 3161 timestamp over the deposit's seal batch)", PASS,
                   f"sealed in batch {seal['batch_id']} at {seal['sealed_at']}, timestamp genTime "
                   f"{seal['token_gen_time']} by {seal['tsa']}"
                   + (f" ({seal['qualification']})" if seal.get("qualification") else ""), data=seal)]
    data_object, source = content_object(row, digests)
    result = verify_evidence_record(record.der, [data_object], roots=list(sources.tsa_roots) or None)
    steps = [item(s.name, PASS if s.ok else FAIL, s.detail) for s in result.steps]
    failure = result.first_failure
    data = {"chains": len(record.algorithms), "algorithms": list(record.algorithms), "data": source,
            "gen_times": [iso_z(t) for t in result.gen_times], "notes": result.notes, "bytes": len(record.der)}
    detail = (f"{len(steps)} steps verified against {source}: {len(record.algorithms)} chain(s), "
              f"{len(result.gen_times)} timestamp(s) checked against the TSA roots at their genTime"
              if result.ok else f"fails at '{failure.name}': {failure.detail}" if failure else "no step verified")
    lines.append(check("evidence.record", "evidence", "Evidence record (RFC 4998), verified offline",
                       PASS if result.ok else FAIL, detail, items=steps, data=data))
    return lines


def signature_check(row: dict, sources: Sources) -> dict:
    verdicts = row.get("validation") or []
    report = sources.validation_report(row["id"])
    body = (report or {}).get("report") or {}
    items = [item(f"{v.get('kind')} by {v.get('signer') or 'unknown signer'}", INFO, v.get("reason") or "",
                  verdict=v.get("verdict"), kind=v.get("kind"), signer=v.get("signer"),
                  validated_at=v.get("validated_at")) for v in verdicts]
    data = {"worst": row.get("validation_verdict"), "validated_at": body.get("validated_at"),
            "trust_anchors": len(body.get("trust_anchors") or []), "validation_report_kept": report is not None}
    if not verdicts:
        detail = "no signature was found in the file at deposit"
    else:
        counts: dict[str, int] = {}
        for v in verdicts:  # a verdict the validator could not give is counted as "no verdict", never dropped
            name = v.get("verdict") or "no verdict"
            counts[name] = counts.get(name, 0) + 1
        detail = (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + f"; {NOT_REVALIDATED}")
    return check("signatures.deposit", "signatures", "Signature verdicts recorded at deposit", INFO, detail,
                 rerun=False, items=items, data=data)


def storage_checks(row: dict, sources: Sources, primary_digest: str | None, audits: list[dict]) -> list[dict]:
    title = "Copies on every store, re-read now"
    recorded = {r["store"]: r for r in sources.copies(row["sha256"])}
    if row.get("destroyed_at") is not None:
        copies = check("storage.copies", "storage", title, NOT_APPLICABLE,
                       "destroyed: the copies were deleted at disposal (see the destruction certificate)")
    else:
        items = []
        for position, store in enumerate(sources.stores):
            known = recorded.get(store)
            if position == 0 and primary_digest is not None:
                digest = primary_digest
            else:
                try:
                    digest = _hash(sources.read(store, row["sha256"]), {"sha256"})[1]["sha256"].hex()
                except (LookupError, OSError):
                    digest = None
            fields = {"store": store, "recorded": known is not None,
                      "copied_at": iso_z(known["copied_at"]) if known else None,
                      "verified_at": iso_z(known["verified_at"]) if known else None,
                      "present": digest is not None}
            if digest == row["sha256"]:
                items.append(item(store, PASS, "present, SHA-256 equal to the recorded one", **fields))
            elif digest is not None:
                items.append(item(store, FAIL, "present but its SHA-256 differs: the copy is corrupt", **fields))
            elif known is not None:
                items.append(item(store, FAIL, "recorded as holding a copy, but nothing is there", **fields))
            else:
                items.append(item(store, WARNING, "no copy yet (copies beyond the quorum are made in the "
                                                 "background)", **fields))
        good = sum(1 for i in items if i["result"] == PASS)
        result = FAIL if not good or any(i["result"] == FAIL for i in items) else \
            WARNING if good < len(items) else PASS
        copies = check("storage.copies", "storage", title, result,
                       f"{good} good copy(ies) on {len(items)} store(s)", items=items)
    last = {store: iso_z(r["verified_at"]) for store, r in recorded.items() if r.get("verified_at")}
    flagged = [a for a in audits if a["action"] == "fixity_audit"]
    detail = ("last verified by an audit: " + (", ".join(f"{s} {t}" for s, t in sorted(last.items())) or "never yet")
              + (f"; {len(flagged)} audit(s) found a bad copy of it and journaled it" if flagged else
                 "; no audit ever found a bad copy of it"))
    fixity = check("storage.fixity", "storage", "Fixity-audit history", INFO, detail, rerun=False,
                   items=[audit_item(a) for a in audits],
                   data={"last_verified": last})
    return [copies, fixity]


def audit_item(entry: dict) -> dict:
    """One journaled audit or repair as an item; its own fields beside the item's (never over ``detail``)."""
    return item(f"#{entry['seq']} {entry['action']}", INFO, str(entry.get("detail")),
                **{k: v for k, v in entry.items() if k not in ("name", "result", "detail")})


def retention_checks(row: dict, sources: Sources) -> list[dict]:
    policy = sources.policy(row["policy_id"], row["policy_version"])
    start, until = row["retention_start"], row["retention_until"]
    data = {"policy": row["policy_id"], "version": row["policy_version"], "retention_start": iso_z(start),
            "retention_until": iso_z(until), "status": row["status"], "destroyed_at": iso_z(row.get("destroyed_at"))}
    title = "Retention period, recomputed from the policy version"
    if policy is None:
        period = check("retention.period", "retention", title, FAIL,
                       f"policy {row['policy_id']} version {row['policy_version']} is unknown to the archive",
                       data=data)
    else:
        data.update(duration=policy.duration.text, start_rule=policy.start, final_action=policy.final_action,
                    title=policy.title)
        expected = policy.duration.after(start) if start is not None else None
        if start is None:
            result, detail = INFO, f"the start event ({policy.start}) is not known yet: no end date, never due"
        elif expected == until:
            result, detail = PASS, (f"{policy.duration.text} from {iso_z(start)} ends {iso_z(until)}, as recorded; "
                                    f"then {policy.final_action}")
        else:
            result, detail = FAIL, f"recorded end {iso_z(until)} differs from {iso_z(expected)} recomputed"
        period = check("retention.period", "retention", title, result, detail, data=data)
    held = sources.holds(row) if row.get("destroyed_at") is None else []
    hold_items = [item(h["id"], INFO, h.get("reason") or "", reference=h.get("reference"),
                       scope=h.get("scope"), created_at=iso_z(h.get("created_at"))) for h in held]
    holds = check("retention.holds", "retention", "Legal holds", INFO,
                  f"{len(held)} active hold(s): nothing destroys the object while one covers it" if held
                  else "no active legal hold covers the object", items=hold_items)
    return [period, holds]


def build_object_report(row: dict, sources: Sources) -> dict:
    """Every check of one object, re-run now, and the overall verdict."""
    record = sources.evidence_record(row["seal_seq"])
    algorithms = {a for a in (record.algorithms if record else []) if a in HASHES}
    content, digests = content_checks(row, sources, algorithms)
    checks = content + evidence_checks(row, sources, record, digests)
    checks += metadata_checks(row, sources.metadata(row), record, content_object(row, digests)[0], sources.tsa_roots)
    checks += [signature_check(row, sources)]
    journal = sources.journal(row["id"])
    checks += journal_checks(journal, sources.journal_verifier, sources.tsa_roots)
    checks += storage_checks(row, sources, digests["sha256"].hex() if digests else None, audit_entries(journal))
    checks += retention_checks(row, sources)
    return {"type": REPORT_TYPE, "scope": "object", "version": VERSION, "generated_at": iso_z(sources.now),
            "issuer": sources.issuer, "object": hide(receipt_from_row(row), restricted_fields(row)),
            "verdict": verdict(checks), "checks": checks}


def completeness_check(timeline: dict) -> dict:
    completeness = timeline["completeness"]
    status = completeness["status"]
    anomalies = completeness.get("anomalies") or []
    result = WARNING if status == "overdue" or anomalies else PASS if status == "complete" else INFO
    detail = f"{status} against chain {timeline['chain']}"
    if completeness.get("missing"):
        detail += f"; missing {', '.join(completeness['missing'])}"
        if completeness.get("due_at"):
            detail += f" (due {completeness['due_at']})"
    if anomalies:
        detail += f"; {len(anomalies)} anomaly(ies)"
    return check("case.completeness", "case", "Case completeness against the expected chain, evaluated now", result,
                 detail, data=completeness)


def consent_check(timeline: dict) -> dict:
    """The recipient's consent at the sending (:func:`vault.cases.consent.case_consent`, docs/lre.md)."""
    consent = timeline.get("consent") or {}
    if not consent.get("required") and not consent.get("consent_ref"):
        result = NOT_APPLICABLE
    else:
        result = PASS if consent.get("valid") else WARNING if consent.get("required") else INFO
    valid = "valid" if consent.get("valid") else "no valid"
    detail = f"{valid} consent at {consent.get('at')}: {consent.get('reason')}"
    return check("case.consent", "case", "Recipient's prior consent at the sending (LRE to a consumer)", result,
                 detail, data=consent)


def build_case_report(case_ref: str, timeline: dict, objects: list[dict], now: datetime, issuer: str,
                      truncated: bool) -> dict:
    """The case's timeline and completeness, and one report per object (``objects``, in timeline order)."""
    checks = [completeness_check(timeline), consent_check(timeline)]
    events = [{"id": e["id"], "event_type": e.get("event_type"), "etsi_event": e.get("etsi_event"),
               "at": e.get("at"),
               "time_source": e.get("time_source"), "sha256": e.get("sha256")} for e in timeline["events"]]
    case = {"case_ref": case_ref, "count": timeline["count"], "truncated": timeline["truncated"],
            "chain": timeline["chain"], "events": events, "completeness": timeline["completeness"],
            "objects_reported": len(objects), "objects_truncated": truncated}
    return {"type": REPORT_TYPE, "scope": "case", "version": VERSION, "generated_at": iso_z(now), "issuer": issuer,
            "case": case, "verdict": verdict(checks, objects), "checks": checks, "objects": objects}
