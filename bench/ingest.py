#!/usr/bin/env python3
"""Deposit throughput over HTTP on the embedded default, against a floor measured on the same machine, same run.

Starts its own ``vault serve`` (fresh data dir, loopback, free port), issues a depositor key, then sends 4 KiB
proofs from several client processes (http.client keep-alive, multipart bodies built in advance so the clients
cost little CPU). The floor is what the machine does per object with no HTTP and no Python web stack: write
4 KiB to a temp file, fsync, rename, fsync the directory, then insert one row in SQLite (WAL,
synchronous=FULL) and commit — sequentially, one object at a time.

    .venv/bin/python bench/ingest.py [--count 6000] [--clients 16] [--processes 2] [--json]
    .venv/bin/python bench/ingest.py --formats both --pairs 3      # the PRONOM format pass on against off

Targets (issue 3): ≥ 1 000 deposits/s and ≥ 50 % of the floor.

``--formats on|off`` runs the server with its background PRONOM format pass (``VAULT_FORMAT_IDENTIFICATION``,
vault.catalog.formats, FIDO in a ``nice 19`` child process) or without it. Each run reports three CPU figures per
deposit over the measured load: the server process (all its threads), the FIDO child alone, and the whole process
tree; and how many objects the pass identified per second during the load, its backlog (``pending``) when the load
ends, then how long it takes to drain that backlog and FIDO's CPU per object identified.

``--formats both`` runs ``--pairs`` pairs, each run on a fresh server and data dir, alternating the order (off then
on, on then off, …) so that a drift of the machine does not favour one side. It prints the on/off ratios per pair
with their median and min–max, and a verdict on the server's CPU per deposit — the figure the deposit path pays,
less noisy than throughput on a shared machine: **within noise** when |median over pairs of (on − off)| is at most
the range (max − min) of the off runs, i.e. the difference is no larger than what the same configuration varies by
from run to run today. With 3–4 pairs this is a coarse test: it says the effect is not distinguishable from this
machine's noise, not that it is zero; the range of the off runs is printed beside it so the reader can judge.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "bench-admin-key-" + "z" * 24
PROOF_SIZE = 4096


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_floor(directory: Path, count: int) -> float:
    """Objects/s for write + fsync + rename + fsync(dir) + one committed SQLite insert, one at a time."""
    directory.mkdir(parents=True, exist_ok=True)
    blobs = directory / "blobs"
    blobs.mkdir()
    db = sqlite3.connect(directory / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE objects (id INTEGER PRIMARY KEY, sha256 TEXT, size INTEGER)")
    payloads = [os.urandom(PROOF_SIZE) for _ in range(count)]
    dir_fd = os.open(blobs, os.O_RDONLY | os.O_DIRECTORY)
    start = time.perf_counter()
    for i, data in enumerate(payloads):
        tmp, final = blobs / f"{i}.tmp", blobs / f"{i}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, final)
        os.fsync(dir_fd)
        db.execute("BEGIN")
        db.execute("INSERT INTO objects (sha256, size) VALUES (?, ?)", (hashlib.sha256(data).hexdigest(), len(data)))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    os.close(dir_fd)
    db.close()
    return count / elapsed


def build_body(n: int) -> tuple[str, bytes, str]:
    boundary = f"bench{n:08d}{random.getrandbits(32):08x}"
    data = os.urandom(PROOF_SIZE)
    metadata = json.dumps({"case_ref": f"BENCH-{n // 10}", "policy": "lre-proof", "event_type": "sending"})
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
        f"Content-Type: application/json\r\n\r\n{metadata}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"proof-{n}.bin\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return boundary, body, hashlib.sha256(data).hexdigest()


def client_process(port: int, key: str, first: int, count: int, threads: int, start_at: float, out) -> None:
    bodies = [build_body(first + i) for i in range(count)]
    next_index = [0]
    lock = threading.Lock()
    latencies: list[float] = []
    receipts: list[tuple[str, str]] = []
    failures = [0]

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= count:
                return
            boundary, body, sha256 = bodies[i]
            began = time.perf_counter()
            connection.request("POST", "/v1/objects", body, {
                "Authorization": f"Bearer {key}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
            response = connection.getresponse()
            payload = response.read()
            latencies.append(time.perf_counter() - began)
            if response.status != 201:
                failures[0] += 1
                continue
            receipt = json.loads(payload)
            if receipt["sha256"] != sha256:
                failures[0] += 1
            receipts.append((receipt["id"], sha256))

    while time.time() < start_at:
        time.sleep(0.001)
    began = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.put({"elapsed": time.perf_counter() - began, "latencies": latencies, "failures": failures[0],
             "sample": random.sample(receipts, min(5, len(receipts)))})


def request_json(url: str, method: str = "GET", body: dict | None = None, key: str = ADMIN_KEY):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def start_server(data_dir: Path, port: int, extra_env: dict | None = None, workers: int = 1) -> subprocess.Popen:
    env = {**os.environ, "VAULT_DATA_DIR": str(data_dir), "VAULT_PORT": str(port), "VAULT_HOST": "127.0.0.1",
           "VAULT_POLICIES_DIR": str(ROOT / "policies"), "VAULT_ADMIN_KEY": ADMIN_KEY, **(extra_env or {})}
    process = subprocess.Popen([sys.executable, "-m", "vault.cli.main", "serve", "--workers", str(workers)], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.stderr.read().decode(errors='replace')}")
        try:
            if request_json(f"http://127.0.0.1:{port}/health")[0] == 200:
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("server did not start within 30 s")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def run_load(port: int, key: str, total: int, clients: int, processes: int) -> dict:
    queue: mp.Queue = mp.Queue()
    start_at = time.time() + 1.5  # every client builds its bodies first, then all start together
    per_process = total // processes
    workers = [mp.Process(target=client_process, args=(port, key, p * per_process, per_process,
                                                       max(1, clients // processes), start_at, queue))
               for p in range(processes)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(l for r in results for l in r["latencies"])
    count = len(latencies)
    return {
        "deposits": count,
        "per_second": count / max(r["elapsed"] for r in results),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(0.99 * (count - 1))] * 1000,
        "failures": sum(r["failures"] for r in results),
        "sample": [s for r in results for s in r["sample"]],
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """Process ``pid`` and every live descendant (``vault serve --workers N``, the FIDO child), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # a process that ended while we looked
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def tree_cpu_seconds(pid: int) -> float:
    """:func:`cpu_seconds` of process ``pid`` and of every live descendant."""
    total = 0.0
    for current in process_tree(pid):
        try:
            total += cpu_seconds(current)
        except OSError:
            continue
    return total


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""  # ended while we looked


