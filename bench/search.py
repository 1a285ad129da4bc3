#!/usr/bin/env python3
"""Prefix search and count (issue 21) at 10⁶ objects, through a real ``vault serve`` (default) or in process.

    .venv/bin/python bench/search.py [--objects 1000000] [--requests 300] [--json] [--in-process]
    scripts/services .venv/bin/python bench/search.py --postgresql [--objects 1000000]

Builds ``--objects`` object rows directly (no HTTP deposits), the rows a deposit writes with their search keys from
``vault.catalog.keys`` (:func:`bench_values`): 4 objects per case, cases ``LRE-2026-0000000`` onwards, 10 tenants
(a case in one tenant), then ``ANALYZE``. On SQLite by Core ``executemany``; on PostgreSQL by a binary ``COPY``
with the secondary indexes built after the load (10⁷ rows in minutes instead of ~18 min). Two checks before the
requests: 50 loaded rows read back equal their definition, and a real deposit (``POST /v1/objects``) of one more
object with the same metadata writes the same values in every searched column (:data:`SEARCHED`).

Then, with an archivist key of one tenant, through the whole app (routing, auth, the journal entry with its
pseudonymised terms, JSON):

- ``GET /v1/objects?case_ref=lre-2026-01234*`` (lower case, a prefix: 100 cases of which 10 in the tenant, 40
  objects) and ``GET /v1/objects/count`` with the same filter, over random prefixes;
- baselines: the same count by plain SQL on the raw column without the keys (``lower(case_ref) LIKE 'x%'``,
  which no index serves: what search would cost without them) and by plain SQL on the key range (the floor
  under any API); and ``GET /health`` through the same client and middleware (no key, no query, no journal: what
  the transport and the app's plumbing cost alone).

The target's verdict is taken in the default mode, the one a user sees (bench/search_served.py): ``vault serve``
(uvicorn, one process) on the data dir and database the bench built, one ``httpx.Client`` with keep-alive over
loopback; wall p50/p99 per kind as the client observes it, and the SERVER's CPU per request of each kind
(``*_server_cpu_ms``, /proc, net of its idle rate). ``--in-process`` sends the requests through Starlette's
TestClient instead, and reports each request's process CPU (``*_cpu``: every thread's, the client's and the
TestClient's event-loop hops included: about 2 ms more per request than the server spends, so it overstates a
request's cost); it keeps ``--profile`` (cProfile of every thread) and the collector's pauses (``gc_*``). The
SQLite WAL is checkpointed after the build (PostgreSQL: VACUUM and CHECKPOINT), and the baselines' connection
holds no snapshot between requests (either would make every commit pay for the bulk load).

Targets (issue 21): p99 < 10 ms for prefix search and count at 10⁶ objects on SQLite and 10⁷ on PostgreSQL.
"""

from __future__ import annotations

import argparse
import functools
import gc
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


COLUMNS = ("id", "tenant", "case_ref", "contract_number", "sender", "recipient", "case_ref_key",
           "contract_number_key", "sender_key", "recipient_key", "kind", "event_type", "event_time", "timeline_at",
           "media_type", "size", "sha256", "sha512", "policy_id", "policy_version", "deposited_at", "depositor",
           "extra", "status", "journal_index", "seal_seq", "detected_media_type")
EVENTS = ("sending", "receipt", "deposit", "other")


