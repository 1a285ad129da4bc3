#!/usr/bin/env python3
"""Export packages and their offline verification, on the embedded default, against baselines of the same run.

    .venv/bin/python bench/export.py [--objects 10000] [--size 4096] [--repeats 2] [--small 30] [--json]

- build: a real ``vault serve`` (fresh data dir, loopback, free port; bench/ingest.py's) holding ``--objects``
  deposits of ``--size`` bytes in ONE case, sealed and anchored; ``GET /v1/cases/{case}/package`` streamed to a
  file over HTTP, ``--repeats`` times (median): packages/s, objects/s, MB/s of ZIP written; the server's peak RSS
  during the export (its high-water mark reset just before, ``/proc/PID/clear_refs``) against its RSS before.
  Also ``--small`` one-object packages in a row (packages/s), each journaled and checkpointed like any export.
- load: ``--depositors`` threads keep depositing (into another case) for the whole of each export, so the package is
  read from its snapshot while writers commit beside it (issue 19); their deposits/s during the exports is printed.
- baseline for the build: plain ``zipfile`` writing the same members (same names, same compression, bytes already
  in memory) to a file on the same disk, once on a quiet machine (after the server stopped) and once in a process of
  its own while the same depositors run (the conditions the build had).
- verify: ``python -m vault_verify package PKG.zip --json`` in a child process (the whole standalone verifier:
  BagIt both digests, every evidence record with its token, every inclusion proof, the anchor): objects/s, MB/s,
  peak RSS (its VmHWM at exit), against ``python -c "import vault_verify.package"`` (the interpreter and imports alone).
- baseline for the verifier: plain SHA-256 of the same ZIP bytes, streamed in 1 MiB chunks.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest  # noqa: E402  (bench/ingest.py: server start and stop, free port, JSON requests)

CASE = "EXPORT-BENCH-1"


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def _reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)
        return True
    except OSError:
        return False


def deposit_all(port: int, key: str, count: int, size: int, threads: int = 8) -> float:
    """``count`` deposits into one case over keep-alive connections; returns deposits/s (setup, not the figure)."""
    next_index, lock, failures = [0], threading.Lock(), []

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                n = next_index[0]
                next_index[0] += 1
            if n >= count:
                return
            boundary = f"b{n:08d}"
            data = n.to_bytes(8, "big") + os.urandom(size - 8)
            metadata = json.dumps({"case_ref": CASE, "policy": "lre-proof", "event_type": "sending"})
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
                    f"Content-Type: application/json\r\n\r\n{metadata}\r\n--{boundary}\r\n"
                    f"Content-Disposition: form-data; name=\"file\"; filename=\"p{n}.bin\"\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n").encode() + data \
                + f"\r\n--{boundary}--\r\n".encode()
            connection.request("POST", "/v1/objects", body, {
                "Authorization": f"Bearer {key}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                failures.append(response.status)

    start = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} deposits failed (e.g. HTTP {failures[0]})")
    return count / (time.perf_counter() - start)


class Deposits:
    """Depositor threads running until :meth:`stop` (another case than the exported one): the load under export."""

    def __init__(self, port: int, key: str, threads: int, size: int):
        self.port, self.key, self.size = port, key, size
        self.done, self.failures, self._stop = 0, [], threading.Event()
        self._lock = threading.Lock()
        self._pool = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def __enter__(self) -> "Deposits":
        self.started = time.perf_counter()
        for thread in self._pool:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._pool:
            thread.join()
        self.seconds = time.perf_counter() - self.started

    def _run(self, n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        boundary, i = f"load{n}", 0
        while not self._stop.is_set():
            i += 1
            metadata = json.dumps({"case_ref": f"LOAD-{n}", "policy": "lre-proof", "event_type": "sending"})
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
                    f"Content-Type: application/json\r\n\r\n{metadata}\r\n--{boundary}\r\n"
                    f"Content-Disposition: form-data; name=\"file\"; filename=\"l{i}.bin\"\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n").encode() + os.urandom(self.size) \
                + f"\r\n--{boundary}--\r\n".encode()
            connection.request("POST", "/v1/objects", body, {
                "Authorization": f"Bearer {self.key}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
            response = connection.getresponse()
            response.read()
            with self._lock:
                if response.status == 201:
                    self.done += 1
                else:
                    self.failures.append(response.status)


def download(port: int, key: str, path: str, target: Path) -> tuple[float, int, int]:
    """(seconds, bytes written, X-Package-Objects) for one package streamed to ``target``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    connection.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"export failed: HTTP {response.status} {response.read()[:300]!r}")
    written = 0
    with target.open("wb") as out:
        while chunk := response.read(1 << 20):
            out.write(chunk)
            written += len(chunk)
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed, written, int(response.headers.get("X-Package-Objects", "0"))


