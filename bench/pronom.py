#!/usr/bin/env python3
"""PRONOM identification speed (issue 23): FIDO's own ``match_formats`` against vault.pronom_signatures' compiled
matching, in process; and the identification child (vault.pronom.Identifier) one object per round trip against
batches of ``vault.catalog.formats.CHUNK``. Rounds alternate the variants so that a drift of the machine does not
favour one; each variant checks its PUIDs against FIDO's.

    .venv/bin/python bench/pronom.py [--rounds 3] [--proofs 300] [--json]

Sets: the signature corpus (``../shared/vectors/signatures``, its BOF/EOF windows read once) and ``--proofs``
4 KiB random proofs, what bench/ingest.py deposits. Figures: objects/s (wall) and CPU per object — of this process
in process, of the ``nice 19`` child (``/proc/PID/stat``) through the pipe.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vault.catalog.formats import CHUNK  # noqa: E402
from vault.pronom import Identifier, _fido, _signatures, edges_of  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "signatures"


def corpus_windows() -> list[tuple[bytes, bytes]]:
    windows = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".md", ".tsv")):
        edges = edges_of([path.read_bytes()])
        windows.append((edges.bof, edges.eof))
    return windows


def child_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_process(match_formats, windows) -> tuple[float, float, list]:
    wall, cpu = time.perf_counter(), time.process_time()
    puids = [[_fido().get_puid(fmt) for fmt, _ in match_formats(bof, eof)][:1] if bof else []  # as vault.pronom
             for bof, eof in windows]
    return time.perf_counter() - wall, time.process_time() - cpu, puids


def through_child(identifier: Identifier, windows, batch: int) -> tuple[float, float, list]:
    identifier(b"warm", b"warm")  # the child started, its signatures compiled
    pid = identifier._child.pid
    wall, cpu = time.perf_counter(), child_cpu(pid)
    found = []
    for first in range(0, len(windows), batch):
        found += identifier.many(windows[first:first + batch])
    return time.perf_counter() - wall, child_cpu(pid) - cpu, [[m.puid] if m else [] for m in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(23)
    proofs = [(data, data) for data in (rng.randbytes(4096) for _ in range(args.proofs))]
    sets = {"corpus": corpus_windows(), "4KiB proofs": proofs}
    fido, compiled, identifier = _fido(), _signatures(), Identifier()
    variants = {"fido in process": lambda w: in_process(fido.match_formats, w),
                "compiled in process": lambda w: in_process(compiled.match_formats, w),
                "child, 1 per trip": lambda w: through_child(identifier, w, 1),
                f"child, {CHUNK} per trip": lambda w: through_child(identifier, w, CHUNK)}
    results: dict = {(s, v): [] for s in sets for v in variants}
    try:
        for round_ in range(args.rounds):
            order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
            for set_name, windows in sets.items():
                expected = in_process(fido.match_formats, windows)[2]
                for variant in order:
                    wall, cpu, puids = variants[variant](windows)
                    assert puids == expected, f"{variant} disagrees with FIDO on {set_name}"
                    results[set_name, variant].append((len(windows) / wall, cpu / len(windows) * 1e6))
    finally:
        identifier.close()
    report = {"load_average": os.getloadavg(), "rounds": args.rounds, "results": [
        {"set": s, "variant": v, "objects_per_second": [round(r[0]) for r in runs],
         "cpu_us_per_object": [round(r[1]) for r in runs]} for (s, v), runs in results.items()]}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"load average {' '.join(f'{x:.1f}' for x in report['load_average'])}, {args.rounds} rounds alternated")
    for row in report["results"]:
        print(f"{row['set']:12} {row['variant']:22} objects/s median {statistics.median(row['objects_per_second']):7.0f}"
              f" {row['objects_per_second']}  CPU µs/object median {statistics.median(row['cpu_us_per_object']):6.0f}"
              f" {row['cpu_us_per_object']}")


if __name__ == "__main__":
    main()
