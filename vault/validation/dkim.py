"""Verdicts on the DKIM signatures of a deposited e-mail (RFC 6376; Ed25519 keys per RFC 8463).

Each ``DKIM-Signature`` header field gets a verdict from dkimpy's verifier. Public keys come only from the key
records supplied with the deposit (:attr:`ValidationContext.dkim_records`, captured when the mail was sent): the
lookup function handed to dkimpy reads that mapping and nothing else, so validation never touches the network.

Time: DKIM's ``x=`` bounds the time at which a signature may be verified (RFC 6376 §3.5), and ``t=`` must not be in
the verifier's future. The archive validates at deposit, so both are compared with ``ctx.now`` (the deposit time),
not with the wall clock: the verdict kept at deposit is the evidence; re-validating later with a later ``now``
would find a signature with ``x=`` expired (indeterminate), which is why the deposit-time verdict matters. Like
dkimpy, a leeway of 10 hours is allowed for senders' clocks. dkimpy checks both tags against ``time.time()`` inside
``DKIM.verify``, so this module runs the same steps as ``verify`` (``validate_signature_fields`` without ``t=``/``x=``,
then ``DKIM.verify_sig``) with the time checks done here.

Verdicts: a body hash or signature that does not verify, or a key record that revokes the key (empty ``p=``), is
``invalid``. A missing or unusable key record, an expired or future signature, a malformed signature field, a
signature algorithm no longer trusted (``rsa-sha1``, RFC 8301) or a key type this installation cannot check
(Ed25519 where PyNaCl, a dependency, is missing) is ``indeterminate``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from vault.clock import iso_z
from vault.validation.trust import ValidationContext
from vault.validation.verdicts import (
    INDETERMINATE,
    INVALID,
    VALID,
    SignatureVerdict,
    Validation,
    unreadable,
)

KIND = "dkim"
KEY_SOURCE = "supplied with the deposit"
CLOCK_LEEWAY = timedelta(hours=10)  # dkimpy's slop for t= and x=
MIN_RSA_BITS = 1024  # RFC 8301 §3.2: verifiers must accept 1024-bit keys and may refuse smaller ones
_KEY_TYPES = {b"rsa-sha256": b"rsa", b"rsa-sha1": b"rsa", b"ed25519-sha256": b"ed25519"}

_log = logging.getLogger("vault.validation.dkim.dkimpy")  # dkimpy logs key problems at error level: keep them here
_log.addHandler(logging.NullHandler())
_log.propagate = False


def validate_dkim(data: bytes, ctx: ValidationContext) -> Validation:
    """One verdict per DKIM-Signature header field, topmost first; an empty list when there is none. Never raises."""
    message = bytes(data)
    try:
        headers = dkim.DKIM(message, logger=_log).headers
    except Exception as exc:  # noqa: BLE001 - dkimpy raises MessageFormatError (and worse) on non-messages
        if b"dkim-signature" not in message.lower():
            return Validation([])
        return Validation([unreadable(KIND, "the message could not be parsed", exc, ctx.now)])
    signatures = [value for name, value in headers if name.lower() == b"dkim-signature"]
    lookup = _lookup(ctx.dkim_records)
    verdicts = []
    for idx in range(len(signatures)):
        try:
            verdicts.append(_verify_one(message, idx, ctx, lookup))
        except Exception as exc:  # noqa: BLE001 - a verdict is data, whatever dkimpy does with odd input
            verdicts.append(unreadable(KIND, f"DKIM-Signature #{idx + 1} could not be checked", exc, ctx.now))
    return Validation(verdicts)


def _lookup(records: Mapping[str, str]) -> Callable[..., bytes | None]:
    """dkimpy's ``dnsfunc``: answers from the supplied records only (never DNS)."""
    table = {_dns_name(name): value for name, value in dict(records or {}).items()}

    def dnsfunc(name, timeout: float = 5) -> bytes | None:
        value = table.get(_dns_name(name))
        if value is None:
            return None
        return value.encode("utf-8") if isinstance(value, str) else bytes(value)

    return dnsfunc


def _dns_name(name: str | bytes) -> str:
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return name.strip().rstrip(".").lower()


def _text(value: bytes | None) -> str | None:
    return None if value is None else re.sub(r"\s+", " ", value.decode("utf-8", "replace")).strip()


Outcome = tuple[str, str, str | None]  # (verdict, reason, ETSI TS 119 102-1 sub-indication) of a failing step


