"""What a notification says: Alertmanager's webhook payload (version 4, as documented for ``webhook_config`` at
prometheus.io/docs/alerting/latest/configuration/), its HMAC-SHA256 signature, and the same alerts as an e-mail.

One message per rule and evaluation (Alertmanager grouped ``by: [alertname]``): its status is ``firing`` while any
of its alerts fires. Labels are the rule's own (no tenant, no person, no secret), ``alertname``, ``severity`` and
``instance`` (``VAULT_INSTANCE``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from email.message import EmailMessage

from vault.monitoring.alerting import Alert

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt for an alert still firing
SIGNATURE_HEADER = "X-Vault-Signature"
RECEIVER = "vault"


def rfc3339(instant: datetime | None) -> str:
    return instant.isoformat().replace("+00:00", "Z") if instant else ZERO_TIME


def labels_of(alert: Alert, instance: str) -> dict[str, str]:
    return {"alertname": alert.name, "severity": alert.severity, "instance": instance, **dict(alert.labels)}


def fingerprint(labels: dict[str, str]) -> str:
    """Prometheus' label-set fingerprint (``model.LabelSet.Fingerprint``): FNV-1a 64 over the sorted names and
    values, each followed by the byte 0xff, as 16 hex digits, so a receiver deduplicates as with Alertmanager."""
    value = 14695981039346656037
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                value = ((value ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def webhook_payload(alerts: list[Alert], instance: str) -> dict:
    """The version-4 webhook body for the alerts of one rule (one group)."""
    listed = [{"status": "resolved" if a.state == "resolved" else "firing", "labels": labels_of(a, instance),
               "annotations": {"summary": a.summary, "description": a.description},
               "startsAt": rfc3339(a.starts_at), "endsAt": rfc3339(a.ends_at), "generatorURL": "",
               "fingerprint": fingerprint(labels_of(a, instance))} for a in alerts]
    common = {k: v for k, v in listed[0]["labels"].items() if all(x["labels"].get(k) == v for x in listed)}
    annotations = {k: v for k, v in listed[0]["annotations"].items()
                   if all(x["annotations"].get(k) == v for x in listed)}
    group = {"alertname": alerts[0].name}
    return {
        "version": "4", "groupKey": "{}:{alertname=%s}" % json.dumps(alerts[0].name), "truncatedAlerts": 0,
        "status": "firing" if any(x["status"] == "firing" for x in listed) else "resolved",
        "receiver": RECEIVER, "groupLabels": group, "commonLabels": common, "commonAnnotations": annotations,
        "externalURL": "", "alerts": listed,
    }


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 (RFC 2104) keyed with ``VAULT_ALERT_WEBHOOK_SECRET`` over the exact body bytes.
    A receiver recomputes it over the raw body and compares with :func:`hmac.compare_digest`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def email_message(payload: dict, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """A plain-text e-mail of one webhook payload; the subject reads like Alertmanager's default one."""
    firing = [a for a in payload["alerts"] if a["status"] == "firing"]
    message = EmailMessage()
    message["Subject"] = (f"[{payload['status'].upper()}{':%d' % len(firing) if firing else ''}] "
                          f"{payload['groupLabels']['alertname']} ({payload['commonLabels'].get('instance', '')})")
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    lines = []
    for alert in payload["alerts"]:
        lines += [f"{alert['status'].upper()}: {alert['labels']['alertname']} ({alert['labels']['severity']})",
                  f"  {alert['annotations']['summary']}", f"  {alert['annotations']['description']}",
                  f"  since {alert['startsAt']}" + (f", resolved {alert['endsAt']}" if alert["status"] == "resolved"
                                                     else ""),
                  "  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items())), ""]
    message.set_content("\n".join(lines))
    return message
