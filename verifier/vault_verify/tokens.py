"""RFC 3161 timestamp tokens: parse one and verify it strictly, offline, against given trust roots.

A token is a CMS ContentInfo holding SignedData (RFC 5652) over a TSTInfo (RFC 3161 §2.4.2). Verification is
a list of named checks; :func:`verify_token` returns every failure instead of raising, so a caller can say
exactly which step broke (the pyHanko habit). Revocation is not checked: tokens are checked at their genTime
against the roots configured for the archive, which is what RFC 4998 §5.3 asks of an evidence-record verifier.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Iterable, Sequence

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from vault_verify.report import Report

# The built-in development TSA of vault (vault.timestamping.devtsa) signs under this UUID-based OID (ITU-T X.667,
# arc 2.25, "vault development TSA policy, not qualified") with a certificate whose OU is DEVELOPMENT_LABEL:
# verifiers name such tokens so that no report passes them off as qualified ones (eIDAS art. 42).
DEVELOPMENT_POLICY = "2.25.238423958339152453347385061519612624170"
DEVELOPMENT_LABEL = "development, not qualified"
# The same TSA in a sandbox instance (VAULT_SANDBOX, issue #23) signs under this sub-arc: its clock is moved at will.
SANDBOX_POLICY = DEVELOPMENT_POLICY + ".1"
SANDBOX_LABEL = "SANDBOX — no probative value"


def policy_note(policy: str) -> str | None:
    """What a verifier says of a token under one of vault's own TSA policies (None: another TSA's policy)."""
    if policy == SANDBOX_POLICY:
        return f"a sandbox TSA ({SANDBOX_LABEL}, {DEVELOPMENT_LABEL})"
    return f"a {DEVELOPMENT_LABEL} TSA" if policy == DEVELOPMENT_POLICY else None
TIMESTAMPING = ExtendedKeyUsageOID.TIME_STAMPING
_HASHES = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
    "sha512": hashes.SHA512, "sha3_256": hashes.SHA3_256, "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}
MAX_CHAIN = 8
# What cryptography may raise while it lazily parses a damaged certificate.
CERTIFICATE_ERRORS = (ValueError, UnsupportedAlgorithm, x509.DuplicateExtension, x509.InvalidVersion)
_DER = Encoding.DER


class TokenError(ValueError):
    """The bytes are not a timestamp token at all (not parsable, not SignedData over a TSTInfo)."""


@dataclass(frozen=True)
class TimestampToken:
    """The parts of a token that callers use; ``der`` is the ContentInfo exactly as received."""

    der: bytes
    content_info: cms.ContentInfo
    tst_info: tsp.TSTInfo
    gen_time: datetime
    imprint_algorithm: str
    imprint: bytes
    policy: str
    serial_number: int
    nonce: int | None
    certificates: tuple[x509.Certificate, ...]

    @property
    def signer_info(self) -> cms.SignerInfo:
        return self.content_info["content"]["signer_infos"][0]

    def signer_certificate(self, extra: Sequence[x509.Certificate] = ()) -> x509.Certificate | None:
        """The TSA certificate the SignerInfo names, or None when it is absent or unreadable.

        ``extra`` are certificates known out of band (configured ones), looked at after the token's own: a token
        requested with certReq false carries none (RFC 3161 §2.4.1). When several certificates match the
        SignerInfo's sid, the one the ESS signing-certificate attribute hashes to is preferred.
        """
        try:
            info = self.signer_info
            return _find_signer(info["sid"], [*self.certificates, *extra], _ess_reference(info))
        except CERTIFICATE_ERRORS:  # cryptography parses names and extensions lazily
            return None


def parse_token(der: bytes) -> TimestampToken:
    """Parse a TimeStampToken (RFC 3161 §2.4.2); raises :class:`TokenError` when it is not one."""
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise TokenError("not a CMS SignedData")
        signed = info["content"]
        eci = signed["encap_content_info"]
        if eci["content_type"].native != "tst_info":
            raise TokenError("SignedData does not hold a TSTInfo")
        tst = eci["content"].parsed
        if not isinstance(tst, tsp.TSTInfo):
            tst = tsp.TSTInfo.load(eci["content"].contents)
        imprint = tst["message_imprint"]
        try:
            certs = tuple(
                x509.load_der_x509_certificate(c.chosen.dump())
                for c in (signed["certificates"] or [])
                if c.name == "certificate"
            )
        except (ValueError, x509.InvalidVersion) as exc:
            raise TokenError(f"a certificate in the token is not valid DER ({exc})") from None
        if len(signed["signer_infos"]) != 1:
            raise TokenError("a timestamp token has exactly one SignerInfo (RFC 3161 §2.4.2)")
        gen_time = tst["gen_time"].native
        if gen_time is None or gen_time.tzinfo is None:
            raise TokenError("genTime is not a UTC GeneralizedTime (RFC 3161 §2.4.2)")
        return TimestampToken(
            der=der,
            content_info=info,
            tst_info=tst,
            gen_time=gen_time,
            imprint_algorithm=imprint["hash_algorithm"]["algorithm"].native,
            imprint=imprint["hashed_message"].native,
            policy=tst["policy"].dotted,
            serial_number=tst["serial_number"].native,
            nonce=tst["nonce"].native,
            certificates=certs,
        )
    except TokenError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TokenError(f"not a parsable timestamp token: {exc}") from None


# The named steps of :func:`verify_token`, in the order they run.
STRUCTURE = "token structure"  # RFC 5652 §5.1, §5.3: what the signature does not cover
IMPRINT, NONCE, POLICY = "message imprint", "nonce", "TSA policy"  # RFC 3161 §2.4.2
SIGNER = "TSA signing certificate"  # RFC 5652 §5.3 sid, or a given certificate
SIGNATURE = "TSA signature"  # RFC 5652 §5.4, signed attributes of RFC 3161 §2.4.1 and RFC 5816
TSA_CERTIFICATE = "TSA certificate"  # RFC 3161 §2.3: critical timeStamping EKU
PATH = "certificate path"  # to a given root, every certificate valid at genTime


@dataclass
class TokenReport(Report):
    """Outcome of :func:`verify_token`: a :class:`~vault_verify.report.Report` of the steps above, each failed
    one with its reason (:attr:`failure_details`), and ``chain``, the path from the TSA certificate to a root
    when one was found."""

    token: TimestampToken | None = None
    chain: list[x509.Certificate] = field(default_factory=list)


def verify_token(
    token: TimestampToken,
    roots: Sequence[x509.Certificate] | None,
    *,
    expected_imprint: bytes | None = None,
    expected_nonce: int | None = None,
    accepted_policies: Iterable[str] | None = None,
    allow_sha1_signature: bool = False,
    extra_certificates: Sequence[x509.Certificate] = (),
) -> TokenReport:
    """Check a token: CMS structure and signature, ESS signing certificate, the TSA certificate's critical
    timeStamping EKU (RFC 3161 §2.3), the imprint and nonce we expect, and — when ``roots`` is given — a
    certificate path from the TSA certificate to one of them, every certificate valid at genTime.
    ``extra_certificates`` may supply the TSA certificate when the token does not carry it.
    """
    report = TokenReport(token=token)
    ran = [STRUCTURE]
    _check_structure(report, token)
    if expected_imprint is not None:
        ran.append(IMPRINT)
        if token.imprint != expected_imprint:
            report.fail(IMPRINT, "message imprint does not match the hashed data")
    if expected_nonce is not None:
        ran.append(NONCE)
        if token.nonce != expected_nonce:
            report.fail(NONCE, "nonce in the response is not the one sent")
    if accepted_policies is not None:
        ran.append(POLICY)
        if token.policy not in set(accepted_policies):
            report.fail(POLICY, f"TSA policy {token.policy} is not an accepted one")
    signer = token.signer_certificate(extra_certificates)
    if signer is None:
        report.fail(SIGNER, "TSA signing certificate is not in the token, or cannot be read")
        return report
    ran += [SIGNER, SIGNATURE, TSA_CERTIFICATE]
    try:
        _check_signature(token, signer, partial(report.fail, SIGNATURE),
                         partial(report.note, name=SIGNATURE) if allow_sha1_signature else None)
    except (TypeError, KeyError, AttributeError, *CERTIFICATE_ERRORS) as exc:  # asn1crypto is lazy too
        report.fail(STRUCTURE, f"token SignedData cannot be read: {exc}")
    try:
        _check_tsa_certificate(signer, partial(report.fail, TSA_CERTIFICATE))
        if roots is None:
            report.note("trust not checked: no TSA roots given", PATH)
        else:
            ran.append(PATH)
            _check_chain(signer, token, roots, report)
    except CERTIFICATE_ERRORS as exc:  # cryptography parses extensions and keys lazily
        report.fail(TSA_CERTIFICATE, f"a certificate cannot be read: {exc}")
    for name in ran:
        report.passed(name)
    return report


def _check_structure(report: TokenReport, token: TimestampToken) -> None:
    """SignedData version 3 or later for a TSTInfo (RFC 5652 §5.1), and the fields no signature covers."""
    signed = token.content_info["content"]
    if signed["version"].native not in ("v3", "v4", "v5"):
        report.fail(STRUCTURE, f"SignedData version is {signed['version'].native}, must be v3 or later for a "
                    "TSTInfo (RFC 5652 §5.1)")
    try:
        _check_unsigned_framing(signed, token.signer_info, partial(report.fail, STRUCTURE))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        report.fail(STRUCTURE, f"token SignedData cannot be read: {exc}")


def _check_unsigned_framing(signed: cms.SignedData, info: cms.SignerInfo, fail) -> None:
    """What the signature does not cover but RFC 5652 fixes: SignerInfo version 1 with an issuer and serial
    number, 3 with a subject key identifier (§5.3), and the signer's digest algorithm listed in SignedData's
    digestAlgorithms (§5.1). A change there would otherwise go unseen."""
    version, sid = info["version"].native, info["sid"].name
    if (version, sid) not in (("v1", "issuer_and_serial_number"), ("v3", "subject_key_identifier")):
        fail(f"SignerInfo version {version} does not go with a {sid} signer identifier (RFC 5652 §5.3)")
    listed = {a["algorithm"].dotted for a in signed["digest_algorithms"]}
    if info["digest_algorithm"]["algorithm"].dotted not in listed:
        fail("SignedData digestAlgorithms does not list the signer's digest algorithm (RFC 5652 §5.1)")
    for algorithm in [*signed["digest_algorithms"], info["digest_algorithm"]]:
        if not hash_parameters_ok(algorithm):
            fail(f"digest algorithm {algorithm['algorithm'].native} has parameters other than absent or NULL "
                 "(RFC 5754 §2, RFC 8702 §2)")
            break


def hash_parameters_ok(algorithm) -> bool:
    """A hash AlgorithmIdentifier's parameters are absent or NULL (RFC 5754 §2; SHA-3: absent, RFC 8702 §2)."""
    return algorithm["parameters"].dump() in (b"", b"\x05\x00")


