"""S/MIME signatures on e-mail proofs (RFC 8551), signed by two independent implementations — pyca/cryptography's
PKCS#7 builder and OpenSSL's ``smime -sign`` (detached ``multipart/signed`` and opaque ``application/pkcs7-mime``)
— checked by vault against the operator's anchors only; then deposited through the API."""

from __future__ import annotations

import base64
import subprocess
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from tests.pki import make_ca, make_leaf
from vault.validation.dispatch import family, validate
from vault.validation.smime import validate_smime
from vault.validation.trust import TrustAnchors, ValidationContext
from vault.validation.verdicts import INDETERMINATE, INVALID, VALID, VERDICTS

HEADERS = b"From: Alice Martin <alice@example.com>\r\nTo: shop@example.org\r\nSubject: opt-in\r\nMIME-Version: 1.0\r\n"
BODY = b"Content-Type: text/plain; charset=utf-8\r\n\r\nI agree to receive the newsletter.\r\n"


@pytest.fixture(scope="module")
def pki():
    ca = make_ca("S/MIME test root")
    return ca, make_leaf(ca, "Alice Martin", email="alice@example.com")


def ctx(*anchors) -> ValidationContext:
    return ValidationContext(TrustAnchors().plus([a.asn1() for a in anchors]), datetime.now(timezone.utc), {})


