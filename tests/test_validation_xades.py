"""XML signatures get verdicts: the DSS XAdES suite and REM evidences, signatures we make with signxml, hostile XML.

Corpus files are read in place from ../shared/vectors/signatures (INDEX.tsv gives each one's expected verdict).
Trust, in the "operator" runs, is a TEST SETUP CHOICE: the test plays the operator and configures as anchors the
top certificates it extracts from the corpus files themselves (self-signed, or signed by no other certificate
there), and validates at the signing time each file claims, as DSS's own tests did while these test certificates
were current. The validator itself never trusts a certificate because it is in the file: without configured
anchors nothing is ever valid.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
import time
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import pytest
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from signxml import SignatureConstructionMethod, XMLSigner
from signxml.xades import XAdESSigner

from tests.pki import make_ca, make_leaf
from tests.conftest import SHARED_VECTORS
from vault.timestamping.client import build_request
from vault.timestamping.devtsa import DevelopmentTsa
from vault.timestamping.tokens import parse_token
from vault.validation import xml_safety
from vault.validation.trust import TrustAnchors, ValidationContext, load_certificates
from vault.validation.verdicts import INDETERMINATE, INVALID, VALID, Validation
from vault.validation.xades import parse_xml_safely, validate_xml

CORPUS = SHARED_VECTORS / "signatures"
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
SECONDS = 10  # "bounded time" for one file; each takes milliseconds

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # cryptography on odd names in old certificates

# Where our verdict differs from INDEX.tsv's `expected` (same with and without anchors), and why. Asserted.
KNOWN_DIFFERENCES = {
    "xades/dss/valid-xades.xml": (
        INVALID, "pretty-printed after signing: the signature value is over the SignedInfo without the indentation "
        "(SHA-256 of the whitespace-stripped SignedInfo is the digest inside it); DSS's own "
        "XAdESSignatureIdentifierTest asserts this file is not B-level technically valid"),
    "xades/dss/xades-detached.xml": (
        INDETERMINATE, "detached: the signed data is another file (sample.xml) and validate_xml is given only this "
        "one, so SIGNED_DATA_NOT_FOUND"),
    "xades/dss/xmldsig-only.xml": (
        INDETERMINATE, "intact, but signed with a bare RSA KeyValue: no certificate, so nothing chains to an anchor"),
    "xades/dss/xades-tampered-keyinfo.xml": (
        INDETERMINATE, "the only KeyInfo certificate is broken DER, so no key can check the signature: ETSI TS 119 "
        "102-1 NO_SIGNING_CERTIFICATE_FOUND (DSS: 'signing certificate not identified', not intact)"),
}
# Signed files INDEX.tsv says nothing about (`unknown`): what we find, without and with the operator's anchors.
OBSERVED = {
    "xades/dss/Signature-X-AT-1.xml": (INDETERMINATE, INDETERMINATE),  # XPath Filter 2.0 "intersect": not run
    "evidence/rem/ecodex-client/SUBMISSION_ACCEPTANCE.xml": (INDETERMINATE, VALID),
    "evidence/rem/ecodex-client/SUBMISSION_REJECTION.xml": (INDETERMINATE, VALID),
    "evidence/rem/ecodex-client/RELAY_REMMD_ACCEPTANCE.xml": (INDETERMINATE, VALID),
    "evidence/rem/ecodex-client/DELIVERY.xml": (INDETERMINATE, VALID),
    "evidence/rem/ecodex-client/RETRIEVAL.xml": (INDETERMINATE, VALID),
    "evidence/rem/ecodex-client/incoming-SUBMISSION_ACCEPTANCE.xml": (INDETERMINATE, VALID),
    "evidence/rem/ecodex-connector/msg1-SUBMISSION_ACCEPTANCE.xml": (INVALID, INVALID),  # pretty-printed after signing
    "evidence/rem/ecodex-connector/msg2-SUBMISSION_ACCEPTANCE.xml": (INDETERMINATE, VALID),
    "evidence/rem/ecodex-connector/signatureTestbysourceInfochange.xml": (INDETERMINATE, INDETERMINATE),  # bare key
    "evidence/rem/vefa/sample-rem.xml": (INVALID, INVALID),  # "reformatted for the test"
    "evidence/rem/vefa/sample-signed-rem.xml": (INVALID, INVALID),  # reformatted (line break in X509SubjectName)
    "evidence/rem/vefa/evidence_incomingSBD.xml": (INVALID, INVALID),  # SignedInfo is not what was signed
}


def rows() -> list[dict[str, str]]:
    if not (CORPUS / "INDEX.tsv").exists():
        return []
    with open(CORPUS / "INDEX.tsv", newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["kind"] in ("xades", "rem-evidence")]


ROWS = rows()
ROW_PARAMS = [pytest.param(r, id=r["path"]) for r in ROWS] or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"{CORPUS} is absent"))]


def ctx(anchors: TrustAnchors | None = None, now: datetime = NOW) -> ValidationContext:
    return ValidationContext(anchors or TrustAnchors(), now)


def timed(data: bytes, context: ValidationContext) -> Validation:
    start = time.monotonic()
    result = validate_xml(data, context)
    assert time.monotonic() - start < SECONDS
    return result


def text_of(result: Validation) -> str:
    """Everything a validation says, as JSON (which also proves the details are JSON-able)."""
    return json.dumps([v.as_dict() for v in result.verdicts])


def _corpus_certificates(data: bytes) -> list[x509.Certificate]:
    try:
        root = parse_xml_safely(data)
    except ValueError:
        return []
    found = []
    for element in root.iter(f"{{{DS}}}X509Certificate", f"{{{XADES}}}EncapsulatedX509Certificate",
                             f"{{{XADES}}}EncapsulatedTimeStamp"):
        try:
            der = base64.b64decode("".join((element.text or "").split()), validate=True)
            if element.tag.endswith("EncapsulatedTimeStamp"):
                found.extend(parse_token(der).certificates)
            else:
                cert = x509.load_der_x509_certificate(der)
                cert.subject  # noqa: B018 - parse now
                found.append(cert)
        except ValueError:
            continue
    return found


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


@cache
def operator_anchors() -> TrustAnchors:
    """The operator's anchors for this test: the top of every chain found in the corpus (see module docstring)."""
    certs = {c.public_bytes(Encoding.DER): c
             for r in ROWS for c in _corpus_certificates((CORPUS / r["path"]).read_bytes())}
    tops = [c for c in certs.values() if c.subject == c.issuer
            or not any(o is not c and _issued_by(c, o) for o in certs.values())]
    return TrustAnchors(tuple(asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in tops))


