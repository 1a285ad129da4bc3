"""PAdES validation (vault.validation.pades) on the signature corpus and on PDFs signed here by a test CA.

The corpus (``../shared/vectors/signatures``, see its README.md and INDEX.tsv) is read in place. Its
``expected`` column is what the source project's own tests say, with their own anchors and clock; where our
verdict differs for a documented reason the difference is pinned in KNOWN_DIFFERENCES, so that a change of
behaviour shows up as a failure either way.

Trust anchors for the corpus are a test setup choice, made in the operator's role: the operator decides to trust
every self-signed certificate found in the corpus PDFs' CMS certificate sets (signatures and their timestamp
tokens) and DSS dictionaries. The validator never does this by itself; it trusts ``ctx.anchors`` only, which
the tests WITHOUT anchors check (no ``valid`` at all then).

The clock is fixed (NOW) so that verdicts do not drift as the corpus certificates keep expiring.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import pytest
from asn1crypto import cms, keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from defusedxml.ElementTree import fromstring
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pki import make_ca, make_crl, make_leaf
from tests.conftest import SHARED_VECTORS
from vault.retention.pdf import render_pdf
from vault.validation import pades
from vault.validation.pades import validate_pdf
from vault.validation.trust import TrustAnchors, ValidationContext
from vault.validation.verdicts import INDETERMINATE, INVALID, VALID

CORPUS = SHARED_VECTORS / "signatures"
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
SECONDS_PER_FILE = 5.0
ETSI_NAMESPACE = "http://uri.etsi.org/19102/"
# TS 119 102-1 §5.1.3 sub-indications (and FORMAT_FAILURE for what the library could not read)
SUB_INDICATIONS = {
    "FORMAT_FAILURE", "HASH_FAILURE", "SIG_CRYPTO_FAILURE", "REVOKED", "NOT_YET_VALID", "SIG_CONSTRAINTS_FAILURE",
    "CHAIN_CONSTRAINTS_FAILURE", "CERTIFICATE_CHAIN_GENERAL_FAILURE", "CRYPTO_CONSTRAINTS_FAILURE", "EXPIRED",
    "POLICY_PROCESSING_ERROR", "SIGNATURE_POLICY_NOT_AVAILABLE", "TIMESTAMP_ORDER_FAILURE",
    "NO_SIGNING_CERTIFICATE_FOUND", "NO_CERTIFICATE_CHAIN_FOUND", "REVOKED_NO_POE", "REVOKED_CA_NO_POE",
    "OUT_OF_BOUNDS_NO_POE", "REVOCATION_OUT_OF_BOUNDS_NO_POE", "OUT_OF_BOUNDS_NOT_REVOKED",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE", "NO_POE", "TRY_LATER", "SIGNED_DATA_NOT_FOUND"}

# path -> (worst verdict we give WITH the corpus anchors, why it differs from INDEX.tsv's expected)
KNOWN_DIFFERENCES = {
    "pades/dss/pdf-signed-original.pdf": (INDETERMINATE, "B-B, no timestamp: the signer certificate expired "
                                          "2020-03-05, and the DSS test root that issued good-ca is in no corpus file "
                                          "(another DSS 'root-ca' with a different key is, so the chain fails)"),
    "pades/dss/doc-firmado.pdf": (INDETERMINATE, "both timestamps come from TSA SINPE v2, whose issuer (CA POLITICA "
                                  "SELLADO DE TIEMPO) is not in the file, so no timestamp proves a time; at NOW an "
                                  "intermediate CA of the signer has expired (2024-01-21)"),
    "pades/dss/PAdES-LT.pdf": (INVALID, "README: pyHanko's difference analysis calls Signature4's revision an "
                               "illegal modification (level OTHER); DSS accepts it. Signature2 is valid at the "
                               "document timestamp; Signature1's one-day certificate expired before any timestamp"),
    "pades/dss/pades-t-level-extended.pdf": (INDETERMINATE, "the document timestamp validates at its genTime "
                                             "(2020-08-21) and dates the signature, but the signer's DSS test root "
                                             "is in no corpus file (another DSS 'root-ca' with a different key is)"),
    "pades/dss/Test.signed_Certipost-2048-SHA512.extended-LTA.pdf": (
        INDETERMINATE, "both document timestamps validate at their genTime, but the signer chain has SHA-1/MD5 "
                       "certificates, refused by pyHanko's algorithm policy (CRYPTO_CONSTRAINTS_FAILURE)"),
    "pades/dss/pades-5-signatures-and-1-document-timestamp.pdf": (
        INDETERMINATE, "pyHanko cannot open it (/Prev 0: ValueError); the raw ByteRange digests all match, but "
                       "without parsing no chain can be checked"),
    "pades/dss/timestamped_and_signed.pdf": (INDETERMINATE, "neither Belgium Root CA4 nor the GlobalSign AATL CA "
                                             "is in the file: no chain to an anchor"),
    "pades/dss/pkcs7-no-message-digest.pdf": (INDETERMINATE, "adbe.pkcs7 with SHA-1 (CRYPTO_CONSTRAINTS_FAILURE); "
                                              "its issuer is not in the file and the certificate expired 2022"),
    "pades/pyhanko/pades-with-old-style-signing-cert-attr.pdf": (
        INDETERMINATE, "no timestamp and the signer certificate expired 2022-01-01 (pyHanko's test validates at "
                       "2020-11-01): OUT_OF_BOUNDS_NO_POE"),
    "pades/pyhanko/sig-no-signed-attrs.pdf": (INDETERMINATE, "no timestamp; signer certificate expired 2021-01-01"),
    "pades/pyhanko/sig-with-ski-sid.pdf": (INDETERMINATE, "no timestamp; signer certificate expired 2022-01-01"),
    "pades/siva/hellopades-lt-sha256-revoked.pdf": (
        INDETERMINATE, "the signer's issuer (ESTEID-SK 2011) is not in the file, so the revocation cannot be "
                       "established; the RFC 3161 token in a /Sig dictionary is refused by pyHanko"),
    "pades/siva/pades_lt_revoked.pdf": (INDETERMINATE, "the signer's issuer (ESTEID-SK 2011) is not in the file: "
                                        "no chain, so no revocation can be established"),
    "pades/siva/hellopades-lt-sha256-rsa2048-expired.pdf": (
        INDETERMINATE, "the chain has SHA-1 certificates (CRYPTO_CONSTRAINTS_FAILURE) and the signature timestamp "
                       "sits in a /Sig dictionary that pyHanko refuses, so the expiry cannot be dated"),
}
# README "files that make pyHanko raise": each gets an indeterminate or invalid verdict with a reason, or no verdict
# at all when there is no signature (an unfilled placeholder field)
RAISERS = ["pades/dss/pdf-signed-corrupted.pdf", "pades/dss/malformed-pades.pdf", "pades/dss/EmptyPage-corrupted.pdf",
           "pades/dss/pades_infinite_loop.pdf", "pades/dss/pdf-spoofing-attack.pdf",
           "pades/dss/pades-5-signatures-and-1-document-timestamp.pdf", "pades/dss/pdf-with-empty-sig.pdf",
           "pades/dss/BadEncodedCMS.pdf", "pades/dss/pades-bes-no-certificates.pdf",
           "pades/pyhanko/pdf-sig-with-econtent.pdf", "pades/siva/hellopades-lt-sha256-revoked.pdf",
           "pades/siva/hellopades-lt-sha256-rsa2048-expired.pdf",
           "pades/pyhanko/signed-encrypted-pubkey-with-catalog-ref.pdf"]
NO_SIGNATURE = {"pades/dss/pdf-with-empty-sig.pdf", "pades/dss/not_signed_pdfa.pdf"}

needs_corpus = pytest.mark.skipif(not (CORPUS / "INDEX.tsv").is_file(), reason="signature corpus not present")


def corpus_rows() -> list[tuple[str, str, str]]:
    if not (CORPUS / "INDEX.tsv").is_file():
        return []
    with open(CORPUS / "INDEX.tsv", newline="", encoding="utf-8") as handle:
        return [(r["path"], r["expected"], r["note"]) for r in csv.DictReader(handle, delimiter="\t")
                if r["kind"] == "pades"]


ROWS = corpus_rows()
PATHS = [path for path, _, _ in ROWS]


@pytest.fixture(autouse=True, scope="module")
def _quiet_pyhanko():
    """pyHanko logs a warning per failed check; the verdicts carry the same information."""
    logger = logging.getLogger("pyhanko")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def _self_signed(cert) -> bool:
    """Issued by itself: same name and its signature verifies with its own key (SHA-1 and MD5 roots included,
    which ``cryptography``'s X.509 verifier refuses; an anchor's own signature carries no trust anyway)."""
    try:
        if cert.self_signed not in ("yes", "maybe"):
            return False
        key = serialization.load_der_public_key(cert.public_key.dump())
        signature, tbs = cert.signature, cert["tbs_certificate"].dump()
        if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(signature, tbs)
        elif isinstance(key, rsa.RSAPublicKey) and cert.signature_algo == "rsassa_pkcs1v15":
            key.verify(signature, tbs, padding.PKCS1v15(), getattr(hashes, cert.hash_algo.upper())())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, tbs, ec.ECDSA(getattr(hashes, cert.hash_algo.upper())()))
        else:
            return False
        return True
    except Exception:  # noqa: BLE001 - not self-signed, or an algorithm we do not check here
        return False


def _cms_certificates(signed_data):
    for choice in signed_data["certificates"] or ():
        if choice.name == "certificate":
            yield choice.chosen
    for signer in signed_data["signer_infos"]:
        for attr in signer["unsigned_attrs"] or ():
            if attr["type"].native == "signature_time_stamp_token":
                for token in attr["values"]:
                    yield from _cms_certificates(token["content"])


@cache
def corpus_anchors() -> TrustAnchors:
    """Operator's choice for these tests: trust the self-signed certificates the corpus PDFs carry."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    found = []
    for path in PATHS:
        try:
            reader = PdfFileReader(io.BytesIO((CORPUS / path).read_bytes()), strict=False)
            for _name, value, _field in enumerate_sig_fields(reader, filled_status=True):
                try:
                    contents = value.get_object().raw_get("/Contents").original_bytes
                    found.extend(_cms_certificates(cms.ContentInfo.load(contents)["content"]))
                except Exception:  # noqa: BLE001 - an unparseable signature has no certificates to offer
                    pass
            try:
                found.extend(DocumentSecurityStore.read_dss(reader).load_certs())
            except Exception:  # noqa: BLE001 - no DSS
                pass
        except Exception:  # noqa: BLE001 - files pyHanko cannot open contribute nothing
            pass
    return TrustAnchors().plus(c for c in found if _self_signed(c))


