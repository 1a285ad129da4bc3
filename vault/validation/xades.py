"""Offline validation of XML signatures: W3C XML Signature 1.1 (XMLDSig) and XAdES (ETSI EN 319 132-1), including
the XAdES-signed REM evidences of ETSI TS 102 640, with signxml on lxml.

Every ``ds:Signature`` in the document gets a verdict (ETSI TS 119 102-1 indications). Cryptography is signxml's:
the SignedInfo signature value, then each Reference's digest over the data signxml itself dereferenced and
transformed (XMLDSig 1.1 §3.2). XAdES checks (EN 319 132-1 clause 4 and §5.2.2) read only what signxml returned as
signed, and the node each Reference resolved to must sit where the standard puts it (a ``ds:Object`` child of this
signature; SignedProperties inside its QualifyingProperties), which defeats XML Signature Wrapping. Trust comes from
the configured anchors only; a signature timestamp (EN 319 132-1 §5.3, an RFC 3161 token) that verifies against
them is proof of existence and moves the validation time to its genTime.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import exceptions as crypto_exceptions, x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from signxml import SignatureConfiguration
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from vault.clock import iso_z
from vault.validation.etsi_report import signature_report
from vault.validation.pades import merge_reports
from vault.validation.steps import Step, step
from vault.validation.trust import ValidationContext
from vault.validation.verdicts import INDETERMINATE, INVALID, VALID, SignatureVerdict, Validation, unreadable
from vault.validation.xml_safety import (C14N, DS, XADES, XADES_NAMESPACES, SignatureVerifier, canonicalize,
                                         new_safe_parser, parse_xml_safely)
from vault_verify.tokens import CERTIFICATE_ERRORS, MAX_CHAIN, TokenError, parse_token, verify_token

__all__ = ["validate_xml", "parse_xml_safely"]

MAX_SIGNATURES = 32
MAX_REFERENCES = 64
MAX_KEY_CANDIDATES = 4
WORK_BUDGET = 256 * 1024 * 1024  # bytes parsed in all (signxml re-reads the document once per reference)
_SIGNATURE_METHODS = frozenset(m for m in SignatureMethod if not m.name.startswith("HMAC"))
_HASHLIB = {DigestAlgorithm.SHA1.value: "sha1", DigestAlgorithm.SHA224.value: "sha224",
            DigestAlgorithm.SHA256.value: "sha256", DigestAlgorithm.SHA384.value: "sha384",
            DigestAlgorithm.SHA512.value: "sha512", DigestAlgorithm.SHA3_224.value: "sha3_224",
            DigestAlgorithm.SHA3_256.value: "sha3_256", DigestAlgorithm.SHA3_384.value: "sha3_384",
            DigestAlgorithm.SHA3_512.value: "sha3_512"}
_DER = Encoding.DER
_NAMES = {NameOID.EMAIL_ADDRESS: "emailAddress", NameOID.SERIAL_NUMBER: "serialNumber", NameOID.GIVEN_NAME: "GN",
          NameOID.SURNAME: "SN", NameOID.TITLE: "title", NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier"}


def _ds(name: str) -> str:
    return f"{{{DS}}}{name}"


def _xades(name: str) -> str:
    return f"{{{XADES}}}{name}"


class _Stop(Exception):
    """Ends one signature's checks with a verdict (never escapes this module)."""

    def __init__(self, verdict: str, sub_indication: str, reason: str):
        super().__init__(reason)
        self.verdict, self.sub_indication, self.reason = verdict, sub_indication, reason


