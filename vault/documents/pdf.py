"""Readable PDF documents the archive issues and signs: destruction certificates, deposit receipts, probative-value
reports.

Three parts, shared by every such document:

* :func:`render_pdf` — a minimal PDF 1.7 writer (ISO 32000-1 §7.5): text lines, one Helvetica page per
  ``LINES_PER_PAGE`` lines, uncompressed (the text can be searched in the raw bytes and read by any tool);
* :func:`sign_pdf` — a PAdES signature (ETSI EN 319 142-1) by the archive's PDF signing certificate with pyHanko,
  with a signature timestamp from the archive's TSA when one is given (PAdES B-T; B-B without), and a DSS with the
  certificates and CRLs that validate both when that :class:`ValidationData` is at hand offline (PAdES B-LT: the
  built-in development TSA; external TSAs stay B-T, their CRLs are not fetched);
* :func:`verify_signed_pdf` — the same check a reader runs: pyHanko validation against the archive's signing
  certificate (and the TSA roots), offline.

The signing identity (``archive-signing.pem`` / ``.key``, an EC P-256 key with a self-signed certificate made on
first use) should be replaced in production by a certificate from a CA the readers trust.
"""

from __future__ import annotations

import asyncio
import io
import logging
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from asn1crypto import keys as asn1_keys, tsp, x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vault.storage.private import write_private

LINES_PER_PAGE = 60
WIDTH = 100
log = logging.getLogger(__name__)
# pyHanko warns on every B-LT signing that nothing is fetched: offline is the point here
logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(
    lambda record: "fetching is not allowed" not in record.getMessage())


@dataclass(frozen=True)
class ValidationData:
    """What validates the signature timestamp offline: the TSA trust roots, the certificates between them and the
    TSA, and DER CRLs covering every certificate that is not a root (ETSI EN 319 142-1 §6.3, PAdES B-LT)."""

    trust_roots: tuple[x509.Certificate, ...]
    other_certs: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    moment: datetime | None = None  # the archive's clock, which dates the TSA's tokens and CRLs (default: now)


def load_or_create_pdf_identity(data_dir: Path, name: str, now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The archive's PDF signing certificate and key (self-signed, 30 years), made on first use."""
    cert_path, key_path = Path(data_dir) / "archive-signing.pem", Path(data_dir) / "archive-signing.key"
    if not cert_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vault"),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"{name} signed documents")])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=365 * 30))
                .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
                .sign(key, hashes.SHA256()))
        write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
        write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    return cert, key


def wrap(lines: list[str], width: int = WIDTH) -> list[str]:
    """Every line cut to ``width`` characters, continuation lines indented."""
    return [wrapped for line in lines for wrapped in (textwrap.wrap(line, width, subsequent_indent="    ") or [""])]


