#!/usr/bin/env python3
"""Database round trips of one search, one count and their journal entries, on PostgreSQL (issue 24).

    scripts/services .venv/bin/python bench/round_trips.py [--requests 20]

Opens a vault on a fresh PostgreSQL database (no background jobs), deposits a few objects, then sends searches
(``case_ref=CASE-*``) and counts through the ASGI app and counts, per request, the loopback round trips of the
reader's connections and of the writer's (its journal append): libpq's protocol trace of every checked-out
connection, one round trip per turn from messages sent to messages received, plus the pool's pre-ping on checkout
(which precedes the trace). Each figure is the median over ``--requests`` requests of each kind;
``ROUND_TRIPS_SHOW=1`` prints each checked-out connection's messages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


class Traced:
    """The round trips of ``engine``'s connections from checkout to checkin, counted since the last :meth:`take`."""

    def __init__(self, engine, folder: Path):
        self.trips, self._folder, self._files = 0, folder, {}
        ping = engine.dialect.do_ping

        def counted_ping(dbapi_connection):
            self.trips += 1
            return ping(dbapi_connection)

        engine.dialect.do_ping = counted_ping
        event.listen(engine, "checkout", self._checkout)
        event.listen(engine, "checkin", self._checkin)

    def _checkout(self, dbapi_connection, _record, _proxy) -> None:
        path = self._folder / f"trace-{id(dbapi_connection)}-{len(self._files)}"
        self._files[id(dbapi_connection)] = path
        dbapi_connection.pgconn.trace(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))

    def _checkin(self, dbapi_connection, _record) -> None:
        path = self._files.pop(id(dbapi_connection), None)
        if path is None or dbapi_connection.closed:
            return
        dbapi_connection.pgconn.untrace()  # flushes the trace
        directions = [line.split("\t")[1] for line in path.read_text().splitlines() if "\t" in line]
        if os.environ.get("ROUND_TRIPS_SHOW"):
            print([" ".join(line.split("\t")[1:4:2])[:60] for line in path.read_text().splitlines()])
        self.trips += sum(1 for before, now in zip(["B", *directions], directions) if before == "F" and now == "B")
        path.unlink()

    def take(self) -> int:
        trips, self.trips = self.trips, 0
        return trips


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    from starlette.testclient import TestClient

    from scale import fresh_pg_database
    from tests.conftest import ADMIN_KEY, POLICIES, Api
    from vault.api.app import create_app
    from vault.app import Vault
    from vault.settings import Settings

    url = os.environ.get("VAULT_TEST_DATABASE_URL")
    if not url:
        raise SystemExit("run through scripts/services, which starts PostgreSQL")
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder) / "data", database_url=fresh_pg_database(url),
                            admin_key=ADMIN_KEY, policies_dir=POLICIES, stores=[], copy_quorum=None)
        vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
        try:
            with TestClient(create_app(vault)) as client:
                admin = Api(client, ADMIN_KEY)
                for n in range(5):
                    answer = admin.deposit(case_ref=f"CASE-{n}", tenant="t1")
                    assert answer.status_code == 201, answer.text
                archivist = admin.as_key(admin.new_key("archivist", "*"))
                reader, writer = Traced(vault.reader, Path(folder)), Traced(vault.writer_engine, Path(folder))
                kinds = {"search": lambda: archivist.get("/v1/objects", params={"case_ref": "CASE-*"}),
                         "count": lambda: archivist.get("/v1/objects/count", params={"case_ref": "CASE-*"})}
                for kind, send in kinds.items():
                    found: dict[str, list[int]] = {"reader": [], "writer": []}
                    for _ in range(args.requests + 3):
                        reader.take(), writer.take()
                        assert send().status_code == 200
                        found["reader"].append(reader.take())
                        found["writer"].append(writer.take())
                    print(f"{kind}: reader {statistics.median(found['reader'][3:])} round trips, journal append "
                          f"{statistics.median(found['writer'][3:])}")
        finally:
            vault.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