def validate_xml(data: bytes, ctx: ValidationContext) -> Validation:
    """A verdict for every ``ds:Signature`` in ``data``; never raises. Unreadable or unsafe XML (a DTD, too
    deep, too large, not well-formed) is one indeterminate verdict; XML without signatures has none."""
    try:
        root = parse_xml_safely(data)
    except ValueError as exc:
        return Validation([unreadable("xmldsig", "The file is not XML that can be read safely", exc, ctx.now)])
    except Exception as exc:  # noqa: BLE001 - a verdict, never an exception
        return Validation([unreadable("xmldsig", "The file could not be parsed", exc, ctx.now)])
    try:
        signatures = list(root.iter(_ds("Signature")))
        anchors = ctx.anchors.cryptography()
    except Exception as exc:  # noqa: BLE001
        return Validation([unreadable("xmldsig", "The file could not be read", exc, ctx.now)])
    budget, data = [WORK_BUDGET], bytes(data)  # signxml reads these same bytes: the signatures keep their order
    checked = [_validate_one(sig, index, data, ctx, anchors, budget)
               for index, sig in enumerate(signatures[:MAX_SIGNATURES])]
    verdicts, reports = [verdict for verdict, _report in checked], [report for _verdict, report in checked]
    if len(signatures) > MAX_SIGNATURES:
        verdicts.append(SignatureVerdict(
            "xmldsig", None, INDETERMINATE, f"The file holds {len(signatures)} signatures; only the first "
            f"{MAX_SIGNATURES} were checked.", ctx.now, {"sub_indication": "FORMAT_FAILURE"}))
        reports.append(None)
    return Validation(verdicts, merge_reports(reports))


def _validate_one(sig, index: int, data: bytes, ctx: ValidationContext, anchors: list,
                  budget: list) -> tuple[SignatureVerdict, str | None]:
    """The signature's verdict and its ETSI TS 119 102-2 report (None when none could be written)."""
    kind = "xmldsig"
    steps: list[Step] = []
    details: dict[str, Any] = {"steps": steps}
    signer = cert = chain = None
    when, proof = ctx.now, False
    try:
        qualifying = [q for obj in sig.findall(_ds("Object")) for ns in XADES_NAMESPACES
                      for q in obj.findall(f"{{{ns}}}QualifyingProperties")]
        kind = "xades" if qualifying else "xmldsig"
        _precheck(sig, steps, details)
        cost = len(data) * (len(sig.findall(f"{_ds('SignedInfo')}/{_ds('Reference')}")) + 2)
        if cost > budget[0]:
            raise _Stop(INDETERMINATE, "FORMAT_FAILURE", "The signature was not checked: the file is too large "
                        "for this many signatures and references.")
        budget[0] -= cost
        verifier, cert = _verify_cryptography(sig, index, data, steps)
        details["references"] = [{k: o[k] for k in ("uri", "type", "result", "detail") if o.get(k) is not None}
                                 for o in verifier.outcomes]
        if cert is not None:
            signer = _name(cert.subject)
        _check_references(verifier.outcomes, steps)
        if kind == "xades":
            details["signing_time"] = _check_xades(verifier.outcomes, qualifying, cert, steps)
        if cert is None:
            raise _Stop(INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND", "The signature is intact but was made with a "
                        "bare public key: no certificate identifies the signer.")
        when, proof = _proof_of_existence(sig, qualifying, ctx, anchors, steps)
        details["validation_time"] = iso_z(when)
        chain = _check_chain(cert, _file_certificates(sig, qualifying), anchors, when, proof, steps, details)
        reason = (f"The signature is intact and its certificate chains to a configured trust anchor "
                  f"({_name(chain[-1].subject)}), valid at {iso_z(when)}"
                  f"{' (signature timestamp)' if proof else ''}.")
        verdict = SignatureVerdict(kind, signer, VALID, reason, ctx.now, details)
    except _Stop as stop:
        details["sub_indication"] = stop.sub_indication
        details.setdefault("validation_time", iso_z(ctx.now))
        verdict = SignatureVerdict(kind, signer, stop.verdict, stop.reason, ctx.now, details)
    except Exception as exc:  # noqa: BLE001 - whatever signxml, lxml or cryptography raise on hostile input
        return unreadable(kind, f"Signature {index + 1} could not be checked", exc, ctx.now), None
    return verdict, _report(sig, verdict, cert, chain or [cert], when, proof)