def zip_baseline(package: Path, target: Path) -> float:
    """Seconds for plain zipfile to write the package's members (in memory beforehand) with the same settings."""
    with zipfile.ZipFile(package) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    start = time.perf_counter()
    with zipfile.ZipFile(target, "w", allowZip64=True) as out:
        for info, data in members:
            out.writestr(info, data, compress_type=info.compress_type)
    return time.perf_counter() - start


def sha256_baseline(package: Path) -> float:
    digest = hashlib.sha256()
    start = time.perf_counter()
    with package.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return time.perf_counter() - start


_REPORT_PEAK = ("import atexit, runpy, sys; atexit.register(lambda: sys.stderr.write("
                "[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])); ")


def run_child(code: str, *argv: str) -> tuple[float, int, int, bytes]:
    """(seconds, peak RSS bytes, exit status, stdout) of a child Python running ``code`` with ``argv``. The peak
    is the child's own VmHWM read at exit (its rusage maxrss would count the parent's pages at fork)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _REPORT_PEAK + code, *argv], capture_output=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    peak = next((int(line.split()[1]) * 1024 for line in done.stderr.decode().splitlines()
                 if line.startswith("VmHWM")), 0)
    return elapsed, peak, done.returncode, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=4096, help="bytes per object")
    parser.add_argument("--repeats", type=int, default=2, help="exports of the big case (median reported)")
    parser.add_argument("--small", type=int, default=30, help="one-object packages exported in a row")
    parser.add_argument("--depositors", type=int, default=2, help="depositor threads running during each export")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vault-bench-export-"))
    port = ingest.free_port()
    server = ingest.start_server(work / "data", port, {"VAULT_SEAL_INTERVAL": "1", "VAULT_CHECKPOINT_INTERVAL": "1",
                                                       "VAULT_ANCHOR_INTERVAL": "1"})
    try:
        _, body = ingest.request_json(f"http://127.0.0.1:{port}/v1/keys", "POST",
                                      {"role": "depositor", "tenant": "bench"})
        key = json.loads(body)["key"]
        deposits_per_s = deposit_all(port, key, args.objects, args.size)
        ingest.request_json(f"http://127.0.0.1:{port}/v1/admin/reseal", "POST", {"kind": "seal"})
        time.sleep(3)  # a checkpoint and an anchor after the seal (both run every second here)
        big = work / "case.zip"
        runs, peaks, loads = [], [], []
        for _ in range(args.repeats):
            before = _status(server.pid)["VmRSS"]
            exact = _reset_peak(server.pid)
            with Deposits(port, key, args.depositors, args.size) as load:
                runs.append(download(port, key, f"/v1/cases/{CASE}/package", big))
            loads.append(load)
            peaks.append((before, _status(server.pid)["VmHWM"], exact))
        if any(load.failures for load in loads):
            raise SystemExit(f"deposits failed during the export: {[f for l in loads for f in l.failures][:5]}")
        seconds = statistics.median(r[0] for r in runs)
        zip_bytes, objects = runs[-1][1], runs[-1][2]
        rss_before, rss_peak, exact = max(peaks, key=lambda p: p[1] - p[0])
        with Deposits(port, key, args.depositors, args.size):  # the same load, on a baseline in its own process
            loaded_zip_seconds = float(run_child(
                "import sys; sys.path.insert(0, 'bench'); import export; from pathlib import Path; "
                "print(export.zip_baseline(Path(sys.argv[1]), Path(sys.argv[2])))",
                str(big), str(work / "baseline-loaded.zip"))[3])
        _, listing = ingest.request_json(f"http://127.0.0.1:{port}/v1/objects?case_ref={CASE}&limit=1", key=key)
        one = json.loads(listing)["items"][0]["id"]
        start = time.perf_counter()
        for n in range(args.small):
            download(port, key, f"/v1/objects/{one}/package", work / "one.zip")
        small_per_s = args.small / (time.perf_counter() - start)
    finally:
        ingest.stop_server(server)
    zip_seconds = zip_baseline(big, work / "baseline.zip")
    hash_seconds = sha256_baseline(big)
    verify_seconds, verify_rss, status, out = run_child(
        "sys.argv[0] = 'vault-verify'; runpy.run_module('vault_verify', run_name='__main__')",
        "package", str(big), "--json")
    verdict = json.loads(out)
    _, idle_rss, _, _ = run_child("import vault_verify.package")
    shutil.rmtree(work, ignore_errors=True)
    mb = zip_bytes / 1e6
    result = {
        "objects": objects, "object_size": args.size, "zip_mb": round(mb, 1),
        "setup_deposits_per_s": round(deposits_per_s),
        "load": {"depositors": args.depositors, "deposits": sum(l.done for l in loads),
                 "deposits_per_s_during_export": round(sum(l.done for l in loads) / sum(l.seconds for l in loads))},
        "build": {"seconds": round(seconds, 2), "packages_per_s": round(1 / seconds, 3),
                  "objects_per_s": round(objects / seconds), "mb_per_s": round(mb / seconds, 1),
                  "server_rss_before_mb": round(rss_before / 1e6, 1), "server_rss_peak_mb": round(rss_peak / 1e6, 1),
                  "peak_exact": exact, "one_object_packages_per_s": round(small_per_s, 1)},
        "build_baseline_zipfile": {"seconds": round(zip_seconds, 2), "mb_per_s": round(mb / zip_seconds, 1)},
        "build_baseline_zipfile_loaded": {"seconds": round(loaded_zip_seconds, 2),
                                          "mb_per_s": round(mb / loaded_zip_seconds, 1)},
        "verify": {"seconds": round(verify_seconds, 2), "ok": verdict["ok"], "exit": status,
                   "objects_per_s": round(objects / verify_seconds), "mb_per_s": round(mb / verify_seconds, 1),
                   "peak_rss_mb": round(verify_rss / 1e6, 1), "idle_rss_mb": round(idle_rss / 1e6, 1),
                   "anchored": any("existed by" in n and "anchor token" in n for n in verdict["notes"])},
        "verify_baseline_sha256": {"seconds": round(hash_seconds, 3), "mb_per_s": round(mb / hash_seconds, 1)},
    }
    result["ratios"] = {"build_vs_zipfile": round(zip_seconds / seconds, 3),
                        "build_vs_zipfile_loaded": round(loaded_zip_seconds / seconds, 3),
                        "verify_vs_sha256": round(hash_seconds / verify_seconds, 4)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if verdict["ok"] else 1
    b, v = result["build"], result["verify"]
    print(f"package of {objects} objects × {args.size} B: {result['zip_mb']} MB of ZIP "
          f"(setup: {result['setup_deposits_per_s']} deposits/s)")
    print(f"load    {args.depositors} depositors during the exports: {result['load']['deposits']} deposits, "
          f"{result['load']['deposits_per_s_during_export']}/s")
    print(f"build   {b['seconds']} s over HTTP: {b['packages_per_s']} packages/s, {b['objects_per_s']} objects/s, "
          f"{b['mb_per_s']} MB/s; server RSS {b['server_rss_before_mb']} → peak {b['server_rss_peak_mb']} MB"
          f"{'' if exact else ' (lifetime peak: clear_refs unavailable)'}; one-object packages "
          f"{b['one_object_packages_per_s']}/s")
    print(f"        plain zipfile, same members: {result['build_baseline_zipfile']['seconds']} s, "
          f"{result['build_baseline_zipfile']['mb_per_s']} MB/s — build at "
          f"{result['ratios']['build_vs_zipfile']:.1%} of it (target ≥ 25 %, with the load)")
    print(f"        plain zipfile under the same depositors (its own process): "
          f"{result['build_baseline_zipfile_loaded']['seconds']} s — build at "
          f"{result['ratios']['build_vs_zipfile_loaded']:.1%} of it")
    print(f"verify  {v['seconds']} s: {'VALID' if v['ok'] else 'INVALID'}, {v['objects_per_s']} objects/s, "
          f"{v['mb_per_s']} MB/s, peak RSS {v['peak_rss_mb']} MB (interpreter + imports alone {v['idle_rss_mb']} MB)")
    print(f"        plain SHA-256 of the ZIP: {result['verify_baseline_sha256']['seconds']} s, "
          f"{result['verify_baseline_sha256']['mb_per_s']} MB/s — verify at "
          f"{result['ratios']['verify_vs_sha256']:.2%} of it")
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
