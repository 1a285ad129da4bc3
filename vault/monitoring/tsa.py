"""What the archive saw of its TSAs (RFC 3161 requests): requests by outcome, latency, and whether the last
request to each TSA got a token that verified (``vault_tsa_reachable``). Fed by the TSA client's ``on_request``
hook (vault.timestamping.client); thread-safe, no I/O.

Outcomes: ``ok`` (a token that verified, or for a request made by someone else a timestamp reply),
``unreachable`` (no HTTP answer), ``http-error`` (an answer that is not a timestamp reply), ``invalid`` (a reply
that failed a check of RFC 3161 §2.4.2). Only ``ok`` counts as reachable: the client treats a TSA that fails a
check like one that is down.
"""

from __future__ import annotations

import threading
from collections import Counter
from urllib.parse import urlsplit

from vault.monitoring.histogram import Histogram
from vault.monitoring.samples import Sample

TSA_OUTCOMES = ("ok", "unreachable", "http-error", "invalid")


def tsa_label(url: str) -> str:
    """The TSA's URL without credentials, query or fragment (a label must carry no secret)."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url.split("?")[0]
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class TsaMeter:
    def __init__(self):
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._last: dict[str, str] = {}
        self.latency = Histogram(("tsa",))

    def record(self, url: str, outcome: str, seconds: float) -> None:
        if outcome not in TSA_OUTCOMES:
            raise ValueError(f"unknown TSA request outcome {outcome!r}")
        tsa = tsa_label(url)
        with self._lock:
            self._requests[(tsa, outcome)] += 1
            self._last[tsa] = outcome
        self.latency.observe((tsa,), seconds)

    def samples(self) -> list[Sample]:
        with self._lock:
            requests, last = dict(self._requests), dict(self._last)
        out = [Sample.of("vault_tsa_requests_total", n, tsa=tsa, outcome=outcome)
               for (tsa, outcome), n in sorted(requests.items())]
        out += [Sample.of("vault_tsa_reachable", 1 if outcome == "ok" else 0, tsa=tsa)
                for tsa, outcome in sorted(last.items())]
        return out + self.latency.samples("vault_tsa_request_duration_seconds")
