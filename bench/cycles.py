#!/usr/bin/env python3
"""What the cyclic garbage collector does per request kind (issue 24, "fast per core"), in process through the app.

    .venv/bin/python bench/cycles.py [--requests 1000] [--top 25] [--trace 12] [--json]

For each request kind — a deposit (``POST /v1/objects``), a search (``GET /v1/objects?case_ref=…*``), a count
(``GET /v1/objects/count``), an object read (``GET /v1/objects/{id}``), ``GET /health``, a 404 and a 401 — through
the whole app on SQLite, the start-up heap frozen by ``settle_heap()`` as ``vault serve`` does, and ``--driver``:
``asgi`` (default: straight into the app on one asyncio loop), ``uvicorn`` (uvicorn with ``vault serve``'s options
in a thread, one kept-alive socket) or ``testclient`` (Starlette's TestClient, as the tests and bench/search.py):

1. **garbage**: with automatic collection off and ``gc.DEBUG_SAVEALL``, ``--requests`` requests, then one
   ``gc.collect()``: ``gc.garbage`` is then exactly the objects that died in reference cycles (reference counting
   would have freed everything else). Reported per 1 000 requests, by type, and (``--trace N``: tracemalloc with N
   frames) by where each was allocated: the innermost frame in ``vault/``, and the innermost frame at all.
2. **collector**: the same number of requests with the collector on (threshold of ``vault.runtime``): the
   collections, the objects they freed and their total and longest pause, per 1 000 requests, and the CPU per
   request.

Found (Python 3.11, Starlette 1.10, FastAPI 0.165, anyio 4.16, SQLAlchemy 2.1, uvicorn 0.55): through ``asgi`` and
``uvicorn`` no request kind leaves any object in a cycle, and the collector never runs. Through the TestClient every
request, ``/health`` alike, leaves ~80 (httpx's Request/Response/Headers, the TestClient's body generators and
closures, anyio's portal Future, memory stream and Event, an ``EndOfStream`` with its traceback and frames): the
young collections bench/search.py reports are the harness's, not the server's.
"""

from __future__ import annotations

import argparse
import collections
import functools
import gc
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def kind_of(obj) -> str:
    """``module.QualName`` of an object's type (``builtins.`` left off), with a function's or frame's code name: the
    cell of a table a reader can trace back to a line."""
    kind = type(obj)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    code = getattr(obj, "f_code", None) or getattr(obj, "__code__", None)
    if code is not None:
        name += f" {Path(code.co_filename).name}:{code.co_name}"
    elif name == "method":
        name += f" {getattr(obj.__func__, '__qualname__', '?')}"
    return name


def site(obj, only_ours: bool) -> str | None:
    """Where ``obj`` was allocated (tracemalloc): the innermost frame in vault/ when ``only_ours``, else the innermost
    frame at all, as ``path:line``."""
    trace = tracemalloc.get_object_traceback(obj)
    if trace is None:
        return None
    ours = f"{ROOT}/vault/"
    for frame in reversed(trace):  # tracemalloc keeps the oldest frame first
        if only_ours and not frame.filename.startswith(ours):
            continue
        short = frame.filename.split("site-packages/")[-1].replace(f"{ROOT}/", "")
        return f"{short}:{frame.lineno}"
    return None


def garbage(run, requests: int, frames: int) -> list:
    """The objects that ``run(requests)`` left in reference cycles (a list: the caller drops it)."""
    gc.collect()
    gc.garbage.clear()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    if frames:
        tracemalloc.start(frames)
    try:
        run(requests)
        gc.collect()
        found = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    return found


def classify(found: list, requests: int, top: int, traced: bool) -> dict:
    """Per 1 000 requests: the objects left in cycles, the commonest types, and where they were allocated."""
    per = 1000 / requests
    types = collections.Counter(kind_of(obj) for obj in found)
    result = {"cyclic_objects_per_1000": round(len(found) * per),
              "types": {name: round(n * per) for name, n in types.most_common(top)}}
    if traced:
        ours = collections.Counter(site(obj, True) for obj in found)
        anywhere = collections.Counter(site(obj, False) for obj in found)
        result["allocated_in_vault"] = {str(k): round(n * per) for k, n in ours.most_common(top)}
        result["allocated_at"] = {str(k): round(n * per) for k, n in anywhere.most_common(top)}
        tracemalloc.stop()
    return result


