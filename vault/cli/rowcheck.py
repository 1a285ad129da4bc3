"""``vault verify --data-dir DIR``: every object row against its metadata record, every record against its
evidence record (issue 22, "the record is the truth"), in parallel processes; exit 1 on any mismatch."""

from __future__ import annotations

import json
import time

from vault.cli.client import data_dir_settings


def cmd_verify(args) -> int:
    from vault.evidence.rowaudit import audit_database

    settings = data_dir_settings(args.data_dir)
    started = time.perf_counter()
    report = audit_database(settings.effective_database_url, workers=args.workers)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"objects": report.objects, "mismatches": report.mismatches, "notes": report.notes,
                          "seconds": round(seconds, 3)}, indent=2))
    else:
        for m in report.mismatches:
            print(f"MISMATCH {m['object_id']} {m['field']}: row {json.dumps(m['row'])}, "
                  f"record {json.dumps(m['record'])}")
        notes = "".join(f"; {count} {name}" for name, count in sorted(report.notes.items()))
        print(f"{report.objects} objects checked in {seconds:.1f} s: {len(report.mismatches)} mismatch(es){notes}")
    return 1 if report.mismatches else 0


def add_parsers(sub, common) -> None:
    verify = sub.add_parser("verify", parents=[common], help="check every object row against its sealed metadata "
                                                             "record, and each record against its evidence record")
    verify.add_argument("--data-dir", required=True, help="the data directory whose database to check")
    verify.add_argument("--workers", type=int, help="processes (default: one per CPU)")
    verify.set_defaults(local=cmd_verify)
