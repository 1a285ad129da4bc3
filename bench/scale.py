#!/usr/bin/env python3
"""The scaled configuration against the embedded one, same run: deposits/s and search p99 by case reference.

    scripts/services .venv/bin/python bench/scale.py [--count 3000] [--rows 1000000] [--no-search] [--json]

- deposits: 4 KiB proofs over HTTP (bench/ingest.py's clients) into four servers, one after the other: the
  embedded default (1 process); PostgreSQL + 1 S3 copy (quorum 2: each answer waits for the S3 PUT with its
  COMPLIANCE lock) with 1 process and with ``vault serve --workers 2``; PostgreSQL + 2 S3 copies (quorum 2: one S3
  copy before the answer, the other in the background) with 2 processes. Each reports deposits/s, p50/p99 and
  the server's CPU per deposit (user + system of the server and its worker processes, from /proc, over the
  measured run): on a shared 2-core machine CPU per deposit is the honest scaling figure. A server also spends CPU
  by the clock (background passes woken every second), which weighs more per deposit on a configuration that
  deposits slower: each run first measures its fresh server idle for ``--idle`` seconds before the warm-up, and reports
  the CPU per deposit net of that idle rate beside the raw figure. ``--scaled-clients`` gives the scaled
  configurations more clients (their deposits wait on the S3 PUT), to compare at closer deposit rates.
- search: ``--rows`` synthetic objects (a few per case, many tenants' worth of noise) written straight into
  PostgreSQL and into SQLite; p50/p99 of ``Catalog.search`` by case reference over random cases.

Targets (issues 7 and 24): search p99 < 10 ms at 10⁷ rows (``--rows 10000000``; writing them takes a while); the
scaled path's CPU per deposit ≤ 1.5× the embedded one's; 2 processes ≥ 1.6× the throughput of 1 whenever CPU is
the limit (the server busy for more than ``CPU_BOUND`` of the run's wall time).
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
CPU_BOUND = 0.8  # share of one core per server process above which a run counts as limited by CPU
TARGET_CPU_RATIO = 1.5
TARGET_SCALING = 1.6


def deposits(work: Path, extra_env: dict, count: int, clients: int, workers: int = 1, idle: float = 5) -> dict:
    port = ingest.free_port()
    server = ingest.start_server(work, port, extra_env, workers)
    try:
        ingest.settle(server.pid)  # the package fork server up and idle
        idle_cpu, idle_wall = ingest.tree_cpu_seconds(server.pid), time.perf_counter()
        time.sleep(idle)  # a fresh server with nothing to do: what its clock-driven background work costs
        idle_rate = (ingest.tree_cpu_seconds(server.pid) - idle_cpu) / (time.perf_counter() - idle_wall)
        _, body = ingest.request_json(f"http://127.0.0.1:{port}/v1/keys", "POST",
                                      {"role": "depositor", "tenant": "bench"})
        key = json.loads(body)["key"]
        ingest.run_load(port, key, max(100, count // 10), clients, 2)
        cpu, wall = ingest.tree_cpu_seconds(server.pid), time.perf_counter()
        result = ingest.run_load(port, key, count, clients, 2)
        cpu, wall = ingest.tree_cpu_seconds(server.pid) - cpu, time.perf_counter() - wall
        ingest.verify_sample(port, key, result.pop("sample"))
        return {**result, "workers": workers, "clients": clients, "cpu_ms_per_deposit": cpu / result["deposits"] * 1000,
                "idle_cpu_share": idle_rate,
                "net_cpu_ms_per_deposit": max(0.0, cpu - idle_rate * wall) / result["deposits"] * 1000,
                "cpu_busy": cpu / wall / workers}
    finally:
        ingest.stop_server(server)


def store_urls(stores: str, copies: int) -> str:
    """``copies`` S3 stores in fresh buckets of the RGW that ``VAULT_STORES`` (scripts/services) points at."""
    first = stores.split(",")[0]
    base, query = first.split("?", 1)
    root = base.rsplit("/", 1)[0]
    other = "&".join(p for p in query.split("&") if not p.startswith("name="))
    return ",".join(f"{root}/vault-bench-{os.getpid()}-{n}?{other}&name=rgw{n}" for n in range(copies))


def deposit_figures(work: Path, admin_url: str, stores: str, count: int, clients: int, scaled_clients: int,
                    idle: float) -> dict:
    """The four configurations of issue 24, one after the other, with the ratios to its targets."""
    def scaled(copies: int) -> dict:
        return {"VAULT_DATABASE_URL": fresh_pg_database(admin_url), "VAULT_COPY_QUORUM": "2",
                "VAULT_STORES": store_urls(stores, copies)}

    runs = {"embedded_1": deposits(work / "embedded", EMBEDDED, count, clients, idle=idle),
            "pg_1copy_1": deposits(work / "pg1", scaled(1), count, scaled_clients, idle=idle),
            "pg_1copy_2": deposits(work / "pg1w2", scaled(1), count, scaled_clients, workers=2, idle=idle),
            "pg_2copies_2": deposits(work / "pg2w2", scaled(2), count, scaled_clients, workers=2, idle=idle)}
    embedded, one, two = runs["embedded_1"], runs["pg_1copy_1"], runs["pg_1copy_2"]
    return {**runs, "cpu_ratio": one["cpu_ms_per_deposit"] / embedded["cpu_ms_per_deposit"],
            "net_cpu_ratio": one["net_cpu_ms_per_deposit"] / max(embedded["net_cpu_ms_per_deposit"], 1e-9),
            "scaling_2_processes": two["per_second"] / one["per_second"],
            "cpu_bound_1_process": one["cpu_busy"] >= CPU_BOUND}


def print_deposits(figures: dict) -> None:
    names = {"embedded_1": "embedded (SQLite + files), 1 process", "pg_1copy_1": "PostgreSQL + 1 S3 copy, 1 process",
             "pg_1copy_2": "PostgreSQL + 1 S3 copy, 2 processes",
             "pg_2copies_2": "PostgreSQL + 2 S3 copies (quorum 2), 2 processes"}
    print(f"{'deposits':50} {'clients':>7} {'per s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/dep':>10} "
          f"{'net of idle':>11} {'idle':>5} {'busy':>5}")
    for key, name in names.items():
        r = figures[key]
        print(f"{name:50} {r['clients']:7} {r['per_second']:7.0f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} "
              f"{r['cpu_ms_per_deposit']:10.2f} {r['net_cpu_ms_per_deposit']:11.2f} {r['idle_cpu_share']:5.2f} "
              f"{r['cpu_busy']:5.2f}")
    print(f"scaled CPU per deposit / embedded: {figures['cpu_ratio']:.2f}, net of idle "
          f"{figures['net_cpu_ratio']:.2f} (target ≤ {TARGET_CPU_RATIO})")
    bound = "CPU-bound" if figures["cpu_bound_1_process"] else "not CPU-bound: the target does not apply"
    print(f"2 processes / 1 process, PostgreSQL + 1 S3 copy: {figures['scaling_2_processes']:.2f} "
          f"(target ≥ {TARGET_SCALING} when CPU-bound; 1 process was {bound})")


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
    parser.add_argument("--scaled-clients", type=int, help="clients of the scaled configurations (default --clients)")
    parser.add_argument("--idle", type=float, default=5, help="seconds of idle server CPU measured before each run")
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic rows for the search figure")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--search-only", action="store_true", help="skip the deposit figures")
    parser.add_argument("--no-search", action="store_true", help="skip the search figures")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    admin_url = os.environ.get("VAULT_TEST_DATABASE_URL")
    stores = os.environ.get("VAULT_STORES")
    if not admin_url or not stores:
        raise SystemExit("run through scripts/services, which starts PostgreSQL and Ceph RGW: "
                         "scripts/services .venv/bin/python bench/scale.py")
    work = Path(tempfile.mkdtemp(prefix="vault-bench-scale-"))
    result: dict = {"targets": {"search_p99_ms": 10, "search_rows": 10_000_000, "cpu_ratio": TARGET_CPU_RATIO,
                                "scaling_2_processes": TARGET_SCALING}}
    try:
        if not args.search_only:
            result["deposits"] = deposit_figures(work, admin_url, stores, args.count, args.clients,
                                                 args.scaled_clients or args.clients, args.idle)
        if not args.no_search:
            print(f"writing {args.rows:,} synthetic rows into PostgreSQL and SQLite…", file=sys.stderr)
            result["search"] = {"postgresql": search_latency(fresh_pg_database(admin_url), args.rows, args.samples),
                                "sqlite": search_latency(f"sqlite:///{work / 'search.db'}", args.rows, args.samples)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["postgresql"], result["load_average"] = durability(admin_url), os.getloadavg()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"PostgreSQL: {result['postgresql']}; load average {' '.join(f'{v:.1f}' for v in result['load_average'])}")
    if "deposits" in result:
        print_deposits(result["deposits"])
    if "search" in result:
        pg_search, sqlite_search = result["search"]["postgresql"], result["search"]["sqlite"]
        print(f"search by case reference, {args.rows:,} rows:  PostgreSQL p99 {pg_search['p99_ms']:.2f} ms "
              f"(p50 {pg_search['p50_ms']:.2f}), SQLite p99 {sqlite_search['p99_ms']:.2f} ms; target < 10 ms at 10⁷"
              f"  (rows written in {pg_search['write_seconds']:.0f} s and {sqlite_search['write_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
