#!/usr/bin/env python3
"""The scaled configuration against the embedded one, same run: deposits/s and search p99 by case reference.

    scripts/services .venv/bin/python bench/scale.py [--count 3000] [--rows 1000000] [--json]

- deposits: 4 KiB proofs over HTTP (bench/ingest.py's clients) into a server on PostgreSQL + Ceph RGW with two
  copies (quorum two: each answer waits for the S3 PUT with its COMPLIANCE lock), and into the embedded default.
- search: ``--rows`` synthetic objects (a few per case, many tenants' worth of noise) written straight into
  PostgreSQL and into SQLite; p50/p99 of ``Catalog.search`` by case reference over random cases.

Targets (issue 7): search p99 < 10 ms at 10⁷ rows (``--rows 10000000``; writing them takes a while); the
deposits figure is reported beside the embedded one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ingest  # noqa: E402  (bench/ingest.py: server start, load clients)

EMBEDDED = {"VAULT_DATABASE_URL": "", "VAULT_STORES": "", "VAULT_COPY_QUORUM": ""}


def deposits(work: Path, extra_env: dict, count: int, clients: int) -> dict:
    port = ingest.free_port()
    server = ingest.start_server(work, port, extra_env)
    try:
        _, body = ingest.request_json(f"http://127.0.0.1:{port}/v1/keys", "POST",
                                      {"role": "depositor", "tenant": "bench"})
        key = json.loads(body)["key"]
        ingest.run_load(port, key, max(100, count // 10), clients, 2)
        cpu_before = ingest.cpu_seconds(server.pid)
        result = ingest.run_load(port, key, count, clients, 2)
        result["server_cpu_us_per_deposit"] = (ingest.cpu_seconds(server.pid) - cpu_before) / result["deposits"] * 1e6
        ingest.verify_sample(port, key, result.pop("sample"))
        return result
    finally:
        ingest.stop_server(server)


def fresh_pg_database(admin_url: str) -> str:
    import secrets

    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    name = "vault_bench_" + secrets.token_hex(4)
    with psycopg.connect(f"host={url.host} port={url.port} user={url.username} dbname={url.database}",
                         autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def durability(url: str) -> str:
    """The PostgreSQL settings a commit's durability rests on, as the server reports them."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(url)
    with psycopg.connect(f"host={url.host} port={url.port} user={url.username} dbname={url.database}") as connection:
        return ", ".join(f"{name}={connection.execute(f'SHOW {name}').fetchone()[0]}"
                         for name in ("synchronous_commit", "fsync", "full_page_writes"))


