"""A throw-away PKI for tests: a root CA and certificates it issues, made with ``cryptography`` (EC P-256 keys,
or RSA 2048 with ``key_type="rsa"``, e.g. for pyHanko's DummyTimeStamper, which signs with RSA only).

Nothing here is secret or persistent; every call makes fresh keys. Certificates follow RFC 5280 closely enough
for pyHanko, pyhanko-certvalidator and OpenSSL to build and validate chains: CA certificates carry
basicConstraints CA:TRUE and keyCertSign, leaves carry the key usage of their purpose, and every certificate has
subject and authority key identifiers.

    ca = make_ca()
    signer = make_leaf(ca, "Alice")                          # PDF / CMS signing (nonRepudiation, digitalSignature)
    tsa = make_leaf(ca, "Test TSA", purpose="timestamping", key_type="rsa")  # RFC 3161 TSA (EKU timeStamping)
    expired = make_leaf(ca, "Bob", valid_from=datetime(2020, 1, 1, tzinfo=timezone.utc), days=365)
    revocable = make_leaf(ca, "Carol", crl_url="http://crl.invalid/ca.crl")  # declares where its CRL is
    crl_der = make_crl(ca, [(revocable, datetime(2026, 1, 1, tzinfo=timezone.utc))])
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key (cryptography objects) and their PEM encodings."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    cert_pem: bytes
    key_pem: bytes

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_der(self) -> bytes:
        """PKCS#8 DER, what ``asn1crypto.keys.PrivateKeyInfo.load`` (and so pyHanko) reads."""
        return self.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def asn1(self):
        """The certificate as ``asn1crypto.x509.Certificate`` (pyHanko, certvalidator, vault.validation.trust)."""
        from asn1crypto import x509 as asn1_x509

        return asn1_x509.Certificate.load(self.cert_der)


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key(key_type: str):
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"key_type must be 'ec' or 'rsa', not {key_type!r}")


def _issued(cert: x509.Certificate, key) -> Issued:
    return Issued(cert, key, cert.public_bytes(serialization.Encoding.PEM),
                  key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))


def _window(valid_from: datetime | None, days: int) -> tuple[datetime, datetime]:
    start = valid_from or datetime.now(timezone.utc) - timedelta(days=1)
    return start, start + timedelta(days=days)


def make_ca(common_name: str = "vault test root CA", *, organization: str = "vault tests",
            valid_from: datetime | None = None, days: int = 3650, issuer: Issued | None = None,
            key_type: str = "ec") -> Issued:
    """A CA certificate: self-signed root, or an intermediate when ``issuer`` (another CA) is given."""
    key = _key(key_type)
    start, end = _window(valid_from, days)
    subject = _name(common_name, organization)
    signer_key = issuer.key if issuer else key
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
                              critical=False))
    return _issued(builder.sign(signer_key, hashes.SHA256()), key)


def make_leaf(ca: Issued, common_name: str = "vault test signer", *, purpose: str = "signing",
              organization: str = "vault tests", valid_from: datetime | None = None, days: int = 730,
              email: str | None = None, key_type: str = "ec", crl_url: str | None = None) -> Issued:
    """An end-entity certificate issued by ``ca``; ``purpose`` is ``signing``, ``timestamping`` (RFC 3161 §2.3)
    or ``server`` (TLS server for 127.0.0.1 and localhost, RFC 5280 §4.2.1.12 serverAuth)."""
    if purpose not in ("signing", "timestamping", "server"):
        raise ValueError(f"purpose must be 'signing', 'timestamping' or 'server', not {purpose!r}")
    key = _key(key_type)
    start, end = _window(valid_from, days)
    signing = purpose == "signing"
    builder = (x509.CertificateBuilder().subject_name(_name(common_name, organization))
               .issuer_name(ca.cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=signing, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False))
    if purpose == "timestamping":
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    if purpose == "server":
        builder = (builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                               x509.DNSName("localhost")]), critical=False))
    if email:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
    if crl_url:  # revocation checkers only look for a CRL when the certificate names one (RFC 5280 §4.2.1.13)
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return _issued(builder.sign(ca.key, hashes.SHA256()), key)


def make_crl(ca: Issued, revoked: list[tuple[Issued, datetime]] = (), *, this_update: datetime | None = None,
             days: int = 7) -> bytes:
    """A DER CRL signed by ``ca`` listing each (certificate, revocation date); RFC 5280 §5."""
    start = this_update or datetime.now(timezone.utc) - timedelta(hours=1)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject).last_update(start)
               .next_update(start + timedelta(days=days))
               .add_extension(x509.CRLNumber(1), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False))
    for issued, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(issued.cert.serial_number).revocation_date(when).build())
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
