#!/usr/bin/env python3
"""The writer's INSERTs on PostgreSQL: CPU per row of ``vault.db.multirow.execute_many`` against SQLAlchemy's own.

    scripts/services .venv/bin/python bench/pg_inserts.py [--batches 300]

A 24-column table (strings, a ``timestamptz``, a ``jsonb``), transactions of 12 and 40 rows (a group commit's
few deposits, and a busier one); the CPU time of the insert call alone, best of 3 rounds, both paths alternated.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from sqlalchemy import BigInteger, Column, MetaData, String, Table, insert  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from vault.db.engine import make_engine  # noqa: E402
from vault.db.multirow import execute_many  # noqa: E402
from vault.db.types import JSONDocument, UTCDateTime  # noqa: E402

META = MetaData()
ROWS = Table("rows", META, Column("id", BigInteger, primary_key=True, autoincrement=False),
             *[Column(f"c{i}", String(40)) for i in range(20)], Column("at", UTCDateTime()), Column("doc", JSONDocument))
STATEMENT = insert(ROWS)
PATHS = {"sqlalchemy": lambda connection, rows: connection.execute(STATEMENT, rows),
         "execute_many": lambda connection, rows: execute_many(connection, STATEMENT, rows)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300)
    args = parser.parse_args()
    admin = os.environ.get("VAULT_TEST_DATABASE_URL")
    if not admin:
        raise SystemExit("run through scripts/services, which starts PostgreSQL: "
                         "scripts/services .venv/bin/python bench/pg_inserts.py")
    url = make_url(admin)
    name = "vault_bench_" + secrets.token_hex(4)
    with psycopg.connect(f"host={url.host} port={url.port} user={url.username} dbname={url.database}",
                         autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(url.set(database=name).render_as_string(hide_password=False), writer=True)
    META.create_all(engine)
    at, next_id = datetime.now(timezone.utc), 0
    for per_batch in (12, 40):
        best = dict.fromkeys(PATHS, float("inf"))
        for _round in range(3):
            for path, run in PATHS.items():
                spent = 0.0
                for _ in range(args.batches):
                    rows = []
                    for _ in range(per_batch):
                        next_id += 1
                        rows.append({"id": next_id, **{f"c{i}": f"value {i} {next_id}" for i in range(20)}, "at": at,
                                     "doc": {"n": next_id}})
                    with engine.begin() as connection:
                        started = time.process_time()
                        run(connection, rows)
                        spent += time.process_time() - started
                best[path] = min(best[path], spent / args.batches / per_batch * 1e6)
        print(f"{per_batch} rows per transaction: " + ", ".join(f"{path} {us:.1f} µs CPU/row" for path, us in best.items())
              + f"  ({best['sqlalchemy'] / best['execute_many']:.2f}×; load average {os.getloadavg()[0]:.1f})")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
