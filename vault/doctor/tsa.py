"""The TSAs: each answers a real timestamp request (RFC 3161 §2.4) with a token that verifies, its genTime agrees
with the local clock, and no trust root (``VAULT_TSA_ROOTS``, the validation trust directory) is expired or near."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

from cryptography import x509

from vault.doctor.report import ERROR, OK, WARNING, Finding
from vault.settings import Settings
from vault.timestamping.client import TsaClient, TsaEndpoint, TsaUnavailable, http_transport
from vault.validation.trust import TrustAnchors
from vault_verify.tokens import load_pem_roots

REQUEST_TIMEOUT = 5.0
SKEW_WARNING = timedelta(seconds=60)
SKEW_ERROR = timedelta(minutes=5)
EXPIRY_WARNING = timedelta(days=90)


def _roots(settings: Settings) -> list[x509.Certificate]:
    """``VAULT_TSA_ROOTS``, or the development TSA's root when it is the one in use."""
    if settings.tsa_roots:
        return load_pem_roots(settings.tsa_roots.read_bytes())
    development = settings.tsa_dir / "root.pem"
    return load_pem_roots(development.read_bytes()) if not settings.tsa_urls and development.exists() else []


def skew_finding(url: str, gen_time: datetime, sent: datetime, received: datetime) -> Finding:
    """The local clock against a TSA's genTime, taken halfway through the exchange (its precision: a second)."""
    local = sent + (received - sent) / 2
    skew = local - gen_time
    slack = (received - sent) / 2 + timedelta(seconds=1)
    off = max(abs(skew) - slack, timedelta(0))
    text = f"the local clock is {skew.total_seconds():+.1f} s from {url}'s genTime"
    if off > SKEW_ERROR:
        return Finding("tsa.clock", ERROR, text, "fix the clock (NTP): logs, receipts and deadlines use it")
    if off > SKEW_WARNING:
        return Finding("tsa.clock", WARNING, text, "check NTP on this host")
    return Finding("tsa.clock", OK, text)


def check_tsa(settings: Settings, now: datetime) -> list[Finding]:
    """One real timestamp request per configured TSA, with a short timeout."""
    if not settings.tsa_urls:
        return [Finding("tsa.reachable", OK, "the built-in development TSA answers in process")]
    roots = tuple(_roots(settings))
    findings = []
    for url in settings.tsa_urls:
        endpoint = TsaEndpoint(url, roots, settings.tsa_policy, settings.tsa_username, settings.tsa_password)
        client = TsaClient([endpoint], http_transport(timeout=REQUEST_TIMEOUT))
        sent = datetime.now(timezone.utc)
        started = time.monotonic()
        try:
            token, _ = client.timestamp(os.urandom(32), "sha256")
        except TsaUnavailable as exc:
            findings.append(Finding("tsa.reachable", ERROR, f"{url} gave no valid timestamp: {'; '.join(exc.reasons)}",
                                    "check the URL, the network and VAULT_TSA_ROOTS; deposits stay unsealed meanwhile"))
            continue
        received = sent + timedelta(seconds=time.monotonic() - started)
        findings.append(Finding("tsa.reachable", OK, f"{url} answered a token that verifies "
                                f"in {(received - sent).total_seconds():.2f} s"))
        findings.append(skew_finding(url, token.gen_time, sent, received))
    return findings


def expiry_finding(check: str, where: str, cert: x509.Certificate, now: datetime, expired_status: str) -> Finding:
    """A certificate expired (``expired_status``), expiring within 90 days (warning), or fine."""
    subject = cert.subject.rfc4514_string()
    ends = cert.not_valid_after_utc
    if ends <= now:
        return Finding(check, expired_status, f"{where}: {subject} expired on {ends:%Y-%m-%d}",
                       "replace it with the issuer's current root (keep the old one for records it sealed)")
    if ends - now <= EXPIRY_WARNING:
        return Finding(check, WARNING, f"{where}: {subject} expires on {ends:%Y-%m-%d}",
                       "get the successor root before that date")
    return Finding(check, OK, f"{where}: {subject} valid until {ends:%Y-%m-%d}")


def check_roots(settings: Settings, now: datetime) -> list[Finding]:
    """TSA roots expired are errors (new tokens cannot chain to them); trust-directory anchors expired are warnings
    (they still validate signatures made while they were valid)."""
    findings = [expiry_finding("tsa.roots", f"VAULT_TSA_ROOTS={settings.tsa_roots or settings.tsa_dir / 'root.pem'}", cert, now, ERROR)
                for cert in _roots(settings)]
    anchors = TrustAnchors.from_directory(settings.effective_trust_dir)
    for cert in anchors.certificates:
        findings.append(expiry_finding("trust.anchors", str(settings.effective_trust_dir),
                                       x509.load_der_x509_certificate(cert.dump()), now, WARNING))
    findings += [Finding("trust.anchors", WARNING, f"{settings.effective_trust_dir}: {problem}",
                         "remove or fix that file") for problem in anchors.problems]
    return [f for f in findings if f.status != OK] or [
        Finding("trust.roots", OK, f"{len(findings)} root(s) and trust anchor(s), none expiring within 90 days")]
