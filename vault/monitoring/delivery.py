"""Getting notifications to people: a webhook (HTTP POST of the Alertmanager payload, HMAC-signed) and e-mail
(SMTP, RFC 5321; STARTTLS, RFC 3207, or implicit TLS, RFC 8314), each behind its own bounded queue drained by its
own thread, retried with exponential backoff.

A dead receiver never blocks the evaluator (offers never wait), never grows memory (the oldest message is dropped
from a full queue) and fills no log (one warning when a channel starts failing, one line when it recovers).
Logs name a channel by scheme and host only: a webhook's path or query often is its secret.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from vault.monitoring.payload import SIGNATURE_HEADER, email_message, encode, signature
from vault.monitoring.samples import Sample

log = logging.getLogger("vault.alerts")


class Channel(Protocol):
    kind: str  # webhook | email: the ``channel`` label
    target: str  # scheme://host[:port], safe to log

    def send(self, payload: dict) -> None:
        """Deliver or raise."""


def safe_target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{':%d' % parts.port if parts.port else ''}"


class Webhook:
    kind = "webhook"

    def __init__(self, url: str, secret: str | None = None, timeout: float = 10.0):
        self.url, self._secret, self._timeout = url, secret, timeout
        self.target = safe_target(url)

    def send(self, payload: dict) -> None:
        body = encode(payload)
        headers = {"Content-Type": "application/json", "User-Agent": "vault-alerts"}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        response = httpx.post(self.url, content=body, headers=headers, timeout=self._timeout)
        response.raise_for_status()


@dataclass(frozen=True)
class SmtpServer:
    """``VAULT_SMTP_URL``: ``smtp://[user:password@]host[:port][?starttls=true]`` (port 25; STARTTLS required when
    asked) or ``smtps://…`` (implicit TLS, port 465). Certificates are verified against the system's roots."""
    host: str
    port: int
    tls: bool
    starttls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> "SmtpServer":
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("give smtp://[user:password@]host[:port][?starttls=true] or smtps://…")
        starttls = parse_qs(parts.query).get("starttls", ["false"])[-1].lower()
        if starttls not in ("true", "false", "1", "0"):
            raise ValueError(f"starttls={starttls!r}: use true or false")
        tls = parts.scheme == "smtps"
        return cls(parts.hostname, parts.port or (465 if tls else 25), tls, starttls in ("true", "1"),
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)


class Email:
    kind = "email"

    def __init__(self, url: str, sender: str, recipients: tuple[str, ...], timeout: float = 10.0):
        self.server, self.sender, self.recipients, self._timeout = SmtpServer.parse(url), sender, recipients, timeout
        self.target = safe_target(url)

    def send(self, payload: dict) -> None:
        server, context = self.server, ssl.create_default_context()
        if server.tls:
            connection = smtplib.SMTP_SSL(server.host, server.port, timeout=self._timeout, context=context)
        else:
            connection = smtplib.SMTP(server.host, server.port, timeout=self._timeout)
        with connection:
            if server.starttls:
                connection.starttls(context=context)
            if server.username:
                connection.login(server.username, server.password or "")
            connection.send_message(email_message(payload, self.sender, self.recipients))


class Delivery:
    """One channel's queue of payloads, oldest first, sent in order by a thread of its own. A failed send is
    retried after ``base`` × 2ⁿ seconds (at most ``cap``), ``attempts`` times in all, then dropped."""

    def __init__(self, channel: Channel, count: Callable[[str, str], None], capacity: int = 100, base: float = 1.0,
                 cap: float = 300.0, attempts: int = 12):
        self.channel, self._count = channel, count
        self._capacity, self._base, self._cap, self._attempts = capacity, base, cap, attempts
        self._queue: deque[dict] = deque()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def offer(self, payload: dict) -> None:
        """Queue ``payload``; never waits. A full queue drops its oldest message (counted ``dropped``)."""
        with self._wake:
            if len(self._queue) >= self._capacity:
                self._queue.popleft()
                self._count(self.channel.kind, "dropped")
            self._queue.append(payload)
            self._wake.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"vault-alerts-{self.channel.kind}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread:
            self._thread.join(timeout)

    def _loop(self) -> None:
        failures = 0  # failed attempts in the current burst (0: the channel works)
        tries = 0  # failed attempts for the message at the head of the queue
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                payload = self._queue[0]
            try:
                self.channel.send(payload)
            except Exception as exc:  # noqa: BLE001 — any failure is retried; logged once per burst
                self._count(self.channel.kind, "failed")
                if failures == 0:
                    log.warning("alert %s to %s failing (%s); retrying with backoff", self.channel.kind,
                                self.channel.target, exc.__class__.__name__)
                failures, tries = failures + 1, tries + 1
                if tries >= self._attempts:
                    self._drop(payload)
                    self._count(self.channel.kind, "dropped")
                    tries = 0
                self._pause(min(self._cap, self._base * 2 ** (tries - 1)) if tries else self._base)
                continue
            self._count(self.channel.kind, "sent")
            if failures:
                log.warning("alert %s to %s delivered again after %d failed attempt(s)", self.channel.kind,
                            self.channel.target, failures)
            failures = tries = 0
            self._drop(payload)

    def _pause(self, seconds: float) -> None:
        """Wait ``seconds`` unless stopped (new offers do not cut a backoff short)."""
        deadline = time.monotonic() + seconds
        with self._wake:
            while not self._stopping and (left := deadline - time.monotonic()) > 0:
                self._wake.wait(left)

    def _drop(self, payload: dict) -> None:
        with self._wake:
            if self._queue and self._queue[0] is payload:
                self._queue.popleft()


class Notifier:
    """Every channel's :class:`Delivery`, and how each fared: ``vault_alert_notifications_total{channel,outcome}``
    (outcome ``sent``, ``failed`` per failed attempt, ``dropped`` when given up or pushed out of a full queue)."""

    def __init__(self, channels: list[Channel], **delivery_options):
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self.deliveries = [Delivery(channel, self._count, **delivery_options) for channel in channels]

    def _count(self, channel: str, outcome: str) -> None:
        with self._lock:
            self._counts[(channel, outcome)] += 1

    def notify(self, payload: dict) -> None:
        for delivery in self.deliveries:
            delivery.offer(payload)

    def start(self) -> None:
        for delivery in self.deliveries:
            delivery.start()

    def stop(self) -> None:
        for delivery in self.deliveries:
            delivery.stop()

    def samples(self) -> list[Sample]:
        with self._lock:
            counts = dict(self._counts)
        kinds = sorted({d.channel.kind for d in self.deliveries})
        return [Sample.of("vault_alert_notifications_total", counts.get((kind, outcome), 0), channel=kind,
                          outcome=outcome) for kind in kinds for outcome in ("sent", "failed", "dropped")]
