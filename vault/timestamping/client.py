"""RFC 3161 client: ask one TSA after another until one answers a token that verifies strictly.

Each response is checked before use (RFC 3161 §2.4.2): status granted, strict DER, message imprint and nonce
equal to what we sent, the TSA certificate's critical timeStamping EKU, and a chain to that TSA's configured
roots valid at genTime (:func:`vault_verify.tokens.verify_token`). A TSA that fails any check is treated
like one that is down: the next one is tried, and the reasons are kept for the error.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

import httpx
from asn1crypto import cms, core, tsp
from cryptography import x509

from vault_verify.der import der_framing_error
from vault_verify.tokens import TimestampToken, TokenError, parse_token, verify_token

class TimeStampResp(core.Sequence):
    """RFC 3161 §2.4.2 with ``timeStampToken`` OPTIONAL, as the RFC says (asn1crypto's requires it, so it cannot
    read a rejection)."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


# (url, body, headers) -> (status code, content type, body)
Transport = Callable[[str, bytes, dict[str, str]], tuple[int, str, bytes]]
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


class TsaUnavailable(RuntimeError):
    """No configured TSA produced a token that verifies; ``reasons`` has one line per TSA tried."""

    def __init__(self, reasons: list[str]):
        super().__init__("no TSA gave a valid timestamp: " + "; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class TsaEndpoint:
    url: str
    roots: tuple[x509.Certificate, ...]
    policy: str | None = None
    username: str | None = None
    password: str | None = None
    development: bool = False


@dataclass
class TsaClient:
    endpoints: Sequence[TsaEndpoint]
    transport: Transport
    nonce_source: Callable[[], int] = field(default=lambda: secrets.randbits(63))
    on_token: Callable[[x509.Certificate, str, datetime], None] | None = None
    """Told (root, TSA url, genTime) for each token obtained: the TSA history (vault.timestamping.history)."""
    on_request: Callable[[str, str, float], None] | None = None
    """Told (TSA url, outcome, seconds) after each request: ``ok``, ``unreachable``, ``http-error`` or ``invalid``
    (vault.monitoring.tsa)."""

    def _told(self, url: str, outcome: str, started: float) -> None:
        if self.on_request is not None:
            self.on_request(url, outcome, time.monotonic() - started)
    on_outcome: Callable[[str | None], None] | None = None
    """Told after each exchange: None when a TSA answered, else why none did (``/ready``'s TSA check)."""

    def _outcome(self, failure: str | None) -> None:
        if self.on_outcome is not None:
            self.on_outcome(failure)

    def timestamp(self, digest: bytes, algorithm: str) -> tuple[TimestampToken, TsaEndpoint]:
        """A verified token over ``digest`` (made with ``algorithm``) and the endpoint that issued it."""
        reasons = []
        for endpoint in self.endpoints:
            nonce = self.nonce_source()
            request = build_request(digest, algorithm, nonce, endpoint.policy)
            headers = {"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE}
            if endpoint.username is not None:
                credentials = f"{endpoint.username}:{endpoint.password or ''}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
            started = time.monotonic()
            try:
                status, content_type, body = self.transport(endpoint.url, request, headers)
            except (OSError, httpx.HTTPError) as exc:
                self._told(endpoint.url, "unreachable", started)
                reasons.append(f"{endpoint.url}: {exc.__class__.__name__}: {exc}")
                continue
            if status != 200:
                self._told(endpoint.url, "http-error", started)
                reasons.append(f"{endpoint.url}: HTTP {status}")
                continue
            if content_type.split(";")[0].strip().lower() != REPLY_TYPE:
                self._told(endpoint.url, "http-error", started)
                reasons.append(f"{endpoint.url}: answered {content_type or 'no content type'}, not {REPLY_TYPE}")
                continue
            try:
                token, root = check_response(body, digest, algorithm, nonce, endpoint)
            except TokenError as exc:
                self._told(endpoint.url, "invalid", started)
                reasons.append(f"{endpoint.url}: {exc}")
                continue
            self._told(endpoint.url, "ok", started)
            if self.on_token is not None and root is not None:
                self.on_token(root, endpoint.url, token.gen_time)
            self._outcome(None)
            return token, endpoint
        failure = TsaUnavailable(reasons or ["no TSA configured"])
        self._outcome(str(failure))
        raise failure


def raw_exchange(client: "TsaClient", request: bytes) -> bytes:
    """Send a DER TimeStampReq made by someone else (pyHanko) to the first TSA that answers; the caller checks
    the reply. Raises TsaUnavailable when none answers."""
    reasons = []
    for endpoint in client.endpoints:
        headers = {"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE}
        started = time.monotonic()
        try:
            status, content_type, body = client.transport(endpoint.url, request, headers)
        except (OSError, httpx.HTTPError) as exc:
            client._told(endpoint.url, "unreachable", started)
            reasons.append(f"{endpoint.url}: {exc}")
            continue
        if status == 200 and content_type.split(";")[0].strip().lower() == REPLY_TYPE:
            client._told(endpoint.url, "ok", started)
            client._outcome(None)
            return body
        client._told(endpoint.url, "http-error", started)
        reasons.append(f"{endpoint.url}: HTTP {status} {content_type}")
    failure = TsaUnavailable(reasons or ["no TSA configured"])
    client._outcome(str(failure))
    raise failure


def build_request(digest: bytes, algorithm: str, nonce: int, policy: str | None) -> bytes:
    """A DER TimeStampReq (RFC 3161 §2.4.1) asking for the TSA certificate in the token."""
    request = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,
    }
    if policy:
        request["req_policy"] = policy
    return tsp.TimeStampReq(request).dump()


def check_response(body: bytes, digest: bytes, algorithm: str, nonce: int,
                   endpoint: TsaEndpoint) -> tuple[TimestampToken, x509.Certificate | None]:
    """The token of a TimeStampResp after every check, and the root its certificate chains to; raises TokenError
    naming the first check that failed."""
    try:
        response = TimeStampResp.load(body, strict=True)
        status = response["status"]["status"].native
    except (ValueError, TypeError) as exc:
        raise TokenError(f"response is not a DER TimeStampResp: {exc}") from None
    if status not in ("granted", "granted_with_mods"):
        text = "; ".join(response["status"]["status_string"].native or [])
        raise TokenError(f"TSA refused: {status}{' (' + text + ')' if text else ''}")
    token_info = response["time_stamp_token"]
    if isinstance(token_info, core.Void):
        raise TokenError("granted response without a token")
    der = token_info.dump()
    problem = der_framing_error(body)
    if problem:
        raise TokenError(f"response is not strict DER: {problem}")
    token = parse_token(der)
    if token.imprint_algorithm != algorithm:
        raise TokenError(f"token imprint uses {token.imprint_algorithm}, we asked for {algorithm}")
    accepted = [endpoint.policy] if endpoint.policy else None
    verdict = verify_token(token, endpoint.roots, expected_imprint=digest, expected_nonce=nonce,
                           accepted_policies=accepted)
    if not verdict.ok:
        raise TokenError("; ".join(verdict.failure_details))
    return token, (verdict.chain[-1] if verdict.chain else None)


def http_transport(timeout: float = 10.0) -> Transport:
    """POST over HTTP(S) (RFC 3161 §3.4) with a shared connection pool, opened at the first request: building
    its TLS context (the system's CA bundle) costs ~70 ms, which a vault served by the built-in TSA never needs."""
    opened: list[httpx.Client] = []
    lock = threading.Lock()

    def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        with lock:
            if not opened:
                opened.append(httpx.Client(timeout=timeout))
        response = opened[0].post(url, content=body, headers=headers)
        return response.status_code, response.headers.get("content-type", ""), response.content

    return post


BUILTIN_URL = "builtin:development-tsa"


def builtin_transport(respond: Callable[[bytes], bytes], fallback: Transport) -> Transport:
    """Serve :data:`BUILTIN_URL` in process with ``respond`` (the development TSA); other URLs over ``fallback``."""

    def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        if url == BUILTIN_URL:
            return 200, REPLY_TYPE, respond(body)
        return fallback(url, body, headers)

    return post