def _escape(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding (cp1252): accents, dashes and quotes survive; the rest becomes '?'."""
    raw = text.encode("cp1252", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def render_pdf(lines: list[str]) -> bytes:
    """A minimal PDF 1.7 (ISO 32000-1 §7.5): one Helvetica text page per LINES_PER_PAGE lines."""
    pages = [lines[i:i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)] or [[]]
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % p for p in page_ids)
                   + b"] /Count %d >>" % len(pages))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for page_lines in pages:
        shown = b" ".join(b"(" + _escape(line) + b") '" for line in page_lines)
        content = b"BT /F1 9 Tf 11 TL 40 800 Td " + shown + b" ET"
        page_number = len(objects) + 1
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >>"
                       b" /Contents %d 0 R >>" % (page_number + 1))
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def sign_pdf(pdf: bytes, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey,
             timestamp: Callable[[bytes], bytes] | None = None, *, reason: str = "Signed by vault",
             validation_data: ValidationData | Callable[[], ValidationData | None] | None = None) -> bytes:
    """PAdES signature over ``pdf`` by ``cert``; with ``timestamp`` (DER TimeStampReq -> DER TimeStampResp) a
    signature timestamp from the archive's TSA is embedded (PAdES B-T).

    With ``validation_data`` as well (or a callable giving it, or None), the signature is PAdES B-LT: the signer and
    the TSA are validated before signing against those roots and CRLs only (nothing is fetched; every certificate
    but the roots must be covered by a CRL), and the certificates and CRLs go into the document's DSS, in the
    signed revision itself. When that validation fails (e.g. a CRL gone stale), the document is signed B-T and the
    reason logged: a receipt is never refused for want of revocation data."""
    if timestamp is not None and validation_data is not None:
        data = validation_data() if callable(validation_data) else validation_data
        if data is not None:
            try:
                return _sign(pdf, cert, key, timestamp, reason, data)
            except Exception as exc:  # pyHanko's SigningError and path validation errors: fall back to B-T
                log.warning("PAdES B-LT not possible, signing B-T: %s: %s", exc.__class__.__name__, exc)
    return _sign(pdf, cert, key, timestamp, reason, None)


def _sign(pdf: bytes, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey,
          timestamp: Callable[[bytes], bytes] | None, reason: str, data: ValidationData | None) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers, timestamps
    from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
    from pyhanko_certvalidator import ValidationContext

    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(der_key), cert_registry=None)
    stamper = None
    if timestamp is not None:
        class ArchiveTimeStamper(timestamps.TimeStamper):
            async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
                return tsp.TimeStampResp.load(await asyncio.to_thread(timestamp, req.dump()))

        stamper = ArchiveTimeStamper()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    long_term = {}
    if data is not None:
        # the signing certificate is self-signed: a trust anchor, which needs no revocation data; "require" makes
        # every other certificate (the TSA's) be covered by one of the CRLs given, or the signing fails
        context = ValidationContext(
            trust_roots=[_asn1(cert), *(_asn1(root) for root in data.trust_roots)],
            other_certs=[_asn1(other) for other in data.other_certs],
            crls=list(data.crls), allow_fetching=False, revocation_mode="require", moment=data.moment)
        long_term = dict(embed_validation_info=True, validation_context=context, dss_settings=DSSContentSettings(
            include_vri=False, placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE))
    metadata = signers.PdfSignatureMetadata(field_name="ArchiveSignature", md_algorithm="sha256",
                                            subfilter=fields.SigSeedSubFilter.PADES, reason=reason, **long_term)
    output = signers.PdfSigner(metadata, signer=signer, timestamper=stamper).sign_pdf(writer)
    return output.getvalue()


def verify_signed_pdf(pdf: bytes, signer_pem: bytes, tsa_roots_pem: bytes | None = None,
                      at: datetime | None = None) -> tuple[bool, str]:
    """Validate the PDF's signature with pyHanko against the archive's signing certificate (and the timestamp
    against the TSA roots), as of ``at`` (default: now); (ok, a one-line reason)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    def context(pem: bytes) -> ValidationContext:
        roots = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                 for c in x509.load_pem_x509_certificates(pem)]
        return ValidationContext(trust_roots=roots, allow_fetching=False, moment=at)

    try:
        signatures = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    except Exception as exc:  # pyHanko raises its own errors for unreadable PDFs
        return False, f"not a readable PDF: {exc}"
    if len(signatures) != 1:
        return False, f"expected one signature, found {len(signatures)}"
    status = validate_pdf_signature(signatures[0], context(signer_pem),
                                    ts_validation_context=context(tsa_roots_pem) if tsa_roots_pem else None)
    if not status.intact or not status.valid:
        return False, "the PDF was changed after signing or the signature is broken"
    if not status.trusted:
        return False, "signed by a certificate other than the archive's"
    if tsa_roots_pem and not (status.timestamp_validity and status.timestamp_validity.valid
                              and status.timestamp_validity.trusted):
        return False, "the signature timestamp does not verify against the TSA roots"
    return True, "signature valid" + (", timestamp valid" if tsa_roots_pem else "")