def fido_child(pid: int) -> int | None:
    """The format pass's identification child (``python -m vault.pronom``) under server ``pid``, if running."""
    return next((current for current in process_tree(pid) if b"vault.pronom" in command_line(current)), None)


def fido_cpu(pid: int) -> tuple[int | None, float]:
    """The FIDO child's pid and CPU seconds (0 when it is not running: it starts at the first identification)."""
    child = fido_child(pid)
    try:
        return child, cpu_seconds(child) if child else 0.0
    except OSError:
        return None, 0.0


def settle(pid: int, timeout: float = 30.0) -> None:
    """Waits until the server's package fork server (started ``vault.server.WARM_AFTER`` s after start-up, about a
    second of imports) is up and idle, so that its start is not counted in the tree's CPU of the measured load."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        forkserver = any(b"forkserver" in command_line(p) for p in process_tree(pid) if p != pid)
        now = tree_cpu_seconds(pid) - cpu_seconds(pid)
        if forkserver and now == last:
            return
        last = now
        time.sleep(0.5)


def formats_counts(port: int) -> tuple[int, int]:
    """(pending, identified) objects from ``GET /v1/formats``; identified counts the unidentified ones too."""
    held = json.loads(request_json(f"http://127.0.0.1:{port}/v1/formats")[1])
    return held["pending"], held["unidentified"] + sum(f["objects"] for f in held["formats"])


def verify_sample(port: int, key: str, sample: list[tuple[str, str]]) -> int:
    for object_id, sha256 in sample:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/objects/{object_id}/content",
                                         headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            if hashlib.sha256(response.read()).hexdigest() != sha256:
                raise SystemExit(f"object {object_id} came back with different bytes")
    return len(sample)


def one_run(work: Path, formats: bool, args) -> dict:
    """A fresh server (format pass on or off) and data dir: the floor, a warm-up, the measured load with its CPU
    figures, the format pass's progress, then (pass on) the drain of its backlog."""
    work.mkdir(parents=True)
    floor = measure_floor(work / "floor", args.floor_count)
    port = free_port()
    server = start_server(work / "data", port, {"VAULT_FORMAT_IDENTIFICATION": "true" if formats else "false"})
    try:
        _, body = request_json(f"http://127.0.0.1:{port}/v1/keys", "POST", {"role": "depositor", "tenant": "bench"})
        key = json.loads(body)["key"]
        run_load(port, key, args.warmup, args.clients, args.processes)
        settle(server.pid)
        _, identified_before = formats_counts(port)
        child_before, fido_before = fido_cpu(server.pid)
        server_before, tree_before = cpu_seconds(server.pid), tree_cpu_seconds(server.pid)
        result = run_load(port, key, args.count, args.clients, args.processes)
        server_after, tree_after = cpu_seconds(server.pid), tree_cpu_seconds(server.pid)
        child_after, fido_after = fido_cpu(server.pid)
        backlog, identified_after = formats_counts(port)
        deposits, elapsed = result["deposits"], result["deposits"] / result["per_second"]
        result.update(
            formats="on" if formats else "off", floor_per_second=floor,
            server_cpu_us_per_deposit=(server_after - server_before) / deposits * 1e6,
            fido_cpu_us_per_deposit=(fido_after - (fido_before if child_after == child_before else 0)) / deposits * 1e6,
            tree_cpu_us_per_deposit=(tree_after - tree_before) / deposits * 1e6,
            identified_per_second=(identified_after - identified_before) / elapsed, backlog_at_end=backlog,
            fido_restarted=child_before is not None and child_after != child_before)
        if formats:
            result.update(drain(port, server.pid, backlog, identified_before, fido_before, args.drain))
        result["verified_objects"] = verify_sample(port, key, result.pop("sample"))
    finally:
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)
    return result


