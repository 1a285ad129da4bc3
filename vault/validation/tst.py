"""Verdicts on RFC 3161 timestamps deposited as files: a TimeStampResp (``.tsr``) or a bare TimeStampToken.

The token is checked by the archive's own strict verifier (:func:`vault_verify.tokens.verify_token`) against
the configured anchors only, at the token's genTime (point-in-time validation: the TSA chain must have been valid
when the token says it was made). The TSA certificate is the one the SignerInfo's sid names and the ESS
signing-certificate(-v2) attribute hashes to: other certificates in the token's bag are never taken as the signer.
A token made with certReq false carries no certificate; a configured anchor that the sid names is used instead.

Failures map to ETSI TS 119 102-1 indications: a broken signature, an ESS reference to another certificate or a
message imprint that differs from the covered data is ``invalid``; no chain to an anchor, a certificate out of its
validity at genTime, an unknown TSA certificate, an algorithm or structure we do not accept is ``indeterminate``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from vault.clock import iso_z
from vault.timestamping.client import TimeStampResp
from vault.validation.steps import step
from vault.validation.trust import ValidationContext
from vault.validation.verdicts import (
    INDETERMINATE,
    INVALID,
    VALID,
    SignatureVerdict,
    Validation,
    unreadable,
)
from vault_verify.tokens import (
    TimestampToken,
    TokenError,
    parse_token,
    verify_token,
)

KIND = "rfc3161"
GRANTED = ("granted", "granted_with_mods")

# verify_token failure messages (their leading words) -> (verdict, ETSI TS 119 102-1 sub-indication).
# A failure not listed here is indeterminate: never valid, and never invalid without a reason we understand.
_FAILURES: tuple[tuple[str, str, str], ...] = (
    ("message imprint does not match", INVALID, "HASH_FAILURE"),
    ("message-digest attribute does not match", INVALID, "HASH_FAILURE"),
    ("TSA signature does not verify", INVALID, "SIG_CRYPTO_FAILURE"),
    ("ESSCertIDv2 does not identify", INVALID, "SIG_CRYPTO_FAILURE"),
    ("ESSCertID does not identify", INVALID, "SIG_CRYPTO_FAILURE"),
    ("signed content-type attribute", INVALID, "SIG_CRYPTO_FAILURE"),
    ("TSA signing certificate is not in the token", INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND"),
    ("TSA certificate does not chain", INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND"),
    ("certificate chain too long", INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND"),
    ("certificate ", INDETERMINATE, "OUT_OF_BOUNDS_NO_POE"),  # "certificate <name> was not valid at genTime"
    ("root ", INDETERMINATE, "OUT_OF_BOUNDS_NO_POE"),
    ("TSA certificate has no extendedKeyUsage", INDETERMINATE, "CHAIN_CONSTRAINTS_FAILURE"),
    ("TSA certificate extendedKeyUsage", INDETERMINATE, "CHAIN_CONSTRAINTS_FAILURE"),
    ("signer digest algorithm", INDETERMINATE, "CRYPTO_CONSTRAINTS_FAILURE"),
    ("no signing-certificate attribute", INDETERMINATE, "SIG_CONSTRAINTS_FAILURE"),
)
NOT_IN_TOKEN = "the TSA certificate is not in the token; configure it as an anchor"


def validate_timestamp(data: bytes, ctx: ValidationContext, covered: bytes | None = None) -> Validation:
    """One verdict for the token in ``data`` (a TimeStampResp or a bare TimeStampToken); never raises.

    ``covered`` is the data the token is said to timestamp: when given, its hash must be the message imprint.
    """
    try:
        return Validation([_validate(data, ctx, covered)])
    except Exception as exc:  # noqa: BLE001 - a verdict is data: whatever the bytes do to the parsers, say so
        return Validation([unreadable(KIND, "timestamp token could not be read", exc, ctx.now)])


def _validate(data: bytes, ctx: ValidationContext, covered: bytes | None) -> SignatureVerdict:
    token_der, form, early = _extract_token(bytes(data), ctx.now)
    if early is not None:
        return early
    try:
        token = parse_token(token_der)
    except TokenError as exc:
        return unreadable(KIND, f"not an RFC 3161 timestamp token ({form})", exc, ctx.now)

    anchors = ctx.anchors.cryptography()
    details: dict[str, Any] = {
        "format": form,
        "gen_time": iso_z(token.gen_time),
        "validation_time": iso_z(token.gen_time),
        "policy": token.policy,
        "serial": str(token.serial_number),
        "imprint_algorithm": token.imprint_algorithm,
        "imprint": token.imprint.hex(),
    }
    if token.nonce is not None:
        details["nonce"] = str(token.nonce)

    expected_imprint, imprint_problem = None, None
    if covered is not None:
        try:
            expected_imprint = hashlib.new(token.imprint_algorithm, covered).digest()
        except (ValueError, TypeError):
            imprint_problem = f"imprint algorithm {token.imprint_algorithm} is not known: imprint not compared"
    details["imprint_checked"] = expected_imprint is not None

    # allow_sha1_signature: check the signature anyway, so that a broken one is invalid; a SHA-1 one that verifies
    # is indeterminate below (SHA-1 no longer protects a signature: ETSI TS 119 312), never valid
    result = verify_token(token, anchors, expected_imprint=expected_imprint, allow_sha1_signature=True,
                          extra_certificates=anchors)
    signer = token.signer_certificate(anchors)
    failures = list(result.failure_details)
    steps = [step(_check_name(f), "failed", f) for f in failures]
    steps += [step("note", "info", n) for n in result.notes]
    if imprint_problem:
        steps.append(step("message imprint", "not checked", imprint_problem))
    details["steps"] = steps

    subject = None
    if signer is not None:
        subject = _name(signer)
        in_token = any(c.public_bytes(Encoding.DER) == signer.public_bytes(Encoding.DER) for c in token.certificates)
        details["tsa_certificate"] = {**_describe(signer), "source": "token" if in_token else "configured anchors"}
        chain_ders = {c.public_bytes(Encoding.DER) for c in [signer, *result.chain]}
        others = [c for c in token.certificates if c.public_bytes(Encoding.DER) not in chain_ders]
        if others:  # carried in the token but not part of the path: never the signer, reported for the record
            details["other_certificates"] = [
                {k: v for k, v in _describe(c).items() if k in ("subject", "issuer", "sha256")} for c in others]
    if result.chain:
        details["certificates"] = [_describe(c) for c in result.chain]

    verdict, sub, reason = _classify(failures, token, subject, covered is not None, imprint_problem,
                                     any("SHA-1" in n for n in result.notes))
    if sub:
        details["sub_indication"] = sub
    return SignatureVerdict(KIND, subject, verdict, reason, ctx.now, details)


def _extract_token(data: bytes, now: datetime) -> tuple[bytes, str, SignatureVerdict | None]:
    """The token DER and what the file was; or a verdict when it is a response without a token."""
    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].native == "signed_data":
            return data, "TimeStampToken", None
    except (ValueError, TypeError, KeyError):
        pass
    try:
        response = TimeStampResp.load(data, strict=True)
        status = response["status"]
        status_name = status["status"].native
    except (ValueError, TypeError, KeyError) as exc:
        return b"", "", unreadable(KIND, "neither a TimeStampResp nor a TimeStampToken", exc, now)
    token = response["time_stamp_token"]
    if status_name in GRANTED and token.native is not None:
        return token.dump(), "TimeStampResp", None
    text = "; ".join(status["status_string"].native or []) if status["status_string"].native else ""
    fail_info = sorted(status["fail_info"].native or []) if status["fail_info"].native else []
    what = f"TSA answered {status_name}" + (f" ({text})" if text else "") + (
        f" [{', '.join(fail_info)}]" if fail_info else "")
    reason = (f"{what}: the response carries no timestamp token" if token.native is None
              else f"{what}: a token in a response that was not granted is not a timestamp (RFC 3161 §2.4.2)")
    details = {"format": "TimeStampResp", "status": status_name, "status_string": text, "fail_info": fail_info,
               "sub_indication": "FORMAT_FAILURE"}
    return b"", "TimeStampResp", SignatureVerdict(KIND, None, INDETERMINATE, reason, now, details)


def _classify(failures: list[str], token: TimestampToken, subject: str | None, covered: bool,
              imprint_problem: str | None, sha1: bool) -> tuple[str, str | None, str]:
    graded = [(_grade(f), f) for f in failures]
    invalid = [(sub, f) for (verdict, sub), f in graded if verdict == INVALID]
    if invalid:
        return INVALID, invalid[0][0], "; ".join(f for _, f in invalid)
    if graded:
        sub = graded[0][0][1]
        reasons = [NOT_IN_TOKEN if s == "NO_SIGNING_CERTIFICATE_FOUND" else f for (_, s), f in graded]
        return INDETERMINATE, sub, "; ".join(reasons)
    if sha1:
        return (INDETERMINATE, "CRYPTO_CONSTRAINTS_FAILURE",
                f"token signed by {subject} verifies, but over SHA-1, which no longer protects a signature")
    if imprint_problem:
        return INDETERMINATE, "FORMAT_FAILURE", f"token signed by {subject} verifies, but {imprint_problem}"
    base = (f"token signed by {subject}, chain to a configured anchor valid at genTime "
            f"{iso_z(token.gen_time)}")
    if covered:
        return VALID, None, f"{base}; message imprint matches the covered data"
    return VALID, None, f"{base}; imprint not compared: the covered data was not supplied"


def _grade(failure: str) -> tuple[str, str]:
    for prefix, verdict, sub in _FAILURES:
        if failure.startswith(prefix):
            return verdict, sub
    return INDETERMINATE, "FORMAT_FAILURE"


def _check_name(failure: str) -> str:
    sub = _grade(failure)[1]
    return {"HASH_FAILURE": "message imprint" if failure.startswith("message imprint") else "message digest",
            "SIG_CRYPTO_FAILURE": "signature", "NO_SIGNING_CERTIFICATE_FOUND": "signing certificate",
            "NO_CERTIFICATE_CHAIN_FOUND": "certificate chain", "OUT_OF_BOUNDS_NO_POE": "certificate validity",
            "CHAIN_CONSTRAINTS_FAILURE": "TSA certificate", "CRYPTO_CONSTRAINTS_FAILURE": "algorithm",
            "SIG_CONSTRAINTS_FAILURE": "signing certificate"}.get(sub, "structure")


def _name(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:
        return "(unreadable name)"


def _describe(cert: x509.Certificate) -> dict[str, Any]:
    return {
        "subject": _name(cert),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": str(cert.serial_number),
        "not_before": iso_z(cert.not_valid_before_utc),
        "not_after": iso_z(cert.not_valid_after_utc),
        "sha256": hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
    }