def _find_signer(sid: cms.SignerIdentifier, certs: Sequence[x509.Certificate],
                 ess: tuple[str, bytes] | None = None) -> x509.Certificate | None:
    """The certificate ``sid`` names; among several (same issuer and serial, or same key identifier), the one
    whose hash is the ESS reference ``ess`` (algorithm, hash), else the first."""
    matches = []
    for cert in certs:
        try:
            if _matches_sid(sid, cert):
                matches.append(cert)
        except CERTIFICATE_ERRORS:  # an unreadable certificate in the bag is not the signer; look at the others
            continue
    if ess is not None:
        for cert in matches:
            if hashlib.new(ess[0], cert.public_bytes(_DER)).digest() == ess[1]:
                return cert
    return matches[0] if matches else None


def _matches_sid(sid: cms.SignerIdentifier, cert: x509.Certificate) -> bool:
    if sid.name == "issuer_and_serial_number":
        want = sid.chosen
        return (cert.serial_number == want["serial_number"].native
                and cert.issuer.public_bytes() == want["issuer"].dump())
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return False
    return ski == sid.chosen.native


def _ess_reference(info: cms.SignerInfo) -> tuple[str, bytes] | None:
    """(hash algorithm, certificate hash) of the first ESSCertID(v2) in the signed attributes, or None."""
    try:
        by_type = {a["type"].native: a["values"] for a in (info["signed_attrs"] or [])}
        if "signing_certificate_v2" in by_type:
            ess = by_type["signing_certificate_v2"][0]["certs"][0]
            alg = ess["hash_algorithm"]["algorithm"].native
            return (alg, ess["cert_hash"].native) if alg in _HASHES else None
        if "signing_certificate" in by_type:
            return "sha1", by_type["signing_certificate"][0]["certs"][0]["cert_hash"].native
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        pass
    return None


