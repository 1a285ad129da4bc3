#!/usr/bin/env python3
"""Sealing at scale: seal and timestamp-renew 10⁶ deposits, extract one evidence record, Bouncy Castle as peer.

    .venv/bin/python bench/seal.py [--objects 1000000] [--batch 100000] [--bc-n 4096] [--json]

- seal: ``--objects`` synthetic deposits (rows written straight into the catalog before the clock starts) are
  sealed in batches of ``--batch`` by vault's Sealer with the built-in TSA, then every chain is timestamp-renewed;
  TSA calls are counted at the transport.
- extract: median and p99 time to derive one object's DER evidence record (after the renewal: two ATS) from a
  ``--batch``-object batch stored in SQLite, over random objects.
- peer: Bouncy Castle 1.72's ``ERSArchiveTimeStampGenerator`` building the evidence records of ``--bc-n`` objects
  (tests/interop/ErsCheck.java ``generate``; its tree building only, the TSA signature excluded), against our
  extraction of one record and our from-scratch tree plus record at the same N.

Targets (issue 4): 10⁶ objects sealed in < 60 s with ≤ 1 TSA call per 10⁵ objects; extraction < 5 ms;
≥ 100× Bouncy Castle.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic_deposits(vault, count: int) -> None:
    """Catalog rows for ``count`` deposits with dense seal_seq, as the deposit path would leave them."""
    from sqlalchemy import insert

    from vault.db.tables import ArchivedObject
    from vault.ids import uuid7

    table = ArchivedObject.__table__
    now = datetime.now(timezone.utc)
    with vault.writer_engine.begin() as connection:
        for start in range(0, count, 20_000):
            rows = []
            for seq in range(start, min(count, start + 20_000)):
                content = seq.to_bytes(8, "big")
                rows.append({
                    "id": str(uuid7()), "tenant": "bench", "case_ref": f"CASE-{seq // 4}", "kind": "lre-evidence",
                    "event_type": "deposit", "timeline_at": now, "media_type": "application/octet-stream",
                    "size": 8, "sha256": hashlib.sha256(content).hexdigest(),
                    "sha512": hashlib.sha512(content).hexdigest(), "policy_id": "lre-proof", "policy_version": 1,
                    "deposited_at": now, "depositor": "bench", "extra": {}, "status": "stored",
                    "journal_index": 0, "seal_seq": seq,
                })
            connection.execute(insert(table), rows)


def bench_seal(work: Path, objects: int, batch: int) -> dict:
    from vault.app import Vault
    from vault.evidence.assemble import assemble
    from vault.evidence.verify import DataObject, verify_evidence_record
    from vault.settings import Settings

    vault = Vault.open(Settings(data_dir=work / "seal", policies_dir=ROOT / "policies", admin_key="b" * 30,
                                seal_batch_max=batch), sweep_in_background=False, background_jobs=False)
    try:
        synthetic_deposits(vault, objects)
        calls = []
        transport = vault.tsa.transport
        vault.tsa.transport = lambda *args: calls.append(1) or transport(*args)
        start = time.perf_counter()
        batches = vault.seal_scheduler.seal_all_pending()
        sealed = time.perf_counter() - start
        seal_calls = len(calls)
        start = time.perf_counter()
        report = vault.sealer.renew_timestamps(force=True)
        renewed = time.perf_counter() - start

        sample = random.Random(7).sample(range(min(batch, objects)), 200)
        times, size = [], 0
        with vault.reader.connect() as connection:
            for seq in sample:
                t0 = time.perf_counter()
                record = assemble(connection, seq)
                times.append(time.perf_counter() - t0)
                size = len(record.der)
        content = sample[0].to_bytes(8, "big")
        with vault.reader.connect() as connection:
            der = assemble(connection, sample[0]).der
        verdict = verify_evidence_record(der, [DataObject(digests={"sha256": hashlib.sha256(content).digest()})],
                                         roots=[vault.dev_tsa.root])
        assert verdict.ok, verdict.first_failure
    finally:
        vault.close()
    times.sort()
    return {
        "objects": objects, "batches": len(batches), "seal_seconds": sealed, "seal_tsa_calls": seal_calls,
        "renew_seconds": renewed, "renew_tsa_calls": len(calls) - seal_calls, "chains_renewed": report.renewed,
        "objects_per_second": objects / sealed,
        "extract_median_ms": statistics.median(times) * 1000, "extract_p99_ms": times[int(len(times) * 0.99)] * 1000,
        "record_bytes": size,
    }


def ours_from_scratch(n: int) -> float:
    """Our equivalent of Bouncy Castle's job at N: tree over n objects, then one object's reduced tree (median)."""
    from vault.evidence.asn1 import digest_function
    from vault.evidence.hashtree import build_levels, reduced_hashtree, sibling_positions

    sha256 = digest_function("sha256")
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        leaves = [sha256(i.to_bytes(8, "big")) for i in range(n)]
        levels = build_levels(sha256, leaves)
        path = [levels[level][pos] for level, pos in sibling_positions(n, 5)]
        reduced_hashtree(leaves[5], path)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def bench_bouncy_castle(work: Path, n: int) -> float | None:
    sys.path.insert(0, str(ROOT / "tests" / "interop"))
    import bc_ers

    if not bc_ers.available():
        return None
    classes = bc_ers.build(work / "bc")
    result = bc_ers.run(classes, "generate", "--n", str(n), "--index", "5", "--out", str(work / "bc.ers"),
                        "--runs", "1", "--warmups", "1", timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(result.stdout + result.stderr)
    return float(result.stdout.split()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--bc-n", type=int, default=4096)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vault-bench-seal-"))
    try:
        seal = bench_seal(work, args.objects, args.batch)
        scratch = ours_from_scratch(args.bc_n)
        bc = bench_bouncy_castle(work, args.bc_n)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    extract_s = seal["extract_median_ms"] / 1000
    result = {
        **seal,
        "ours_from_scratch_seconds_at_bc_n": scratch,
        "bc_generate_seconds": bc,
        "bc_n": args.bc_n,
        "ratio_bc_over_extract": bc / extract_s if bc else None,
        "ratio_bc_over_ours_from_scratch": bc / scratch if bc else None,
        "targets": {
            "seal_under_60s": seal["seal_seconds"] < 60,
            "tsa_calls_per_1e5_objects": seal["seal_tsa_calls"] / (args.objects / 100_000),
            "extract_under_5ms": seal["extract_median_ms"] < 5,
            "bc_ratio_at_least_100": bool(bc) and bc / extract_s >= 100,
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"sealed {seal['objects']:,} objects in {seal['seal_seconds']:.1f} s "
          f"({seal['objects_per_second']:,.0f}/s) in {seal['batches']} batches, {seal['seal_tsa_calls']} TSA calls")
    print(f"timestamp renewal of {seal['chains_renewed']} chains: {seal['renew_seconds']:.2f} s, "
          f"{seal['renew_tsa_calls']} TSA call(s)")
    print(f"evidence record from a {args.batch:,}-object batch: median {seal['extract_median_ms']:.2f} ms, "
          f"p99 {seal['extract_p99_ms']:.2f} ms ({seal['record_bytes']} bytes)")
    print(f"ours from scratch at N={args.bc_n}: {scratch * 1000:.1f} ms (tree + one record)")
    if bc:
        print(f"Bouncy Castle 1.72 generator at N={args.bc_n}: {bc:.3f} s -> "
              f"{bc / extract_s:,.0f}x our extraction, {bc / scratch:,.0f}x our from-scratch job")
    else:
        print("Bouncy Castle not installed (libbcprov-java libbcpkix-java libbcutil-java + a JDK): no peer ratio")
    print("targets: " + ", ".join(f"{k}={v}" for k, v in result["targets"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
