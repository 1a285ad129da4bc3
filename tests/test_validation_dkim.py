"""DKIM verdicts: messages signed here with dkimpy, keys supplied with the deposit, never a DNS lookup."""

from __future__ import annotations

import base64
import hashlib
import socket
import time
import types
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import dkim
import dns.resolver
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.times import days_ago
from vault.validation.dkim import validate_dkim
from vault.validation.trust import TrustAnchors, ValidationContext
from vault.validation.verdicts import INDETERMINATE, INVALID, VALID, VERDICTS

SENT = format_datetime(days_ago(1)).encode()  # deposited under email-proof, the Date may be a year old at most
MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: the contract\r\n"
    b"Date: " + SENT + b"\r\n"
    b"Message-ID: <contract-1@example.com>\r\n"
    b"\r\n"
    b"Bob, the signed contract is attached.\r\n"
    b"Alice\r\n"
)


def rsa_key() -> tuple[bytes, str]:
    """(PEM private key for dkimpy, DKIM TXT record with the SubjectPublicKeyInfo)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, f"v=DKIM1; k=rsa; p={base64.b64encode(spki).decode()}"


@pytest.fixture(scope="module")
def keys():
    return rsa_key(), rsa_key()


def ctx(records: dict[str, str] | None = None, now: datetime | None = None) -> ValidationContext:
    return ValidationContext(TrustAnchors(), now or datetime.now(timezone.utc), records or {})


def sign(message: bytes, pem: bytes, selector: bytes = b"sel", domain: bytes = b"example.com", **kw) -> bytes:
    return dkim.sign(message, selector, domain, pem, **kw) + message


def only(result) -> object:
    assert len(result.verdicts) == 1
    return result.verdicts[0]


def test_valid_signature(keys):
    (pem, record), _ = keys
    verdict = only(validate_dkim(sign(MESSAGE, pem), ctx({"sel._domainkey.example.com": record})))
    assert verdict.kind == "dkim" and verdict.verdict == VALID, verdict.reason
    assert verdict.signer == "example.com (i=@example.com)"
    d = verdict.details
    assert (d["d"], d["s"], d["i"], d["a"]) == ("example.com", "sel", "@example.com", "rsa-sha256")
    assert {"from", "subject", "date"} <= set(d["h"])
    assert d["bh"] == "pass" and d["signature"] == "pass" and d["key_source"] == "supplied with the deposit"
    assert d["key_bits"] == 2048 and d["key_record"] == "sel._domainkey.example.com"


def test_key_record_names_are_matched_like_dns(keys):
    (pem, record), _ = keys
    signed = sign(MESSAGE, pem, b"Sel", b"Example.COM")
    assert only(validate_dkim(signed, ctx({"sel._domainkey.example.com.": record}))).verdict == VALID


def test_changed_body_is_invalid(keys):
    (pem, record), _ = keys
    signed = sign(MESSAGE, pem).replace(b"signed contract", b"signed cantract")
    verdict = only(validate_dkim(signed, ctx({"sel._domainkey.example.com": record})))
    assert verdict.verdict == INVALID and verdict.details["bh"] == "fail"
    assert verdict.details["sub_indication"] == "HASH_FAILURE"


@pytest.mark.parametrize("old, new", [(b"Subject: the contract", b"Subject: the kontract"),
                                      (b"From: Alice <alice@", b"From: Alice <mallory@")])
def test_changed_signed_header_is_invalid(keys, old, new):
    (pem, record), _ = keys
    signed = sign(MESSAGE, pem).replace(old, new)
    verdict = only(validate_dkim(signed, ctx({"sel._domainkey.example.com": record})))
    assert verdict.verdict == INVALID and verdict.details["bh"] == "pass"
    assert verdict.details["signature"] == "fail"


def test_unsigned_header_added_is_still_valid(keys):
    (pem, record), _ = keys
    signed = b"Received: from relay.example.net\r\n" + sign(MESSAGE, pem)
    assert only(validate_dkim(signed, ctx({"sel._domainkey.example.com": record}))).verdict == VALID


def test_no_key_record_is_indeterminate(keys):
    (pem, _record), _ = keys
    verdict = only(validate_dkim(sign(MESSAGE, pem), ctx({"other._domainkey.example.com": "v=DKIM1; p="})))
    assert verdict.verdict == INDETERMINATE
    assert verdict.reason == "no public key for s=sel d=example.com was supplied with the deposit"


def test_revoked_and_unusable_key_records(keys):
    (pem, _record), _ = keys
    signed = sign(MESSAGE, pem)
    revoked = only(validate_dkim(signed, ctx({"sel._domainkey.example.com": "v=DKIM1; k=rsa; p="})))
    assert revoked.verdict == INVALID and revoked.details["sub_indication"] == "REVOKED"
    broken = only(validate_dkim(signed, ctx({"sel._domainkey.example.com": "v=DKIM1; k=rsa; p=AAAA"})))
    assert broken.verdict == INDETERMINATE and "unusable" in broken.reason


def test_two_signatures_two_verdicts(keys):
    (pem, record), (other_pem, _other_record) = keys
    signed = sign(sign(MESSAGE, pem, b"good"), other_pem, b"bad")  # "bad" signed with a key not in its record
    records = {"good._domainkey.example.com": record, "bad._domainkey.example.com": record}
    verdicts = validate_dkim(signed, ctx(records)).verdicts
    assert [(v.details["s"], v.verdict) for v in verdicts] == [("bad", INVALID), ("good", VALID)]
    assert validate_dkim(signed, ctx(records)).worst == INVALID


def test_no_signature_no_verdict():
    assert validate_dkim(MESSAGE, ctx()).verdicts == []
    assert validate_dkim(b"", ctx()).verdicts == []


def test_rsa_sha1_is_not_accepted(keys):
    (pem, record), _ = keys
    signed = sign(MESSAGE, pem, signature_algorithm=b"rsa-sha1")
    verdict = only(validate_dkim(signed, ctx({"sel._domainkey.example.com": record})))
    assert verdict.verdict == INDETERMINATE and "RFC 8301" in verdict.reason


def test_body_length_limit_is_reported(keys):
    (pem, record), _ = keys
    signed = sign(MESSAGE, pem, length=True) + b"Appended by a mailing list.\r\n"
    verdict = only(validate_dkim(signed, ctx({"sel._domainkey.example.com": record})))
    assert verdict.verdict == VALID and "l=" in verdict.reason
    coverage = verdict.details["coverage"]
    assert coverage["body_bytes_signed"] < coverage["body_bytes"]


# --- time: x= and t= are judged at ctx.now (the deposit), not at the wall clock ---------------------------------

def sign_with_tags(monkeypatch, message: bytes, pem: bytes, **tags: int) -> bytes:
    """dkim.sign with extra tags (x=, t=): dkimpy's signer cannot add x=, so insert it before it hashes."""
    original = dkim.DomainSigner.gen_header

    def gen_header(self, fields, *args, **kw):
        fields = [f for f in fields if f[0].decode() not in tags]
        at = [name for name, _ in fields].index(b"h")
        extra = [(name.encode(), str(value).encode()) for name, value in tags.items()]
        return original(self, fields[:at] + extra + fields[at:], *args, **kw)

    with monkeypatch.context() as m:
        m.setattr(dkim.DomainSigner, "gen_header", gen_header)
        return sign(message, pem)