@cache
def corpus_result(path: str, anchored: bool):
    anchors = corpus_anchors() if anchored else TrustAnchors()
    started = time.monotonic()
    validation = validate_pdf((CORPUS / path).read_bytes(), ValidationContext(anchors, NOW))
    return validation, time.monotonic() - started


@needs_corpus
def test_corpus_has_the_pades_files():
    assert len(ROWS) == 41
    assert set(KNOWN_DIFFERENCES) <= set(PATHS) and set(RAISERS) <= set(PATHS)
    assert len(corpus_anchors().certificates) >= 10


@needs_corpus
@pytest.mark.parametrize("path,expected,note", ROWS, ids=PATHS)
def test_corpus_verdict_with_anchors(path, expected, note):
    validation, seconds = corpus_result(path, True)
    assert seconds < SECONDS_PER_FILE
    got = validation.worst
    if expected == INVALID:
        assert got != VALID, note
    if path in KNOWN_DIFFERENCES:
        assert got == KNOWN_DIFFERENCES[path][0], KNOWN_DIFFERENCES[path][1]
        assert got != expected, "no longer a difference: remove it from KNOWN_DIFFERENCES"
    elif expected in (VALID, INVALID, INDETERMINATE):
        assert got == expected, note
    for verdict in validation.verdicts:
        assert verdict.reason.strip() and verdict.kind in ("pades", "pdf-timestamp")
        assert verdict.validated_at == NOW
        json.dumps(verdict.as_dict())  # details are JSON-able
        assert verdict.details.get("sub_indication") in SUB_INDICATIONS | {None}
        assert (verdict.details.get("sub_indication") is None) == (verdict.verdict == VALID)
        if "validation_time" in verdict.details:
            datetime.fromisoformat(verdict.details["validation_time"].replace("Z", "+00:00"))
            assert isinstance(verdict.details["validation_time_proven"], bool)