def claimed_signing_time(data: bytes) -> datetime:
    match = re.search(rb"<(?:\w+:)?SigningTime>([^<]+)<", data)
    return datetime.fromisoformat(match.group(1).decode().strip().replace("Z", "+00:00")) if match else NOW


def check_row(row: dict[str, str], result: Validation, with_anchors: bool) -> None:
    path, expected, worst = row["path"], row["expected"], result.worst
    for verdict in result.verdicts:
        assert verdict.kind in ("xades", "xmldsig") and verdict.reason
    text_of(result)
    if path in KNOWN_DIFFERENCES:
        assert worst == KNOWN_DIFFERENCES[path][0], path
    elif path in OBSERVED:
        assert worst == OBSERVED[path][with_anchors], path
    elif expected == INVALID:
        assert worst == INVALID, path
    elif expected == INDETERMINATE:
        assert worst in (INVALID, INDETERMINATE), path
    elif expected == VALID:
        assert worst == (VALID if with_anchors else INDETERMINATE), path
    else:  # unsigned, malformed or unsafe
        assert worst in (None, INDETERMINATE), path


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_corpus_without_anchors_is_never_valid(row):
    result = timed((CORPUS / row["path"]).read_bytes(), ctx())
    assert result.worst != VALID
    check_row(row, result, with_anchors=False)


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_corpus_with_operator_anchors(row):
    data = (CORPUS / row["path"]).read_bytes()
    check_row(row, timed(data, ctx(operator_anchors(), claimed_signing_time(data))), with_anchors=True)


