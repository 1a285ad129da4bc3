"""PAdES B-LT PDFs: with the built-in TSA, the signed PDFs carry a DSS with the TSA's certificate chain and its
root's CRL, and validate with pyHanko's long-term (AdES) validation from that embedded data alone, revocation data
required; with external TSAs (no validation data at hand) they stay B-T."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import datetime, timedelta, timezone

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec, RevinfoOnlineFetchingRule, RevocationInfoGatheringSpec, SignatureValidationSpec,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from vault.documents.pdf import ValidationData, load_or_create_pdf_identity, render_pdf, sign_pdf, verify_signed_pdf
from vault.timestamping.devtsa import CRL_URL, CRL_VALIDITY, DevelopmentTsa


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def dss_of(pdf: bytes) -> DocumentSecurityStore:
    return DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf)))


def long_term_validation(pdf: bytes, roots: list[x509.Certificate]):
    """pyHanko's AdES validation of a PAdES signature with long-term validation material (EN 319 102-1 §5.6.3):
    only the given roots are trusted, nothing is fetched, and every certificate that is not a root needs
    revocation data — which can then only come from the PDF itself."""
    spec = PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build([asn1_x509.Certificate.load(der(r)) for r in roots]),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO)),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY, fetcher_backend=None),
        key_usage_settings=KeyUsageConstraints(key_usage={"non_repudiation"})))
    signature, = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    return asyncio.run(ades_lta_validation(signature, spec))


def assert_blt(pdf: bytes, signer: x509.Certificate, tsa: DevelopmentTsa) -> None:
    dss = dss_of(pdf)
    certs = {c.dump() for c in dss.load_certs()}
    assert {der(tsa.certificate), der(tsa.root)} <= certs
    crls = [x509.load_der_x509_crl(ref.get_object().data) for ref in dss.crls]
    assert [c.issuer for c in crls] == [tsa.root.subject] and crls[0].is_signature_valid(tsa.root.public_key())
    result = long_term_validation(pdf, [signer, tsa.root])
    assert result.ades_subindic == AdESPassed.OK, result.ades_subindic
    assert result.signature_timestamp_status.ades_subindic == AdESPassed.OK
    reader = PdfFileReader(io.BytesIO(pdf))  # the DSS is in the signed revision, the last one
    assert reader.embedded_signatures[0].signed_revision == reader.xrefs.total_revisions - 1


def test_pdf_receipt_of_the_builtin_tsa_is_blt(vault, depositor):
    receipt = depositor.deposit(b"%PDF-1.7 proof of delivery", case_ref="BLT-1", event_type="sending").json()
    vault.seal_scheduler.seal_all_pending()
    pdf = depositor.get(f"/v1/objects/{receipt['id']}/receipt", params={"format": "pdf"}).content
    signer = x509.load_pem_x509_certificate(depositor.client.get("/v1/archive/key").json()
                                            ["pdf_signing_certificate"].encode())
    assert_blt(pdf, signer, vault.dev_tsa)
    roots = depositor.client.get("/v1/tsa/roots").content
    assert verify_signed_pdf(pdf, signer.public_bytes(serialization.Encoding.PEM), roots)[0]
    # the same check without the DSS fails: the embedded CRL is what the TSA certificate is validated with
    cert, key = vault.documents.pdf_identity()
    bt = sign_pdf(render_pdf(["B-T"]), cert, key, vault.dev_tsa.respond)
    assert long_term_validation(bt, [signer, vault.dev_tsa.root]).ades_subindic != AdESPassed.OK
    crl = depositor.client.get("/v1/tsa/crl")
    assert crl.status_code == 200 and crl.headers["content-type"] == "application/pkix-crl"
    assert x509.load_der_x509_crl(crl.content).issuer == vault.dev_tsa.root.subject


class Clock:
    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self):
        return self.now


def test_crl_is_fresh_and_cached_for_half_its_validity(tmp_path):
    clock = Clock()
    tsa = DevelopmentTsa.load_or_create(tmp_path, clock)
    first = tsa.crl()
    crl = x509.load_der_x509_crl(first)
    assert crl.issuer == tsa.root.subject and crl.is_signature_valid(tsa.root.public_key()) and len(crl) == 0
    assert crl.last_update_utc == clock.now.replace(microsecond=0)
    assert crl.next_update_utc - crl.last_update_utc == CRL_VALIDITY == timedelta(days=7)
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == tsa.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    clock.now += timedelta(days=3)
    assert tsa.crl() == first
    clock.now += timedelta(days=1)
    renewed = x509.load_der_x509_crl(tsa.crl())
    assert renewed.last_update_utc == clock.now.replace(microsecond=0)
    assert renewed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > number
    points = tsa.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [name.value for point in points for name in point.full_name] == [CRL_URL]


def test_tsa_certificate_without_distribution_point_still_gives_blt(tmp_path):
    """TSA certificates issued before CRL distribution points were added: the root's CRL covers them all the same."""
    now = datetime.now(timezone.utc)
    tsa_dir = tmp_path / "tsa"
    current = DevelopmentTsa.load_or_create(tsa_dir, lambda: now).certificate
    root_key = serialization.load_pem_private_key((tsa_dir / "root.key").read_bytes(), password=None)
    builder = (x509.CertificateBuilder().subject_name(current.subject).issuer_name(current.issuer)
               .public_key(current.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(current.not_valid_before_utc).not_valid_after(current.not_valid_after_utc))
    for extension in current.extensions:
        if not isinstance(extension.value, x509.CRLDistributionPoints):
            builder = builder.add_extension(extension.value, extension.critical)
    (tsa_dir / "tsa.pem").write_bytes(builder.sign(root_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    tsa = DevelopmentTsa.load_or_create(tsa_dir, lambda: now)
    assert not [e for e in tsa.certificate.extensions if isinstance(e.value, x509.CRLDistributionPoints)]
    cert, key = load_or_create_pdf_identity(tmp_path, "test", now)
    data = ValidationData((tsa.root,), (tsa.certificate,), (tsa.crl(),))
    assert_blt(sign_pdf(render_pdf(["old TSA certificate"]), cert, key, tsa.respond, validation_data=data), cert, tsa)


def test_without_validation_data_or_when_it_fails_the_pdf_is_bt(tmp_path, caplog):
    now = datetime.now(timezone.utc)
    tsa = DevelopmentTsa.load_or_create(tmp_path / "tsa", lambda: now)
    cert, key = load_or_create_pdf_identity(tmp_path, "test", now)
    roots = tsa.roots_pem
    external = sign_pdf(render_pdf(["external TSA"]), cert, key, tsa.respond, validation_data=lambda: None)
    assert PdfFileReader(io.BytesIO(external)).root.get("/DSS") is None
    # a CRL that does not cover the TSA (another issuer's): B-LT cannot be made, so B-T, and the reason is logged
    other = DevelopmentTsa.load_or_create(tmp_path / "other", lambda: now)
    caplog.set_level(logging.WARNING, logger="vault.documents.pdf")
    fallback = sign_pdf(render_pdf(["wrong CRL"]), cert, key, tsa.respond,
                        validation_data=ValidationData((tsa.root,), (tsa.certificate,), (other.crl(),)))
    assert PdfFileReader(io.BytesIO(fallback)).root.get("/DSS") is None
    assert "PAdES B-LT not possible" in caplog.text
    for pdf in (external, fallback):
        assert verify_signed_pdf(pdf, cert.public_bytes(serialization.Encoding.PEM), roots) == \
            (True, "signature valid, timestamp valid")
