#!/usr/bin/env python3
"""``GET /v1/kpis`` latency at 10⁶ cases, embedded default (SQLite), against plain SQL over the raw rows, same run.

    .venv/bin/python bench/kpis.py [--cases 1000000] [--tenants 10] [--days 365] [--requests 300] [--json]
                                   [--data DIR]   # keep the built data in DIR and reuse it on the next run

Builds the derived rows directly (no HTTP deposits): ``--cases`` LRE cases spread over ``--tenants`` tenants and
``--days`` days, 80 % delivered after a log-normal delay, 8 % refused, 7 % negligent, 1 % with a technical failure,
the rest pending; their ``kpi_cases`` rows and the ``kpi_spans`` / ``kpi_span_delays`` sums the fold would write
(the same pure ``contribution`` and ``span_rows`` / ``delay_rows``), bulk-inserted. Then times ``GET /v1/kpis`` in process (TestClient:
routing, auth, journaling, JSON) for random periods of 1 to 90 days with partial first and last days, for one
tenant and for every tenant, and the ledger's ``report`` alone (the KPI computation, without the HTTP stack and the
durable journal append every read waits for), and — as the floor any journaled read pays on this machine at that
moment — ``GET /v1/keys/{id}`` (one row, journaled). Baseline: the plain SQL an unaggregated design needs, a
``SELECT COUNT(sent_at), COUNT(receipt_at)`` over the raw rows of the same periods (index on (tenant, at)).

Target (issue 20): p99 < 50 ms at 10⁶ cases.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def build(engine, cases: int, tenants: int, days: int, seed: int = 7) -> float:
    from vault.kpis.ledger import CASES, DELAYS, SPANS, delay_rows, span_rows
    from vault.kpis.measures import FACTS, case_at, contribution
    from vault.kpis.spans import hour_of

    rng = random.Random(seed)
    began = time.perf_counter()
    rows, per_hour, delays = [], Counter(), Counter()
    for n in range(cases):
        tenant = f"t{n % tenants}"
        sent = START + timedelta(seconds=rng.random() * days * 86400)
        facts = {"sent_at": sent}
        draw = rng.random()
        if draw < 0.80:
            facts["receipt_at"] = sent + timedelta(seconds=min(rng.lognormvariate(9, 1.5), 15 * 86400))
        elif draw < 0.88:
            facts["refusal_at"] = sent + timedelta(hours=rng.random() * 300)
        elif draw < 0.95:
            facts["negligence_at"] = sent + timedelta(days=15, hours=rng.random() * 24)
        elif draw < 0.96:
            facts["failure_at"] = sent + timedelta(minutes=5)
        counts, bucket = contribution(facts)
        hour = hour_of(case_at(facts))
        for name, count in counts.items():
            per_hour[(tenant, hour, name)] += count
        if bucket is not None:
            delays[(tenant, hour, bucket)] += 1
        rows.append({"tenant": tenant, "case_ref": f"case-{n}", "at": case_at(facts),
                     **{k: facts.get(k) for k in FACTS}})
    with engine.begin() as connection:
        for i in range(0, len(rows), 50_000):
            connection.execute(CASES.insert(), rows[i:i + 50_000])
        for table, derived in ((SPANS, span_rows(per_hour)), (DELAYS, delay_rows(delays))):
            names = list(derived[0])  # plain integers and text: straight to the driver (millions of rows)
            connection.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) "
                                       f"VALUES ({', '.join('?' * len(names))})",
                                       [tuple(row[n] for n in names) for row in derived])
        connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - began


def periods(count: int, tenants: int, days: int, seed: int = 11):
    rng = random.Random(seed)
    for _ in range(count):
        length = timedelta(days=rng.randint(1, 90), seconds=rng.randint(0, 86399))
        start = START + timedelta(seconds=rng.random() * ((days - 91) * 86400))
        tenant = None if rng.random() < 0.2 else f"t{rng.randrange(tenants)}"
        yield start, start + length, tenant


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--data", type=Path, help="data directory to build once and reuse (default: a temporary one)")
    args = parser.parse_args()
    from starlette.testclient import TestClient

    from vault.api.app import create_app
    from vault.app import Vault
    from vault.clock import iso_z
    from sqlalchemy import func, select

    from vault.kpis.ledger import CASES
    from vault.settings import Settings

    with tempfile.TemporaryDirectory(prefix="vault-kpis-") as work:
        data = args.data or Path(work) / "data"
        reuse = (data / "vault.db").exists()
        settings = Settings(data_dir=data, policies_dir=ROOT / "policies", admin_key="bench-admin-key-" + "x" * 32)
        vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
        built = 0.0 if reuse else build(vault.writer_engine, args.cases, args.tenants, args.days)
        api_times, ledger_times, floor_times, sql_times, checked = [], [], [], [], 0
        with TestClient(create_app(vault)) as client, vault.reader.connect() as raw:
            headers = {"Authorization": f"Bearer {settings.admin_key}"}
            listed = client.get("/v1/keys", headers=headers).json()
            floor = f"/v1/keys/{(listed['keys'] if isinstance(listed, dict) else listed)[0]['key_id']}"
            for start, end, tenant in periods(args.requests, args.tenants, args.days):
                params = {"from": iso_z(start), "to": iso_z(end), **({"tenant": tenant} if tenant else {})}
                began = time.perf_counter()
                answer = client.get("/v1/kpis", params=params, headers=headers)
                api_times.append(time.perf_counter() - began)
                assert answer.status_code == 200, answer.text
                began = time.perf_counter()
                vault.kpis.report(tenant, start, end)
                ledger_times.append(time.perf_counter() - began)
                began = time.perf_counter()
                assert client.get(floor, headers=headers).status_code == 200
                floor_times.append(time.perf_counter() - began)
                query = select(func.count(CASES.c.sent_at), func.count(CASES.c.receipt_at)).where(
                    CASES.c.at >= start, CASES.c.at < end, *([CASES.c.tenant == tenant] if tenant else []))
                began = time.perf_counter()
                sendings, _receipts = raw.execute(query).one()
                sql_times.append(time.perf_counter() - began)
                assert answer.json()["sendings"] == sendings, (answer.json(), sendings)
                checked += 1
        vault.close()
    result = {"cases": args.cases, "build_seconds": round(built, 1), "requests": checked,
              "api_p50_ms": round(statistics.median(api_times) * 1000, 2), "api_p99_ms": round(p99(api_times), 2),
              "ledger_p50_ms": round(statistics.median(ledger_times) * 1000, 2),
              "ledger_p99_ms": round(p99(ledger_times), 2),
              "floor_p50_ms": round(statistics.median(floor_times) * 1000, 2),
              "floor_p99_ms": round(p99(floor_times), 2),
              "sql_count_p50_ms": round(statistics.median(sql_times) * 1000, 2),
              "sql_count_p99_ms": round(p99(sql_times), 2)}
    result["api_vs_sql_p99"] = round(result["api_p99_ms"] / result["sql_count_p99_ms"], 3)
    result["target_met"] = result["api_p99_ms"] < 50
    print(json.dumps(result) if args.json else "\n".join(f"{k:>18}: {v}" for k, v in result.items()))
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
