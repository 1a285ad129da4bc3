"""The built-in development TSA: marked as such, rotates its certificate before expiry, refuses bad queries."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.x509.oid import NameOID

from vault.timestamping.client import (
    BUILTIN_URL, TimeStampResp, TsaClient, TsaEndpoint, builtin_transport, build_request, check_response,
)
from vault.timestamping.tokens import TokenError
from vault.timestamping.devtsa import DEVELOPMENT_LABEL, DEVELOPMENT_POLICY, DevelopmentTsa


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


def client(tsa: DevelopmentTsa) -> TsaClient:
    return TsaClient([TsaEndpoint(BUILTIN_URL, (tsa.root,), development=True)],
                     builtin_transport(tsa.respond, lambda *a: (_ for _ in ()).throw(AssertionError("no HTTP"))))


def test_tokens_are_marked_development(tmp_path):
    tsa = DevelopmentTsa.load_or_create(tmp_path, Clock())
    token, _endpoint = client(tsa).timestamp(hashlib.sha256(b"x").digest(), "sha256")
    assert token.policy == DEVELOPMENT_POLICY
    for cert in (token.signer_certificate(), tsa.root):
        units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        assert [u.value for u in units] == [DEVELOPMENT_LABEL]


def test_keys_survive_a_restart(tmp_path):
    first = DevelopmentTsa.load_or_create(tmp_path, Clock())
    again = DevelopmentTsa.load_or_create(tmp_path, Clock())
    assert first.root == again.root and first.certificate == again.certificate
    assert oct((tmp_path / "tsa.key").stat().st_mode & 0o777) == "0o600"


def test_certificate_rotates_a_year_before_expiry(tmp_path):
    clock = Clock()
    tsa = DevelopmentTsa.load_or_create(tmp_path, clock)
    old = tsa.certificate
    clock.now = old.not_valid_after_utc - timedelta(days=300)
    token, _ = client(tsa).timestamp(hashlib.sha256(b"late").digest(), "sha256")
    assert token.signer_certificate() != old
    assert token.signer_certificate().not_valid_after_utc > old.not_valid_after_utc
    assert DevelopmentTsa.load_or_create(tmp_path, clock).certificate == tsa.certificate


def test_bad_queries_are_rejected(tmp_path):
    tsa = DevelopmentTsa.load_or_create(tmp_path, Clock())

    def status(body: bytes) -> tuple[str, set]:
        response = TimeStampResp.load(tsa.respond(body))
        return response["status"]["status"].native, response["status"]["fail_info"].native

    assert status(b"not DER") == ("rejection", {"bad_data_format"})
    assert status(build_request(b"\x00" * 20, "sha1", 1, None)) == ("rejection", {"bad_alg"})
    assert status(build_request(b"\x00" * 31, "sha256", 1, None)) == ("rejection", {"bad_alg"})
    assert status(build_request(b"\x00" * 32, "sha256", 1, "1.2.3")) == ("rejection", {"unaccepted_policy"})
    assert status(build_request(b"\x00" * 32, "sha256", 1, None))[0] == "granted"


def test_client_reports_a_rejection(tmp_path):
    tsa = DevelopmentTsa.load_or_create(tmp_path, Clock())
    answer = tsa.respond(build_request(b"\x00" * 32, "sha256", 1, "1.2.3"))
    with pytest.raises(TokenError, match="TSA refused: rejection"):
        check_response(answer, b"\x00" * 32, "sha256", 1, TsaEndpoint(BUILTIN_URL, (tsa.root,), "1.2.3"))