def corpus(path: str) -> bytes:
    return (CORPUS / path).read_bytes() if (CORPUS / path).exists() else pytest.skip(f"{CORPUS} is absent")


def test_signature_timestamp_is_proof_of_existence():
    """B-T: the certificates expired long before NOW, but the SignatureTimeStamp (anchored TSA) proves the
    signature existed while they were valid; the same kind of file without a timestamp is indeterminate."""
    stamped = validate_xml(corpus("xades/dss/xades-extended-t.xml"), ctx(operator_anchors())).verdicts[0]
    assert stamped.verdict == VALID and "(signature timestamp)" in stamped.reason
    assert stamped.details["validation_time"] < "2023" and stamped.details["certificates"]
    bare = validate_xml(corpus("xades/dss/dss-signed.xml"), ctx(operator_anchors())).verdicts[0]
    assert (bare.verdict, bare.details["sub_indication"]) == (INDETERMINATE, "OUT_OF_BOUNDS_NO_POE")


@pytest.mark.parametrize("path, verdict, sub_indication", [
    ("xades/dss/xades-wrong-sign-cert-digest.xml", INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND"),
    ("xades/dss/XSW-enveloped-fake-signedProperties.xml", INDETERMINATE, "SIGNED_DATA_NOT_FOUND"),
    ("xades/dss/XSW-enveloping-fake-object.xml", INDETERMINATE, "SIGNED_DATA_NOT_FOUND"),
    ("xades/dss/dss-signed-altered-signedPropsRemoved.xml", INVALID, "SIG_CRYPTO_FAILURE"),
    ("xades/dss/xades-unknown-digest-algo.xml", INVALID, "HASH_FAILURE"),
    ("xades/dss/xades-unsupported-signature-algorithm.xml", INVALID, "SIG_CRYPTO_FAILURE"),
    ("xades/dss/xades-detached.xml", INDETERMINATE, "SIGNED_DATA_NOT_FOUND"),
])
def test_corpus_reasons(path, verdict, sub_indication):
    found = validate_xml(corpus(path), ctx(operator_anchors(), claimed_signing_time(corpus(path)))).verdicts
    assert [(v.verdict, v.details["sub_indication"]) for v in found] == [(verdict, sub_indication)]
    if path.endswith("detached.xml"):
        assert found[0].reason == "The signed data referenced by URI 'sample.xml' is not in this file."


def test_multiple_and_counter_signatures():
    double = validate_xml(corpus("xades/dss/doubleSignedTest.xml"), ctx(operator_anchors()))
    assert [v.verdict for v in double.verdicts] == [VALID, VALID]
    data = corpus("xades/dss/xades-counter-signature-injected.xml")
    master, counter = validate_xml(data, ctx(operator_anchors(), claimed_signing_time(data))).verdicts
    assert master.verdict == VALID and counter.verdict == INVALID and "counter-signature" in counter.reason
    rem = validate_xml(corpus("evidence/rem/ecodex-client/SUBMISSION_ACCEPTANCE.xml"), ctx()).verdicts
    assert [v.kind for v in rem] == ["xades"] and rem[0].signer and "ecodex-q.justiz.gv.at" in rem[0].signer


# --- hostile XML -----------------------------------------------------------------------------------------------

PASSWD = Path("/etc/passwd").read_text(errors="replace")[:24] if Path("/etc/passwd").exists() else "root:x:0:0"
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10)) + b"]><lolz>&lol9;</lolz>")
XXE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
DEEP = b"<a>" * 10_000 + b"</a>" * 10_000


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, "dtd-injection"], ids=["billion-laughs", "xxe", "dss-dtd"])
def test_dtd_is_refused_and_never_expanded(data):
    if data == "dtd-injection":
        data = corpus("xades/dss/xades-with-dtd-injection.xml")
    with pytest.raises(ValueError, match="XML with a DTD is refused"):
        parse_xml_safely(data)
    result = validate_xml(data, ctx())
    assert result.worst in (None, INDETERMINATE)
    output = text_of(result)
    assert PASSWD not in output and "root:x:0" not in output and "lollol" not in output


