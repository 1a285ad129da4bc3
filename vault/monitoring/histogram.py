"""Latency histograms kept in memory, exposed as Prometheus histograms (``_bucket{le}``, ``_sum``, ``_count``;
cumulative buckets ending in ``+Inf``, as the text exposition format requires). Thread-safe; no I/O."""

from __future__ import annotations

import threading
from bisect import bisect_left

from vault.monitoring.samples import Sample

# seconds: from a cached read (5 ms) to a large deposit or a slow TSA (60 s)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def bucket_bound(bound: float) -> str:
    """The ``le`` label of a bucket, as Prometheus clients write it (``0.5``, ``1.0``, ``+Inf``)."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


class Histogram:
    """Observations by label values (a tuple in the order of ``label_names``)."""

    def __init__(self, label_names: tuple[str, ...], buckets: tuple[float, ...] = LATENCY_BUCKETS):
        self.label_names = label_names
        self.buckets = tuple(sorted(buckets))
        self._lock = threading.Lock()
        self._series: dict[tuple[str, ...], list] = {}  # labels -> [counts per bucket (+Inf last), sum]

    def observe(self, labels: tuple[str, ...], seconds: float) -> None:
        index = bisect_left(self.buckets, seconds)  # the first bucket whose bound is >= seconds
        with self._lock:
            series = self._series.get(labels)
            if series is None:
                series = self._series[labels] = [[0] * (len(self.buckets) + 1), 0.0]
            series[0][index] += 1
            series[1] += seconds

    def count(self, labels: tuple[str, ...]) -> int:
        with self._lock:
            series = self._series.get(labels)
            return sum(series[0]) if series else 0

    def samples(self, name: str) -> list[Sample]:
        """``name_bucket`` (cumulative, ``le`` last among the labels' meaning), ``name_sum`` and ``name_count``."""
        with self._lock:
            snapshot = [(labels, list(counts), total) for labels, (counts, total) in sorted(self._series.items())]
        out = []
        for labels, counts, total in snapshot:
            named = dict(zip(self.label_names, labels))
            running = 0
            for bound, count in zip((*self.buckets, float("inf")), counts):
                running += count
                out.append(Sample.of(f"{name}_bucket", running, **named, le=bucket_bound(bound)))
            out.append(Sample.of(f"{name}_sum", total, **named))
            out.append(Sample.of(f"{name}_count", running, **named))
        return out
