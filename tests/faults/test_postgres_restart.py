"""PostgreSQL restarted under load (issue 19, fault suite). The suite's PostgreSQL (scripts/lib/postgres.sh) is shared
by the whole run, so this test starts a private one the same way (initdb as the ``postgres`` user on a private port)
and restarts that one while depositors run against a live server. While the database is away a deposit may be
refused, but only with a problem+json answer; once it is back deposits succeed again without restarting the
service, and after a restart every acknowledged deposit is there.

RGW down mid-load: ``tests/test_copies.py::test_rgw_unreachable_during_deposits…``.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.faults.crash import check_everything_survived, depositor, run_during
from tests.server_process import ServerProcess, deposit, free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.serial(
    "depositors against a PostgreSQL stopped and started mid-load: the outage and recovery are timed")]

PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=None, key=lambda p: int(p.parent.name))


def _as_postgres(*command: str) -> subprocess.CompletedProcess:
    """initdb and postgres refuse to run as root: run them as the ``postgres`` user then (as postgres.sh does)."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    return subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)


class PrivatePostgres:
    """A throwaway PostgreSQL on loopback that a test may stop and start at will."""

    def __init__(self):
        self.work = Path(tempfile.mkdtemp(prefix="vault-pg-fault."))
        self.work.chmod(0o755)
        if os.getuid() == 0:
            shutil.chown(self.work, "postgres")
        self.port = free_port()
        self.url = f"postgresql+psycopg://vault@127.0.0.1:{self.port}/postgres"
        done = _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.work / "data"), "-U", "vault", "--auth=trust",
                            "-E", "UTF8", "--no-locale")
        assert done.returncode == 0, done.stdout + done.stderr

    def pg_ctl(self, *args: str) -> None:
        done = _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.work / "data"), "-l", str(self.work / "server.log"),
                            "-w", "-t", "60", *args)
        assert done.returncode == 0, done.stdout + done.stderr + (self.work / "server.log").read_text()

    def start(self) -> None:
        self.pg_ctl("start", "-o", f"-p {self.port} -k {self.work} -c listen_addresses=127.0.0.1 -c fsync=off "
                                   "-c full_page_writes=off")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "stop")

    def remove(self) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.work / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.work, ignore_errors=True)


@pytest.fixture
def private_postgres():
    if PG_BIN is None or not (PG_BIN / "initdb").exists():
        pytest.skip("no PostgreSQL binaries under /usr/lib/postgresql")
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()


def test_postgresql_restart_mid_load(tmp_path, private_postgres):
    env = {"VAULT_DATABASE_URL": private_postgres.url}
    data_dir = tmp_path / "data"
    acknowledged, answers = {}, []
    with ServerProcess(data_dir, env=env) as server:
        key = server.new_key("depositor", "acme")
        work = depositor(server, key, random.Random(19), "pg", acknowledged, threading.Lock(), answers=answers)
        counts = {}

        def restart_database() -> None:
            time.sleep(1)
            counts["before"] = len(acknowledged)
            private_postgres.stop("immediate")  # a crash of the database, not a polite shutdown
            time.sleep(1.5)
            private_postgres.start()
            time.sleep(3)

        run_during(work, 3, restart_database)
        before = counts["before"]
        assert before > 0
        refused = [(status, kind) for status, kind in answers if status != 201]
        assert all(kind == "application/problem+json" for _status, kind in refused), refused
        with server.client(key) as http:  # the service reconnects by itself
            assert deposit(http, b"after the restart", case_ref="CRASH-pg").status_code == 201
            assert http.get("/ready").status_code == 200
        assert len(acknowledged) > before, "no deposit succeeded after PostgreSQL came back"
        assert "Traceback" not in server.output()
    check_everything_survived(data_dir, {"acknowledged": acknowledged, "key": key}, env=env)