def drain(port: int, pid: int, backlog: int, identified_before: int, fido_before: float, timeout: float) -> dict:
    """Waits (up to ``timeout`` s) for the pass to identify the backlog left when the load ended: the drain time,
    the catch-up rate with no load, and FIDO's CPU per object over the load and the drain."""
    began = time.perf_counter()
    while backlog and time.perf_counter() - began < timeout:
        time.sleep(0.25)
        backlog = formats_counts(port)[0]
    seconds = time.perf_counter() - began
    identified = formats_counts(port)[1] - identified_before
    _, fido_after = fido_cpu(pid)
    return {"drain_seconds": seconds, "backlog_after_drain": backlog,
            "fido_cpu_us_per_object": (fido_after - fido_before) / max(identified, 1) * 1e6}


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def compare(runs: list[dict]) -> dict:
    """On/off ratios per pair (median, min–max) and the noise verdict on the server's CPU per deposit (see the
    module docstring for its definition)."""
    pairs = [(runs[i], runs[i + 1]) if runs[i]["formats"] == "on" else (runs[i + 1], runs[i])
             for i in range(0, len(runs), 2)]
    ratios = {name: spread([on[name] / off[name] for on, off in pairs]) for name in
              ("per_second", "p50_ms", "p99_ms", "server_cpu_us_per_deposit", "tree_cpu_us_per_deposit")}
    offs = [off["server_cpu_us_per_deposit"] for _, off in pairs]
    difference = statistics.median(on["server_cpu_us_per_deposit"] - off["server_cpu_us_per_deposit"]
                                   for on, off in pairs)
    noise = max(offs) - min(offs)
    return {"pairs": len(pairs), "ratios_on_to_off": ratios, "server_cpu_difference_us": difference,
            "off_server_cpu_range_us": noise, "verdict": "within noise" if abs(difference) <= noise else
            f"outside noise: {difference:+.0f} µs per deposit against a {noise:.0f} µs range of the off runs"}


