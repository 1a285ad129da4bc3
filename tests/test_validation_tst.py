"""RFC 3161 timestamp files get verdicts: the third-party corpus, our development TSA, forged tokens, fuzzing.

Corpus files are read in place from ../shared/vectors/signatures (INDEX.tsv gives each one's expected verdict);
the test acts as the operator who configures the TSA chains shipped next to them as anchors.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SHARED_VECTORS
from vault.timestamping.client import build_request
from vault.timestamping.devtsa import DevelopmentTsa
from vault.timestamping.tokens import parse_token
from vault.validation.trust import TrustAnchors, ValidationContext, load_certificates
from vault.validation.tst import NOT_IN_TOKEN, validate_timestamp
from vault.validation.verdicts import INDETERMINATE, INVALID, VALID, VERDICTS

CORPUS = SHARED_VECTORS / "signatures"
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)

# The data each token covers, from INDEX.tsv's notes (hello.bin: "covered by test_tsa-response.tsr, sigstage-*.tsr
# and identrust-issue-104.tsr"; the injected-certs response is test_tsa-response.tsr with certificates added, and
# upstream's test hashes 'hello' for it too).
COVERED = {
    "tst/rfc3161-client/test_tsa-response.tsr": "tst/rfc3161-client/hello.bin",
    "tst/rfc3161-client/test_tsa-response-injected-certs.tsr": "tst/rfc3161-client/hello.bin",
    "tst/rfc3161-client/sigstage-response-sha512.tsr": "tst/rfc3161-client/hello.bin",
    "tst/rfc3161-client/sigstage-response-invalid-signature.tsr": "tst/rfc3161-client/hello.bin",
    "tst/rfc3161-client/sigstage-response-no-embedded-cert.tsr": "tst/rfc3161-client/hello.bin",
    "tst/rfc3161-client/identrust-issue-104.tsr": "tst/rfc3161-client/hello.bin",
    "tst/rfc3161-client/sigstore.mock-response-expired.tsr": "tst/rfc3161-client/sigstore.mock-payload.bin",
    "tst/dss/archive_timestamp.tst": "tst/dss/archive_manifest.xml",
}

# Where our verdict differs from INDEX.tsv's `expected`, and why (asserted, so a change in either shows up).
KNOWN_DIFFERENCES = {
    "tst/rfc3161-client/test_tsa-response-injected-certs.tsr": (
        VALID,
        ("the token is the genuine test_tsa response plus two unsigned certificates in the CMS bag; upstream calls "
         "it invalid only when the verifier pins the spoofed name 'CN=Spoofed TSA'. We identify the signer by sid "
         "and ESS hash, so the signer is the real TSA (not the spoofed one) and its signature and chain hold; the "
         "injected certificates are listed in details['other_certificates']."),
    ),
}


def rows() -> list[dict[str, str]]:
    with open(CORPUS / "INDEX.tsv", newline="", encoding="utf-8") as f:
        return [row for row in csv.DictReader(f, delimiter="\t") if row["kind"] == "tst"]


TST_ROWS = rows()


def ctx(anchors: TrustAnchors | None = None, now: datetime = NOW) -> ValidationContext:
    return ValidationContext(anchors or TrustAnchors(), now)


def operator_anchors(path: str) -> TrustAnchors:
    """What an operator would configure for this file: the chain file named by its prefix; for the DSS tokens,
    which ship no chain, the self-signed roots they carry (trusting a root found in the file proves nothing: it
    only exercises chain building offline, as README.md says)."""
    file = CORPUS / path
    chain = file.parent / f"{file.name.split('-')[0]}-ts_chain.pem"
    if chain.exists():
        return TrustAnchors(tuple(load_certificates(chain.read_bytes())))
    token = parse_token(file.read_bytes())
    roots = [c for c in token.certificates if c.subject == c.issuer]
    return TrustAnchors(tuple(asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in roots))


def covered(path: str) -> bytes | None:
    return (CORPUS / COVERED[path]).read_bytes() if path in COVERED else None


def test_the_corpus_has_the_rows_we_expect():
    assert len(TST_ROWS) == 10
    assert all((CORPUS / row["path"]).is_file() for row in TST_ROWS)
    assert set(COVERED) <= {row["path"] for row in TST_ROWS}


@pytest.mark.parametrize("row", TST_ROWS, ids=lambda r: r["path"])
def test_corpus_with_operator_anchors(row):
    path, expected = row["path"], row["expected"]
    result = validate_timestamp((CORPUS / path).read_bytes(), ctx(operator_anchors(path)), covered(path))
    assert len(result.verdicts) == 1
    verdict = result.verdicts[0]
    assert verdict.kind == "rfc3161" and verdict.verdict in VERDICTS
    assert verdict.details.get("imprint_checked", False) == (path in COVERED and "gen_time" in verdict.details)
    if path in KNOWN_DIFFERENCES:
        assert verdict.verdict == KNOWN_DIFFERENCES[path][0], verdict.reason
    elif expected in (VALID, INVALID):
        assert verdict.verdict == expected, verdict.reason
    if verdict.verdict == VALID:
        assert verdict.signer and verdict.details["validation_time"] == verdict.details["gen_time"]
        assert verdict.details["tsa_certificate"]["sha256"]


@pytest.mark.parametrize("row", TST_ROWS, ids=lambda r: r["path"])
def test_corpus_without_anchors_is_never_valid(row):
    path = row["path"]
    for data in (None, covered(path)):
        verdict = validate_timestamp((CORPUS / path).read_bytes(), ctx(), data).verdicts[0]
        assert verdict.verdict != VALID, verdict.reason
        if row["expected"] == INVALID and path not in KNOWN_DIFFERENCES:
            assert verdict.verdict == INVALID  # a broken signature needs no anchor to be broken


def test_corpus_details():
    path = "tst/rfc3161-client/sigstage-response-sha512.tsr"
    verdict = validate_timestamp((CORPUS / path).read_bytes(), ctx(operator_anchors(path)), covered(path)).verdicts[0]
    d = verdict.details
    assert verdict.signer == "CN=sigstore-tsa,O=sigstore.dev"
    assert d["format"] == "TimeStampResp" and d["gen_time"] == "2025-05-09T11:58:56Z"
    assert d["imprint_algorithm"] == "sha512" and d["imprint"] == hashlib.sha512(b"hello").hexdigest()
    assert d["policy"] == "1.3.6.1.4.1.57264.2" and d["serial"].isdigit() and d["steps"] == []
    assert d["imprint_checked"] is True and "imprint matches" in verdict.reason


def test_the_bare_token_named_tsr_is_read_as_a_token():
    path = "tst/dss/d-trust.tsr"
    verdict = validate_timestamp((CORPUS / path).read_bytes(), ctx(operator_anchors(path))).verdicts[0]
    assert verdict.details["format"] == "TimeStampToken"
    assert verdict.verdict == VALID and verdict.details["imprint_checked"] is False
    assert "imprint not compared" in verdict.reason


def test_injected_certificates_are_never_the_signer():
    path = "tst/rfc3161-client/test_tsa-response-injected-certs.tsr"
    verdict = validate_timestamp((CORPUS / path).read_bytes(), ctx(operator_anchors(path)), covered(path)).verdicts[0]
    assert verdict.signer == "CN=Test TSA Timestamping,O=local"
    assert verdict.details["tsa_certificate"]["issuer"] == "CN=Test TSA Intermediate,O=local"
    others = {c["subject"] for c in verdict.details["other_certificates"]}
    assert "CN=Spoofed TSA" in others


def test_token_without_its_certificate():
    path = "tst/rfc3161-client/sigstage-response-no-embedded-cert.tsr"
    data = (CORPUS / path).read_bytes()
    chain = load_certificates((CORPUS / "tst/rfc3161-client/sigstage-ts_chain.pem").read_bytes())
    alone = validate_timestamp(data, ctx(TrustAnchors((chain[1],))), covered(path)).verdicts[0]  # root only
    assert (alone.verdict, alone.reason) == (INDETERMINATE, NOT_IN_TOKEN)
    assert alone.details["sub_indication"] == "NO_SIGNING_CERTIFICATE_FOUND"
    found = validate_timestamp(data, ctx(TrustAnchors(tuple(chain))), covered(path)).verdicts[0]
    assert found.verdict == VALID and found.details["tsa_certificate"]["source"] == "configured anchors"


def test_expired_chain_is_valid_at_gen_time_only():
    path = "tst/rfc3161-client/sigstore.mock-response-expired.tsr"
    verdict = validate_timestamp((CORPUS / path).read_bytes(), ctx(operator_anchors(path)), covered(path)).verdicts[0]
    assert verdict.verdict == VALID and verdict.details["validation_time"] == "2023-02-01T00:00:00Z"
    assert verdict.details["tsa_certificate"]["not_after"] < "2026"


def test_disig_signer_is_the_certificate_sid_and_ess_name():
    """disig.tst carries two TSA certificates with the same name: only the one the SignerInfo names is the signer."""
    data = (CORPUS / "tst/dss/disig.tst").read_bytes()
    token = parse_token(data)
    signer = token.signer_certificate()
    other = next(c for c in token.certificates if c != signer)
    as_anchor = lambda c: TrustAnchors((asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)),))
    assert validate_timestamp(data, ctx(as_anchor(signer))).verdicts[0].verdict == VALID
    wrong = validate_timestamp(data, ctx(as_anchor(other))).verdicts[0]
    assert wrong.verdict == INDETERMINATE and wrong.details["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"


def test_wrong_covered_data_is_invalid():
    path = "tst/rfc3161-client/identrust-issue-104.tsr"
    verdict = validate_timestamp((CORPUS / path).read_bytes(), ctx(operator_anchors(path)), b"hullo").verdicts[0]
    assert verdict.verdict == INVALID and verdict.details["sub_indication"] == "HASH_FAILURE"
    # the imprint is wrong whether or not the TSA is trusted
    assert validate_timestamp((CORPUS / path).read_bytes(), ctx(), b"hullo").verdicts[0].verdict == INVALID


# --- our development TSA ------------------------------------------------------------------------------------------

@pytest.fixture
def dev_tsa(tmp_path):
    return DevelopmentTsa.load_or_create(tmp_path / "tsa", lambda: datetime(2026, 1, 1, tzinfo=timezone.utc))


def dev_anchors(tsa: DevelopmentTsa) -> TrustAnchors:
    return TrustAnchors(tuple(load_certificates(tsa.roots_pem)))


def dev_response(tsa: DevelopmentTsa, content: bytes, cert_req: bool = True) -> bytes:
    request = tsp.TimeStampReq.load(build_request(hashlib.sha256(content).digest(), "sha256", 42, None))
    request["cert_req"] = cert_req
    return tsa.respond(request.dump())


def test_dev_tsa_token(dev_tsa):
    response = dev_response(dev_tsa, b"deposit")
    good = validate_timestamp(response, ctx(dev_anchors(dev_tsa)), b"deposit").verdicts[0]
    assert good.verdict == VALID, good.reason
    assert good.signer == dev_tsa.certificate.subject.rfc4514_string()
    assert good.details["gen_time"] == "2026-01-01T00:00:00Z" and good.details["nonce"] == "42"
    assert [c["subject"] for c in good.details["certificates"]][-1] == dev_tsa.root.subject.rfc4514_string()

    bad = validate_timestamp(response, ctx(dev_anchors(dev_tsa)), b"another deposit").verdicts[0]
    assert bad.verdict == INVALID and "imprint" in bad.reason

    unknown = validate_timestamp(response, ctx(dev_anchors(dev_tsa)), None).verdicts[0]
    assert unknown.verdict == VALID and unknown.details["imprint_checked"] is False

    assert validate_timestamp(response, ctx(), b"deposit").verdicts[0].verdict == INDETERMINATE
    bare = tsp.TimeStampResp.load(response)["time_stamp_token"].dump()
    as_token = validate_timestamp(bare, ctx(dev_anchors(dev_tsa)), b"deposit").verdicts[0]
    assert as_token.verdict == VALID and as_token.details["format"] == "TimeStampToken"


def test_dev_tsa_without_certificate_needs_it_configured(dev_tsa):
    response = dev_response(dev_tsa, b"deposit", cert_req=False)
    assert parse_token(tsp.TimeStampResp.load(response)["time_stamp_token"].dump()).certificates == ()
    root_only = validate_timestamp(response, ctx(dev_anchors(dev_tsa)), b"deposit").verdicts[0]
    assert (root_only.verdict, root_only.reason) == (INDETERMINATE, NOT_IN_TOKEN)
    leaf = asn1_x509.Certificate.load(dev_tsa.certificate.public_bytes(Encoding.DER))
    configured = validate_timestamp(response, ctx(dev_anchors(dev_tsa).plus([leaf])), b"deposit").verdicts[0]
    assert configured.verdict == VALID, configured.reason


def test_a_refused_request_is_indeterminate_with_the_status(dev_tsa):
    verdict = validate_timestamp(dev_tsa.respond(b"not DER"), ctx(dev_anchors(dev_tsa))).verdicts[0]
    assert verdict.verdict == INDETERMINATE
    assert "rejection" in verdict.reason and "not a DER TimeStampReq" in verdict.reason
    assert verdict.details["fail_info"] == ["bad_data_format"]


def test_gen_time_outside_the_tsa_certificate_is_indeterminate(tmp_path):
    clock = {"now": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    tsa = DevelopmentTsa.load_or_create(tmp_path / "tsa", lambda: clock["now"])
    clock["now"] = datetime(2020, 1, 1, tzinfo=timezone.utc)  # a TSA clock gone wrong: before its certificate
    verdict = validate_timestamp(dev_response(tsa, b"x"), ctx(dev_anchors(tsa)), b"x").verdicts[0]
    assert verdict.verdict == INDETERMINATE and verdict.details["sub_indication"] == "OUT_OF_BOUNDS_NO_POE"
    assert verdict.details["validation_time"] == "2020-01-01T00:00:00Z"


# --- forged tokens: the signer is pinned by sid and ESS hash ------------------------------------------------------

def _forged_certificate(real: x509.Certificate) -> x509.Certificate:
    """Same issuer name and serial as ``real`` (so the sid matches it), another key, self-made."""
    key = ec.generate_private_key(ec.SECP256R1())
    return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "forged")]))
            .issuer_name(real.issuer).public_key(key.public_key()).serial_number(real.serial_number)
            .not_valid_before(real.not_valid_before_utc).not_valid_after(real.not_valid_after_utc)
            .sign(key, hashes.SHA256()))


def _signed_token(tsa: DevelopmentTsa, content: bytes, *, ess_for: x509.Certificate,
                  bag: list[x509.Certificate]) -> bytes:
    """A token signed by the dev TSA's real key whose ESS attribute hashes ``ess_for`` and whose bag is ``bag``."""
    tst_info = tsp.TSTInfo({
        "version": "v1", "policy": "1.2.3.4", "serial_number": 7,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(content).digest()},
        "gen_time": datetime(2026, 1, 1, 12, tzinfo=timezone.utc),
    }).dump()
    attrs = cms.CMSAttributes([
        {"type": "content_type", "values": ["tst_info"]},
        {"type": "message_digest", "values": [hashlib.sha256(tst_info).digest()]},
        {"type": "signing_certificate_v2", "values": [{
            "certs": [{"cert_hash": hashlib.sha256(ess_for.public_bytes(Encoding.DER)).digest()}]}]},
    ])
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value={
            "issuer": asn1_x509.Name.load(tsa.certificate.issuer.public_bytes()),
            "serial_number": tsa.certificate.serial_number}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        "signature": tsa.key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256())),
    })
    signed = cms.SignedData({
        "version": "v3", "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst_info)},
        "certificates": [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in bag],
        "signer_infos": [signer_info],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


def test_forged_certificate_with_the_same_sid_is_not_taken(dev_tsa):
    forged = _forged_certificate(dev_tsa.certificate)
    token = _signed_token(dev_tsa, b"x", ess_for=dev_tsa.certificate, bag=[forged, dev_tsa.certificate])
    verdict = validate_timestamp(token, ctx(dev_anchors(dev_tsa)), b"x").verdicts[0]
    assert verdict.verdict == VALID, verdict.reason
    assert verdict.details["tsa_certificate"]["sha256"] == hashlib.sha256(
        dev_tsa.certificate.public_bytes(Encoding.DER)).hexdigest()
    assert [c["subject"] for c in verdict.details["other_certificates"]] == ["CN=forged"]


def test_ess_naming_another_certificate_is_invalid(dev_tsa):
    forged = _forged_certificate(dev_tsa.certificate)
    token = _signed_token(dev_tsa, b"x", ess_for=forged, bag=[dev_tsa.certificate])
    verdict = validate_timestamp(token, ctx(dev_anchors(dev_tsa)), b"x").verdicts[0]
    assert verdict.verdict == INVALID and "ESSCertIDv2" in verdict.reason


def test_only_a_forged_certificate_in_the_bag_is_invalid(dev_tsa):
    forged = _forged_certificate(dev_tsa.certificate)
    token = _signed_token(dev_tsa, b"x", ess_for=dev_tsa.certificate, bag=[forged])
    verdict = validate_timestamp(token, ctx(dev_anchors(dev_tsa)), b"x").verdicts[0]
    assert verdict.verdict == INVALID  # sid names it, but neither ESS nor the signature agree


# --- garbage ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [b"", b"\x00", b"\x30\x00", b"\x30\x03\x02\x01\x01", b"garbage" * 50,
                                  b"\x30\x80" + b"\x00" * 10])
def test_garbage_is_indeterminate(data):
    result = validate_timestamp(data, ctx())
    assert [v.verdict for v in result.verdicts] == [INDETERMINATE]
    assert result.verdicts[0].details["sub_indication"] == "FORMAT_FAILURE"


CORPUS_TOKENS = [(CORPUS / row["path"]).read_bytes() for row in TST_ROWS]
ANCHORS = [operator_anchors(row["path"]) for row in TST_ROWS]


@settings(max_examples=50, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(TST_ROWS) - 1), position=st.floats(0, 1, exclude_max=True),
       value=st.integers(0, 255), truncate=st.booleans())
def test_damaged_tokens_never_raise(which, position, value, truncate):
    original = CORPUS_TOKENS[which]
    at = int(position * len(original))
    damaged = original[:at] if truncate else original[:at] + bytes([value]) + original[at + 1:]
    for anchors in (ANCHORS[which], TrustAnchors()):
        result = validate_timestamp(damaged, ctx(anchors), b"hello")
        assert len(result.verdicts) == 1 and result.verdicts[0].verdict in VERDICTS
        if not anchors.certificates:
            assert result.verdicts[0].verdict != VALID
