"""bench/search.py's default mode: the requests through a real ``vault serve`` (uvicorn, one process) over loopback.

The server opens the data dir and database the bench built, with the same settings (``VAULT_*``) and no
background jobs (``VAULT_BACKGROUND=off``, an API replica's configuration, as the in-process vault has none); one
``httpx.Client`` with keep-alive sends every request, as a deployment's client does. Reported per kind (search,
count, ``/health``): the wall time the client observes (p50/p99) and the SERVER process's CPU per request: user +
system of the server's process tree (/proc, clock ticks) over a block of requests of that kind, divided by the
requests (gross: the server's idle rate, measured just before and reported, is ~0 without background jobs; a
start-up task that ran during that window once made a net figure negative). /proc counts in ticks of 10 ms, so CPU
is a per-kind mean over the block, not a per-request distribution.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

import ingest  # bench/ingest.py: /proc CPU of a process tree
from tests.server_process import ServerProcess

KINDS = ("search", "count", "health")


def measure(settings, engine, stems: list[str], check_deposit, deposit_n: int, idle: float = 3.0) -> dict:
    """Serve ``settings``' vault, check a deposit through it, then time ``len(stems)`` requests of each kind; the
    answers (page sizes, counts) are returned per stem for the caller's checks against plain SQL."""
    server = ServerProcess(Path(settings.data_dir), admin_key=settings.admin_key,
                           env={"VAULT_DATABASE_URL": settings.database_url,
                                # the bench's settings, not scripts/services' S3 stores and quorum
                                "VAULT_STORES": ",".join(settings.stores), "VAULT_COPY_QUORUM": "",
                                # an API replica (`vault worker` runs the jobs), as the in-process mode's vault:
                                # the jobs would seal, fold and identify the 10⁶ bulk-built rows during the run
                                "VAULT_BACKGROUND": "off"}).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            admin = {"Authorization": f"Bearer {settings.admin_key}"}
            answer = http.post("/v1/keys", headers=admin, json={"role": "archivist", "tenant": "t3",
                                                                "holder": "bench@example.org"})
            answer.raise_for_status()
            headers = {"Authorization": f"Bearer {answer.json()['key']}"}
            check_deposit(http, engine, admin, deposit_n)
            requests = {"search": lambda stem: http.get("/v1/objects", params={"case_ref": stem + "*", "limit": 50},
                                                        headers=headers),
                        "count": lambda stem: http.get("/v1/objects/count", params={"case_ref": stem + "*"},
                                                       headers=headers),
                        "health": lambda stem: http.get("/health")}
            for stem in stems[:20]:  # warm-up: first-use imports, caches, the pools' connections
                for kind in KINDS:
                    requests[kind](stem).raise_for_status()
            ingest.settle(server.pid)
            began_cpu, began = ingest.tree_cpu_seconds(server.pid), time.perf_counter()
            time.sleep(idle)
            idle_rate = (ingest.tree_cpu_seconds(server.pid) - began_cpu) / (time.perf_counter() - began)
            times, answers = {}, {}
            for kind in KINDS:
                walls, found = [], []
                began_cpu, began = ingest.tree_cpu_seconds(server.pid), time.perf_counter()
                for stem in stems:
                    sent = time.perf_counter()
                    reply = requests[kind](stem)
                    walls.append(time.perf_counter() - sent)
                    assert reply.status_code == 200, reply.text
                    found.append(reply.json())
                wall = time.perf_counter() - began
                cpu = ingest.tree_cpu_seconds(server.pid) - began_cpu
                times[kind] = walls
                times[f"{kind}_server_cpu_ms"] = round(cpu / len(stems) * 1000, 3)
                times[f"{kind}_server_busy"] = round(cpu / wall, 3)  # share of one core the kind kept busy
                answers[kind] = found
    except Exception:
        print(server.output()[-4000:])
        raise
    finally:
        server.stop()
    return {"times": times, "idle_cpu_share": round(idle_rate, 4),
            "pages": [len(page["items"]) for page in answers["search"]],
            "counts": [counted["count"] for counted in answers["count"]]}
