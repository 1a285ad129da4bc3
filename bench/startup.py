#!/usr/bin/env python3
"""Start-up time of ``vault serve`` (issue 24: replicas an orchestrator starts at once; the suite starts hundreds):
exec → first ``/health`` 200, as tests/server_process.py's ServerProcess waits for it, on a fresh embedded data dir
(migrations run) and on an existing one (the usual restart); and the share of it spent importing.

    .venv/bin/python bench/startup.py [--starts 5] [--json] [--compare /work/main]

``--compare TREE``: the same figures for another checkout (its own ``.venv``), its starts alternated with these.

Baseline in the same run: importing fastapi, sqlalchemy and uvicorn, the floor of any FastAPI + SQLAlchemy service
on this interpreter. Imports: ``vault.cli.main, vault.app, vault.api.app`` (what ``vault serve`` imports before it
serves). Both timed inside a fresh interpreter, without its start and exit. Rounds alternate the variants so that a drift of
the machine does not favour one; medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server_process import free_port  # noqa: E402


def python_of(tree: Path) -> str:
    return sys.executable if tree == ROOT else str(tree / ".venv" / "bin" / "python")


def timed_imports(tree: Path, modules: str) -> float:
    """Seconds a fresh interpreter spends importing ``modules``, timed inside it (not its start or its exit)."""
    code = f"import time; t = time.perf_counter(); import {modules}; print(time.perf_counter() - t)"
    return float(subprocess.run([python_of(tree), "-c", code], check=True, cwd=tree, capture_output=True,
                                text=True).stdout)


def timed_start(tree: Path, data_dir: Path) -> float:
    """Seconds from exec of ``vault serve`` to its first ``/health`` 200 (polled every 10 ms, one client)."""
    port = free_port()
    env = {**os.environ, "VAULT_DATA_DIR": str(data_dir), "VAULT_HOST": "127.0.0.1", "VAULT_PORT": str(port),
           "VAULT_POLICIES_DIR": str(tree / "policies"), "VAULT_ADMIN_KEY": "bench-admin-key-" + "y" * 24}
    data_dir.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=1) as http, open(data_dir.parent / "server.log", "ab") as log:
        started = time.perf_counter()
        server = subprocess.Popen([python_of(tree), "-m", "vault.cli.main", "serve"], cwd=tree, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            while server.poll() is None:
                try:
                    if http.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    time.sleep(0.01)
            raise RuntimeError(f"vault serve in {tree} exited with {server.returncode}: see {log.name}")
        finally:
            server.terminate()
            server.wait(30)


def measure(trees: list[Path], starts: int, work: Path) -> dict[Path, dict[str, list[float]]]:
    samples = {tree: {"floor": [], "imports": [], "fresh": [], "restart": []} for tree in trees}
    for round_ in range(starts):
        for tree in trees:
            figures = samples[tree]
            figures["floor"].append(timed_imports(tree, "fastapi, sqlalchemy, uvicorn"))
            figures["imports"].append(timed_imports(tree, "vault.cli.main, vault.app, vault.api.app"))
            data = work / f"{trees.index(tree)}-{round_}" / "data"
            figures["fresh"].append(timed_start(tree, data))
            figures["restart"].append(timed_start(tree, data))
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--compare", type=Path, help="another checkout, measured alternately")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    trees = [ROOT] + ([args.compare.resolve()] if args.compare else [])
    work = Path(tempfile.mkdtemp(prefix="vault-bench-startup-"))
    try:
        samples = measure(trees, args.starts, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {}
    for tree, figures in samples.items():
        medians = {name: statistics.median(values) for name, values in figures.items()}
        results[str(tree)] = {"median_s": medians, "restart_over_floor": medians["restart"] / medians["floor"],
                              "import_share_of_restart": medians["imports"] / medians["restart"]}
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"starts": args.starts, "load_average": load, "trees": results}, indent=2))
        return 0
    print(f"{args.starts} rounds, load average at the end {' '.join(f'{x:.2f}' for x in load)}")
    for tree, result in results.items():
        medians = result["median_s"]
        print(tree)
        for name, label in (("floor", "import fastapi, sqlalchemy, uvicorn (the floor), in a fresh interpreter"),
                            ("imports", "import vault.cli.main, vault.app, vault.api.app, in a fresh interpreter"),
                            ("fresh", "vault serve, fresh data dir: exec -> /health 200"),
                            ("restart", "vault serve, existing data dir: exec -> /health 200")):
            print(f"  {medians[name]:6.3f} s  {label}")
        print(f"  restart = {result['restart_over_floor']:.1f}x the floor's imports; vault's imports are "
              f"{100 * result['import_share_of_restart']:.0f} % of a restart")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
