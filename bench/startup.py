#!/usr/bin/env python3
"""Start-up time of ``vault serve`` (issue 24: replicas an orchestrator starts at once; the suite starts hundreds):
exec → first ``/health`` 200, as tests/server_process.py's ServerProcess waits for it, on a fresh embedded data dir
(migrations run) and on an existing one (the usual restart); and the share of it spent importing.

    .venv/bin/python bench/startup.py [--starts 5] [--json]

Baseline in the same run: ``python -c "import fastapi, sqlalchemy, uvicorn"``, the floor of any FastAPI +
SQLAlchemy service on this interpreter. Imports: ``python -c "import vault.cli.main, vault.app, vault.api.app"``
(everything ``vault serve`` imports before it opens the vault). Rounds alternate the variants so that a drift of
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server_process import ServerProcess  # noqa: E402


def timed_python(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.perf_counter() - started


def timed_start(data_dir: Path) -> float:
    server = ServerProcess(data_dir)
    started = time.perf_counter()
    server.start(timeout=60)
    elapsed = time.perf_counter() - started
    server.stop()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    samples: dict[str, list[float]] = {"floor": [], "imports": [], "fresh": [], "restart": []}
    work = Path(tempfile.mkdtemp(prefix="vault-bench-startup-"))
    try:
        for round_ in range(args.starts):
            samples["floor"].append(timed_python("import fastapi, sqlalchemy, uvicorn"))
            samples["imports"].append(timed_python("import vault.cli.main, vault.app, vault.api.app"))
            fresh = work / f"fresh-{round_}" / "data"
            samples["fresh"].append(timed_start(fresh))
            samples["restart"].append(timed_start(fresh))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    result = {"starts": args.starts, "load_average": os.getloadavg(), "median_s": medians,
              "restart_over_floor": medians["restart"] / medians["floor"],
              "import_share_of_restart": medians["imports"] / medians["restart"]}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.starts} rounds, load average {' '.join(f'{x:.2f}' for x in result['load_average'])}")
    for name, label in (("floor", "python -c 'import fastapi, sqlalchemy, uvicorn' (floor)"),
                        ("imports", "python -c 'import vault.cli.main, vault.app, vault.api.app'"),
                        ("fresh", "vault serve, fresh data dir: exec -> /health 200"),
                        ("restart", "vault serve, existing data dir: exec -> /health 200")):
        print(f"  {medians[name]:6.3f} s  {label}")
    print(f"  restart = {result['restart_over_floor']:.1f}x the floor; imports are "
          f"{100 * result['import_share_of_restart']:.0f} % of it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