def test_expiry_is_judged_at_the_validation_time(keys, monkeypatch):
    (pem, record), _ = keys
    records = {"sel._domainkey.example.com": record}
    t = int(time.time())
    signed = sign_with_tags(monkeypatch, MESSAGE, pem, t=t, x=t + 3600)
    signed_at = datetime.fromtimestamp(t, timezone.utc)
    assert only(validate_dkim(signed, ctx(records, signed_at + timedelta(minutes=5)))).verdict == VALID
    late = only(validate_dkim(signed, ctx(records, signed_at + timedelta(days=2))))
    assert late.verdict == INDETERMINATE and "expired" in late.reason
    assert late.details["expires"] == datetime.fromtimestamp(t + 3600, timezone.utc).isoformat().replace(
        "+00:00", "Z")
    # the crypto is still checked: a changed body is invalid, expired or not
    tampered = signed.replace(b"contract is", b"contract was")
    assert only(validate_dkim(tampered, ctx(records, signed_at + timedelta(days=2)))).verdict == INVALID


def test_already_expired_by_the_wall_clock_but_not_at_deposit(keys, monkeypatch):
    """dkimpy's own verify() would refuse this (x= is past by time.time()); at a deposit time before x= it holds."""
    (pem, record), _ = keys
    t = int(time.time()) - 30 * 86400
    signed = sign_with_tags(monkeypatch, MESSAGE, pem, t=t, x=t + 86400)
    records = {"sel._domainkey.example.com": record}
    with pytest.raises(dkim.ValidationError, match="x= value is past"):
        dkim.DKIM(signed).verify(dnsfunc=lambda name, timeout=5: record.encode())
    deposit = datetime.fromtimestamp(t + 600, timezone.utc)
    assert only(validate_dkim(signed, ctx(records, deposit))).verdict == VALID


