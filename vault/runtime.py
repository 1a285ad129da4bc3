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

    Why 5 000 and not more: nearly everything a request allocates dies in reference cycles, so a young collection
    frees about as many objects as the threshold, and its pause grows with it — ~8 ms at 20 000, the p99 of a
    search (bench/search.py reports the collector's pauses); ~2 ms at 5 000, for the same total work.
    """
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