def bench_values(n: int) -> tuple:
    """Object ``n`` as a deposit writes it, with its search keys (vault.catalog.keys), in :data:`COLUMNS` order:
    the one definition both builds load (a tuple: 10⁷ of them are made)."""
    at = START + timedelta(seconds=n)
    digest = hashlib.sha256(n.to_bytes(8, "big")).hexdigest()
    return (f"{n:08x}-0000-7000-8000-000000000000", *case_values(n // PER_CASE), "lre-evidence", EVENTS[n % 4], at,
            at, "application/pdf", 4096, digest, digest * 2, "lre-proof", 1, at, "bench", {}, "active", n, n,
            "application/pdf")


def bench_row(n: int) -> dict:
    """:func:`bench_values` as a row, what SQLAlchemy writes and reads."""
    return dict(zip(COLUMNS, bench_values(n)))


@functools.lru_cache(maxsize=16)
def case_values(case: int) -> tuple:
    """A case's tenant, references and parties, then their search keys (the 4 objects of a case share them)."""
    from vault.catalog.keys import key_columns

    fields = {"tenant": tenant_of(case), "case_ref": f"LRE-2026-{case:07d}", "contract_number": f"CT-{case:07d}",
              "sender": f"sender{case % 997}@example.org", "recipient": f"r{case}@example.org"}
    return (*fields.values(), *key_columns(fields).values())


def build(engine, objects: int) -> tuple[float, dict]:
    """Load ``objects`` rows, then ANALYZE: COPY on PostgreSQL (:func:`copy_build`, its phases' seconds), Core
    ``executemany`` on SQLite (then its WAL checkpointed)."""
    began = time.perf_counter()
    if engine.dialect.name == "postgresql":
        phases = copy_build(engine, objects)
        return time.perf_counter() - began, phases
    from sqlalchemy import insert

    from vault.db.tables import ArchivedObject

    statement = insert(ArchivedObject.__table__)
    with engine.begin() as connection:
        for first in range(0, objects, 20_000):
            connection.execute(statement, [bench_row(n) for n in range(first, min(objects, first + 20_000))])
        connection.exec_driver_sql("ANALYZE")
    raw = engine.raw_connection()  # an archive at rest: not a bulk load's WAL waiting to be checkpointed; outside
    try:  # any transaction (the pragma cannot run in one)
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    return time.perf_counter() - began, {}


def copy_types(engine) -> list[str]:
    """The PostgreSQL type of each of :data:`COLUMNS` as the table declares it (binary COPY sends typed values)."""
    from vault.db.tables import ArchivedObject

    names = {"VARCHAR": "varchar", "TIMESTAMP": "timestamptz", "BIGINT": "int8", "JSONB": "jsonb"}
    return [names[ArchivedObject.__table__.c[c].type.compile(dialect=engine.dialect).split("(")[0].split()[0]]
            for c in COLUMNS]


def copy_build(engine, objects: int) -> dict:
    """The same rows by binary ``COPY … FROM STDIN`` (psycopg), the table's secondary indexes dropped before and built
    after the load (one sort each instead of 10⁷ insertions), then ``VACUUM (ANALYZE)`` and a ``CHECKPOINT``; the
    seconds of the load, of the indexes and of the vacuum."""
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'archived_objects' AND "
                           "indexname NOT IN (SELECT conname FROM pg_constraint)")
            indexes = cursor.fetchall()
            for name, _ in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            began = time.perf_counter()
            with cursor.copy(f"COPY archived_objects ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(copy_types(engine))
                for n in range(objects):
                    copy.write_row(bench_values(n))
            loaded = time.perf_counter()
            cursor.execute("SET maintenance_work_mem = '1GB'")
            for _, definition in indexes:
                cursor.execute(definition)
            indexed = time.perf_counter()
        connection.commit()
        # An archive at rest, not a bulk load's aftermath: without this, autovacuum's pass over the 10⁷ new rows (PG
        # 13+ vacuums after inserts) and the checkpoint of the load's gigabytes ran during the measured requests, and
        # a durable journal commit waited behind them (search p99 237 ms for a CPU p99 of 19 ms). VACUUM also sets
        # the visibility map that lets the count be index-only, as it is on a table autovacuum has seen.
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) archived_objects")
            cursor.execute("CHECKPOINT")
        connection.autocommit = False
        phases = {"copy_seconds": round(loaded - began, 1), "index_seconds": round(indexed - loaded, 1),
                  "vacuum_seconds": round(time.perf_counter() - indexed, 1)}
    finally:
        raw.close()
    return phases


def check_rows(engine, sample: list[int]) -> None:
    """The loaded rows of ``sample`` read back through the table's types equal :func:`bench_row` (the COPY wrote
    what ``executemany`` would)."""
    from sqlalchemy import select

    from vault.db.tables import ArchivedObject

    table = ArchivedObject.__table__
    with engine.connect() as connection:
        for n in sample:
            expected = bench_row(n)
            found = connection.execute(select(*(table.c[c] for c in expected)).where(
                table.c.id == expected["id"])).mappings().one()
            assert dict(found) == expected, (n, dict(found), expected)


SEARCHED = ("tenant", "case_ref", "contract_number", "sender", "recipient", "event_type", "kind", "timeline_at",
            "policy_id", "detected_media_type", "etsi_event", "status", "restriction",
            "case_ref_key", "contract_number_key", "sender_key", "recipient_key")
"""The columns a search filters, sorts or counts on (vault.catalog.search), but ``validation_verdict``: the bench's
rows have none (unsigned files), the check's stub PDF, which no validator can parse, gets ``indeterminate``."""