def by_cryptography(leaf, body: bytes = BODY, detached: bool = True) -> bytes:
    """A detached ``multipart/signed`` message, or an opaque ``application/pkcs7-mime`` one."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(body).add_signer(leaf.cert, leaf.key, hashes.SHA256())
    if detached:
        return HEADERS + builder.sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
    der = builder.sign(serialization.Encoding.DER, [])
    return (HEADERS + b"Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(der))


def by_openssl(leaf, tmp_path, *flags: str) -> bytes:
    (tmp_path / "cert.pem").write_bytes(leaf.cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(leaf.key.private_bytes(serialization.Encoding.PEM,
                                                              serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
    (tmp_path / "body.eml").write_bytes(BODY)
    done = subprocess.run(["openssl", "smime", "-sign", "-in", str(tmp_path / "body.eml"), "-signer",
                           str(tmp_path / "cert.pem"), "-inkey", str(tmp_path / "key.pem"), "-md", "sha256",
                           "-from", "Alice Martin <alice@example.com>", "-to", "shop@example.org",
                           "-subject", "opt-in", *flags], capture_output=True, check=True)
    return done.stdout


def only(result):
    assert len(result.verdicts) == 1, result.verdicts
    return result.verdicts[0]


def test_detached_signature_by_cryptography(pki):
    ca, leaf = pki
    message = by_cryptography(leaf)
    verdict = only(validate_smime(message, ctx(ca)))
    assert verdict.verdict == VALID, verdict.reason
    assert verdict.kind == "smime" and verdict.signer == "CN=Alice Martin,O=vault tests,C=BE"
    assert verdict.details["form"] == "multipart/signed" and verdict.details["sender_matches"] is True
    assert [c["subject"] for c in verdict.details["certificates"]] == [  # the validated path, from the anchor
        "CN=S/MIME test root,O=vault tests,C=BE", "CN=Alice Martin,O=vault tests,C=BE"]
    changed = only(validate_smime(message.replace(b"I agree", b"I refuse"), ctx(ca)))
    assert changed.verdict == INVALID and changed.details["sub_indication"] == "HASH_FAILURE"
    untrusted = only(validate_smime(message, ctx()))
    assert untrusted.verdict == INDETERMINATE
    assert untrusted.details["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"


@pytest.mark.parametrize("flags, form", [((), "multipart/signed"), (("-nodetach",), "signed-data")])
def test_signatures_by_openssl(pki, tmp_path, flags, form):
    ca, leaf = pki
    message = by_openssl(leaf, tmp_path, *flags)
    verdict = only(validate_smime(message, ctx(ca)))
    assert verdict.verdict == VALID and verdict.details["form"] == form, verdict.reason
    other = make_ca("another root")
    assert only(validate_smime(message, ctx(other))).verdict == INDETERMINATE


def test_opaque_signature_with_changed_content_is_invalid(pki):
    ca, leaf = pki
    message = by_cryptography(leaf, detached=False)
    assert only(validate_smime(message, ctx(ca))).verdict == VALID
    head, _, encoded = message.partition(b"\r\n\r\n")
    der = bytearray(base64.b64decode(b"".join(encoded.split())))
    der[bytes(der).find(b"newsletter")] ^= 0x20  # one letter of the encapsulated content
    verdict = only(validate_smime(head + b"\r\n\r\n" + base64.encodebytes(bytes(der)), ctx(ca)))
    assert verdict.verdict == INVALID and verdict.details["sub_indication"] == "HASH_FAILURE"


def test_a_from_address_the_certificate_does_not_name_is_reported(pki):
    ca, leaf = pki
    message = by_cryptography(leaf).replace(b"alice@example.com>", b"mallory@example.net>", 1)
    verdict = only(validate_smime(message, ctx(ca)))
    assert verdict.verdict == VALID and verdict.details["sender_matches"] is False
    assert "From address is not one of the certificate's" in verdict.reason
    assert [s for s in verdict.details["steps"] if s["check"] == "sender address"][0]["result"] == "failed"


def forwarded(inner: bytes) -> bytes:
    """``inner`` forwarded as an attachment of a message from the shop."""
    return (b"From: shop@example.org\r\nTo: archive@example.org\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"OUT\"\r\n\r\n--OUT\r\nContent-Type: text/plain\r\n\r\n"
            b"Forwarded as received.\r\n--OUT\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--OUT--\r\n")


def test_a_signed_message_forwarded_inside_another_is_found(pki):
    ca, leaf = pki
    verdict = only(validate_smime(forwarded(by_cryptography(leaf)), ctx(ca)))
    assert verdict.verdict == VALID and verdict.details["sender_matches"] is False  # the outer From is the shop's


@pytest.mark.parametrize("damage", [
    lambda m: m.replace(b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: 7bit", 1),
    lambda m: m[: m.rindex(b"smime.p7s") + 200] + b"!!!\n" + m[m.rindex(b"smime.p7s") + 210:],
])
def test_a_damaged_signature_part_is_indeterminate_not_an_error(pki, damage):
    ca, leaf = pki
    result = validate_smime(damage(by_cryptography(leaf)), ctx(ca))
    assert [v.verdict for v in result.verdicts] == [INDETERMINATE]


@pytest.fixture(scope="module")
def fuzz_material(pki):
    ca, leaf = pki
    return by_cryptography(leaf), by_cryptography(leaf, detached=False), ctx(ca)


@settings(max_examples=250, deadline=None, derandomize=True)
@given(which=st.integers(0, 1), position=st.floats(0, 1, exclude_max=True), value=st.integers(0, 255),
       how=st.sampled_from(["flip", "truncate", "insert", "delete"]))
def test_mutated_messages_never_raise(fuzz_material, which, position, value, how):
    signed, context = fuzz_material[which], fuzz_material[2]
    at = int(position * len(signed))
    mutated = {"flip": signed[:at] + bytes([value]) + signed[at + 1:], "truncate": signed[:at],
               "insert": signed[:at] + bytes([value]) + signed[at:], "delete": signed[:at] + signed[at + 1:]}[how]
    result = validate_smime(mutated, context)
    assert all(v.verdict in VERDICTS and v.kind == "smime" for v in result.verdicts)
    assert len(result.verdicts) <= 1


def test_mail_without_smime_has_no_smime_verdict(pki):
    assert validate_smime(HEADERS + BODY, ctx()).verdicts == []
    assert validate_smime(b"\x00\x01 not a message at all", ctx()).verdicts == []


def test_dispatch_checks_dkim_and_smime_of_an_email(pki):
    ca, leaf = pki
    message = by_cryptography(leaf)
    assert family("message/rfc822", None, "m.eml", message) == "email"
    assert [(v.kind, v.verdict) for v in validate(message, "email", ctx(ca)).verdicts] == [("smime", VALID)]


def test_an_smime_email_deposited_through_the_api(vault, depositor, pki):
    ca, leaf = pki
    vault.settings.effective_trust_dir.mkdir(parents=True, exist_ok=True)
    (vault.settings.effective_trust_dir / "smime-root.pem").write_bytes(
        ca.cert.public_bytes(serialization.Encoding.PEM))  # the operator trusts this CA
    response = depositor.deposit(by_cryptography(leaf), filename="optin.eml", media_type="message/rfc822",
                                 case_ref="OPTIN-1", policy="email-proof")
    assert response.status_code == 201, response.text
    assert [(v["kind"], v["verdict"]) for v in response.json()["validation"]] == [("smime", VALID)]
    report = depositor.get(f"/v1/objects/{response.json()['id']}/validation-report")
    assert report.status_code == 200, report.text


# --- the ETSI TS 119 102-2 report -----------------------------------------------------------------------------

def etsi(result) -> tuple:
    """The report's root, read back into pyHanko's bindings of the schema too (which refuses a misshapen one)."""
    from defusedxml.ElementTree import fromstring
    from pyhanko.generated.etsi import ts_11910202
    from xsdata.formats.dataclass.parsers import XmlParser

    assert result.etsi_report is not None
    bound = XmlParser().from_bytes(result.etsi_report, ts_11910202.ValidationReport)
    return fromstring(result.etsi_report), bound


def signer_info_of(message: bytes):
    from asn1crypto import cms

    _head, _, encoded = message.partition(b"\r\n\r\n")
    der = base64.b64decode(b"".join(encoded.split()))
    return cms.ContentInfo.load(der)["content"]["signer_infos"][0]


def test_etsi_report_names_the_signature_its_document_and_its_signer(pki):
    from cryptography.hazmat.primitives.asymmetric import ec

    ca, leaf = pki
    message = by_cryptography(leaf, detached=False)
    root, bound = etsi(validate_smime(message, ctx(ca)))
    assert root.tag == "{http://uri.etsi.org/19102/v1.2.1#}ValidationReport"
    (single,) = bound.signature_validation_report
    status = single.signature_validation_status
    assert status.main_indication == "urn:etsi:019102:mainindication:total-passed" and not status.sub_indication
    assert single.signature_validation_process.signature_validation_process_id.endswith(":Basic")
    info = signer_info_of(message)
    assert single.signature_identifier.signature_value.value == info["signature"].native
    # the DTBSR digest is over the bytes the signer signed: they verify with its key (pyca/cryptography)
    signed_attrs = b"\x31" + info["signed_attrs"].dump()[1:]
    leaf.key.public_key().verify(info["signature"].native, signed_attrs, ec.ECDSA(hashes.SHA256()))
    assert single.signature_identifier.digest_alg_and_value.digest_value.value == \
        __import__("hashlib").sha256(signed_attrs).digest()
    # the document's digest is the one the signer put in its messageDigest attribute
    message_digest = next(a["values"][0].native for a in info["signed_attrs"] if a["type"].native == "message_digest")
    assert single.signers_document.digest_alg_and_value.digest_value.value == message_digest
    (signer_ref,) = single.signer_information.signer_certificate.voreference
    objects = {o.id: o for o in bound.signature_validation_objects.validation_object}
    assert objects[signer_ref].validation_object_representation.base64 == \
        leaf.cert.public_bytes(serialization.Encoding.DER)
    assert {o.validation_object_representation.base64 for o in objects.values()} == {
        leaf.cert.public_bytes(serialization.Encoding.DER), ca.cert.public_bytes(serialization.Encoding.DER)}


def test_etsi_report_of_a_changed_and_of_an_untrusted_signature(pki, tmp_path):
    ca, leaf = pki
    message = by_openssl(leaf, tmp_path)
    _root, changed = etsi(validate_smime(message.replace(b"newsletter", b"Newsletter"), ctx(ca)))
    status = changed.signature_validation_report[0].signature_validation_status
    assert status.main_indication.endswith(":total-failed")
    assert status.sub_indication == ("urn:etsi:019102:subindication:HASH_FAILURE",)
    _root, untrusted = etsi(validate_smime(message, ctx()))
    status = untrusted.signature_validation_report[0].signature_validation_status
    assert status.main_indication.endswith(":indeterminate")
    assert status.sub_indication == ("urn:etsi:019102:subindication:NO_CERTIFICATE_CHAIN_FOUND",)


def test_etsi_report_of_a_forwarded_signature_and_of_an_unreadable_one(pki):
    ca, leaf = pki
    inside = validate_smime(forwarded(by_cryptography(leaf)), ctx(ca))
    assert len(inside.verdicts) == 1 and len(etsi(inside)[1].signature_validation_report) == 1
    damaged = by_cryptography(leaf).replace(b"MII", b"XXX", 1)  # a signature part that cannot be read
    result = validate_smime(damaged, ctx(ca))
    assert result.verdicts and result.verdicts[0].verdict == INDETERMINATE
    assert result.etsi_report is None  # a report leaving a signature out would mislead


def test_the_etsi_report_of_a_deposited_email_is_served_as_xml(vault, depositor, pki):
    ca, leaf = pki
    vault.settings.effective_trust_dir.mkdir(parents=True, exist_ok=True)
    (vault.settings.effective_trust_dir / "smime-root.pem").write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    response = depositor.deposit(by_cryptography(leaf), filename="optin.eml", media_type="message/rfc822",
                                 case_ref="OPTIN-2", policy="email-proof")
    assert response.status_code == 201, response.text
    xml = depositor.get(f"/v1/objects/{response.json()['id']}/validation-report", headers={"Accept": "application/xml"})
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    assert b"urn:etsi:019102:mainindication:total-passed" in xml.content