def collector(run, requests: int) -> dict:
    """The collector's work during ``run(requests)`` at the process's threshold, per 1 000 requests, and the CPU
    per request."""
    pauses: list[tuple[float, int]] = []
    began = [0.0]

    def note(phase: str, info: dict) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - began[0], info["collected"]))

    gc.collect()
    gc.callbacks.append(note)
    cpu = time.process_time()
    try:
        run(requests)
    finally:
        cpu = time.process_time() - cpu
        gc.callbacks.remove(note)
    per = 1000 / requests
    return {"collections_per_1000": round(len(pauses) * per, 1),
            "collected_per_1000": round(sum(n for _, n in pauses) * per),
            "gc_ms_per_1000": round(sum(t for t, _ in pauses) * 1000 * per, 1),
            "gc_max_pause_ms": round(max((t for t, _ in pauses), default=0) * 1000, 2),
            "cpu_ms_per_request": round(cpu * 1000 / requests, 3)}


def requests_of(depositor: dict, reader: dict, some: str) -> dict:
    """Per request kind, a function of a number giving that request as ``(method, path, params, headers, body)``
    (a deposit's body is built by httpx's multipart encoder, outside the measured requests)."""
    import httpx

    def deposit(n: int):
        metadata = {"case_ref": f"LRE-2026-{n % 50:07d}", "policy": "lre-proof"}
        built = httpx.Request("POST", "http://testserver/v1/objects", headers=depositor,
                              files={"file": ("proof.pdf", b"%%PDF-1.7 cycles %d" % n, "application/pdf"),
                                     "metadata": (None, json.dumps(metadata), "application/json")})
        return "POST", "/v1/objects", {}, dict(built.headers), built.read()

    def get(path: str, **params):
        return lambda n: ("GET", path, params, reader, b"")

    return {"deposit": deposit, "search": get("/v1/objects", case_ref="lre-2026-000001*", limit="50"),
            "count": get("/v1/objects/count", case_ref="lre-2026-000001*"), "read": get(f"/v1/objects/{some}"),
            "health": get("/health"), "missing": get("/v1/objects/00000000-0000-7000-8000-000000000000"),
            "unauthorized": lambda n: ("GET", "/v1/objects/count", {}, {"Authorization": "Bearer nope"}, b"")}


EXPECTED = {"POST": (201,), "GET": (200, 401, 404)}


def through_client(client, make):
    """``run(n)``: n requests through the Starlette TestClient (httpx, anyio's blocking portal, a thread)."""
    def run(n: int) -> None:
        built = [make(i) for i in range(n)]
        for method, path, params, headers, body in built:
            answer = client.request(method, path, params=params or None, headers=headers, content=body or None)
            assert answer.status_code in EXPECTED[method], answer.text
    return run


def through_asgi(app, make):
    """``run(n)``: n requests straight into the ASGI app on one asyncio loop, as a server calls it (no client, no
    thread): what the app and vault leave, without the TestClient's own cycles."""
    import asyncio
    from urllib.parse import urlencode

    loop = asyncio.new_event_loop()

    async def one(method, path, params, headers, body) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
                 "query_string": urlencode(params).encode(), "server": ("testserver", 80),
                 "client": ("127.0.0.1", 50000),
                 "headers": [(k.lower().encode(), v.encode()) for k, v in
                             {"host": "testserver", **headers}.items()]}
        sent, status = [False], [0]

        async def receive():
            if not sent[0]:
                sent[0] = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)  # the client stays connected
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]

        await app(scope, receive, send)
        assert status[0] in EXPECTED[method], (method, path, status[0])

    async def many(built) -> None:
        for request in built:
            await one(*request)

    def run(n: int) -> None:
        built = [make(i) for i in range(n)]
        loop.run_until_complete(many(built))
    return run