def test_signature_from_the_future_is_indeterminate(keys):
    (pem, record), _ = keys
    verdict = only(validate_dkim(sign(MESSAGE, pem), ctx({"sel._domainkey.example.com": record},
                                                          datetime(2000, 1, 1, tzinfo=timezone.utc))))
    assert verdict.verdict == INDETERMINATE and "t=" in verdict.reason


# --- Ed25519 (RFC 8463) ------------------------------------------------------------------------------------------

def nacl_on_cryptography() -> types.SimpleNamespace:
    """The few PyNaCl names dkimpy uses, on pyca/cryptography: a second, independent Ed25519 implementation."""

    class BadSignatureError(Exception):
        pass

    class SigningKey:
        def __init__(self, seed, encoder=None):
            self._key = ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed))

        def sign(self, data):
            return types.SimpleNamespace(signature=self._key.sign(data))

    class VerifyKey:
        def __init__(self, public, encoder=None):
            self._key = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(public))

        def verify(self, data, signature):
            try:
                self._key.verify(signature, data)
            except InvalidSignature:
                raise BadSignatureError() from None
            return data

    return types.SimpleNamespace(signing=types.SimpleNamespace(SigningKey=SigningKey, VerifyKey=VerifyKey),
                                 encoding=types.SimpleNamespace(Base64Encoder=object),
                                 exceptions=types.SimpleNamespace(ValueError=ValueError,
                                                                  BadSignatureError=BadSignatureError))


def ed25519_signed(monkeypatch=None) -> tuple[bytes, str]:
    """A message signed with a new Ed25519 key — by dkimpy on PyNaCl, or (``monkeypatch`` given) on
    pyca/cryptography — and the key record of its public key."""
    key = ed25519.Ed25519PrivateKey.generate()
    seed = base64.b64encode(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption()))
    public = base64.b64encode(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                            serialization.PublicFormat.Raw)).decode()
    if monkeypatch is None:
        signed = sign(MESSAGE, seed, b"ed", signature_algorithm=b"ed25519-sha256")
    else:
        with monkeypatch.context() as m:
            m.setattr(dkim, "nacl", nacl_on_cryptography())
            signed = sign(MESSAGE, seed, b"ed", signature_algorithm=b"ed25519-sha256")
    return signed, f"v=DKIM1; k=ed25519; p={public}"


def test_ed25519():
    signed, record = ed25519_signed()
    records = {"ed._domainkey.example.com": record}
    good = only(validate_dkim(signed, ctx(records)))
    assert good.verdict == VALID and good.details["a"] == "ed25519-sha256", good.reason
    assert only(validate_dkim(signed.replace(b"Subject: the", b"Subject: a"), ctx(records))).verdict == INVALID
    _other_signed, other_record = ed25519_signed()
    wrong_key = only(validate_dkim(signed, ctx({"ed._domainkey.example.com": other_record})))
    assert wrong_key.verdict == INVALID, wrong_key.reason


def test_ed25519_signed_by_another_implementation(monkeypatch):
    """Signed on pyca/cryptography's Ed25519, checked on PyNaCl's (libsodium): the two agree."""
    signed, record = ed25519_signed(monkeypatch)
    assert dkim.nacl.__name__ == "nacl"  # the real PyNaCl again
    verdict = only(validate_dkim(signed, ctx({"ed._domainkey.example.com": record})))
    assert verdict.verdict == VALID, verdict.reason


def test_ed25519_without_pynacl_is_indeterminate(monkeypatch):
    signed, record = ed25519_signed()
    monkeypatch.delattr(dkim, "nacl")  # an installation without it: dkimpy cannot check Ed25519
    verdict = only(validate_dkim(signed, ctx({"ed._domainkey.example.com": record})))
    assert verdict.verdict == INDETERMINATE and "PyNaCl" in verdict.reason


# --- no network ---------------------------------------------------------------------------------------------------

def test_no_network_ever(keys, monkeypatch):
    (pem, record), _ = keys
    signed = sign(sign(MESSAGE, pem), pem, b"missing")  # one signature whose key was not supplied
    calls = []

    def refuse(what):
        def call(*args, **kw):
            calls.append(what)
            raise AssertionError(f"network used: {what}")
        return call

    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "gethostbyname", refuse("gethostbyname"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "sendto", refuse("sendto"))
    monkeypatch.setattr(dns.resolver, "resolve", refuse("dns.resolver.resolve"))
    monkeypatch.setattr(dns.resolver.Resolver, "resolve", refuse("Resolver.resolve"))
    monkeypatch.setattr(dkim, "get_txt", refuse("dkim.get_txt"))
    verdicts = validate_dkim(signed, ctx({"sel._domainkey.example.com": record})).verdicts
    assert [(v.details["s"], v.verdict) for v in verdicts] == [("missing", INDETERMINATE), ("sel", VALID)]
    assert calls == []


