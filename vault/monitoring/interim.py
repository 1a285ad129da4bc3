"""TEMPORARY — for the lead to replace with ``vault.monitoring.exposition.collect`` (issue 20, /metrics) once it
is merged: the few samples the embedded alert rules read that main can already measure, under the names that
``collect`` exposes. Rules whose metric is absent here (TSA reachability, checkpoint and anchor ages, copies
missing, renewals overdue) simply never hold until then.
"""

from __future__ import annotations

from vault.journal.alerts import alert_counts
from vault.monitoring.samples import Sample
from vault.storage.fixity import open_counts


def collect_for_alerts(vault) -> list[Sample]:
    pending, oldest = vault.sealer.pending_count()
    space = vault.headroom.space()
    with vault.reader.connect() as connection:
        security, fixity = alert_counts(connection), open_counts(connection)
    return [
        Sample.of("vault_seal_lag_seconds", (vault.clock.now() - oldest).total_seconds() if oldest else 0.0),
        Sample.of("vault_cases_overdue", vault.cases.overdue_count()),
        Sample.of("vault_disk_free_bytes", space.free),
        Sample.of("vault_disk_size_bytes", space.total),
        *(Sample.of("vault_security_alerts_total", n, kind=kind) for kind, n in security.items()),
        *(Sample.of("vault_fixity_alerts_open", n, kind=kind) for kind, n in fixity.items()),
    ]
