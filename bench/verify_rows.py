#!/usr/bin/env python3
"""``vault verify --data-dir`` at scale: every object row against its metadata record, every record against its
seal batch leaf (issue 22), in parallel processes.

    .venv/bin/python bench/verify_rows.py [--objects 100000] [--workers 2] [--json]

Setup (not timed): ``--objects`` synthetic deposits of policy ``lre-proof`` — rows as the deposit path leaves
them, with their version-1 records and disclosures (sender, filename committed) — sealed as data groups by vault's
Sealer with the built-in TSA. Timed: :func:`vault.evidence.rowaudit.audit_database`; baseline in the same run:
plain reading of the same rows (the same columns, by 5 000 in seal order, one process), the floor of any row check.
Target: ≥ 10 000 objects/s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic_deposits(vault, count: int) -> None:
    """Rows, records and disclosures of ``count`` deposits with dense seal_seq, as a deposit would write them."""
    from sqlalchemy import insert

    from vault.db.tables import ArchivedObject
    from vault.evidence.metadata_record import build_record
    from vault.evidence.metadata_store import INSERT_DISCLOSURE, INSERT_RECORD, record_rows
    from vault.ids import uuid7

    policy = vault.policies.get("lre-proof")
    now = datetime.now(timezone.utc)
    with vault.writer_engine.begin() as connection:
        for start in range(0, count, 10_000):
            rows, records, disclosures = [], [], []
            for seq in range(start, min(count, start + 10_000)):
                content = seq.to_bytes(8, "big")
                row = {
                    "id": str(uuid7()), "tenant": "bench", "case_ref": f"CASE-{seq // 4}", "contract_number": None,
                    "kind": "lre-evidence", "event_type": "sending", "event_time": now, "timeline_at": now,
                    "sender": f"s{seq}@example.org", "recipient": None, "filename": f"proof-{seq}.pdf",
                    "media_type": "application/pdf", "size": 8, "sha256": hashlib.sha256(content).hexdigest(),
                    "sha512": hashlib.sha512(content).hexdigest(), "policy_id": policy.id,
                    "policy_version": policy.version, "retention_start": now,
                    "retention_until": policy.retention_until(now, now), "deposited_at": now, "depositor": "bench",
                    "extra": {"channel": "web"}, "status": "stored", "journal_index": 0, "seal_seq": seq,
                }
                record = build_record(row, policy.personal_fields, policy.start)
                stored, opened = record_rows(row["id"], record, now)
                rows.append(row)
                records.append(stored)
                disclosures += opened
            connection.execute(insert(ArchivedObject.__table__), rows)
            connection.execute(INSERT_RECORD, records)
            connection.execute(INSERT_DISCLOSURE, disclosures)


def plain_read(url: str, span: int = 5000) -> int:
    from sqlalchemy import select

    from vault.db.engine import make_engine
    from vault.evidence.rowaudit import CHECKED, OBJECTS, seal_seq_bounds

    engine = make_engine(url)
    read = 0
    with engine.connect() as connection:
        low, high = seal_seq_bounds(connection)
        for start in range(low, high + 1, span):
            read += len(connection.execute(select(*CHECKED).where(OBJECTS.c.seal_seq.between(start, start + span - 1)))
                        .mappings().all())
    engine.dispose()
    return read


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from vault.app import Vault
    from vault.evidence.rowaudit import audit_database
    from vault.settings import Settings

    with tempfile.TemporaryDirectory(prefix="vault-bench-verify-") as scratch:
        settings = Settings(data_dir=Path(scratch) / "data", policies_dir=ROOT / "policies", admin_key="b" * 30)
        vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
        try:
            started = time.perf_counter()
            synthetic_deposits(vault, args.objects)
            vault.seal_scheduler.seal_all_pending()
            setup = time.perf_counter() - started
        finally:
            vault.close()
        url = settings.effective_database_url
        started = time.perf_counter()
        read = plain_read(url)
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        report = audit_database(url, workers=args.workers)
        checked = time.perf_counter() - started
    result = {"objects": args.objects, "workers": args.workers, "setup_seconds": round(setup, 1),
              "verify_seconds": round(checked, 2), "verify_objects_per_second": round(report.objects / checked),
              "plain_read_seconds": round(baseline, 2), "plain_read_objects_per_second": round(read / baseline),
              "ratio_to_plain_read": round(baseline / checked, 3), "mismatches": len(report.mismatches),
              "notes": report.notes, "target_met": report.objects / checked >= 10_000}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{report.objects:,} objects verified in {checked:.2f} s ({result['verify_objects_per_second']:,}/s, "
              f"{args.workers} workers); plain read of the rows {baseline:.2f} s "
              f"({result['plain_read_objects_per_second']:,}/s): {result['ratio_to_plain_read']:.1%} of it; "
              f"{len(report.mismatches)} mismatch(es) {report.notes or ''}; target ≥ 10 000/s "
              f"{'met' if result['target_met'] else 'NOT met'}")
    return 0 if not report.mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