@needs_corpus
@pytest.mark.parametrize("path,expected,note", ROWS, ids=PATHS)
def test_corpus_without_anchors_nothing_is_valid(path, expected, note):
    validation, seconds = corpus_result(path, False)
    assert seconds < SECONDS_PER_FILE
    assert all(v.verdict != VALID for v in validation.verdicts)
    anchored, _ = corpus_result(path, True)
    if expected == VALID and anchored.worst != INVALID:
        assert validation.worst == INDETERMINATE
    for with_anchor, without in zip(anchored.verdicts, validation.verdicts, strict=True):
        if with_anchor.verdict == VALID:  # the only thing missing is the anchor
            assert without.verdict == INDETERMINATE
            assert without.details["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"


@needs_corpus
@pytest.mark.parametrize("path", RAISERS)
def test_files_pyhanko_raises_on_get_a_reasoned_verdict(path):
    validation, seconds = corpus_result(path, True)
    assert seconds < SECONDS_PER_FILE
    if path in NO_SIGNATURE:
        assert validation.verdicts == [] and validation.worst is None
        return
    assert validation.verdicts and validation.worst in (INVALID, INDETERMINATE)
    assert all(v.verdict != VALID and v.reason.strip() for v in validation.verdicts)


@needs_corpus
def test_details_of_a_point_in_time_validation():
    """pyHanko's PAdES-LTA sample: the signer certificate expired in 2022, the document timestamp (TSA valid until
    2030) proves the signed revision existed on 2020-11-01, so the signer is checked then."""
    validation, _ = corpus_result("pades/pyhanko/pades-lta-dss-indirect-arrs-test.pdf", True)
    signature, stamp = validation.verdicts
    assert (signature.kind, signature.verdict, stamp.kind, stamp.verdict) == ("pades", VALID, "pdf-timestamp", VALID)
    assert signature.signer == "emailAddress=alice@example.com,CN=Alice,OU=Testing Authority,O=Example Inc,C=BE"
    assert signature.details["validation_time"] == "2020-11-01T00:00:00Z"
    assert signature.details["validation_time_proven"] is True
    assert "document timestamp" in signature.details["validation_time_source"]
    # the timestamp itself is checked at its own genTime (RFC 4998 §5.3's rule, see vault/validation/pades.py)
    assert stamp.details["validation_time"] == "2020-11-01T00:00:00Z"
    assert stamp.details["validation_time_source"] == "the timestamp's own genTime"
    assert signature.details["coverage"] == "ENTIRE_REVISION" and signature.details["modification_level"] in (
        "LTA_UPDATES", "FORM_FILLING")
    assert [c["subject"].split(",OU=")[0] for c in signature.details["certificates"]] == [
        "CN=Root CA", "CN=Intermediate CA", "emailAddress=alice@example.com,CN=Alice"]
    assert {s["check"] for s in signature.details["steps"]} >= {"integrity", "signature value", "coverage",
                                                                "modifications", "signer's certificate chain"}


@needs_corpus
def test_mixed_verdicts_in_one_file():
    validation, _ = corpus_result("pades/dss/hello_signed_INCSAVE_signed_EDITED.pdf", True)
    assert [v.verdict for v in validation.verdicts] == [INDETERMINATE, INVALID]
    assert validation.verdicts[1].details["sub_indication"] == "HASH_FAILURE"
    # PAdES-LT (a KNOWN_DIFFERENCE as a whole): the document timestamp validates now and dates Signature2
    lt, _ = corpus_result("pades/dss/PAdES-LT.pdf", True)
    assert [(v.kind, v.verdict) for v in lt.verdicts] == [("pades", INDETERMINATE), ("pades", VALID),
                                                          ("pdf-timestamp", VALID), ("pades", INVALID)]
    assert lt.verdicts[1].details["validation_time"] == lt.verdicts[2].details["signing_time"]
    assert lt.verdicts[3].details["modification_level"] == "OTHER"


@needs_corpus
def test_infinite_loop_sample_finishes_quickly():
    validation, seconds = corpus_result("pades/dss/pades_infinite_loop.pdf", True)
    assert seconds < 3  # DSS's own test asserts < 3 s
    assert validation.worst in (INVALID, INDETERMINATE)


@needs_corpus
def test_corpus_validation_is_thread_safe():
    paths = ["pades/pyhanko/minimal-two-fields-signed-twice.pdf", "pades/dss/PAdES-LT.pdf",
             "pades/dss/pdf-byterange-overlap.pdf", "pades/pyhanko/pades-lta-dss-indirect-arrs-test.pdf"] * 2
    ctx = ValidationContext(corpus_anchors(), NOW)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda p: validate_pdf((CORPUS / p).read_bytes(), ctx), paths))
    for path, validation in zip(paths, results, strict=True):
        assert [v.summary() for v in validation.verdicts] == [v.summary() for v in corpus_result(path, True)[0].verdicts]


