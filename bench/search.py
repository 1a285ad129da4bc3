#!/usr/bin/env python3
"""Prefix search and count (issue 21) at 10⁶ objects, in process through the ASGI app, against baselines of the run.

    .venv/bin/python bench/search.py [--objects 1000000] [--requests 300] [--json]
    scripts/services .venv/bin/python bench/search.py --postgresql [--objects 1000000]

Builds ``--objects`` object rows directly (no HTTP deposits; Core ``executemany`` of the rows a deposit writes,
with their search keys from ``vault.catalog.keys``): 4 objects per case, cases ``LRE-2026-0000000`` onwards, 10
tenants (a case in one tenant), then ``ANALYZE``. Then, with an archivist key of one tenant, through the whole app
in process (Starlette TestClient: routing, auth, the journal entry with its pseudonymised terms, JSON):

- ``GET /v1/objects?case_ref=lre-2026-01234*`` (lower case, a prefix: 100 cases of which 10 in the tenant, 40
  objects) and ``GET /v1/objects/count`` with the same filter, over random prefixes;
- baselines: the same count by plain SQL on the raw column without the keys (``lower(case_ref) LIKE 'x%'``,
  which no index serves: what search would cost without them) and by plain SQL on the key range (the floor
  under any API); and ``GET /health`` through the same client and middleware (no key, no query, no journal: what
  the in-process harness and the app's plumbing cost alone).

Each request's process CPU time is reported too (``*_cpu``: every thread's, the client's included), a figure the
machine's load inflates far less than the wall time. The SQLite WAL is checkpointed after the build, and the
baselines' connection holds no snapshot between requests (either would make every commit pay for the bulk load).

Targets (issue 21): p99 < 10 ms for prefix search and count at 10⁶ objects on SQLite and 10⁷ on PostgreSQL.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
TENANTS = 10
PER_CASE = 4


def tenant_of(case: int) -> str:
    return f"t{case % TENANTS}"


def build(engine, objects: int) -> float:
    from sqlalchemy import insert

    from vault.catalog.keys import key_columns
    from vault.db.tables import ArchivedObject

    began = time.perf_counter()
    statement = insert(ArchivedObject.__table__)
    with engine.begin() as connection:
        for first in range(0, objects, 20_000):
            batch = []
            for n in range(first, min(objects, first + 20_000)):
                case, at = n // PER_CASE, START + timedelta(seconds=n)
                digest = hashlib.sha256(n.to_bytes(8, "big")).hexdigest()
                row = {"id": f"{n:08x}-0000-7000-8000-000000000000", "tenant": tenant_of(case),
                       "case_ref": f"LRE-2026-{case:07d}", "contract_number": f"CT-{case:07d}",
                       "sender": f"sender{case % 997}@example.org", "recipient": f"r{case}@example.org",
                       "kind": "lre-evidence", "event_type": ("sending", "receipt", "deposit", "other")[n % 4],
                       "event_time": at, "timeline_at": at, "media_type": "application/pdf", "size": 4096,
                       "sha256": digest, "sha512": digest * 2, "policy_id": "lre-proof", "policy_version": 1,
                       "deposited_at": at, "depositor": "bench", "extra": {}, "status": "active",
                       "journal_index": n, "seal_seq": n, "detected_media_type": "application/pdf"}
                batch.append({**row, **key_columns(row)})
            connection.execute(statement, batch)
        connection.exec_driver_sql("ANALYZE")
    if engine.dialect.name == "sqlite":  # an archive at rest: not a bulk load's WAL waiting to be checkpointed
        raw = engine.raw_connection()  # outside any transaction: the pragma cannot run in one
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    return time.perf_counter() - began


def p99(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=100)[98] * 1000, 2)


def p50(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def timed(call, cpu: list | None = None):
    """``call()`` and its wall time; its process CPU time (every thread's: the loop, the pool, the writer) is
    appended to ``cpu``: a figure the machine's load inflates far less than the wall time."""
    began, began_cpu = time.perf_counter(), time.process_time()
    value = call()
    if cpu is not None:
        cpu.append(time.process_time() - began_cpu)
    return value, time.perf_counter() - began


def profile_threads() -> list:
    """cProfile every thread started from now on (the TestClient's event loop, the thread pool's workers): the
    request's time is spent there, not in the thread that sends it."""
    import cProfile
    import threading

    profilers, bootstrap = [], threading.Thread._bootstrap_inner  # run() is overridden by anyio's workers

    def profiled(thread):
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()
        try:
            bootstrap(thread)
        finally:
            profiler.disable()

    threading.Thread._bootstrap_inner = profiled
    return profilers


def write_profile(profilers: list, path: Path) -> None:
    import pstats

    stats = pstats.Stats(profilers[0])
    for profiler in profilers[1:]:
        stats.add(profiler)
    stats.dump_stats(str(path))


def fresh_pg_database() -> str:
    url = os.environ.get("VAULT_TEST_DATABASE_URL")
    if not url:
        raise SystemExit("--postgresql runs through scripts/services, which starts PostgreSQL")
    sys.path.insert(0, str(ROOT / "bench"))
    from scale import fresh_pg_database as fresh
    return fresh(url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgresql", action="store_true", help="on a fresh PostgreSQL database (scripts/services)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", type=Path, help="write the pstats of every thread's time in the requests here")
    args = parser.parse_args()
    from sqlalchemy import func, select
    from starlette.testclient import TestClient

    from vault.api.app import create_app
    from vault.app import Vault
    from vault.catalog.keys import prefix_range
    from vault.db.tables import ArchivedObject
    from vault.settings import Settings

    table = ArchivedObject.__table__
    cases = args.objects // PER_CASE
    with tempfile.TemporaryDirectory(prefix="vault-search-") as work:
        database_url = fresh_pg_database() if args.postgresql else ""
        settings = Settings(data_dir=Path(work) / "data", database_url=database_url, stores=(),
                            policies_dir=ROOT / "policies", admin_key="bench-admin-key-" + "x" * 32)
        profilers = profile_threads() if args.profile else None  # before the vault starts its writer thread
        vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
        built = build(vault.writer_engine, args.objects)
        times = {"search": [], "count": [], "sql_scan": [], "sql_keys": [], "search_cpu": [], "count_cpu": [],
                 "health": [], "health_cpu": []}
        rng = random.Random(5)
        with TestClient(create_app(vault)) as client, vault.reader.connect() as raw:
            admin = {"Authorization": f"Bearer {settings.admin_key}"}
            key = client.post("/v1/keys", headers=admin, json={"role": "archivist", "tenant": "t3",
                                                                 "holder": "bench@example.org"}).json()["key"]
            headers = {"Authorization": f"Bearer {key}"}
            for _ in range(args.requests):
                stem = f"lre-2026-{rng.randrange(max(1, cases // 100)):05d}"
                params = {"case_ref": stem + "*"}
                page, spent = timed(lambda: client.get("/v1/objects", params={**params, "limit": 50}, headers=headers),
                                    times["search_cpu"])
                times["search"].append(spent)
                counted, spent = timed(lambda: client.get("/v1/objects/count", params=params, headers=headers),
                                       times["count_cpu"])
                times["count"].append(spent)
                assert page.status_code == 200 and counted.status_code == 200, (page.text, counted.text)
                scan = select(func.count()).where(table.c.tenant == "t3", func.lower(table.c.case_ref).like(stem + "%"))
                scanned, spent = timed(lambda: raw.execute(scan).scalar_one())
                times["sql_scan"].append(spent)
                low, high = prefix_range(stem)
                keyed = select(func.count()).where(table.c.tenant == "t3", table.c.case_ref_key >= low,
                                                   table.c.case_ref_key < high)
                floor, spent = timed(lambda: raw.execute(keyed).scalar_one())
                times["sql_keys"].append(spent)
                assert counted.json()["count"] == scanned == floor == len(page.json()["items"]), stem
                _, spent = timed(lambda: client.get("/health"), times["health_cpu"])  # the harness + app floor
                times["health"].append(spent)
                raw.rollback()  # no read snapshot held across the run (it would keep the WAL from checkpointing)
        vault.close()
    if profilers is not None:
        write_profile(profilers, args.profile)
    result = {"engine": "postgresql" if args.postgresql else "sqlite", "objects": args.objects,
              "load_average": [round(x, 2) for x in os.getloadavg()],
              "build_seconds": round(built, 1), "requests": args.requests,
              **{f"{name}_p50_ms": p50(samples) for name, samples in times.items()},
              **{f"{name}_p99_ms": p99(samples) for name, samples in times.items()}}
    result["target_met"] = result["search_p99_ms"] < 10 and result["count_p99_ms"] < 10
    print(json.dumps(result) if args.json else "\n".join(f"{k:>18}: {v}" for k, v in result.items()))
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