def search_latency(url: str, rows: int, samples: int) -> dict:
    from sqlalchemy import insert

    from vault.catalog.keys import key_columns
    from vault.catalog.queries import Catalog, SearchFilters
    from vault.db.engine import make_engine
    from vault.db.migrate import upgrade
    from vault.db.tables import ArchivedObject

    engine = make_engine(url)
    upgrade(engine)
    table = ArchivedObject.__table__
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    cases = max(1, rows // 4)
    written = time.perf_counter()
    with engine.begin() as connection:
        for first in range(0, rows, 20_000):
            batch = []
            for n in range(first, min(rows, first + 20_000)):
                at = start + timedelta(seconds=n)
                digest = hashlib.sha256(n.to_bytes(8, "big")).hexdigest()
                batch.append({"id": f"{n:08x}-0000-7000-8000-000000000000", "tenant": f"t{n % 50}",
                              "case_ref": f"CASE-{n % cases:09d}", "kind": "lre-evidence", "event_type": "deposit",
                              "timeline_at": at, "media_type": "application/pdf", "size": 4096, "sha256": digest,
                              "sha512": digest * 2, "policy_id": "lre-proof", "policy_version": 1,
                              "deposited_at": at, "depositor": "bench", "extra": {}, "status": "active",
                              "journal_index": n, "seal_seq": n})
                batch[-1].update(key_columns(batch[-1]))  # what a deposit writes beside the row
            connection.execute(insert(table), batch)
    written = time.perf_counter() - written
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE archived_objects")
    catalog = Catalog(engine)
    rng = random.Random(3)
    times = []
    for _ in range(samples):
        n = rng.randrange(rows)
        filters = SearchFilters(tenant=f"t{n % 50}", case_ref=f"CASE-{n % cases:09d}")
        t0 = time.perf_counter()
        page = catalog.search(filters, None, 50)
        times.append(time.perf_counter() - t0)
        assert page.items, "a sampled case must be found"
    engine.dispose()
    times.sort()
    return {"rows": rows, "write_seconds": written, "p50_ms": statistics.median(times) * 1000,
            "p99_ms": times[int(0.99 * (len(times) - 1))] * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="measured deposits per configuration")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic rows for the search figure")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--search-only", action="store_true", help="skip the deposit figures")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    admin_url = os.environ.get("VAULT_TEST_DATABASE_URL")
    stores = os.environ.get("VAULT_STORES")
    if not admin_url or not stores:
        raise SystemExit("run through scripts/services, which starts PostgreSQL and Ceph RGW: "
                         "scripts/services .venv/bin/python bench/scale.py")
    work = Path(tempfile.mkdtemp(prefix="vault-bench-scale-"))
    try:
        scaled_env = {"VAULT_DATABASE_URL": fresh_pg_database(admin_url), "VAULT_COPY_QUORUM": "2",
                      "VAULT_STORES": stores.replace("/vault-copies?", f"/vault-bench-{os.getpid()}?")}
        skipped = {"per_second": float("nan"), "p99_ms": float("nan"), "server_cpu_us_per_deposit": float("nan")}
        embedded = skipped if args.search_only else deposits(work / "embedded", EMBEDDED, args.count, args.clients)
        scaled = skipped if args.search_only else deposits(work / "scaled", scaled_env, args.count, args.clients)
        print(f"writing {args.rows:,} synthetic rows into PostgreSQL and SQLite…", file=sys.stderr)
        pg_search = search_latency(fresh_pg_database(admin_url), args.rows, args.samples)
        sqlite_search = search_latency(f"sqlite:///{work / 'search.db'}", args.rows, args.samples)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"deposits": {"embedded": embedded, "scaled_two_copies": scaled,
                           "ratio": scaled["per_second"] / embedded["per_second"],
                           "cpu_ratio": scaled["server_cpu_us_per_deposit"] / embedded["server_cpu_us_per_deposit"],
                           "postgresql": durability(admin_url), "load_average": os.getloadavg()},
              "search": {"postgresql": pg_search, "sqlite": sqlite_search},
              "targets": {"search_p99_ms": 10, "search_rows": 10_000_000}}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    cpu = "server_cpu_us_per_deposit"
    print(f"deposits, embedded (SQLite + files):            {embedded['per_second']:7.0f}/s  p99 {embedded['p99_ms']:.1f} ms"
          f"  server CPU {embedded[cpu]:.0f} µs/deposit")
    print(f"deposits, PostgreSQL + RGW, two copies:          {scaled['per_second']:7.0f}/s  p99 {scaled['p99_ms']:.1f} ms"
          f"  server CPU {scaled[cpu]:.0f} µs/deposit  ({result['deposits']['ratio']:.2f} of embedded's rate, "
          f"{result['deposits']['cpu_ratio']:.2f}× its CPU; target ≤ 1.5×)")
    print(f"PostgreSQL: {result['deposits']['postgresql']}; load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"search by case reference, {args.rows:,} rows:  PostgreSQL p99 {pg_search['p99_ms']:.2f} ms "
          f"(p50 {pg_search['p50_ms']:.2f}), SQLite p99 {sqlite_search['p99_ms']:.2f} ms; target < 10 ms at 10⁷"
          f"  (rows written in {pg_search['write_seconds']:.0f} s and {sqlite_search['write_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