def test_a_validation_that_does_not_finish_is_bounded(monkeypatch):
    monkeypatch.setattr(pades, "TIME_LIMIT", 0.2)
    monkeypatch.setattr(pades, "_validate", lambda data, ctx: time.sleep(1) or None)
    started = time.monotonic()
    validation = validate_pdf(b"%PDF-1.7", ValidationContext(TrustAnchors(), NOW))
    assert time.monotonic() - started < 0.9
    [verdict] = validation.verdicts
    assert verdict.verdict == INDETERMINATE and "did not finish within 0.2 s" in verdict.reason


@pytest.mark.parametrize("data", [b"", b"not a pdf", b"%PDF-1.7\n%%EOF", render_pdf(["no signature here"])])
def test_unsigned_or_unreadable_input(data):
    validation = validate_pdf(data, ValidationContext(TrustAnchors(), NOW))
    if data.startswith(b"%PDF") and b"/Root" in data:
        assert validation.verdicts == [] and validation.etsi_report is None
    else:
        [verdict] = validation.verdicts
        assert verdict.verdict == INDETERMINATE and verdict.reason.startswith("opening the PDF")


# --- PDFs signed here, by a CA made here ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def test_pki():
    ca = make_ca()
    return {"ca": ca, "current": make_leaf(ca, "Alice", valid_from=NOW - timedelta(days=30), days=365),
            "expired": make_leaf(ca, "Bob", valid_from=datetime(2020, 1, 1, tzinfo=timezone.utc), days=365),
            "tsa": make_leaf(ca, "Test TSA", purpose="timestamping", key_type="rsa",
                             valid_from=datetime(2019, 1, 1, tzinfo=timezone.utc), days=365 * 20)}