def _verify_one(message: bytes, idx: int, ctx: ValidationContext, lookup) -> SignatureVerdict:
    """One DKIM-Signature, verified in the steps of RFC 6376 §6.1 (header field, public key, verification), then
    judged at the validation time; the first step that fails gives the verdict."""
    signer_dkim = dkim.DKIM(message, logger=_log, minkey=MIN_RSA_BITS)
    sig_header = [h for h in signer_dkim.headers if h[0].lower() == b"dkim-signature"][idx]
    details: dict[str, Any] = {"index": idx, "key_source": KEY_SOURCE, "validation_time": iso_z(ctx.now),
                               "bh": "not checked", "signature": "not checked"}
    try:
        sig = parse_tag_value(sig_header[1])
    except InvalidTagValueList as exc:
        return _verdict(details, ctx, None, INDETERMINATE, f"DKIM-Signature is not a tag=value list: {exc!r}",
                        "FORMAT_FAILURE")
    signer = _read_tags(sig, details)
    outcome = (_check_header_field(sig, details)
               or _check_public_key(sig, details, lookup)
               or _compute_verification(signer_dkim, sig, sig_header, lookup, details)
               or _check_acceptable(sig, ctx))
    if outcome is None:
        outcome = (VALID, _valid_reason(signer_dkim, sig, details), None)
    return _verdict(details, ctx, signer, *outcome)


def _verdict(details: dict, ctx: ValidationContext, signer: str | None, result: str, reason: str,
             sub: str | None = None) -> SignatureVerdict:
    if sub:
        details["sub_indication"] = sub
    return SignatureVerdict(KIND, signer, result, reason, ctx.now, details)


def _read_tags(sig: dict[bytes, bytes], details: dict) -> str | None:
    """The tags a report shows (RFC 6376 §3.5) into ``details``; the signer (``d=``, with ``i=``) or None."""
    d, s, i, a = (sig.get(k) for k in (b"d", b"s", b"i", b"a"))
    details.update({"d": _text(d), "s": _text(s), "i": _text(i), "a": _text(a), "c": _text(sig.get(b"c")),
                    "h": [h for h in re.split(r"\s*:\s*", _text(sig.get(b"h")) or "") if h]})
    return _text(d) + (f" (i={_text(i)})" if i else "") if d else None


def _check_header_field(sig: dict[bytes, bytes], details: dict) -> Outcome | None:
    """RFC 6376 §6.1.1, validate the signature header field: the tags dkimpy checks, with ``t=``/``x=`` read here
    (compared with the validation time later, see the module docstring), ``i=`` and ``l=``."""
    times, problem = _times(sig)
    details.update({k: iso_z(v) for k, v in times.items()})
    i = sig.get(b"i")
    if not problem and i is not None and b"@" not in i:  # RFC 6376 §3.5; dkimpy's own check indexes past the end
        problem = "i= is not [local-part]@domain"
    if problem:
        return INDETERMINATE, f"malformed DKIM-Signature: {problem}", "FORMAT_FAILURE"
    try:
        dkim.validate_signature_fields({k: v for k, v in sig.items() if k not in (b"t", b"x")})
    except dkim.ValidationError as exc:
        return INDETERMINATE, f"malformed DKIM-Signature: {exc}", "FORMAT_FAILURE"
    if b"l" in sig:
        if not sig[b"l"].strip().isdigit():
            return INDETERMINATE, "malformed DKIM-Signature: l= is not a number", "FORMAT_FAILURE"
        details["l"] = int(sig[b"l"])
    return None


def _check_public_key(sig: dict[bytes, bytes], details: dict, lookup) -> Outcome | None:
    """RFC 6376 §6.1.2, get the public key: only from the records supplied with the deposit; a revoked key (empty
    ``p=``) is invalid, an absent, unusable or mismatched one (``k=`` against ``a=``) indeterminate."""
    s, d, a = _text(sig.get(b"s")), _text(sig.get(b"d")), sig.get(b"a")
    record_name = f"{s}._domainkey.{d}"
    details["key_record"] = record_name
    record = lookup(record_name)
    if record is None:
        return (INDETERMINATE, f"no public key for s={s} d={d} was supplied with the deposit",
                "NO_SIGNING_CERTIFICATE_FOUND")
    try:
        _pk, bits, key_type, _tlsrpt = dkim.evaluate_pk(record_name, record)
    except dkim.NaClNotFoundError:
        details["key_type"] = "ed25519"
        return (INDETERMINATE, "Ed25519 DKIM keys (RFC 8463) need PyNaCl, which is not installed here",
                "CRYPTO_CONSTRAINTS_FAILURE")
    except dkim.KeyFormatError as exc:
        if _revoked(record):
            return INVALID, f"the key record for s={s} d={d} revokes the key (empty p=)", "REVOKED"
        return INDETERMINATE, f"the supplied key record {record_name} is unusable: {exc}", "FORMAT_FAILURE"
    details.update({"key_type": key_type.decode(), "key_bits": bits})
    if _KEY_TYPES.get(a) != key_type:
        return (INDETERMINATE, f"the supplied key is k={key_type.decode()} but the signature is a={_text(a)}: it "
                "cannot be checked with this key", "FORMAT_FAILURE")
    return None