def test_deep_nesting_is_refused_quickly():
    assert parse_xml_safely is xml_safety.parse_xml_safely  # the project's one parser, importable from both
    start = time.monotonic()
    with pytest.raises(ValueError, match="deeper than 256"):
        parse_xml_safely(DEEP)
    assert validate_xml(DEEP, ctx()).worst == INDETERMINATE
    assert time.monotonic() - start < 1
    parse_xml_safely(b"<a>" * 200 + b"</a>" * 200)


@pytest.mark.parametrize("data", [b"", b"   ", b"not xml", b"<a>", "é".encode("latin-1"), b"<a/>" + b"\x00"])
def test_malformed_is_a_clear_value_error(data):
    with pytest.raises(ValueError):
        parse_xml_safely(data)
    assert validate_xml(data, ctx()).worst == INDETERMINATE


@pytest.mark.parametrize("transform, expression, runs", [
    (xml_safety.XPATH, "not(ancestor-or-self::ds:Signature)", True),
    (xml_safety.XPATH, " not( ancestor-or-self::ds:Signature ) ", True),
    (xml_safety.XPATH, "count(//*) > 0", False),
    (xml_safety.XPATH, "not(ancestor-or-self::other:Signature)", False),
    (xml_safety.XPATH_FILTER2, "/descendant::ds:Signature", True),
    ("http://www.w3.org/TR/1999/REC-xslt-19991116", "", False),
])
def test_only_fixed_transforms_run(transform, expression, runs):
    """Document-supplied XPath is never evaluated: only the 'leave out ds:Signature' forms are recognised."""
    payload = etree.fromstring(f'<doc><!-- c --><a>1</a><ds:Signature xmlns:ds="{DS}"/>tail</doc>'.encode())
    xpath = (f'<ds:XPath xmlns:ds="{DS}">{expression}</ds:XPath>' if transform == xml_safety.XPATH else
             f'<f:XPath xmlns:f="{xml_safety.XPATH_FILTER2}" xmlns:ds="{DS}" Filter="subtract">{expression}</f:XPath>')
    transforms = etree.fromstring(f'<ds:Transforms xmlns:ds="{DS}" xmlns:other="urn:other">'
                                  f'<ds:Transform Algorithm="{transform}">{xpath}</ds:Transform></ds:Transforms>')
    if not runs:
        with pytest.raises(xml_safety.Unsupported):
            xml_safety.prepare_transforms(payload, transforms)
        return
    assert etree.tostring(xml_safety.prepare_transforms(payload, transforms)) == b"<doc><a>1</a>tail</doc>"


def test_unsigned_xml_has_no_verdicts():
    assert validate_xml(b"<?xml version='1.0'?><!-- hi --><evidence>ok</evidence>", ctx()).verdicts == []


# --- signatures made here ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki():
    """A test CA and a signer it certified, valid from 30 days before NOW for a year (tests/pki.py)."""
    ca = make_ca("Vault Test CA", valid_from=NOW - timedelta(days=30))
    leaf = make_leaf(ca, "Vault Test Signer", valid_from=NOW - timedelta(days=30), days=365)
    return {"ca": ca.cert, "leaf": leaf.cert, "key": leaf.key, "anchors": TrustAnchors((ca.asn1(),))}


EVIDENCE = b"<evidence><event>Delivery of message 42</event><time>2026-05-31T10:00:00Z</time></evidence>"