def _report(sig, verdict: SignatureVerdict, cert, chain: list, when: datetime, proof: bool) -> str | None:
    """The ETSI TS 119 102-2 report of an XML signature: its DTBSR is the canonicalized SignedInfo, hashed with
    the signature method's digest; the signed data objects are named by the references in the JSON report."""
    try:
        signed_info = sig.find(_ds("SignedInfo"))
        method = _algorithm(signed_info, "SignatureMethod").lower()
        algorithm = next((name for name in ("sha512", "sha384", "sha256", "sha224", "sha1") if name in method
                          and "sha3" not in method), None)
        value = _strict_b64(sig.findtext(_ds("SignatureValue")))
        if cert is None or algorithm is None or value is None:
            return None
        claimed = verdict.details.get("signing_time")
        try:
            claimed_at = datetime.fromisoformat(claimed) if claimed else None
        except ValueError:
            claimed_at = None
        return signature_report(value, canonicalize(signed_info, _algorithm(signed_info, "CanonicalizationMethod")),
                                algorithm, None, verdict, _asn1(cert), [_asn1(c) for c in chain if c is not None],
                                when, proof, claimed_at)
    except Exception:  # noqa: BLE001 - the report is optional; it never changes a verdict
        return None


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(_DER))


def _precheck(sig, steps: list[Step], details: dict) -> None:
    """Algorithms and encodings before any cryptography: an unknown or unsupported algorithm, or a value that is
    not base64 (XMLDSig 1.1: SignatureValue and DigestValue are ``base64Binary``), makes the signature invalid."""
    signed_info = sig.find(_ds("SignedInfo"))
    if signed_info is None:
        raise _Stop(INDETERMINATE, "FORMAT_FAILURE", "The signature has no SignedInfo element.")
    method = _algorithm(signed_info, "SignatureMethod")
    details["signature_method"] = method
    if method not in {m.value for m in _SIGNATURE_METHODS}:
        raise _Stop(INVALID, "SIG_CRYPTO_FAILURE", f"The signature algorithm {method!r} is unknown or unsupported.")
    c14n = _algorithm(signed_info, "CanonicalizationMethod")
    if c14n not in C14N:
        raise _Stop(INVALID, "FORMAT_FAILURE", f"The canonicalization algorithm {c14n!r} is unknown or unsupported.")
    if _strict_b64(sig.findtext(_ds("SignatureValue"))) in (None, b""):
        raise _Stop(INVALID, "SIG_CRYPTO_FAILURE", "The signature value is missing or not base64.")
    references = signed_info.findall(_ds("Reference"))
    if not references:
        raise _Stop(INVALID, "FORMAT_FAILURE", "The signature has no Reference: it signs nothing.")
    if len(references) > MAX_REFERENCES:
        raise _Stop(INDETERMINATE, "FORMAT_FAILURE", f"The signature has {len(references)} references; more than "
                    f"{MAX_REFERENCES} are not checked.")
    for number, reference in enumerate(references, 1):
        digest = _algorithm(reference, "DigestMethod")
        if digest not in _HASHLIB:
            raise _Stop(INVALID, "HASH_FAILURE", f"Reference {number} uses the unknown or unsupported digest "
                        f"algorithm {digest!r}.")
        if _strict_b64(reference.findtext(_ds("DigestValue"))) in (None, b""):
            raise _Stop(INVALID, "HASH_FAILURE", f"The digest value of reference {number} is missing or not base64.")
    if "sha1" in method.lower() or any("sha1" in _algorithm(r, "DigestMethod") for r in references):
        steps.append(step("algorithms", "warning", "SHA-1 is used; accepted for signatures made before its "
                           "withdrawal, but weak"))
    steps.append(step("format", "passed", f"{len(references)} reference(s), {method}"))


def _verify_cryptography(sig, index: int, data: bytes, steps: list[Step]):
    """Run signxml on the original bytes with each candidate signing certificate (leaf first) until one key
    verifies the signature value; the certificate that does is the signing certificate."""
    certificates = _keyinfo_certificates(sig)
    if not certificates:
        if sig.find(f"{_ds('KeyInfo')}/{_ds('X509Data')}/{_ds('X509Certificate')}") is not None:
            raise _Stop(INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND", "The certificate in KeyInfo is not a "
                        "readable X.509 certificate, so no key can verify the signature.")
        if sig.find(f"{_ds('KeyInfo')}/{_ds('X509Data')}") is not None or sig.find(
                f"{_ds('KeyInfo')}/{_ds('KeyValue')}") is None:
            raise _Stop(INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND",
                        "The signing certificate is not in the file (KeyInfo holds no X509Certificate).")
    failures = []
    for cert in certificates[:MAX_KEY_CANDIDATES] or [None]:  # None: a bare KeyValue, intact or not, nobody named
        try:
            verifier = _run(index, data, cert)
        except crypto_exceptions.InvalidSignature as exc:  # signxml's, or cryptography's for a bare key
            failures.append(str(exc) or "the signature value does not verify")
            continue
        except ValueError as exc:  # signxml's InvalidInput, or undecodable KeyInfo content
            if cert is None or "does not match specified signature algorithm" not in str(exc):
                raise _Stop(INDETERMINATE, "FORMAT_FAILURE", f"The signature could not be processed: {exc}") from None
            failures.append(str(exc))
            continue
        steps.append(step("signature value", "passed",
                           f"verified with the key of {_name(cert.subject) if cert else 'KeyValue'}"))
        return verifier, cert
    steps.append(step("signature value", "failed", "; ".join(failures)[:500]))
    raise _Stop(INVALID, "SIG_CRYPTO_FAILURE", "The signature value does not verify with the key in KeyInfo: the "
                "signed information, the key or the certificate was changed after signing.")