def uvicorn_exchange(app, settings):
    """Start uvicorn serving the app in a thread of this process (``vault serve``'s options); a function sending
    one request ``(method, path, params, headers, body)`` over one kept-alive socket as pre-built bytes and
    answering its status (a client that makes no cycles of its own)."""
    import socket
    import threading
    from urllib.parse import urlencode

    import uvicorn

    from vault.server import uvicorn_options

    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           **uvicorn_options(settings)))
    threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    connection = socket.create_connection(listener.getsockname(), timeout=30)

    def more() -> bytes:
        data = connection.recv(65536)
        if not data:
            raise SystemExit("uvicorn closed the connection")
        return data

    def raw(method, path, params, headers, body) -> bytes:
        target = path + ("?" + urlencode(params) if params else "")
        lines = [f"{method} {target} HTTP/1.1", "Host: testserver", f"Content-Length: {len(body)}",
                 *(f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length")]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def exchange(request: bytes) -> int:
        connection.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += more()
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(rest) < length:
            rest += more()
        return int(head.split(b" ")[1])

    return lambda request: exchange(raw(*request))


def through_uvicorn(exchange, make):
    """``run(n)``: n requests through ``exchange`` (:func:`uvicorn_exchange`)."""
    def run(n: int) -> None:
        built = [make(i) for i in range(n)]
        for request in built:
            status = exchange(request)
            assert status in EXPECTED[request[0]], status
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25, help="rows of each table")
    parser.add_argument("--trace", type=int, default=0, help="tracemalloc frames kept per allocation (0: off)")
    parser.add_argument("--only", nargs="*", help="request kinds to measure (default: all)")
    parser.add_argument("--driver", choices=("asgi", "testclient", "uvicorn"), default="asgi",
                        help="asgi: straight into the app, as a server calls it (default); testclient: through "
                             "Starlette's TestClient, as the tests and bench/search.py do; uvicorn: to uvicorn in a "
                             "thread, as `vault serve` runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from starlette.testclient import TestClient

    from vault.api.app import create_app
    from vault.app import Vault
    from vault.runtime import settle_heap
    from vault.settings import Settings

    results = {}
    with tempfile.TemporaryDirectory(prefix="vault-cycles-") as work:
        settings = Settings(data_dir=Path(work) / "data", stores=(), policies_dir=ROOT / "policies",
                            admin_key="bench-admin-key-" + "x" * 32)
        vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
        app = create_app(vault)
        with TestClient(app) as client:
            admin = {"Authorization": f"Bearer {settings.admin_key}"}

            def key(role: str, **extra) -> dict:
                body = {"role": role, "tenant": "t1", **extra}
                return {"Authorization": f"Bearer {client.post('/v1/keys', headers=admin, json=body).json()['key']}"}

            reader = key("archivist", holder="bench@example.org")
            made = requests_of(key("depositor"), reader, "")
            for n in range(60):
                method, path, params, headers, body = made["deposit"](10_000_000 + n)
                some = client.post(path, headers=headers, content=body).json()["id"]
            made = requests_of(key("depositor"), reader, some)
            uvicorn = uvicorn_exchange(app, settings) if args.driver == "uvicorn" else None
            drive = {"asgi": functools.partial(through_asgi, app), "testclient": functools.partial(through_client, client),
                     "uvicorn": lambda make: through_uvicorn(uvicorn, make)}[args.driver]
            runs = {name: drive(make) for name, make in made.items()}
            for run in runs.values():  # warm: first-use caches, compiled statements
                run(20)
            settle_heap()  # as `vault serve` does once it has started (vault.runtime)
            for name, run in runs.items():
                if args.only and name not in args.only:
                    continue
                found = garbage(run, args.requests, args.trace)
                results[name] = classify(found, args.requests, args.top, bool(args.trace))
                del found
                results[name].update(collector(run, args.requests))
        vault.close()
    if args.json:
        print(json.dumps(results))
        return 0
    for name, result in results.items():
        print(f"== {name}")
        for field, value in result.items():
            if isinstance(value, dict):
                print(f"  {field}:")
                for k, n in value.items():
                    print(f"    {n:>8}  {k}")
            else:
                print(f"  {field}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