def _enveloped(pki, signer_cls=XMLSigner, **kwargs) -> bytes:
    signer = signer_cls(signature_algorithm="ecdsa-sha256", **kwargs)
    return etree.tostring(signer.sign(etree.fromstring(EVIDENCE), key=pki["key"], cert=[pki["leaf"], pki["ca"]]))


def test_signxml_enveloped_signature(pki):
    data = _enveloped(pki, method=SignatureConstructionMethod.enveloped)
    good = validate_xml(data, ctx(pki["anchors"])).verdicts
    signer = "CN=Vault Test Signer,O=vault tests,C=BE"
    assert [(v.kind, v.verdict, v.signer) for v in good] == [("xmldsig", VALID, signer)]
    assert [c["subject"] for c in good[0].details["certificates"]] == [signer, "CN=Vault Test CA,O=vault tests,C=BE"]
    untrusted = validate_xml(data, ctx()).verdicts[0]
    assert (untrusted.verdict, untrusted.details["sub_indication"]) == (INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND")
    tampered = validate_xml(data.replace(b"message 42", b"message 43"), ctx(pki["anchors"])).verdicts[0]
    assert (tampered.verdict, tampered.details["sub_indication"]) == (INVALID, "HASH_FAILURE")
    later = validate_xml(data, ctx(pki["anchors"], NOW + timedelta(days=400))).verdicts[0]
    assert (later.verdict, later.details["sub_indication"]) == (INDETERMINATE, "OUT_OF_BOUNDS_NO_POE")


def test_a_root_in_the_file_is_not_trusted(pki):
    """A self-signed certificate carried by the document proves nothing until the operator configures it."""
    mallory = make_ca("Mallory", valid_from=NOW - timedelta(days=1))
    signer = XMLSigner(method=SignatureConstructionMethod.enveloped, signature_algorithm="ecdsa-sha256")
    data = etree.tostring(signer.sign(etree.fromstring(EVIDENCE), key=mallory.key, cert=[mallory.cert]))
    assert validate_xml(data, ctx(pki["anchors"])).worst == INDETERMINATE
    assert validate_xml(data, ctx(TrustAnchors((mallory.asn1(),)))).worst == VALID


def test_signxml_xades_and_wrapping(pki):
    data = _enveloped(pki, signer_cls=XAdESSigner)
    verdict = validate_xml(data, ctx(pki["anchors"])).verdicts[0]
    assert (verdict.kind, verdict.verdict) == ("xades", VALID) and verdict.details["signing_time"]
    # A second element carrying the SignedProperties' Id (in a new ds:Object, outside the enveloped data): the
    # reference is ambiguous, so nothing it points to is trusted.
    root = etree.fromstring(data)
    props = next(root.iter(f"{{{XADES}}}SignedProperties"))
    decoy = etree.SubElement(etree.SubElement(next(root.iter(f"{{{DS}}}Signature")), f"{{{DS}}}Object"), "decoy",
                             Id=props.get("Id"))
    decoy.text = "fake"
    wrapped = validate_xml(etree.tostring(root), ctx(pki["anchors"])).verdicts[0]
    assert (wrapped.verdict, wrapped.details["sub_indication"]) == (INDETERMINATE, "SIGNED_DATA_NOT_FOUND")
    # XAdES properties the signature does not cover (added to a plain XMLDSig signature afterwards): invalid.
    plain = etree.fromstring(_enveloped(pki, method=SignatureConstructionMethod.enveloped))
    holder = etree.SubElement(next(plain.iter(f"{{{DS}}}Signature")), f"{{{DS}}}Object")
    etree.SubElement(etree.SubElement(holder, f"{{{XADES}}}QualifyingProperties"), f"{{{XADES}}}SignedProperties")
    uncovered = validate_xml(etree.tostring(plain), ctx(pki["anchors"])).verdicts[0]
    assert (uncovered.kind, uncovered.verdict, uncovered.details["sub_indication"]) == ("xades", INVALID,
                                                                                        "FORMAT_FAILURE")


def _with_signature_timestamp(data: bytes, tsa: DevelopmentTsa, covered: bytes | None = None) -> bytes:
    """Add a XAdES SignatureTimeStamp (an unsigned property) from the development TSA over the canonicalized
    ds:SignatureValue, or over ``covered`` to make a timestamp that covers something else."""
    root = etree.fromstring(data)
    value = next(root.iter(f"{{{DS}}}SignatureValue"))
    covered = covered if covered is not None else etree.tostring(
        etree.fromstring(etree.tostring(value)), method="c14n")
    response = tsp.TimeStampResp.load(tsa.respond(build_request(hashlib.sha256(covered).digest(), "sha256", 7, None)))
    qualifying = next(root.iter(f"{{{XADES}}}QualifyingProperties"))
    unsigned = etree.SubElement(etree.SubElement(qualifying, f"{{{XADES}}}UnsignedProperties"),
                                f"{{{XADES}}}UnsignedSignatureProperties")
    stamp = etree.SubElement(unsigned, f"{{{XADES}}}SignatureTimeStamp")
    etree.SubElement(stamp, f"{{{DS}}}CanonicalizationMethod",
                     Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315")
    etree.SubElement(stamp, f"{{{XADES}}}EncapsulatedTimeStamp").text = base64.b64encode(
        response["time_stamp_token"].dump()).decode()
    return etree.tostring(root)


def test_signature_timestamp_outlives_the_certificate(pki, tmp_path):
    tsa = DevelopmentTsa.load_or_create(tmp_path, now=lambda: NOW)
    anchors = pki["anchors"].plus(load_certificates(tsa.roots_pem))
    later = NOW + timedelta(days=800)  # the signer's certificate expired long ago
    data = _with_signature_timestamp(_enveloped(pki, signer_cls=XAdESSigner), tsa)
    stamped = validate_xml(data, ctx(anchors, later)).verdicts[0]
    assert (stamped.verdict, stamped.details["validation_time"]) == (VALID, "2026-06-01T00:00:00Z")
    untrusted_tsa = validate_xml(data, ctx(pki["anchors"], later)).verdicts[0]
    assert (untrusted_tsa.verdict, untrusted_tsa.details["sub_indication"]) == (INDETERMINATE, "OUT_OF_BOUNDS_NO_POE")
    elsewhere = _with_signature_timestamp(_enveloped(pki, signer_cls=XAdESSigner), tsa, covered=b"other data")
    wrong = validate_xml(elsewhere, ctx(anchors, later)).verdicts[0]
    assert wrong.verdict == INDETERMINATE
    assert any("imprint" in step["detail"] for step in wrong.details["steps"] if step["result"] == "failed")


def test_external_reference_is_never_fetched(pki):
    signer = XMLSigner(method=SignatureConstructionMethod.detached, signature_algorithm="ecdsa-sha256")
    signature = signer.sign(etree.fromstring(b"<anything/>"), key=pki["key"], cert=[pki["leaf"], pki["ca"]],
                            reference_uri="file:///etc/passwd")
    result = validate_xml(etree.tostring(signature), ctx(pki["anchors"]))
    assert [v.verdict for v in result.verdicts] == [INDETERMINATE]
    assert "file:///etc/passwd" in result.verdicts[0].reason and "not in this file" in result.verdicts[0].reason
    assert PASSWD not in text_of(result)


# --- fuzzing -----------------------------------------------------------------------------------------------------

SEEDS = [p for p in ("xades/dss/dss-signed.xml", "xades/dss/xmldsig-only.xml", "xades/dss/doubleSignedTest.xml",
                     "xades/dss/xades-counter-signature-injected.xml", "xades/dss/xades-extended-t.xml",
                     "evidence/rem/ecodex-client/SUBMISSION_ACCEPTANCE.xml") if (CORPUS / p).exists()]
INSERTS = [b"<", b">", b"&", b"&e;", b"<!DOCTYPE x>", b"\x00", b"]]>", b"<!--", b' Id="x"', b"xmlns=''",
           b"<ds:Signature xmlns:ds='http://www.w3.org/2000/09/xmldsig#'/>", b"<ds:Object Id='x'/>"]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray((CORPUS / draw(st.sampled_from(SEEDS))).read_bytes())
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["byte", "delete", "insert", "duplicate"]))
        if operation == "byte" and data:
            data[min(position, len(data) - 1)] = draw(st.integers(0, 255))
        elif operation == "delete":
            del data[position:position + draw(st.integers(1, 200))]
        elif operation == "insert":
            data[position:position] = draw(st.sampled_from(INSERTS))
        else:
            data[position:position] = data[position:position + draw(st.integers(1, 400))]
    return bytes(data)


