"""Our RFC 3161 client against the real OpenSSL TSA: policies, HTTP Basic auth, and responses that must be refused."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vault.timestamping.client import TsaClient, TsaEndpoint, TsaUnavailable, http_transport
from vault.timestamping.tokens import load_pem_roots

pytestmark = pytest.mark.slow
DIGEST = hashlib.sha256(b"timestamp me").digest()


def endpoint(tsa, **changes) -> TsaEndpoint:
    return TsaEndpoint(tsa["url"], tuple(load_pem_roots(tsa["roots"].read_bytes())), **changes)


def test_token_verifies_and_carries_the_requested_policy(openssl_tsa):
    client = TsaClient([endpoint(openssl_tsa, policy="1.2.3.4.2")], http_transport())
    token, used = client.timestamp(DIGEST, "sha256")
    assert token.policy == "1.2.3.4.2" and token.imprint == DIGEST and used.url == openssl_tsa["url"]
    sha512 = hashlib.sha512(b"timestamp me").digest()
    token, _ = client.timestamp(sha512, "sha512")
    assert token.imprint_algorithm == "sha512" and token.imprint == sha512


def test_a_policy_the_tsa_does_not_serve_is_refused(openssl_tsa):
    client = TsaClient([endpoint(openssl_tsa, policy="1.2.3.4.9")], http_transport())
    with pytest.raises(TsaUnavailable, match="refused|rejection"):
        client.timestamp(DIGEST, "sha256")


def test_a_replayed_response_is_refused(openssl_tsa):
    real = http_transport()
    captured = {}

    def replaying(url, body, headers):
        if "answer" not in captured:
            captured["answer"] = real(url, body, headers)
        return captured["answer"]

    client = TsaClient([endpoint(openssl_tsa)], replaying)
    client.timestamp(DIGEST, "sha256")
    with pytest.raises(TsaUnavailable) as refused:
        client.timestamp(hashlib.sha256(b"another document").digest(), "sha256")
    assert "message imprint does not match" in str(refused.value) and "nonce" in str(refused.value)


@pytest.fixture
def tsa_with_auth(openssl_tsa, tmp_path):
    ready = tmp_path / "port"
    env = {**os.environ, "TSA_BASIC_AUTH": "alice:s3cret"}
    script = Path(__file__).with_name("openssl_tsa.py")
    process = subprocess.Popen([sys.executable, str(script), "serve", str(openssl_tsa["dir"]), "--port", "0",
                                "--ready-file", str(ready)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield {**openssl_tsa, "url": f"http://127.0.0.1:{ready.read_text().strip()}/"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_basic_auth(tsa_with_auth):
    anonymous = TsaClient([endpoint(tsa_with_auth)], http_transport())
    with pytest.raises(TsaUnavailable, match="HTTP 401"):
        anonymous.timestamp(DIGEST, "sha256")
    allowed = TsaClient([endpoint(tsa_with_auth, username="alice", password="s3cret")], http_transport())
    token, _ = allowed.timestamp(DIGEST, "sha256")
    assert token.imprint == DIGEST