def _check_signature(token: TimestampToken, signer: x509.Certificate, fail, sha1_note) -> None:
    """The signed attributes and the TSA's signature over them (RFC 5652 §5.4, RFC 3161 §2.4.1, ESS of RFC 5816);
    a SHA-1 signature digest is refused unless ``sha1_note`` is given (then noted)."""
    info = token.signer_info
    signed = token.content_info["content"]
    digest_name = info["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES or (digest_name == "sha1" and sha1_note is None):
        fail(f"signer digest algorithm {digest_name} is not accepted")
        return
    if digest_name == "sha1":
        sha1_note("token signed over SHA-1 (accepted for a token made before SHA-1 was withdrawn)")
    attrs = info["signed_attrs"]
    if not attrs:
        fail("SignerInfo has no signed attributes (RFC 3161 §2.4.1 needs them)")
        return
    by_type = {a["type"].native: a["values"] for a in attrs}
    content = signed["encap_content_info"]["content"]
    content_bytes = content.contents
    if by_type.get("content_type") is None or by_type["content_type"][0].native != "tst_info":
        fail("signed content-type attribute is not id-ct-TSTInfo")
    expected = hashlib.new(digest_name, content_bytes).digest()
    md = by_type.get("message_digest")
    if md is None or md[0].native != expected:
        fail("message-digest attribute does not match the TSTInfo")
    cert_der = signer.public_bytes(_DER)
    if "signing_certificate_v2" in by_type:
        ess = by_type["signing_certificate_v2"][0]["certs"][0]
        alg = ess["hash_algorithm"]["algorithm"].native
        if hashlib.new(alg, cert_der).digest() != ess["cert_hash"].native:
            fail("ESSCertIDv2 does not identify the signing certificate")
    elif "signing_certificate" in by_type:
        ess = by_type["signing_certificate"][0]["certs"][0]
        if hashlib.sha1(cert_der).digest() != ess["cert_hash"].native:
            fail("ESSCertID does not identify the signing certificate")
    else:
        fail("no signing-certificate attribute (RFC 3161 §2.4.1, RFC 5816)")
    # The signed attributes as stored (RFC 5652 §5.4 signs their SET OF encoding). Reading a DEFAULT field above
    # (an ESSCertIDv2 without hashAlgorithm) makes asn1crypto re-encode the whole SET on every dump, some
    # milliseconds per token; a fresh lazy parse of the token hands back the stored bytes at once. The re-encoded
    # form, when it differs (BER input), is still tried as before.
    stored = cms.ContentInfo.load(token.der)["content"]["signer_infos"][0]["signed_attrs"].dump()
    try:
        try:
            _verify_raw(signer.public_key(), info["signature_algorithm"], digest_name,
                        info["signature"].native, b"\x31" + stored[1:])
        except InvalidSignature:
            reencoded = attrs.dump()
            if reencoded == stored:
                raise
            _verify_raw(signer.public_key(), info["signature_algorithm"], digest_name,
                        info["signature"].native, b"\x31" + reencoded[1:])
    except InvalidSignature:
        fail("TSA signature does not verify")
    except (ValueError, TypeError, KeyError, UnsupportedAlgorithm) as exc:
        fail(f"TSA signature cannot be checked: {exc}")


def _verify_raw(key, sig_alg, digest_name: str, signature: bytes, data: bytes) -> None:
    algo = sig_alg.signature_algo
    if isinstance(key, rsa.RSAPublicKey):
        if algo == "rsassa_pss":
            params = sig_alg["parameters"]
            h = _HASHES[params["hash_algorithm"]["algorithm"].native]()
            key.verify(signature, data, padding.PSS(padding.MGF1(h), params["salt_length"].native), h)
        else:
            key.verify(signature, data, padding.PKCS1v15(), _HASHES[digest_name]())
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(_HASHES[digest_name]()))
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(signature, data)
    else:
        raise ValueError(f"unsupported key type {type(key).__name__}")


