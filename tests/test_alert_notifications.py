"""Alerts that reach people without Prometheus (issue 20): deposits fail, a real HTTP receiver gets the
``VaultTechnicalFailureRate`` firing payload (HMAC verified) within 60 s and a resolved one after recovery, and the
e-mails arrive at a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import socket
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from vault.api.app import create_app
from vault.app import Vault
from vault.monitoring.delivery import Notifier, Webhook
from vault.monitoring.payload import SIGNATURE_HEADER
from vault.storage.headroom import DiskHeadroom

SECRET = "receiver-shared-hmac-key"


class Receiver:
    """An Alertmanager-style webhook receiver on 127.0.0.1 that checks the HMAC and answers 503 to its first
    request (so the vault's retry is exercised)."""

    def __init__(self):
        self.payloads: queue.Queue = queue.Queue()
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), expected):
                    self.send_response(401)
                elif receiver.requests == 1:
                    self.send_response(503)
                else:
                    receiver.payloads.put((time.monotonic(), json.loads(body)))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/vault"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, status: str, timeout: float) -> tuple[float, dict]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                at, payload = self.payloads.get(timeout=left)
            except queue.Empty:
                break
            if payload["groupLabels"]["alertname"] == "VaultTechnicalFailureRate" and payload["status"] == status:
                return at, payload
        pytest.fail(f"no {status} VaultTechnicalFailureRate payload within {timeout} s")


class Mailbox:
    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", mailbox
    controller.stop()


def break_deposits(vault):
    """Make every deposit fail for a technical reason; returns how to repair. Scaled: the second store (quorum 2)
    is unreachable, 503. Embedded: the free-space minimum is out of reach, 507."""
    if vault.settings.stores:
        s3 = vault.copies.by_name("rgw")
        real = s3.copy_from

        def down(*args, **kwargs):
            raise httpx.ConnectError("RGW stopped (injected)")
        s3.copy_from = down
        return lambda: setattr(s3, "copy_from", real)
    real = vault.headroom
    vault.headroom = DiskHeadroom(vault.settings.data_dir, 2**62)
    return lambda: setattr(vault, "headroom", real)


def test_failing_deposits_reach_a_webhook_and_a_mailbox_then_recovery_resolves(tmp_path, database_url, smtp):
    receiver, (smtp_url, mailbox) = Receiver(), smtp
    settings = make_settings(tmp_path, database_url, alert_webhooks=(receiver.url,), alert_webhook_secret=SECRET,
                             smtp_url=smtp_url, alert_emails=("ops@example.org",), alert_email_from="vault@test",
                             alert_evaluation_interval="PT1S", alert_window="PT20S")  # 20 failures fit in it even on a loaded machine
    vault = Vault.open(settings, sweep_in_background=False)  # the in-process jobs, the alert evaluator among them
    try:
        api = Api(TestClient(create_app(vault)), ADMIN_KEY)
        assert api.deposit(b"before the outage", tenant="acme").status_code == 201
        repair = break_deposits(vault)
        outage = time.monotonic()  # the threshold is crossed after this, at the 19th or 20th failure
        answers = {api.deposit(f"failing {i}".encode(), tenant="acme").status_code for i in range(20)}
        assert answers <= {503, 507} and answers, answers
        fired_at, firing = receiver.wait_for("firing", 60)
        assert fired_at - outage < 60
        [alert] = firing["alerts"]
        assert firing["version"] == "4" and alert["labels"]["alertname"] == "VaultTechnicalFailureRate"
        assert alert["labels"]["severity"] == "critical" and "deposits failed over PT20S" in alert["annotations"]["description"]
        assert receiver.requests >= 2  # the first try was answered 503 and retried
        repair()
        for i in range(5):
            assert api.deposit(f"after the outage {i}".encode(), tenant="acme").status_code == 201
        _, resolved = receiver.wait_for("resolved", 60)
        assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"] and resolved["alerts"][0]["endsAt"] > \
            alert["startsAt"]
        deadline = time.monotonic() + 30  # the e-mails, and the receiver's 200 reaching the counter
        while (len(mailbox.messages) < 2 or sent(vault, "webhook") < 2) and time.monotonic() < deadline:
            time.sleep(0.2)
        subjects = [m["Subject"] for _to, m in mailbox.messages if "VaultTechnicalFailureRate" in m["Subject"]]
        assert subjects == ["[FIRING:1] VaultTechnicalFailureRate (local)", "[RESOLVED] VaultTechnicalFailureRate (local)"]
        assert all(to == ["ops@example.org"] for to, _m in mailbox.messages)
        assert mailbox.messages[0][1]["From"] == "vault@test"
        counts = {(s.label("channel"), s.label("outcome")): s.value for s in vault.notifier.samples()}
        assert counts[("webhook", "failed")] == 1 and counts[("webhook", "sent")] >= 2
        assert counts[("email", "sent")] >= 2 and counts[("email", "failed")] == 0
    finally:
        vault.close()


def sent(vault, channel: str) -> float:
    return sum(s.value for s in vault.notifier.samples() if s.labels == (("channel", channel), ("outcome", "sent")))


def test_a_dead_receiver_blocks_nothing_and_is_logged_once(caplog):
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/secret-token-in-path"
    notifier = Notifier([Webhook(dead, timeout=1)], capacity=3, base=0.05, cap=0.1, attempts=3)
    notifier.start()
    try:
        with caplog.at_level(logging.WARNING, logger="vault.alerts"):
            started = time.monotonic()
            for i in range(50):
                notifier.notify({"n": i})
            assert time.monotonic() - started < 0.5  # offers never wait for the receiver
            assert len(notifier.deliveries[0]._queue) <= 3  # nor pile up
            time.sleep(1.5)
        counts = {s.label("outcome"): s.value for s in notifier.samples()}
        assert counts["dropped"] >= 47 and counts["failed"] >= 3 and counts["sent"] == 0
        warnings = [r.getMessage() for r in caplog.records if r.name == "vault.alerts"]
        assert len(warnings) == 1 and "secret-token" not in warnings[0], warnings
    finally:
        notifier.stop()
