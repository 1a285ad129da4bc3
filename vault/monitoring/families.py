"""Every metric family ``/metrics`` exposes: name, type, help and label names (docs/monitoring.md lists them).
A new metric is declared here, and its samples come from a source in vault.monitoring.collect."""

from __future__ import annotations

from vault.monitoring.exposition import Family

_DECLARED = [
    # deposits and requests (in memory, this process, since it started)
    Family("vault_deposits_total", "counter", "Deposits answered, by tenant (at most VAULT_METRICS_TENANTS by "
           "name, the rest as tenant=\"other\") and outcome: stored (2xx), refused (4xx), failed (5xx, 507).",
           ("tenant", "outcome")),
    Family("vault_http_request_duration_seconds", "histogram", "HTTP request duration by route template and "
           "method, until the answer's last byte (route=\"other\": no route matched).", ("route", "method")),
    Family("vault_technical_failures_total", "counter", "Requests refused for a fault of the server, not of the "
           "client (insufficient-storage: the disk is below VAULT_MIN_FREE_BYTES or full).", ("problem",)),
    # timestamping (RFC 3161)
    Family("vault_tsa_requests_total", "counter", "Requests to each TSA by outcome: ok, unreachable, http-error, "
           "invalid (a reply that failed a check of RFC 3161 section 2.4.2).", ("tsa", "outcome")),
    Family("vault_tsa_request_duration_seconds", "histogram", "Duration of requests to each TSA, checks included.",
           ("tsa",)),
    Family("vault_tsa_reachable", "gauge", "1 when the last request to this TSA got a token that verified, else 0.",
           ("tsa",)),
    # sealing and renewal (RFC 4998)
    Family("vault_seal_pending", "gauge", "Deposits and metadata record versions not yet sealed by a timestamped batch (the backlog)."),
    Family("vault_seal_lag_seconds", "gauge", "Age of the oldest deposit waiting for its seal."),
    Family("vault_seal_consecutive_failures", "gauge", "Seal attempts failed in a row (TSA unreachable or refusing)."),
    Family("vault_seal_batches_total", "counter", "Seal batches made by this process."),
    Family("vault_renewals_due", "gauge", "Evidence-record chains whose newest timestamp is due for renewal "
           "(RFC 4998 section 5.2; recomputed at most every 5 minutes)."),
    Family("vault_renewals_overdue", "gauge", "Chains of this archive due for renewal for more than a day, or whose "
           "newest timestamp's TSA certificate has expired (recomputed at most every 5 minutes)."),
    # the access journal (transparency log)
    Family("vault_journal_entries", "gauge", "Entries in the access journal (its size)."),
    Family("vault_journal_unsigned_entries", "gauge", "Journal entries not yet covered by a signed checkpoint."),
    Family("vault_checkpoint_age_seconds", "gauge", "Age of the newest signed journal checkpoint."),
    Family("vault_anchor_age_seconds", "gauge", "Age (TSA genTime) of the newest timestamp anchor of the journal."),
    # copies and fixity
    Family("vault_fixity_audits_total", "counter", "Fixity audits journaled (every process, since the archive began)."),
    Family("vault_fixity_failures_total", "counter", "Bad copies seen by audits and reads, every sighting, by kind "
           "(copy-corrupt, copy-missing, content-lost).", ("kind",)),
    Family("vault_fixity_alerts_open", "gauge", "Fixity alerts open now (a copy corrupt or missing, no good copy "
           "left).", ("kind",)),
    Family("vault_copies_missing", "gauge", "Copies found missing on each store and not yet repaired (open "
           "copy-missing fixity alerts).", ("store",)),
    # disk
    Family("vault_disk_free_bytes", "gauge", "Free bytes on the data filesystem (measured at most a second ago)."),
    Family("vault_disk_size_bytes", "gauge", "Size of the data filesystem in bytes."),
    Family("vault_store_bytes", "gauge", "Bytes of the distinct blobs each store (local files, S3 buckets) holds a "
           "good copy of, from the archive's copy records (recomputed at most every 10 minutes).", ("store",)),
    # cases, retention, security
    Family("vault_cases_overdue", "gauge", "Cases whose expected chain of events is incomplete past its deadline."),
    Family("vault_disposal_batches", "gauge", "Disposal batches waiting: proposed (awaiting a second archivist's "
           "approval), notice (approved, in the notice period), executable (approved, notice over).", ("state",)),
    Family("vault_security_alerts_total", "counter", "Security alerts raised (privileged key issued or rotated, "
           "destruction approved, hold released, journal fork).", ("kind",)),
    Family("vault_alert_notifications_total", "counter", "Alert notifications by channel (webhook, email) and "
           "outcome: sent, failed (an attempt; it is retried), dropped (given up or pushed out of a full queue).",
           ("channel", "outcome")),
]
# LRE KPIs per tenant over the last 30 days (docs/kpis.md), the VAULT_METRICS_TENANTS busiest tenants
_DECLARED += [
    Family("vault_kpi_sendings", "gauge", "Sendings over the last 30 days.", ("tenant",)),
    Family("vault_kpi_delivery_rate", "gauge", "Sendings with a receipt, over sendings (last 30 days).", ("tenant",)),
    Family("vault_kpi_refusal_rate", "gauge", "Sendings refused, over sendings (last 30 days).", ("tenant",)),
    Family("vault_kpi_negligence_rate", "gauge", "Sendings left unclaimed (negligence), over sendings (last 30 "
           "days).", ("tenant",)),
    Family("vault_kpi_technical_failure_rate", "gauge", "Technical failures over attempts (last 30 days).",
           ("tenant",)),
    Family("vault_kpi_acceptance_delay_seconds", "gauge", "Delay from sending to receipt, by quantile (0.5, 0.9; "
           "last 30 days).", ("tenant", "quantile")),
]

FAMILIES = {family.name: family for family in _DECLARED}