def _stamper(pki, when: datetime):
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    return DummyTimeStamper(tsa_cert=pki["tsa"].asn1(), tsa_key=keys.PrivateKeyInfo.load(pki["tsa"].key_der),
                            certs_to_embed=SimpleCertificateStore.from_certs([pki["ca"].asn1()]), fixed_dt=when)


def _sign(pki, leaf, pdf: bytes, stamper=None) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    signer = signers.SimpleSigner(signing_cert=leaf.asn1(), signing_key=keys.PrivateKeyInfo.load(leaf.key_der),
                                  cert_registry=SimpleCertificateStore.from_certs([pki["ca"].asn1()]))
    meta = signers.PdfSignatureMetadata(field_name="Signature1", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    return signers.PdfSigner(meta, signer=signer, timestamper=stamper).sign_pdf(writer).getvalue()


def _ctx(pki=None) -> ValidationContext:
    return ValidationContext(TrustAnchors((pki["ca"].asn1(),)) if pki else TrustAnchors(), NOW)


def test_signed_by_test_ca_valid_untrusted_and_tampered(test_pki):
    signed = _sign(test_pki, test_pki["current"], render_pdf(["hello archive"]))
    started = time.monotonic()
    trusted = validate_pdf(signed, _ctx(test_pki))
    assert time.monotonic() - started < 1.0
    [verdict] = trusted.verdicts
    assert (verdict.kind, verdict.verdict, verdict.signer) == ("pades", VALID, "CN=Alice,O=vault tests,C=BE")
    assert verdict.details["validation_time"] == "2026-11-01T00:00:00Z"
    assert verdict.details["validation_time_proven"] is False
    assert verdict.details["coverage"] == "ENTIRE_FILE" and verdict.details["modification_level"] == "NONE"

    [untrusted] = validate_pdf(signed, _ctx()).verdicts
    assert untrusted.verdict == INDETERMINATE and untrusted.details["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert "trust anchor" in untrusted.reason

    at = signed.index(b"hello archive")
    tampered = signed[:at] + b"j" + signed[at + 1:]
    [broken] = validate_pdf(tampered, _ctx(test_pki)).verdicts
    assert broken.verdict == INVALID and broken.details["sub_indication"] == "HASH_FAILURE"


def test_etsi_report_of_a_valid_signature(test_pki):
    signed = _sign(test_pki, test_pki["current"], render_pdf(["report me"]))
    report = validate_pdf(signed, _ctx(test_pki)).etsi_report
    root = fromstring(report)
    assert root.tag.startswith("{" + ETSI_NAMESPACE) and root.tag.endswith("}ValidationReport")
    namespace = root.tag[1:].split("}")[0]
    indications = [e.text for e in root.iter("{%s}MainIndication" % namespace)]
    assert indications == ["urn:etsi:019102:mainindication:total-passed"]
    assert not list(root.iter("{%s}SubIndication" % namespace))  # TOTAL-PASSED has none
    assert [e.text for e in root.iter("{%s}ValidationTime" % namespace)] == ["2026-11-01T00:00:00Z"]


def test_expired_signer_is_valid_at_its_signature_timestamp(test_pki):
    """PAdES B-T: the signer certificate expired in 2020, the timestamp (TSA valid) proves the signature existed
    on 2020-06-01, inside its validity; without the timestamp the same signature is indeterminate."""
    pdf = render_pdf(["time matters"])
    stamped = _sign(test_pki, test_pki["expired"], pdf, _stamper(test_pki, datetime(2020, 6, 1, tzinfo=timezone.utc)))
    [verdict] = validate_pdf(stamped, _ctx(test_pki)).verdicts
    assert verdict.verdict == VALID
    assert verdict.details["validation_time"] == "2020-06-01T00:00:00Z" and verdict.details["validation_time_proven"]
    assert any(s["check"] == "signature timestamp" and s["result"] == "passed" for s in verdict.details["steps"])

    [bare] = validate_pdf(_sign(test_pki, test_pki["expired"], pdf), _ctx(test_pki)).verdicts
    assert bare.verdict == INDETERMINATE and bare.details["sub_indication"] == "OUT_OF_BOUNDS_NO_POE"

    late = _sign(test_pki, test_pki["expired"], pdf, _stamper(test_pki, datetime(2022, 6, 1, tzinfo=timezone.utc)))
    [too_late] = validate_pdf(late, _ctx(test_pki)).verdicts  # proven only after the certificate expired
    assert too_late.verdict == INDETERMINATE and too_late.details["validation_time"] == "2022-06-01T00:00:00Z"


def test_document_timestamp_dates_an_earlier_signature(test_pki):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers import PdfTimeStamper

    signed = _sign(test_pki, test_pki["expired"], render_pdf(["B-B, then a document timestamp"]))
    stamper = PdfTimeStamper(_stamper(test_pki, datetime(2020, 6, 1, tzinfo=timezone.utc)))
    stamped = stamper.timestamp_pdf(IncrementalPdfFileWriter(io.BytesIO(signed)), md_algorithm="sha256").getvalue()
    signature, stamp = validate_pdf(stamped, _ctx(test_pki)).verdicts
    assert (signature.verdict, stamp.kind, stamp.verdict) == (VALID, "pdf-timestamp", VALID)
    assert stamp.signer == "CN=Test TSA,O=vault tests,C=BE"
    assert signature.details["validation_time"] == "2020-06-01T00:00:00Z"
    assert signature.details["validation_time_source"].startswith("proven by document timestamp")
    assert signature.details["modification_level"] == "LTA_UPDATES"


# --- fuzzing: damaged corpus files never raise and stay bounded ------------------------------------------------

FUZZ_FILES = ["pades/pyhanko/minimal-two-fields-signed-twice.pdf", "pades/dss/doc-firmado.pdf"]


@needs_corpus
@settings(derandomize=True, max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(FUZZ_FILES), cut=st.one_of(st.none(), st.floats(0, 1)),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8))
def test_damaged_pdfs_never_raise(which, cut, flips):
    data = bytearray((CORPUS / which).read_bytes())
    for where, value in flips:
        data[min(int(where * len(data)), len(data) - 1)] = value
    if cut is not None:
        data = data[:int(cut * len(data))]
    started = time.monotonic()
    validation = validate_pdf(bytes(data), ValidationContext(corpus_anchors(), NOW))
    assert time.monotonic() - started < 10
    for verdict in validation.verdicts:
        assert verdict.reason.strip()
        json.dumps(verdict.as_dict())


def test_revocation_in_the_dss_is_found_and_dated(test_pki):
    """A CRL in the DSS revokes the signer on NOW - 10 days: at NOW that is REVOKED_NO_POE (indeterminate); a
    signature timestamp from before the revocation moves the check to a time when the certificate was good."""
    from asn1crypto import crl as asn1_crl
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    ca = test_pki["ca"]
    carol = make_leaf(ca, "Carol", valid_from=NOW - timedelta(days=60), days=365, crl_url="http://crl.invalid/ca.crl")
    crl = asn1_crl.CertificateList.load(make_crl(ca, [(carol, NOW - timedelta(days=10))],
                                                 this_update=NOW - timedelta(days=5)))

    def with_crl(signed: bytes) -> bytes:
        out = io.BytesIO(signed)
        DocumentSecurityStore.add_dss(out, None, crls=[crl], embed_roots=False)
        return out.getvalue()

    [revoked] = validate_pdf(with_crl(_sign(test_pki, carol, render_pdf(["revoked"]))), _ctx(test_pki)).verdicts
    assert revoked.verdict == INDETERMINATE and revoked.details["sub_indication"] == "REVOKED_NO_POE"
    assert "revoked" in revoked.reason

    early = _stamper(test_pki, NOW - timedelta(days=20))
    [dated] = validate_pdf(with_crl(_sign(test_pki, carol, render_pdf(["revoked later"]), early)), _ctx(test_pki)).verdicts
    assert dated.verdict == VALID and dated.details["validation_time_proven"]
    assert dated.details["modification_level"] == "LTA_UPDATES"  # the DSS update after signing is allowed


@needs_corpus
def test_unreadable_pdfs_still_get_a_byte_range_check():
    """pyHanko cannot open these; the ByteRange digests are checked on the raw bytes (pdf_certs.raw_integrity)."""
    corrupted, _ = corpus_result("pades/dss/pdf-signed-corrupted.pdf", True)
    [verdict] = corrupted.verdicts
    assert verdict.verdict == INVALID and verdict.details["sub_indication"] == "HASH_FAILURE"
    assert [c["intact"] for c in verdict.details["raw_byte_range_checks"]] == [False]
    five, _ = corpus_result("pades/dss/pades-5-signatures-and-1-document-timestamp.pdf", True)
    [verdict] = five.verdicts
    assert verdict.verdict == INDETERMINATE and "negative seek" in verdict.reason
    assert [c["intact"] for c in verdict.details["raw_byte_range_checks"]] == [True] * 6


def test_truncated_signed_pdf_is_invalid(test_pki):
    signed = _sign(test_pki, test_pki["current"], render_pdf(["cut short"]))
    [verdict] = validate_pdf(signed[:-40], _ctx(test_pki)).verdicts
    assert verdict.verdict == INVALID and verdict.details["sub_indication"] == "HASH_FAILURE"