def check_deposit(client, engine, admin: dict, n: int) -> None:
    """A real deposit (``POST /v1/objects``) of :func:`bench_row` ``n``'s metadata writes the bench's values in
    every :data:`SEARCHED` column: the bulk build is what deposits would have made, for what searches read."""
    from sqlalchemy import select

    from vault.db.tables import ArchivedObject

    expected = bench_row(n)
    key = client.post("/v1/keys", headers=admin, json={"role": "depositor", "tenant": expected["tenant"]}).json()["key"]
    metadata = {name: expected[name] for name in ("case_ref", "contract_number", "sender", "recipient",
                                                  "event_type", "kind")}
    metadata.update(policy=expected["policy_id"], event_time=expected["event_time"].isoformat())
    answer = client.post("/v1/objects", headers={"Authorization": f"Bearer {key}"},
                         files={"file": ("proof.pdf", b"%PDF-1.7 bench", "application/pdf"),
                                "metadata": (None, json.dumps(metadata), "application/json")})
    assert answer.status_code == 201, answer.text
    table = ArchivedObject.__table__
    with engine.connect() as connection:
        row = connection.execute(select(*(table.c[c] for c in SEARCHED)).where(
            table.c.id == answer.json()["id"])).mappings().one()
    assert dict(row) == {c: expected.get(c) for c in SEARCHED}, (dict(row), expected)


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