# --- odd input ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    b"DKIM-Signature: x\r\n",
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel\r\n",
    b"DKIM-Signature: v=1; a=rsa-sha512; b=AAAA; bh=AAAA; d=example.com; h=from; s=sel\r\n",
    b"DKIM-Signature: v=1; a=rsa-sha256; b=AAAA; bh=AAAA; d=example.com; h=from; s=sel; x=1; t=2\r\n",
    b"DKIM-Signature: v=1; a=rsa-sha256; b=AAAA; bh=AAAA; d=example.com; i=example.com; h=from; s=sel\r\n",
    b"DKIM-Signature: v=1; a=rsa-sha256; b=AAAA; bh=AAAA; d=example.com; h=from; s=sel; l=\r\n",
    b"DKIM-Signature: v=1; a=rsa-sha256; b=AAAA; bh=AAAA; d=example.com; h=from; s=sel; c=odd/odd\r\n",
    b"DKIM-Signature: v=1; a=rsa-sha256; b=AAAA; bh=!!; d=example.com; h=from; s=sel\r\n",
    b"DKIM-Signature: v=1; a=rsa-sha256; b=AAAA; bh=AAAA; d=example.com; h=from; s=sel; t=99999999999999999\r\n",
])
def test_malformed_signatures_are_indeterminate_or_invalid(keys, header):
    (_pem, record), _ = keys
    result = validate_dkim(header + MESSAGE, ctx({"sel._domainkey.example.com": record}))
    assert len(result.verdicts) == 1 and result.verdicts[0].verdict in (INDETERMINATE, INVALID)


def test_not_a_message():
    assert validate_dkim(b"\x00\xff" * 20, ctx()).verdicts == []
    verdicts = validate_dkim(b"\x00bad header\r\nDKIM-Signature: v=1\r\n\r\n", ctx()).verdicts
    assert [v.verdict for v in verdicts] in ([], [INDETERMINATE])


@pytest.fixture(scope="module")
def fuzz_material(keys):
    (pem, record), (other_pem, _) = keys
    signed = sign(sign(MESSAGE, pem, length=True), other_pem, b"other")
    return signed, {"sel._domainkey.example.com": record, "other._domainkey.example.com": record}


@settings(max_examples=50, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(position=st.floats(0, 1, exclude_max=True), value=st.integers(0, 255),
       how=st.sampled_from(["flip", "truncate", "insert", "delete"]))
def test_mutated_messages_never_raise(fuzz_material, position, value, how):
    signed, records = fuzz_material
    at = int(position * len(signed))
    mutated = {"flip": signed[:at] + bytes([value]) + signed[at + 1:], "truncate": signed[:at],
               "insert": signed[:at] + bytes([value]) + signed[at:], "delete": signed[:at] + signed[at + 1:]}[how]
    result = validate_dkim(mutated, ctx(records))
    assert all(v.verdict in VERDICTS and v.kind == "dkim" for v in result.verdicts)
    assert len(result.verdicts) <= 2


def test_an_email_proof_deposited_with_its_captured_key_record(depositor, keys):
    """Through the API: the DKIM key record captured at sending comes with the metadata; the e-mail's fields,
    attachment digests and the DKIM verdict are kept with the object."""
    (pem, record), _ = keys
    attachment = b"%PDF-1.7 the contract"
    body = (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n" + MESSAGE.split(b"\r\n\r\n")[0]
            + b"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--XX\r\nContent-Type: application/pdf"
            b"\r\nContent-Disposition: attachment; filename=contract.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode(attachment) + b"\r\n--XX--\r\n")
    signed = sign(body, pem)
    response = depositor.deposit(signed, filename="sent.eml", media_type="message/rfc822", case_ref="MAIL-1",
                                 policy="email-proof", dkim_records={"sel._domainkey.example.com": record})
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert [(v["kind"], v["verdict"]) for v in receipt["validation"]] == [("dkim", VALID)]
    assert receipt["validation"][0]["signer"].startswith("example.com")
    shown = depositor.get(f"/v1/objects/{receipt['id']}").json()
    assert shown["kind"] == "email-proof" and shown["sender"] == "alice@example.com"
    [part] = shown["extracted"]["attachments"]["value"]
    assert part == {"filename": "contract.pdf", "media_type": "application/pdf", "size": len(attachment),
                    "sha256": hashlib.sha256(attachment).hexdigest()}
    without = depositor.deposit(signed, filename="sent.eml", media_type="message/rfc822", case_ref="MAIL-1",
                                policy="email-proof")
    assert without.json()["validation"][0]["verdict"] == INDETERMINATE
    assert "supplied with the deposit" in without.json()["validation"][0]["reason"]
