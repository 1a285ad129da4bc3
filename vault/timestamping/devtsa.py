"""The built-in development TSA: an RFC 3161 responder with its own CA, for the embedded default only.

Its keys live under ``<data dir>/tsa/``; its certificates and every token name it "development, not qualified",
and its policy OID is :data:`DEVELOPMENT_POLICY`, so no report can pass its tokens off as qualified ones
(eIDAS art. 42). A real TSA replaces it by configuration (``VAULT_TSA_URLS`` and ``VAULT_TSA_ROOTS``).

Its root also issues a CRL (:meth:`DevelopmentTsa.crl`, ``GET /v1/tsa/crl``) so that the PDFs the archive signs can
carry the TSA certificate's revocation data (PAdES B-LT). TSA certificates name :data:`CRL_URL` as their CRL
distribution point: a stable name, not an address — it is never fetched (the archive embeds the CRL itself), so
the service can move without reissuing certificates. TSA certificates issued before that have no distribution
point; the CRL still covers them (same issuer), for validators that require revocation data.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from asn1crypto import algos, cms, core, tsp, x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vault_verify.der import der_sequence
from vault_verify.tokens import DEVELOPMENT_LABEL, DEVELOPMENT_POLICY  # the policy and OU our tokens carry

from vault.storage.private import make_private_dir, write_private

TSA_VALIDITY = timedelta(days=365 * 10)
ROTATE_BEFORE = timedelta(days=365)
CRL_URL = "http://vault.invalid/tsa/crl"  # the CRL distribution point named in TSA certificates; never fetched
CRL_VALIDITY = timedelta(days=7)  # nextUpdate - thisUpdate; a new CRL is issued after half of it
ACCEPTED_IMPRINTS = {"sha256": 32, "sha384": 48, "sha512": 64, "sha3_256": 32, "sha3_384": 48, "sha3_512": 64}


@dataclass
class DevelopmentTsa:
    """Signs TimeStampReqs with an EC P-256 key whose certificate chains to a local root (RFC 3161 §2.4).

    The TSA certificate is valid 10 years and replaced by a new key and certificate one year before it expires,
    as an operator would do with a real TSA, so that timestamp renewals always get a token that outlives the
    previous one.
    """

    directory: Path
    root: x509.Certificate
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    now: Callable[[], datetime]
    _lock: threading.Lock
    _crl: tuple[bytes, datetime] | None = field(default=None, repr=False)  # (DER, when to issue the next one)
    policy: str = DEVELOPMENT_POLICY  # SANDBOX_POLICY in a sandbox (VAULT_SANDBOX): its clock is moved at will

    @classmethod
    def load_or_create(cls, directory: Path, now: Callable[[], datetime],
                       policy: str = DEVELOPMENT_POLICY) -> "DevelopmentTsa":
        """Load the CA and TSA keys from ``directory``, creating them (root 30 y, TSA 10 y) on first use."""
        make_private_dir(directory)
        if not (directory / "tsa.pem").exists():
            _create_root(directory, now())
            _issue_tsa(directory, now())
        root, cert, key = _load(directory)
        if cert.public_key() != key.public_key():  # a rotation stopped between writing the key and the cert
            _issue_tsa(directory, now())
            root, cert, key = _load(directory)
        return cls(directory, root, cert, key, now, threading.Lock(), policy=policy)

    def _rotate_if_expiring(self, now: datetime) -> None:
        if now >= self.certificate.not_valid_after_utc - ROTATE_BEFORE:
            _issue_tsa(self.directory, now)
            self.root, self.certificate, self.key = _load(self.directory)

    def crl(self) -> bytes:
        """A DER CRL (RFC 5280 §5) of the root: nothing revoked, valid 7 days, reissued after half of that."""
        with self._lock:
            now = self.now().astimezone(timezone.utc)
            if self._crl is None or not (self._crl[1] - CRL_VALIDITY / 2 <= now < self._crl[1]):
                self._crl = (_issue_crl(self.directory, self.root, now), now + CRL_VALIDITY / 2)
            return self._crl[0]

    @property
    def roots_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def respond(self, request_der: bytes) -> bytes:
        """Answer a DER TimeStampReq with a DER TimeStampResp (RFC 3161 §2.4.2); bad requests get a rejection."""
        try:
            request = tsp.TimeStampReq.load(request_der, strict=True)
            imprint = request["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            policy = request["req_policy"].dotted if request["req_policy"].native else self.policy
            nonce = request["nonce"].native
            cert_req = bool(request["cert_req"].native)
            version = request["version"].native
        except (ValueError, TypeError, KeyError):
            return _rejection("bad_data_format", "not a DER TimeStampReq")
        if version != "v1":
            return _rejection("bad_request", "TimeStampReq version must be 1")
        if ACCEPTED_IMPRINTS.get(algorithm) != len(digest):
            return _rejection("bad_alg", f"hash algorithm {algorithm} not accepted or imprint length wrong")
        if policy != self.policy:
            return _rejection("unaccepted_policy", f"this TSA only issues under its policy {self.policy}")
        with self._lock:  # one clock reading per token, so genTimes are monotonic
            self._rotate_if_expiring(self.now())
            token = self._sign(imprint, nonce, cert_req)
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()

    def _sign(self, imprint: tsp.MessageImprint, nonce: int | None, cert_req: bool) -> cms.ContentInfo:
        gen_time = self.now().astimezone(timezone.utc)
        tst_info = tsp.TSTInfo({
            "version": "v1",
            "policy": self.policy,
            "message_imprint": imprint,
            "serial_number": int.from_bytes(os.urandom(15), "big"),
            "gen_time": gen_time,
            "accuracy": {"seconds": 1},
            "ordering": False,
            "nonce": nonce,
            "tsa": asn1_x509.GeneralName(
                name="directory_name",
                value=asn1_x509.Name.load(self.certificate.subject.public_bytes()),
            ),
        })
        content = tst_info.dump()
        cert_der = self.certificate.public_bytes(serialization.Encoding.DER)
        attrs = cms.CMSAttributes([
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
            {"type": "signing_certificate_v2", "values": [{
                "certs": [{"cert_hash": hashlib.sha256(cert_der).digest()}],
            }]},
        ])
        signature = self.key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256()))
        issuer = asn1_x509.Name.load(self.certificate.issuer.public_bytes())
        signer_info = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value={
                "issuer": issuer, "serial_number": self.certificate.serial_number}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": signature,
        })
        signed = cms.SignedData({
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
            "certificates": [asn1_x509.Certificate.load(cert_der)] if cert_req else None,
            "signer_infos": [signer_info],
        })
        return cms.ContentInfo({"content_type": "signed_data", "content": signed})


def _rejection(fail: str, text: str) -> bytes:
    """TimeStampResp with only a PKIStatusInfo (RFC 3161 §2.4.2): asn1crypto insists on a token, so frame it here."""
    status = tsp.PKIStatusInfo({"status": "rejection", "status_string": [text],
                                "fail_info": tsp.PKIFailureInfo({fail})})
    return der_sequence(status.dump())


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vault"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEVELOPMENT_LABEL),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _load(directory: Path):
    root = x509.load_pem_x509_certificate((directory / "root.pem").read_bytes())
    cert = x509.load_pem_x509_certificate((directory / "tsa.pem").read_bytes())
    key = serialization.load_pem_private_key((directory / "tsa.key").read_bytes(), password=None)
    return root, cert, key


def _create_root(directory: Path, now: datetime) -> None:
    start = now - timedelta(days=1)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"vault development TSA root {secrets.token_hex(4)}")
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    # A development CA keeps its key next to it so that it can issue the next TSA certificate; a real TSA's CA
    # never would, which is one more reason why these tokens are "development, not qualified".
    _write(directory / "root.key", root_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _write(directory / "root.pem", root.public_bytes(pem))


def _issue_tsa(directory: Path, now: datetime) -> None:
    root = x509.load_pem_x509_certificate((directory / "root.pem").read_bytes())
    root_key = serialization.load_pem_private_key((directory / "root.key").read_bytes(), password=None)
    start = now - timedelta(days=1)
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (
        x509.CertificateBuilder().subject_name(_name("vault development TSA")).issuer_name(root.subject)
        .public_key(tsa_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(min(start + TSA_VALIDITY, root.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(CRL_URL)], relative_name=None, reasons=None, crl_issuer=None)]),
            critical=False)
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write(directory / "tsa.key", tsa_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _write(directory / "tsa.pem", tsa.public_bytes(pem))  # written last: its presence means "complete"


def _issue_crl(directory: Path, root: x509.Certificate, now: datetime) -> bytes:
    """An empty CRL signed by the root key; its number is the issue time in seconds, so it only ever grows."""
    root_key = serialization.load_pem_private_key((directory / "root.key").read_bytes(), password=None)
    this_update = now.replace(microsecond=0)
    crl = (
        x509.CertificateRevocationListBuilder().issuer_name(root.subject)
        .last_update(this_update).next_update(this_update + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(int(this_update.timestamp())), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.DER)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    write_private(tmp, data)  # certificates too: the data directory is private as a whole
    os.replace(tmp, path)
