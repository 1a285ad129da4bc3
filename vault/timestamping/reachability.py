"""Is a TSA reachable now? The verdict ``/ready`` shows, from the last real exchange or from a probe.

Every exchange the archive makes (seals, renewals, anchors, PDF timestamps) tells its outcome; when none happened
for ``interval`` seconds, one probe token over a random digest is asked for (RFC 3161 §2.4.1), in the
background. A probe costs one token: with a TSA billed per token, ``VAULT_TSA_PROBE_INTERVAL`` bounds that cost.
"""

from __future__ import annotations

import os
from dataclasses import replace

from vault.monitoring.probes import CachedProbe
from vault.timestamping.client import TsaClient, TsaUnavailable

PROBE_TIMEOUT = 5.0  # a TSA silent for longer is reported unreachable while its exchange still runs


def verdict_of(failure: str | None) -> str:
    """The ``/ready`` value for an exchange outcome (None: a TSA answered with a valid token)."""
    if failure is None:
        return "ok"
    return f"degraded: TSA unreachable, timestamps are queued until it answers ({failure[:300]})"


def tsa_reachability(client: TsaClient, interval: float) -> CachedProbe:
    """A probe of ``client``'s TSAs, fed by every exchange ``client`` makes from now on."""
    silent = replace(client, on_token=None, on_outcome=None)  # a probe token is not a use worth recording

    def probe() -> str:
        try:
            silent.timestamp(os.urandom(32), "sha256")
        except TsaUnavailable as exc:
            return verdict_of(str(exc))
        return "ok"

    reachability = CachedProbe("the TSA", probe, interval, PROBE_TIMEOUT)
    client.on_outcome = lambda failure: reachability.note(verdict_of(failure))
    return reachability
