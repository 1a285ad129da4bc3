"""Process-wide settings for a long-running vault process (the API server, a worker, a benchmark of either)."""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 5_000


def settle_heap() -> None:
    """Move everything allocated at start-up (modules, SQLAlchemy's compiled caches, the open vault) out of the
    cyclic garbage collector's reach with ``gc.freeze()``, and let the young generation grow to 5 000 objects
    before a collection (the default is 700).

    Without it, every full collection walks the whole start-up heap again: a journal append that allocates a few
    dozen objects paid for that, and durable appends ran at about 60 % of their speed. Call once, after start-up.

    Why 5 000: a request served by uvicorn leaves no object in a reference cycle (bench/cycles.py: deposits,
    searches, counts, reads, errors), so young collections are rare and the threshold hardly matters there. The
    in-process harness the tests and bench/search.py use (Starlette's TestClient) leaves ~80 cyclic objects per
    request of its own; there a young collection's pause grows with the threshold (~8 ms at 20 000, ~2 ms at 5 000
    for the same total work), and 5 000 keeps those measurements' p99 free of it.
    """
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