class gc_pauses:
    """The cyclic collector's collections during the requests and the longest one (``gc.callbacks``): a full
    collection walks every tracked object, the pause a p99 sees."""

    def __init__(self) -> None:
        self.collections, self.longest, self._began, self.generations = 0, 0.0, 0.0, []
        gc.callbacks.append(self.note)

    def note(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.collections += 1
            self.longest = max(self.longest, time.perf_counter() - self._began)
            self.generations.append((info["generation"], round((time.perf_counter() - self._began) * 1000, 2),
                                     info["collected"]))


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
    parser.add_argument("--scans", type=int, help="run the keyless scan baseline for the first SCANS requests only "
                        "(default: all; at 10⁷ objects each scan takes seconds)")
    parser.add_argument("--postgresql", action="store_true", help="on a fresh PostgreSQL database (scripts/services)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--in-process", action="store_true", help="through the ASGI app in this process (Starlette "
                        "TestClient, the whole process's CPU per request) instead of a real `vault serve`")
    parser.add_argument("--profile", type=Path, help="write the pstats of every thread's time in the requests here (with --in-process)")
    args = parser.parse_args()
    if args.profile and not args.in_process:
        parser.error("--profile profiles this process's threads: it needs --in-process (profile a served run's "
                     "server with py-spy record -p <its pid>)")
    from starlette.testclient import TestClient

    from vault.api.app import create_app
    from vault.app import Vault
    from vault.runtime import settle_heap
    from vault.settings import Settings

    cases = args.objects // PER_CASE
    with tempfile.TemporaryDirectory(prefix="vault-search-") as work:
        database_url = fresh_pg_database() if args.postgresql else ""
        settings = Settings(data_dir=Path(work) / "data", database_url=database_url, stores=(),
                            policies_dir=ROOT / "policies", admin_key="bench-admin-key-" + "x" * 32)
        profilers = profile_threads() if args.profile else None  # before the vault starts its writer thread
        vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
        built, phases = build(vault.writer_engine, args.objects)
        if not args.in_process:
            check_rows(vault.reader, random.Random(7).sample(range(args.objects), min(args.objects, 50)))
            return served(args, settings, vault, phases, built)
        times = {"search": [], "count": [], "sql_scan": [], "sql_keys": [], "search_cpu": [], "count_cpu": [],
                 "health": [], "health_cpu": []}
        rng = random.Random(5)
        with TestClient(create_app(vault)) as client, vault.reader.connect() as raw:
            admin = {"Authorization": f"Bearer {settings.admin_key}"}
            key = client.post("/v1/keys", headers=admin, json={"role": "archivist", "tenant": "t3",
                                                                 "holder": "bench@example.org"}).json()["key"]
            headers = {"Authorization": f"Bearer {key}"}
            check_rows(vault.reader, random.Random(7).sample(range(args.objects), min(args.objects, 50)))
            check_deposit(client, vault.writer_engine, admin, PER_CASE * (cases + 1))  # a case no prefix draws
            settle_heap()  # as `vault serve` does once it has started (vault.runtime)
            pauses = gc_pauses()
            for request in range(args.requests):
                stem = f"lre-2026-{rng.randrange(max(1, cases // 100)):05d}"
                params = {"case_ref": stem + "*"}
                page, spent = timed(lambda: client.get("/v1/objects", params={**params, "limit": 50}, headers=headers),
                                    times["search_cpu"])
                times["search"].append(spent)
                counted, spent = timed(lambda: client.get("/v1/objects/count", params=params, headers=headers),
                                       times["count_cpu"])
                times["count"].append(spent)
                assert page.status_code == 200 and counted.status_code == 200, (page.text, counted.text)
                scanned, floor = sql_baselines(raw, stem, args.scans is None or request < args.scans, times)
                assert counted.json()["count"] == floor == len(page.json()["items"]) and scanned in (None, floor), stem
                _, spent = timed(lambda: client.get("/health"), times["health_cpu"])  # the harness + app floor
                times["health"].append(spent)
                raw.rollback()  # no read snapshot held across the run (it would keep the WAL from checkpointing)
            gc.callbacks.remove(pauses.note)
        vault.close()
    if profilers is not None:
        write_profile(profilers, args.profile)
    return report(args, "in process", built, phases, times, {
        "gc_collections": pauses.collections, "gc_max_pause_ms": round(pauses.longest * 1000, 2),
        "gc_pauses": pauses.generations})


def sql_baselines(raw, stem: str, scan: bool, times: dict) -> tuple[int | None, int]:
    """Tenant t3's count of prefix ``stem`` by plain SQL on the raw column without the keys (when ``scan``; None
    otherwise) and on the key range (the floor), their seconds appended to ``times["sql_scan"]`` and
    ``times["sql_keys"]``."""
    from sqlalchemy import func, select

    from vault.catalog.keys import prefix_range
    from vault.db.tables import ArchivedObject

    table, scanned = ArchivedObject.__table__, None
    if scan:
        scanning = select(func.count()).where(table.c.tenant == "t3", func.lower(table.c.case_ref).like(stem + "%"))
        scanned, spent = timed(lambda: raw.execute(scanning).scalar_one())
        times["sql_scan"].append(spent)
    low, high = prefix_range(stem)
    keyed = select(func.count()).where(table.c.tenant == "t3", table.c.case_ref_key >= low, table.c.case_ref_key < high)
    floor, spent = timed(lambda: raw.execute(keyed).scalar_one())
    times["sql_keys"].append(spent)
    return scanned, floor


def served(args, settings, vault, phases: dict, built: float) -> int:
    """The requests through a real ``vault serve`` (bench/search_served.py), then the SQL baselines on the same
    prefixes; every page and count checked against the key-range floor."""
    from sqlalchemy import create_engine

    import search_served

    cases = args.objects // PER_CASE
    url = vault.writer_engine.url
    vault.close()  # the server opens the data dir and the database alone
    rng = random.Random(5)
    stems = [f"lre-2026-{rng.randrange(max(1, cases // 100)):05d}" for _ in range(args.requests)]
    engine = create_engine(url)
    try:
        figures = search_served.measure(settings, engine, stems, check_deposit, PER_CASE * (cases + 1))
        times = {**figures.pop("times"), "sql_scan": [], "sql_keys": []}
        with engine.connect() as raw:
            for request, stem in enumerate(stems):
                scanned, floor = sql_baselines(raw, stem, args.scans is None or request < args.scans, times)
                assert figures["counts"][request] == floor == figures["pages"][request] and scanned in (None, floor), \
                    stem
                raw.rollback()
    finally:
        engine.dispose()
    return report(args, "served", built, phases, times, {"idle_cpu_share": figures["idle_cpu_share"]})


def report(args, mode: str, built: float, phases: dict, times: dict, extra: dict) -> int:
    """Prints the run's figures (p50/p99 of each list of seconds in ``times``, other entries as they are) and the
    target's verdict; the exit status is 0 when the target is met."""
    result = {"engine": "postgresql" if args.postgresql else "sqlite", "mode": mode, "objects": args.objects,
              "load_average": [round(x, 2) for x in os.getloadavg()],
              "build_seconds": round(built, 1), **phases, "requests": args.requests,
              **{f"{name}_p50_ms": p50(samples) for name, samples in times.items()
                 if isinstance(samples, list) and len(samples) > 1},
              **{f"{name}_p99_ms": p99(samples) for name, samples in times.items()
                 if isinstance(samples, list) and len(samples) > 1},
              **{name: value for name, value in times.items() if not isinstance(value, list)}, **extra}
    result["target_met"] = result["search_p99_ms"] < 10 and result["count_p99_ms"] < 10
    print(json.dumps(result) if args.json else "\n".join(f"{k:>22}: {v}" for k, v in result.items()))
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
