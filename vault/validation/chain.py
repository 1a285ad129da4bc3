"""The certificate chain of a signer or a TSA at a proven time, offline, with pyHanko's certvalidator: the X.509
validation building block of ETSI TS 119 102-1 (§5.2.6), used by the PDF (:mod:`vault.validation.pades`) and
S/MIME (:mod:`vault.validation.smime`) checks.

Only the operator's anchors are trusted; the file's certificates and revocation data only help. Nothing is
fetched; revocation data that is missing or inconclusive does not fail the check (soft-fail, recorded as a step).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pyhanko.sign.ades.report import AdESIndeterminate, AdESPassed, AdESStatus
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext as CertContext
from pyhanko_certvalidator.policy_decl import (CertRevTrustPolicy, FreshnessReqType, RevocationCheckingPolicy,
                                               RevocationCheckingRule)
from pyhanko_certvalidator.registry import SimpleTrustManager

from vault.clock import iso_z
from vault.validation.pdf_certs import Material
from vault.validation.steps import step
from vault.validation.trust import ValidationContext
from vault.validation.verdicts import INDETERMINATE, INVALID, VALID

# TS 119 102-1 allows any key usage that permits signing; pyHanko's default requires nonRepudiation alone
KEY_USAGE = KeyUsageConstraints(key_usage={"non_repudiation", "digital_signature"}, match_all_key_usages=False)
# Soft-fail, offline: revocation data in the file is used to find a revocation on or before the validation time,
# but its age is not held against the signature (nothing fresher can be fetched; pyHanko's plain "soft-fail"
# would turn an old OCSP response into TRY_LATER when validating at the current time).
_SOFT = RevocationCheckingRule.CHECK_IF_DECLARED_SOFT
REVOCATION = CertRevTrustPolicy(
    RevocationCheckingPolicy(_SOFT, _SOFT),
    freshness=timedelta(days=365 * 100), freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION)
NO_REVOCATION = CertRevTrustPolicy(RevocationCheckingPolicy(RevocationCheckingRule.NO_CHECK,
                                                           RevocationCheckingRule.NO_CHECK))
SOFT_FAIL = {"TRY_LATER", "CERTIFICATE_CHAIN_GENERAL_FAILURE"}  # what inconclusive revocation data looks like
TRUST_REASONS = {  # TS 119 102-1 §5.1.3 sub-indications, explained; {who}: signer's/TSA, {what}: signature/timestamp
    "NO_CERTIFICATE_CHAIN_FOUND": "the {who} certificate does not chain to a configured trust anchor",
    "OUT_OF_BOUNDS_NO_POE": "the {who} certificate was expired or not yet valid at {at} and no valid timestamp "
                            "proves the {what} existed earlier",
    "OUT_OF_BOUNDS_NOT_REVOKED": "the {who} certificate was outside its validity period at {at}",
    "REVOKED_NO_POE": "the {who} certificate was revoked and no timestamp proves the {what} predates the revocation",
    "REVOKED_CA_NO_POE": "a CA certificate in the {who} chain was revoked and no timestamp proves the {what} is older",
    "REVOKED": "the {who} certificate was revoked before the {what} was made",
    "CRYPTO_CONSTRAINTS_FAILURE": "the {what} or its certificate chain uses an algorithm that is not accepted "
                                  "(e.g. SHA-1, or a digest its key type does not allow)",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "the {what} or its certificate chain uses an algorithm no longer accepted "
                                         "at {at}, and no timestamp proves it is older",
    "CHAIN_CONSTRAINTS_FAILURE": "the {who} certificate chain violates path constraints (key usage, basic "
                                 "constraints or policies)",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "the {who} certificate chain could not be validated at {at}: a CA "
                                         "certificate expired or does not verify, or revocation data is inconsistent",
    "TRY_LATER": "no revocation information for the {who} certificate is fresh enough for {at}",
    "NO_POE": "the {who} certificate chain needs a proof of existence that the file does not provide",
    "NOT_YET_VALID": "the {who} certificate was not yet valid when the {what} was proven to exist ({at})",
    "EXPIRED": "the {who} certificate had expired before the {what} was proven to exist",
}
HORIZONS = {"OUT_OF_BOUNDS_NO_POE": "certificate expired", "CERTIFICATE_CHAIN_GENERAL_FAILURE": "date reported",
            "REVOKED_NO_POE": "revoked", "REVOKED_CA_NO_POE": "revoked", "REVOKED": "revoked",
            "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "algorithm banned since", "TRY_LATER": "last usable"}


def cert_context(material: Material, ctx: ValidationContext, moment: datetime, revocation=None) -> CertContext:
    """Only the operator's anchors are trusted; the file's certificates and revocation data only help."""
    return CertContext(trust_manager=SimpleTrustManager.build(trust_roots=list(ctx.anchors.certificates)),
                       other_certs=material.certs, crls=material.crls, ocsps=material.ocsps, moment=moment,
                       best_signature_time=moment, allow_fetching=False, revinfo_policy=revocation or REVOCATION)


def trust_verdict(status, who: str, at: datetime, steps) -> tuple[Any, str, str]:
    """(sub-indication, verdict, reason) of the certificate check at ``at`` (TS 119 102-1 §5.2.6)."""
    if status.trusted:
        steps.append(step(f"{who} certificate chain", "passed", f"at {iso_z(at)}"))
        return AdESPassed.OK, VALID, ""
    sub = status.trust_problem_indic or AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND
    template = TRUST_REASONS.get(sub.name, "the {who} certificate check ended with " + sub.name)
    cert = getattr(status, "signing_cert", None)
    if sub.name == "CHAIN_CONSTRAINTS_FAILURE" and cert is not None and cert.self_signed in ("yes", "maybe"):
        # certvalidator's verdict on a self-signed end entity that is not an anchor: no chain, in ETSI terms
        sub, template = AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND, "the {who} certificate is self-signed and " \
                                                                      "is not a configured trust anchor"
    what = "timestamp" if who == "TSA" else "signature"
    why = template.format(who=who, what=what, at=iso_z(at))
    horizon = getattr(status, "error_time_horizon", None)
    if horizon is not None:
        why += f" ({HORIZONS.get(sub.name, 'relevant date')} {iso_z(horizon)})"
    steps.append(step(f"{who} certificate chain", "failed", f"{sub.name}: {why}"))
    return sub, INVALID if sub.status == AdESStatus.FAILED else INDETERMINATE, why


def soft_failed(status) -> bool:  # untrusted only because the revocation data was inconclusive (maybe)
    return status is not None and not status.trusted and getattr(status.trust_problem_indic, "name", None) in SOFT_FAIL


def usable_timestamp(stamp) -> bool:  # a timestamp that proves its genTime
    return stamp is not None and stamp.intact and stamp.valid and stamp.trusted


async def validated(validate, material, ctx, at, steps, who, first=None):
    """``validate(context)`` at ``at``; if the file's revocation data was inconclusive (not a revocation), the
    check is repeated without it (soft-fail), and that is recorded as a step."""
    status = first if first is not None else await validate(cert_context(material, ctx, at))
    if not soft_failed(status):
        return status
    again = await validate(cert_context(material, ctx, at, NO_REVOCATION))
    if not again.trusted:
        return status
    steps.append(step(f"{who} revocation", "indeterminate", "the revocation data in the "
                  f"file was inconclusive at {iso_z(at)} ({status.trust_problem_indic.name}); soft-fail"))
    return again