def _check_tsa_certificate(cert: x509.Certificate, fail) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        fail("TSA certificate has no extendedKeyUsage (RFC 3161 §2.3)")
        return
    if TIMESTAMPING not in eku.value:
        fail("TSA certificate extendedKeyUsage lacks timeStamping (RFC 3161 §2.3)")
    if not eku.critical:
        fail("TSA certificate extendedKeyUsage is not critical (RFC 3161 §2.3)")


def _valid_at(cert: x509.Certificate, when: datetime) -> bool:
    return cert.not_valid_before_utc <= when <= cert.not_valid_after_utc


def _check_chain(signer: x509.Certificate, token: TimestampToken, roots: Sequence[x509.Certificate],
                 report: TokenReport) -> None:
    """A path from ``signer`` to one of ``roots``, every certificate valid at genTime (RFC 5280 §6.1, checked at
    the token's time as RFC 4998 §5.3 asks); its certificates go to ``report.chain``."""
    when = token.gen_time
    path = [signer]
    current = signer
    pool = [c for c in token.certificates if c != signer]
    root_ders = {r.public_bytes(_DER) for r in roots}
    for _ in range(MAX_CHAIN):
        if not _valid_at(current, when):
            report.fail(PATH, f"certificate {current.subject.rfc4514_string()} was not valid at genTime "
                              f"{when.isoformat()}")
            return
        if current.public_bytes(_DER) in root_ders:
            report.chain = path
            return
        issuer = _issuer_of(current, roots) or _issuer_of(current, pool, need_ca=True)
        if issuer is None:
            report.fail(PATH, "TSA certificate does not chain to a trusted root "
                              f"({current.issuer.rfc4514_string()} unknown)")
            return
        if issuer.public_bytes(_DER) in root_ders:
            if not _valid_at(issuer, when):
                report.fail(PATH, f"root {issuer.subject.rfc4514_string()} was not valid at genTime "
                                  f"{when.isoformat()}")
                return
            report.chain = [*path, issuer]
            return
        path.append(issuer)
        pool = [c for c in pool if c != issuer]
        current = issuer
    report.fail(PATH, "certificate chain too long")


def _issuer_of(cert: x509.Certificate, candidates: Iterable[x509.Certificate], need_ca: bool = False):
    for candidate in candidates:
        if candidate.subject != cert.issuer:
            continue
        if need_ca and not _is_ca(candidate):
            continue
        if _signed_by(cert, candidate):
            return candidate
    return None


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """The certificate's signature verifies under the issuer's key (RFC 5280 §6.1.3 (a)(1)).

    Unlike ``verify_directly_issued_by`` this accepts SHA-1 signatures, which older CA certificates carry and a
    verifier of decades-old timestamps must still check.
    """
    key = issuer.public_key()
    params = cert.signature_algorithm_parameters
    algorithm = cert.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, params, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def load_pem_roots(pem: bytes) -> list[x509.Certificate]:
    """Certificates from a PEM bundle; raises ValueError when it holds none."""
    certs = x509.load_pem_x509_certificates(pem)
    if not certs:
        raise ValueError("no certificate in the PEM data")
    return certs