def print_run(run: dict) -> None:
    print(f"formats {run['formats']:3}: {run['per_second']:6.0f} deposits/s  p50 {run['p50_ms']:5.1f} ms  "
          f"p99 {run['p99_ms']:6.1f} ms  failures {run['failures']}  floor {run['floor_per_second']:5.0f}/s "
          f"(ratio {run['per_second'] / run['floor_per_second']:.2f})")
    print(f"    CPU µs per deposit: server {run['server_cpu_us_per_deposit']:5.0f}   FIDO child "
          f"{run['fido_cpu_us_per_deposit']:5.0f}   process tree {run['tree_cpu_us_per_deposit']:5.0f}"
          + ("   (FIDO child restarted during the load)" if run["fido_restarted"] else ""))
    if run["formats"] == "on":
        print(f"    format pass: {run['identified_per_second']:.0f} objects identified/s during the load "
              f"({run['per_second']:.0f} deposits/s), backlog {run['backlog_at_end']} at its end, drained in "
              f"{run['drain_seconds']:.1f} s ({run['backlog_after_drain']} left); FIDO "
              f"{run['fido_cpu_us_per_object']:.0f} µs CPU per object identified")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6000, help="measured deposits (after a warm-up)")
    parser.add_argument("--warmup", type=int, default=600)
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections in total")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--floor-count", type=int, default=2000)
    parser.add_argument("--formats", choices=("on", "off", "both"), default="on",
                        help="the server's background PRONOM format pass; both: --pairs alternated on/off runs")
    parser.add_argument("--pairs", type=int, default=3, help="with --formats both")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait for the format backlog")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    plan = ([True] if args.formats == "on" else [False] if args.formats == "off" else
            [on for pair in range(args.pairs) for on in ((False, True) if pair % 2 == 0 else (True, False))])
    work = Path(tempfile.mkdtemp(prefix="vault-bench-"))
    runs = []
    try:
        for n, formats in enumerate(plan):
            runs.append(one_run(work / f"run{n}", formats, args))
            if not args.json:
                print_run(runs[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report = {"runs": runs, "load_average": os.getloadavg(), "target_per_second": 1000, "target_ratio": 0.5,
              "clients": args.clients, "processes": args.processes, "proof_bytes": PROOF_SIZE,
              **({"comparison": compare(runs)} if args.formats == "both" else {})}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.clients} clients in {args.processes} processes; target ≥ 1000 deposits/s and ≥ 0.50 of the floor "
          f"(write+fsync+rename+fsync dir+SQLite commit, sequential); load average now "
          + " ".join(f"{x:.2f}" for x in report["load_average"]))
    if "comparison" in report:
        comparison = report["comparison"]
        for name, value in comparison["ratios_on_to_off"].items():
            print(f"on/off {name:26} median {value['median']:.3f}  min {value['min']:.3f}  max {value['max']:.3f}")
        print(f"server CPU per deposit, median on − off over {comparison['pairs']} pairs: "
              f"{comparison['server_cpu_difference_us']:+.0f} µs; range of the off runs "
              f"{comparison['off_server_cpu_range_us']:.0f} µs → {comparison['verdict']}")


if __name__ == "__main__":
    main()
