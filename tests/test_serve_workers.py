"""``vault serve --workers N``: N replica processes on one port, each serving; all stop with the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.server_process import ROOT, ServerProcess, deposit


def replicas_of(pid: int) -> list[int]:
    """The replica processes of server ``pid`` (its other child is multiprocessing's resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in found if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_two_workers_serve_one_port_and_stop_together(tmp_path):
    server = ServerProcess(tmp_path / "data", serve_args=("--workers", "2")).start(timeout=60)
    try:
        replicas = replicas_of(server.pid)
        assert len(replicas) == 2, replicas
        key = server.new_key("depositor", "acme")
        with server.client(key) as http:
            for n in range(20):  # new connections, spread by the kernel over the replicas
                response = deposit(http, f"proof {n}".encode(), headers={"Connection": "close"})
                assert response.status_code == 201, response.text
        assert "with 2 worker processes" in server.output()
        assert server.stop() == 0
        assert all(not Path(f"/proc/{pid}").exists() for pid in replicas)
    finally:
        server.kill9()


def test_a_replica_that_dies_stops_the_others(tmp_path):
    server = ServerProcess(tmp_path / "data", serve_args=("--workers", "2")).start(timeout=60)
    try:
        first, second = replicas_of(server.pid)
        os.kill(first, signal.SIGKILL)
        assert server.process.wait(30) == 1
        assert not Path(f"/proc/{second}").exists() or "zombie" in Path(f"/proc/{second}/status").read_text()
        assert "Traceback" not in server.output()
    finally:
        server.kill9()


def test_workers_must_be_at_least_one():
    done = subprocess.run([sys.executable, "-m", "vault.cli.main", "serve", "--workers", "0"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip() == "vault: --workers 0: give 1 or more processes"
