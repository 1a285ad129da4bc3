#!/usr/bin/env python3
"""Deposit throughput over HTTP on the embedded default, against a floor measured on the same machine, same run.

Starts its own ``vault serve`` (fresh data dir, loopback, free port), issues a depositor key, then sends 4 KiB
proofs from several client processes (http.client keep-alive, multipart bodies built in advance so the clients
cost little CPU). The floor is what the machine does per object with no HTTP and no Python web stack: write
4 KiB to a temp file, fsync, rename, fsync the directory, then insert one row in SQLite (WAL,
synchronous=FULL) and commit — sequentially, one object at a time.

    .venv/bin/python bench/ingest.py [--count 6000] [--clients 16] [--processes 2] [--json]

Targets (issue 3): ≥ 1 000 deposits/s and ≥ 50 % of the floor.
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


def tree_cpu_seconds(pid: int) -> float:
    """:func:`cpu_seconds` of process ``pid`` and of every live descendant (``vault serve --workers N``)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # a process that ended while we looked
        children.setdefault(parent, []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += cpu_seconds(current)
        except OSError:
            continue
        todo += children.get(current, [])
    return total


def verify_sample(port: int, key: str, sample: list[tuple[str, str]]) -> int:
    for object_id, sha256 in sample:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/objects/{object_id}/content",
                                         headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            if hashlib.sha256(response.read()).hexdigest() != sha256:
                raise SystemExit(f"object {object_id} came back with different bytes")
    return len(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6000, help="measured deposits (after a warm-up)")
    parser.add_argument("--warmup", type=int, default=600)
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections in total")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--floor-count", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vault-bench-"))
    try:
        floor = measure_floor(work / "floor", args.floor_count)
        port = free_port()
        server = start_server(work / "data", port)
        try:
            _, body = request_json(f"http://127.0.0.1:{port}/v1/keys", "POST", {"role": "depositor", "tenant": "bench"})
            key = json.loads(body)["key"]
            run_load(port, key, args.warmup, args.clients, args.processes)
            cpu_before = cpu_seconds(server.pid)
            result = run_load(port, key, args.count, args.clients, args.processes)
            result["server_cpu_us_per_deposit"] = (cpu_seconds(server.pid) - cpu_before) / result["deposits"] * 1e6
            checked = verify_sample(port, key, result.pop("sample"))
        finally:
            stop_server(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report = {**result, "floor_per_second": floor, "ratio_to_floor": result["per_second"] / floor,
              "target_per_second": 1000, "target_ratio": 0.5, "verified_objects": checked,
              "clients": args.clients, "processes": args.processes, "proof_bytes": PROOF_SIZE}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"floor (write+fsync+rename+fsync dir+SQLite commit, sequential): {floor:8.0f} objects/s")
    print(f"vault over HTTP, {args.clients} clients in {args.processes} processes:   {result['per_second']:8.0f} deposits/s"
          f"   p50 {result['p50_ms']:.1f} ms   p99 {result['p99_ms']:.1f} ms   failures {result['failures']}")
    print(f"server CPU (all its threads, user + system): {result['server_cpu_us_per_deposit']:.0f} µs per deposit")
    print(f"ratio to floor: {report['ratio_to_floor']:.2f} (target ≥ 0.50)   "
          f"ratio to 1000/s: {result['per_second'] / 1000:.2f} (target ≥ 1.00)   verified {checked} objects")


if __name__ == "__main__":
    main()