@pytest.mark.skipif(not SEEDS, reason=f"{CORPUS} is absent")
@settings(max_examples=50, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzz_mutated_corpus(data):
    try:
        parse_xml_safely(data)
    except ValueError:
        pass
    result = timed(data, ctx(operator_anchors()))
    assert isinstance(result, Validation)
    text_of(result)


# --- the ETSI TS 119 102-2 report -----------------------------------------------------------------------------

def etsi_reports(result: Validation) -> list:
    """The report's signature reports, read back into pyHanko's bindings of the schema (a misshapen one fails)."""
    from pyhanko.generated.etsi import ts_11910202
    from xsdata.formats.dataclass.parsers import XmlParser

    assert result.etsi_report is not None
    return list(XmlParser().from_bytes(result.etsi_report, ts_11910202.ValidationReport).signature_validation_report)


def test_etsi_report_of_an_xml_signature_identifies_what_its_signer_signed(pki):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    data = _enveloped(pki, signer_cls=XAdESSigner)
    (single,) = etsi_reports(validate_xml(data, ctx(pki["anchors"])))
    assert single.signature_validation_status.main_indication == "urn:etsi:019102:mainindication:total-passed"
    assert single.signature_attributes.signing_time is not None  # the XAdES SigningTime it claims
    # the DTBSR is the canonicalized SignedInfo: its digest is of the bytes the signer's key signed
    root = etree.fromstring(data)
    signed_info = root.find(".//{http://www.w3.org/2000/09/xmldsig#}SignedInfo")
    method = signed_info.find("{http://www.w3.org/2000/09/xmldsig#}CanonicalizationMethod").get("Algorithm")
    canonical = etree.tostring(signed_info, method="c14n", exclusive="exc-c14n" in method,
                               with_comments=method.endswith("WithComments"))
    assert single.signature_identifier.digest_alg_and_value.digest_value.value == hashlib.sha256(canonical).digest()
    raw = single.signature_identifier.signature_value.value  # XMLDSig's ECDSA value is r ‖ s
    half = len(raw) // 2
    pki["key"].public_key().verify(encode_dss_signature(int.from_bytes(raw[:half], "big"),
                                                        int.from_bytes(raw[half:], "big")),
                                   canonical, ec.ECDSA(hashes.SHA256()))


def test_etsi_report_of_xml_signatures_with_time_and_several_signers():
    stamped = etsi_reports(validate_xml(corpus("xades/dss/xades-extended-t.xml"), ctx(operator_anchors())))
    assert stamped[0].signature_validation_process.signature_validation_process_id.endswith(":LTVM")
    assert stamped[0].validation_time_info.best_signature_time.poetime.year < 2023  # the timestamp's genTime
    double = etsi_reports(validate_xml(corpus("xades/dss/doubleSignedTest.xml"), ctx(operator_anchors())))
    assert len(double) == 2 and {r.signature_validation_status.main_indication for r in double} == {
        "urn:etsi:019102:mainindication:total-passed"}
    bare = etsi_reports(validate_xml(corpus("xades/dss/dss-signed.xml"), ctx(operator_anchors())))
    assert bare[0].signature_validation_status.sub_indication == (
        "urn:etsi:019102:subindication:OUT_OF_BOUNDS_NO_POE",)
