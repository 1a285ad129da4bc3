#!/usr/bin/env python3
"""Journal throughput: durable appends, offline replay, inclusion proofs — with pymerkle as the peer, same run.

    .venv/bin/python bench/journal.py [--appends 40000] [--batch 64] [--entries 200000] [--rounds 3] [--json]

- durable appends: 8 threads record access entries through vault's group-commit writer into SQLite (WAL,
  synchronous=FULL), each keeping 64 entries in flight, as 64-entry ``record_many`` requests and as single-entry
  ``record`` requests; every entry is committed with its Merkle hashes before its caller is answered. Peers:
  pymerkle's SqliteTree ``append_entry`` from the same threads (its per-caller durable append: one transaction
  per entry), and its ``append_entries`` per 64-entry request from the same threads (one transaction per request).
  The single-entry runs and pymerkle's ``append_entry`` alternate for ``--rounds`` rounds: the ratio printed is
  the median of the rounds' ratios, each taken from neighbouring runs (pymerkle's rate is the disk's fsync time,
  vault's the CPU's: the two drift apart from one minute to the next on a shared machine).
- the SQLite floor: sqlite3 alone storing the same rows (each entry, and the level-8 subtree hash one entry in 256
  completes) into vault's schema, 256 entries per commit in one multi-row INSERT, every value computed beforehand:
  what 10× pymerkle would leave per entry for all the Python.
- offline replay: ``verify_export`` over an export of ``--entries`` entries written by vault's own code (worker
  processes, one per core). Peer: pymerkle's InmemoryTree recomputing the tree of the same entries (up to 200 000).
- inclusion proofs: p99 latency of what the API computes for an inclusion proof (root and path) in a journal of
  ``--entries`` leaves stored as vault stores it (SQLite), next to pymerkle's ``prove_inclusion`` from its SQLite
  store of the same leaves.

Targets (issue 5): ≥ 50 000 entries/s batched appends, ≥ 500 000 entries/s replay, p99 < 5 ms at 10⁶ leaves,
durable appends ≥ 10× pymerkle's (the single-entry ones, the stricter of our two).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_threads(target, arguments) -> float:
    """Seconds for one thread per argument to run ``target(argument)``, all at once."""
    start = time.perf_counter()
    pool = [threading.Thread(target=target, args=(argument,)) for argument in arguments]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - start


def bench_appends(work: Path, count: int, threads: int, batch: int) -> float:
    """Durable appends from ``threads`` callers, each keeping 64 entries in flight: as 64 single-entry requests
    (``batch`` = 1, the shape of API requests) or as one request of ``batch`` entries (``record_many``: an
    export's parts, an import). Each caller is answered only once its entries are committed."""
    from vault.app import Vault
    from vault.journal.entries import AccessEvent, Action
    from vault.runtime import settle_heap
    from vault.settings import Settings

    vault = Vault.open(Settings(data_dir=work / f"appends-{batch}", policies_dir=ROOT / "policies",
                                admin_key="b" * 30), sweep_in_background=False, background_jobs=False)
    settle_heap()  # as `vault serve` does once it has started
    per_thread = count // threads // 64 * 64

    def event(n: int, i: int) -> AccessEvent:
        return AccessEvent(actor=f"k{n}", role="auditor", tenant="bench", action=Action.READ_METADATA,
                           object_ids=(f"obj-{n}-{i}",), request_id=f"r{n}-{i}")

    def worker(n: int) -> None:
        for start in range(0, per_thread, 64):
            if batch == 1:
                futures = [vault.journal.record(event(n, i)) for i in range(start, start + 64)]
            else:
                futures = [vault.journal.record_many([event(n, i) for i in range(first, first + batch)])
                           for first in range(start, start + 64, batch)]
            for future in futures:
                future.result()

    elapsed = timed_threads(worker, range(threads))
    vault.close()
    return per_thread * threads / elapsed


def bench_sqlite_floor(work: Path, entries: list[bytes], batch: int = 256) -> float:
    """SQLite alone storing what vault's appends store — each entry's row and the stored subtree hashes it completes —
    into vault's own schema (WAL, synchronous=FULL), ``batch`` entries per commit like the writer's largest
    batches, in one multi-row INSERT per commit as the writer sends them, every value computed beforehand: the
    engine's floor under any Python writer on this machine."""
    import sqlite3

    from vault.db.engine import make_engine
    from vault.db.migrate import upgrade
    from vault.journal.log import is_stored
    from vault.journal.merkle import leaf_hash, new_stored_hashes

    path = work / "floor.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)  # the schema vault runs on, with its indexes and append-only triggers
    engine.dispose()
    edge: list[bytes] = []
    transactions = []
    for first in range(0, len(entries), batch):
        values, hash_rows = [], []
        for seq in range(first, min(first + batch, len(entries))):
            values += (seq, "2026-11-23 10:00:00.000000", "k1", "metadata_read", entries[seq])
            completed = new_stored_hashes(seq, leaf_hash(entries[seq]), lambda _level, _n: edge.pop())
            edge.append(completed[-1][2])
            hash_rows += [row for row in completed if is_stored(row[0])]
        sql = "INSERT INTO journal_entries (seq, at, actor, action, entry) VALUES " + ", ".join(
            ["(?, ?, ?, ?, ?)"] * (len(values) // 5))
        transactions.append((sql, values, hash_rows))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    start = time.perf_counter()
    for sql, values, hash_rows in transactions:
        db.execute("BEGIN")
        db.execute(sql, values)
        db.executemany("INSERT INTO journal_hashes (level, idx, hash) VALUES (?, ?, ?)", hash_rows)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return len(entries) / elapsed


def bench_pymerkle_durable_appends(work: Path, entries: list[bytes], threads: int) -> float:
    """pymerkle's ``append_entry`` from ``threads`` callers: its way of answering each caller once its entry is
    committed (one transaction per entry; it has no group commit). Its database gets vault's settings (WAL,
    synchronous=FULL: one fsync per commit) rather than SQLite's default rollback journal (two)."""
    from pymerkle import SqliteTree

    tree = SqliteTree(str(work / "pymerkle-durable.db"), algorithm="sha256")
    tree.con.execute("PRAGMA journal_mode=WAL")
    tree.con.execute("PRAGMA synchronous=FULL")
    shares = [entries[n::threads] for n in range(threads)]

    def worker(share: list[bytes]) -> None:
        for entry in share:
            tree.append_entry(entry)

    elapsed = timed_threads(worker, shares)
    tree.close()
    return len(entries) / elapsed


def bench_pymerkle_request_appends(work: Path, entries: list[bytes], threads: int, batch: int) -> float:
    """pymerkle's ``append_entries`` of ``batch`` entries per request from ``threads`` callers: the peer of our
    ``batch``-entry requests (one transaction per request, each caller answered once it committed)."""
    from pymerkle import SqliteTree

    tree = SqliteTree(str(work / "pymerkle-requests.db"), algorithm="sha256")
    tree.con.execute("PRAGMA journal_mode=WAL")
    tree.con.execute("PRAGMA synchronous=FULL")
    shares = [entries[n::threads] for n in range(threads)]

    def worker(share: list[bytes]) -> None:
        for start in range(0, len(share), batch):
            tree.append_entries(share[start:start + batch])

    elapsed = timed_threads(worker, shares)
    tree.close()
    return len(entries) / elapsed


def sample_entries(count: int) -> list[bytes]:
    from vault.journal.canonical import canonical_json

    at = datetime(2026, 11, 23, tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [canonical_json({"v": 1, "seq": i, "time": at, "actor": "k1", "role": "depositor", "tenant": "bench",
                            "action": "deposit", "objects": [f"o{i}"], "outcome": "ok", "request_id": None,
                            "detail": {}}) for i in range(count)]


def write_export(directory: Path, entries: list[bytes]):
    """An export exactly as ``vault journal export`` lays it out, made with vault's own code."""
    from vault.journal.merkle import leaf_hash, new_stored_hashes, tree_hash
    from vault.journal.note import Checkpoint, Signer, sign_note
    from vault.journal.tiles import bundle_entries, entry_bundles_for_size, tile_hashes, tiles_for_size

    stored: dict[tuple[int, int], bytes] = {}
    for index, entry in enumerate(entries):
        for level, n, value in new_stored_hashes(index, leaf_hash(entry), lambda l, k: stored[(l, k)]):
            stored[(level, n)] = value
    hash_at = lambda level, index: stored[(level, index)]  # noqa: E731
    size = len(entries)
    for tile in tiles_for_size(size):
        path = directory / tile.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tile_hashes(tile, hash_at))
    for bundle in entry_bundles_for_size(size):
        path = directory / bundle.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bundle_entries(entries[bundle.index * 256: bundle.index * 256 + bundle.width]))
    signer = Signer.generate("bench.vault/journal")
    (directory / "checkpoint").write_bytes(sign_note(Checkpoint(signer.name, size, tree_hash(size, hash_at)).text(), signer))
    return signer.verifier, stored


def bench_replay(directory: Path, verifier) -> float:
    from vault_verify.replay import verify_export

    start = time.perf_counter()
    report = verify_export(directory, verifier)
    elapsed = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"replay failed on a clean export: {report.problems}")
    return report.size / elapsed


def p99_ms(samples: int, prove) -> float:
    """p99 in ms of ``prove(rng)`` over ``samples`` calls, each proving a random leaf."""
    rng = random.Random(1)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        prove(rng)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[int(0.99 * (len(times) - 1))] * 1000


def bench_proofs(work: Path, entries: list[bytes], stored: dict, samples: int) -> float:
    """p99 ms of what ``GET /v1/journal/proof/inclusion`` computes — the root and the audit path of a random leaf,
    each request with a ``StoredHashes`` of its own — over vault's schema in SQLite holding ``entries`` and the stored
    (level 8, 16, …) hashes: the other levels are folded from them and from the entries on every request."""
    import sqlite3

    from vault.db.engine import make_engine
    from vault.db.migrate import upgrade
    from vault.journal.log import StoredHashes, is_stored, journal_root
    from vault.journal.merkle import inclusion_proof

    path = work / "proofs.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    db = sqlite3.connect(path)
    db.executemany("INSERT INTO journal_entries (seq, at, actor, action, entry) VALUES "
                   "(?, '2026-11-23 00:00:00.000000', 'k1', 'deposit', ?)", enumerate(entries))
    db.executemany("INSERT INTO journal_hashes (level, idx, hash) VALUES (?, ?, ?)",
                   ((level, n, value) for (level, n), value in stored.items() if is_stored(level)))
    db.commit()
    db.close()
    size = len(entries)

    def prove(rng) -> None:
        index = rng.randrange(size)
        with engine.connect() as connection:
            hashes = StoredHashes(connection)
            journal_root(connection, size, hashes)
            inclusion_proof(index, size, hashes.hash_at)

    p99 = p99_ms(samples, prove)
    engine.dispose()
    return p99


def bench_pymerkle_rebuild(entries: list[bytes]) -> float:
    """The peer of our replay: pymerkle recomputing the tree (leaves and root) of the same entries in memory."""
    from pymerkle import InmemoryTree

    start = time.perf_counter()
    tree = InmemoryTree(algorithm="sha256")
    for entry in entries:
        tree.append_entry(entry)
    tree.get_state()
    return len(entries) / (time.perf_counter() - start)


def bench_pymerkle_sqlite_proofs(work: Path, entries: list[bytes], samples: int) -> float:
    """p99 ms of pymerkle's inclusion proofs from its SQLite store holding the same leaves (a fresh process's view:
    its subroot cache starts empty, as ours has no cache)."""
    from pymerkle import SqliteTree

    path = str(work / "pymerkle-proofs.db")
    tree = SqliteTree(path, algorithm="sha256")
    for i in range(0, len(entries), 100_000):
        tree.append_entries(entries[i:i + 100_000])
    tree.close()
    tree = SqliteTree(path, algorithm="sha256")
    p99 = p99_ms(samples, lambda rng: tree.prove_inclusion(rng.randrange(1, len(entries) + 1)))  # counts from 1
    tree.close()
    return p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=40000)
    parser.add_argument("--batch", type=int, default=64, help="entries per record_many request in the batched run")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--pymerkle-durable", type=int, default=8000, help="entries for pymerkle's one-by-one appends")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternated runs of vault's single-entry appends and pymerkle's (the median ratio counts)")
    parser.add_argument("--entries", type=int, default=200000, help="size of the replayed and proved journal")
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vault-journal-bench-"))
    try:
        entries = sample_entries(args.entries)
        batched = bench_appends(work, args.appends, args.threads, args.batch)
        rounds = []  # vault's single-entry appends and pymerkle's, alternated: each ratio from neighbouring runs
        for n in range(args.rounds):
            (work / f"round-{n}").mkdir()
            rounds.append((bench_appends(work / f"round-{n}", args.appends, args.threads, 1),
                           bench_pymerkle_durable_appends(work / f"round-{n}", entries[: args.pymerkle_durable],
                                                          args.threads)))
        ratios = sorted(ours / theirs for ours, theirs in rounds)
        single, peer_durable = (statistics.median(values) for values in zip(*rounds))
        ratio = statistics.median(ratios)
        floor = bench_sqlite_floor(work, entries[: min(len(entries), args.appends)])
        peer_requests = bench_pymerkle_request_appends(work, entries[: min(len(entries), args.appends)],
                                                       args.threads, args.batch)
        verifier, stored = write_export(work / "export", entries)
        replay = bench_replay(work / "export", verifier)
        peer_rebuild = bench_pymerkle_rebuild(entries[: min(len(entries), 200000)])
        proof_p99 = bench_proofs(work, entries, stored, args.proofs)
        peer_proof_p99 = bench_pymerkle_sqlite_proofs(work, entries, min(args.proofs, 200))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"durable_appends_batched_per_s": batched, "batch": args.batch,
              "durable_appends_single_per_s": single, "pymerkle_durable_appends_per_s": peer_durable,
              "single_ratio_to_pymerkle_durable": ratio,
              "rounds": [{"vault_single_per_s": ours, "pymerkle_durable_per_s": theirs, "ratio": ours / theirs}
                         for ours, theirs in rounds],
              "batched_ratio_to_pymerkle_durable": batched / peer_durable,
              "pymerkle_request_appends_per_s": peer_requests,
              "batched_ratio_to_pymerkle_requests": batched / peer_requests,
              "sqlite_floor_per_s": floor,
              "replay_entries_per_s": replay, "replayed_entries": args.entries,
              "pymerkle_rebuild_entries_per_s": peer_rebuild, "replay_ratio_to_pymerkle": replay / peer_rebuild,
              "inclusion_proof_p99_ms": proof_p99, "pymerkle_sqlite_inclusion_proof_p99_ms": peer_proof_p99,
              "proof_ratio_to_pymerkle": peer_proof_p99 / proof_p99,
              "targets": {"appends_per_s": 50000, "replay_per_s": 500000, "proof_p99_ms": 5,
                          "append_ratio_to_pymerkle": 10}}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"durable appends, {args.threads} callers × {args.batch}-entry requests: {batched:9.0f} entries/s   "
          f"target ≥ 50 000 ({batched / 50000:.2f}); {batched / peer_durable:.1f}× pymerkle append_entry")
    print(f"durable appends, {args.threads} callers × single-entry requests: {single:7.0f} entries/s   "
          f"(64 in flight per caller, as API requests; median of {args.rounds} rounds)")
    print(f"pymerkle append_entry, {args.threads} callers (durable one by one): {peer_durable:6.0f} entries/s   "
          f"vault single / pymerkle = {ratio:.1f} (target ≥ 10; rounds {', '.join(f'{r:.1f}' for r in ratios)})")
    print(f"pymerkle append_entries, {args.threads} callers × {args.batch}-entry requests: {peer_requests:6.0f} entries/s   "
          f"vault batched / pymerkle = {batched / peer_requests:.2f} (it stores the leaves only: no tree hashes)")
    print(f"SQLite alone, same rows, 256 entries per commit: {floor:8.0f} entries/s   the floor: 10× pymerkle "
          f"({10 * peer_durable:.0f}/s) leaves {1e6 / (10 * peer_durable) - 1e6 / floor:.1f} µs per entry for all the "
          f"Python (vault single uses {1e6 / single - 1e6 / floor:.1f})")
    print(f"offline replay of {args.entries} entries:        {replay:9.0f} entries/s   target ≥ 500 000 ({replay / 500000:.2f})")
    print(f"pymerkle rebuilding the same tree in memory:  {peer_rebuild:9.0f} entries/s   replay / pymerkle = "
          f"{replay / peer_rebuild:.1f} (ours also checks every entry's canonical form and every tile)")
    print(f"inclusion proof p99 at {args.entries} leaves (SQLite): {proof_p99:7.3f} ms        target < 5 ms; "
          f"pymerkle from its SQLite store {peer_proof_p99:.3f} ms ({peer_proof_p99 / proof_p99:.0f}×)")


if __name__ == "__main__":
    main()