def _run(index: int, data: bytes, cert):
    verifier = SignatureVerifier(index)
    config = SignatureConfiguration(
        require_x509=cert is not None, expect_references=True, signature_methods=_SIGNATURE_METHODS,
        digest_algorithms=frozenset(DigestAlgorithm),
        # Certificate validity is judged later at the right time (now, or a timestamp's genTime); signxml checks
        # it at the time given here, so give it one inside the certificate's own validity period.
        verification_time=cert.not_valid_before_utc if cert is not None else None,
        default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0)  # XMLDSig 1.1 §4.4.3.2
    verifier.verify(data, x509_cert=cert, parser=new_safe_parser(), validate_schema=False,
                    uri_resolver=verifier.external, expect_config=config)
    return verifier


def _check_references(outcomes: list[dict], steps: list[Step]) -> None:
    """XMLDSig 1.1 §3.2.1 reference validation: a changed object is invalid (HASH_FAILURE); one we cannot
    obtain, or that is not where the signature says, is indeterminate (SIGNED_DATA_NOT_FOUND)."""
    for number, outcome in enumerate(outcomes, 1):
        uri = outcome["uri"]
        if outcome["result"] == "digest mismatch":
            steps.append(step("references", "failed", f"reference {number} ({uri!r}) does not match its digest"))
            raise _Stop(INVALID, "HASH_FAILURE", f"The data signed by reference {number} (URI {uri!r}) was changed "
                        "after signing: its digest does not match.")
        if outcome.get("not_countersigned"):
            steps.append(step("references", "failed", outcome["not_countersigned"]))
            raise _Stop(INVALID, "HASH_FAILURE", "The counter-signature does not sign the SignatureValue of the "
                        f"signature it is attached to (reference {number} points to {outcome['not_countersigned']}).")
    for number, outcome in enumerate(outcomes, 1):
        uri = outcome["uri"]
        if outcome["result"] == "data not in the file":
            raise _Stop(INDETERMINATE, "SIGNED_DATA_NOT_FOUND",
                        f"The signed data referenced by URI {uri!r} is not in this file.")
        if outcome["result"] == "not resolved":
            raise _Stop(INDETERMINATE, "SIGNED_DATA_NOT_FOUND", f"The data signed by reference {number} (URI "
                        f"{uri!r}) could not be obtained: {outcome.get('detail', '')}".rstrip(": ") + ".")
        if outcome.get("misplaced"):
            outcome["result"] = "misplaced"
            raise _Stop(INDETERMINATE, "SIGNED_DATA_NOT_FOUND", f"Reference {number} (URI {uri!r}) resolves to "
                        f"an element outside its expected place ({outcome['misplaced']}): possible XML signature "
                        "wrapping.")
    steps.append(step("references", "passed", f"{len(outcomes)} reference(s) intact"))