def _compute_verification(signer_dkim, sig: dict[bytes, bytes], sig_header, lookup, details: dict) -> Outcome | None:
    """RFC 6376 §6.1.3, compute the verification: the body hash (``bh=``), then the signature over the signed
    header fields, by dkimpy with the supplied key."""
    include_headers = [h.lower() for h in re.split(rb"\s*:\s*", sig[b"h"].strip()) if h]
    try:
        ok = signer_dkim.verify_sig(dict(sig), include_headers, sig_header, lookup)
    except dkim.ValidationError as exc:
        if "body hash mismatch" in str(exc):
            details["bh"] = "fail"
            return INVALID, "the body hash does not match the body (bh=): the body was changed", "HASH_FAILURE"
        return INDETERMINATE, f"DKIM-Signature cannot be checked: {exc}", "SIG_CONSTRAINTS_FAILURE"
    except dkim.KeyFormatError as exc:
        details["bh"] = "pass"
        return INDETERMINATE, f"the supplied key is not acceptable: {exc}", "CRYPTO_CONSTRAINTS_FAILURE"
    except dkim.DKIMException as exc:
        return INDETERMINATE, f"DKIM-Signature cannot be checked: {exc}", "FORMAT_FAILURE"
    details["bh"] = "pass"
    details["signature"] = "pass" if ok else "fail"
    if not ok:
        return (INVALID, "the signature over the signed header fields does not verify with the supplied key: a "
                "signed header was changed, or the key is not the signer's", "SIG_CRYPTO_FAILURE")
    return None


def _check_acceptable(sig: dict[bytes, bytes], ctx: ValidationContext) -> Outcome | None:
    """A signature that verifies, judged at the validation time: not ``rsa-sha1`` (RFC 8301 §3.1), not expired
    (``x=``) and not from the future (``t=``) (RFC 6376 §3.5), with dkimpy's clock leeway."""
    times, _problem = _times(sig)
    if sig.get(b"a") == b"rsa-sha1":
        return (INDETERMINATE, "the signature verifies but uses rsa-sha1, which verifiers must not consider valid "
                "(RFC 8301)", "CRYPTO_CONSTRAINTS_FAILURE")
    if "expires" in times and times["expires"] + CLOCK_LEEWAY < ctx.now:
        return (INDETERMINATE, f"the signature verifies but expired at {iso_z(times['expires'])} (x=), before the "
                f"validation time {iso_z(ctx.now)}", "OUT_OF_BOUNDS_NO_POE")
    if "signing_time" in times and times["signing_time"] > ctx.now + CLOCK_LEEWAY:
        return (INDETERMINATE, f"the signature verifies but claims to be made at {iso_z(times['signing_time'])} "
                f"(t=), after the validation time {iso_z(ctx.now)}", "SIG_CONSTRAINTS_FAILURE")
    return None


def _valid_reason(signer_dkim, sig: dict[bytes, bytes], details: dict) -> str:
    """The reason of a valid verdict, saying when ``l=`` leaves part of the body unsigned (RFC 6376 §8.2)."""
    reason = f"DKIM signature of {_text(sig.get(b'd'))} verifies with the key {KEY_SOURCE} (s={_text(sig.get(b's'))})"
    if b"l" in sig:
        body_length = len(dkim.CanonicalizationPolicy.from_c_value(sig.get(b"c", b"simple/simple"))
                          .canonicalize_body(signer_dkim.body))
        covered = min(int(sig[b"l"]), body_length)
        details["coverage"] = {"body_bytes_signed": covered, "body_bytes": body_length}
        if covered < body_length:
            reason += f"; only the first {covered} of {body_length} canonical body bytes are signed (l=)"
    return reason


def _times(sig: dict[bytes, bytes]) -> tuple[dict[str, datetime], str | None]:
    times: dict[str, datetime] = {}
    for tag, name in ((b"t", "signing_time"), (b"x", "expires")):
        if tag in sig:
            if re.fullmatch(rb"\d{1,12}", sig[tag]) is None:
                return times, f"{tag.decode()}= is not a decimal number of seconds"
            times[name] = datetime.fromtimestamp(int(sig[tag]), timezone.utc)
    if "signing_time" in times and "expires" in times and times["expires"] < times["signing_time"]:
        return times, "x= is before t="
    return times, None


def _revoked(record: bytes) -> bool:
    try:
        tags = parse_tag_value(record if isinstance(record, bytes) else record.encode())
    except InvalidTagValueList:
        return False
    return b"p" in tags and tags[b"p"].strip() == b""