def _check_xades(outcomes: list[dict], qualifying: list, cert, steps: list[Step]) -> str | None:
    """EN 319 132-1 clause 4 and §5.2.2: one QualifyingProperties; its SignedProperties covered by the signature;
    SigningCertificate(V2) naming the certificate that verified it. Returns the claimed SigningTime."""
    if len(qualifying) != 1:
        raise _Stop(INDETERMINATE, "FORMAT_FAILURE", f"The signature has {len(qualifying)} QualifyingProperties "
                    "elements; XAdES allows one.")
    signed = [o["signed"].signed_xml for o in outcomes
              if o.get("signed") is not None and o.get("node") == _xades("SignedProperties")]
    if not signed or signed[0] is None:
        steps.append(step("signed properties", "failed", "no reference covers xades:SignedProperties"))
        raise _Stop(INVALID, "FORMAT_FAILURE", "The XAdES SignedProperties are not covered by the signature.")
    if len([o for o in outcomes if o.get("node") != _xades("SignedProperties")]) == 0:
        raise _Stop(INDETERMINATE, "SIGNED_DATA_NOT_FOUND", "The signature covers its own properties but no data.")
    props = signed[0].find(_xades("SignedSignatureProperties"))
    signing_time = props.findtext(_xades("SigningTime")) if props is not None else None
    if cert is None:
        return signing_time
    ids = [] if props is None else [*props.findall(_xades("SigningCertificate")),
                                    *props.findall(_xades("SigningCertificateV2"))]
    der = cert.public_bytes(_DER)
    for cert_id in (c for node in ids for c in node.findall(_xades("Cert"))):
        algorithm = cert_id.find(f"{_xades('CertDigest')}/{_ds('DigestMethod')}")
        value = _strict_b64(cert_id.findtext(f"{_xades('CertDigest')}/{_ds('DigestValue')}"))
        name = _HASHLIB.get(algorithm.get("Algorithm") if algorithm is not None else None)
        if name and value and hashlib.new(name, der).digest() == value:
            steps.append(step("signing certificate", "passed", "SigningCertificate digest matches"))
            return signing_time
    steps.append(step("signing certificate", "failed", "no SigningCertificate digest matches the certificate "
                       "whose key verifies the signature" if ids else "no SigningCertificate(V2) property"))
    raise _Stop(INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND", "The signed SigningCertificate property does not "
                "identify the certificate whose key verifies the signature.")


def _proof_of_existence(sig, qualifying: list, ctx: ValidationContext, anchors: list, steps: list[Step]):
    """The earliest XAdES SignatureTimeStamp (EN 319 132-1 §5.3) that verifies against the anchors and covers
    this signature's SignatureValue: its genTime, else ``ctx.now``."""
    stamps = [] if len(qualifying) != 1 else qualifying[0].findall(
        f"{_xades('UnsignedProperties')}/{_xades('UnsignedSignatureProperties')}/{_xades('SignatureTimeStamp')}")
    value = sig.find(_ds("SignatureValue"))
    best = None
    for number, stamp in enumerate(stamps, 1):
        try:
            der = _strict_b64(stamp.findtext(_xades("EncapsulatedTimeStamp")))
            if not der:
                raise TokenError("no EncapsulatedTimeStamp")
            token = parse_token(der)
            # EN 319 132-1 §5.3: canonicalized ds:SignatureValue; Canonical XML 1.0 when no method is given
            canonical = canonicalize(value, _algorithm(stamp, "CanonicalizationMethod")
                                     or CanonicalizationMethod.CANONICAL_XML_1_0.value)
            imprint = hashlib.new(token.imprint_algorithm, canonical).digest()
            check = verify_token(token, anchors, expected_imprint=imprint, allow_sha1_signature=True)
        except (ValueError, TypeError, KeyError, *CERTIFICATE_ERRORS) as exc:  # TokenError, Unsupported too
            steps.append(step("signature timestamp", "failed", f"timestamp {number}: {exc}"[:300]))
            continue
        if not check.ok:
            failures = "; ".join(check.failure_details)
            steps.append(step("signature timestamp", "failed", f"timestamp {number}: {failures}"))
            continue
        steps.append(step("signature timestamp", "passed", f"timestamp {number}: genTime {iso_z(token.gen_time)}"))
        best = token.gen_time if best is None or token.gen_time < best else best
    return (best, True) if best is not None else (ctx.now, False)


def _check_chain(cert, pool: list, anchors: list, when: datetime, proof: bool, steps: list[Step], details: dict):
    """A path from the signing certificate to a configured anchor (the anchor itself, or issued by one, through
    CA certificates from the file), every certificate valid at ``when``. Revocation is not checked offline."""
    anchor_ders = {a.public_bytes(_DER) for a in anchors}
    chain, current = [cert], cert
    pool = [c for c in pool if c.public_bytes(_DER) != cert.public_bytes(_DER)]
    while current.public_bytes(_DER) not in anchor_ders:
        issuer = _issuer_of(current, anchors) or _issuer_of(current, pool, need_ca=True)
        if issuer is None or len(chain) > MAX_CHAIN:
            details["certificates"] = [_summary(c) for c in chain]
            steps.append(step("trust", "failed", f"no path to a configured anchor from {_name(current.subject)}"))
            raise _Stop(INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND", "The signing certificate does not chain to a "
                        "configured trust anchor.")
        chain.append(issuer)
        pool = [c for c in pool if c is not issuer]
        current = issuer
    details["certificates"] = [_summary(c) for c in chain]
    steps.append(step("trust", "passed", f"chain of {len(chain)} to anchor {_name(chain[-1].subject)}"))
    for member in chain:
        if when > member.not_valid_after_utc:
            steps.append(step("validity", "failed",
                               f"{_name(member.subject)} expired {iso_z(member.not_valid_after_utc)}"))
            why = (f"before the signature timestamp ({iso_z(when)})" if proof
                   else "and no valid signature timestamp proves the signature existed before")
            raise _Stop(INDETERMINATE, "OUT_OF_BOUNDS_NO_POE", f"The certificate {_name(member.subject)} expired on "
                        f"{iso_z(member.not_valid_after_utc)}, {why}.")
        if when < member.not_valid_before_utc:
            steps.append(step("validity", "failed", f"{_name(member.subject)} not valid before "
                               f"{iso_z(member.not_valid_before_utc)}"))
            raise _Stop(INDETERMINATE, "NOT_YET_VALID", f"The certificate {_name(member.subject)} was not yet valid "
                        f"at {iso_z(when)}.")
    steps.append(step("validity", "passed", f"every certificate valid at {iso_z(when)}; revocation not checked"))
    return chain


def _issuer_of(cert, candidates: list, need_ca: bool = False):
    """The candidate whose key signed ``cert`` and whose subject is its issuer (RFC 5280 §6.1.3 (a)(1), (a)(4))."""
    for candidate in candidates:
        try:
            if need_ca and not candidate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                continue
            cert.verify_directly_issued_by(candidate)
        except (x509.ExtensionNotFound, crypto_exceptions.InvalidSignature, TypeError, *CERTIFICATE_ERRORS):
            continue
        return candidate
    return None


def _keyinfo_certificates(sig) -> list:
    """KeyInfo's certificates, those that issued no other one (the leaf) first (XMLDSig 1.1 §4.5.4: no order)."""
    certs = _load_certificates(sig.findall(f"{_ds('KeyInfo')}/{_ds('X509Data')}/{_ds('X509Certificate')}"))
    issuers = {c.issuer.public_bytes() for c in certs if c.issuer != c.subject}
    return sorted(certs, key=lambda c: c.subject.public_bytes() in issuers)


def _file_certificates(sig, qualifying: list) -> list:
    """Candidate intermediates: KeyInfo's certificates and XAdES CertificateValues (never trusted by themselves)."""
    more = [] if len(qualifying) != 1 else qualifying[0].iter(_xades("EncapsulatedX509Certificate"))
    return _keyinfo_certificates(sig) + _load_certificates(more)


def _load_certificates(elements) -> list:
    certs = []
    for element in elements:
        der = _strict_b64(element.text)
        try:
            cert = x509.load_der_x509_certificate(der or b"")
            cert.subject, cert.issuer, cert.not_valid_after_utc  # parse now, fail here  # noqa: B018
        except (*CERTIFICATE_ERRORS, TypeError):
            continue
        certs.append(cert)
    return certs


def _algorithm(parent, name: str) -> str:
    element = parent.find(_ds(name))
    return (element.get("Algorithm") if element is not None else None) or ""


def _strict_b64(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string(_NAMES)
    except ValueError:
        return "<unreadable name>"


def _summary(cert) -> dict[str, Any]:
    return {"subject": _name(cert.subject), "issuer": _name(cert.issuer), "serial": format(cert.serial_number, "x"),
            "not_before": iso_z(cert.not_valid_before_utc), "not_after": iso_z(cert.not_valid_after_utc),
            "sha256": hashlib.sha256(cert.public_bytes(_DER)).hexdigest()}

