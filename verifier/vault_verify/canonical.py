"""RFC 8785 JSON Canonicalization Scheme for the values journal entries hold (no floating-point numbers).

Objects have their members sorted by the UTF-16 code units of their names (§3.2.3), strings are serialized as
ECMAScript's JSON.stringify does (§3.2.2.2: only ``"``, ``\\`` and control characters escaped, short forms where
they exist, lowercase ``\\u00xx`` otherwise), no whitespace, UTF-8 output. Integers are kept within the IEEE 754
exact range (§3.2.2.3); floats are refused because entries never need them.
"""

from __future__ import annotations

import json
from typing import Any

try:  # optional accelerator for replaying large journals; the standard library gives the same verdicts
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    orjson = None

MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalError(ValueError):
    pass


def _check(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise CanonicalError("strings must be valid Unicode (no lone surrogates)") from None
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalError(f"integer {value} is outside the I-JSON exact range")
        return value
    if isinstance(value, float):
        raise CanonicalError("floating-point numbers are not used in journal entries")
    if isinstance(value, (list, tuple)):
        return [_check(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise CanonicalError("object member names must be strings")
        for k in value:
            _check(k)  # valid Unicode, as values must be
        return {k: _check(value[k]) for k in sorted(value, key=lambda k: k.encode("utf-16-be"))}
    raise CanonicalError(f"{type(value).__name__} has no JSON form")


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 serialization of ``value`` as UTF-8 bytes."""
    fast = _orjson_canonical(value)
    if fast is not None:
        return fast
    return json.dumps(_check(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


_SCALARS = frozenset({str, int, bool, type(None)})


def _plain(value: Any, _dict=dict, _list=list, _scalars=_SCALARS) -> bool:
    """Only dicts, lists, strings, integers, booleans and None — what :func:`_check` accepts, floats excepted
    (orjson itself refuses non-string member names and lone surrogates)."""
    kind = type(value)
    if kind is _dict:
        items = value.values()
    elif kind is _list:
        items = value
    else:
        return kind in _scalars
    for item in items:
        kind = type(item)
        if kind is _dict or kind is _list:
            if not _plain(item):
                return False
        elif kind not in _scalars:
            return False
    return True


def _orjson_canonical(value: Any) -> bytes | None:
    """orjson's sorted compact output when it is provably the RFC 8785 one: plain values, integers within 2^53,
    no string needing an escape (no backslash in the output), no character beyond U+FFFF (member order)."""
    if orjson is None or not _plain(value):
        return None
    try:
        out = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER)
    except (orjson.JSONEncodeError, TypeError):
        return None
    if b"\\" in out or _has_supplementary(out):
        return None
    return out


def _no_float(text: str):
    raise CanonicalError("floating-point numbers are not used in journal entries")


def _exact_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise CanonicalError(f"integer {text} is outside the I-JSON exact range")
    return value


_decode = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float, parse_int=_exact_int).decode
_fast_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode
_BELOW_F0 = bytes(range(0xF0))


def _has_supplementary(data: bytes) -> bool:
    """True when ``data`` holds a 4-byte UTF-8 sequence (a character beyond U+FFFF), or invalid bytes ≥ 0xF0."""
    return bool(data.translate(None, _BELOW_F0))


def parse_canonical(data: bytes) -> Any:
    """Parse ``data`` and check that it is exactly its RFC 8785 serialization; raise CanonicalError otherwise.

    Fast path (C-accelerated json): sorting member names by code point equals sorting by UTF-16 code units when
    no name holds a character beyond U+FFFF, which the absence of 4-byte UTF-8 sequences guarantees; integers
    are range-checked while parsing. Anything else takes the full check.
    """
    try:
        document = _decode(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CanonicalError(f"not JSON: {exc}") from None
    if not _has_supplementary(data):
        try:
            if _fast_encode(document).encode("utf-8") == data:
                return document
        except (UnicodeEncodeError, ValueError):
            pass
    if canonical_json(document) != data:
        raise CanonicalError("not in RFC 8785 canonical form")
    return document


def _has_float(value: Any, _dict=dict, _list=list, _float=float) -> bool:
    kind = type(value)
    items = value.values() if kind is _dict else value if kind is _list else ()
    for item in items:
        kind = type(item)
        if kind is _float or ((kind is _dict or kind is _list) and _has_float(item)):
            return True
    return False


def _orjson_many(joined: bytes, count: int) -> list[Any] | None:
    """orjson's round trip equals RFC 8785's for what this admits: no escape in any string (no backslash), no
    character beyond U+FFFF (checked by the caller), integers within 2^53 (OPT_STRICT_INTEGER), no float."""
    if orjson is None or b"\\" in joined:
        return None
    try:
        documents = orjson.loads(joined)
        again = orjson.dumps(documents, option=orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, TypeError):
        return None
    if again == joined and len(documents) == count and not _has_float(documents):
        return documents
    return None


def parse_canonical_many(entries: list[bytes]) -> list[Any] | None:
    """Parse many entries at once when they are all canonical (one C-level decode and encode for the lot);
    None when any of them is not, or might not be: then check them one by one with :func:`parse_canonical`."""
    joined = b"[" + b",".join(entries) + b"]"
    if _has_supplementary(joined):
        return None
    documents = _orjson_many(joined, len(entries))
    if documents is not None:
        return documents
    try:
        documents = _decode(joined.decode("utf-8"))
        if len(documents) == len(entries) and _fast_encode(documents).encode("utf-8") == joined:
            return documents
    except (UnicodeError, ValueError):
        pass
    return None


def es_number(value: float) -> str:
    """ECMAScript Number::toString of a finite float (RFC 8785 §3.2.2.3): the shortest round-trip digits
    (Python's ``repr``), written in ES's positional or exponent form."""
    if value != value or value in (float("inf"), float("-inf")):
        raise CanonicalError("NaN and infinities have no JSON form")
    if value == 0:
        return "0"
    sign, text = ("-" if value < 0 else ""), repr(abs(value))
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    frac = frac.rstrip("0")
    if whole.strip("0"):
        digits, n = (whole.lstrip("0") + frac), len(whole.lstrip("0")) + int(exp or 0)
    else:
        digits, n = frac.lstrip("0"), int(exp or 0) - (len(frac) - len(frac.lstrip("0")))
    digits = digits.rstrip("0")
    k = len(digits)  # value = 0.<digits> × 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    return f"{sign}{digits[0]}{'.' + digits[1:] if k > 1 else ''}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


def canonical_json_any(value: Any) -> bytes:
    """RFC 8785 of any JSON value, floating-point numbers included (business metadata may hold them; journal
    entries never do and keep :func:`canonical_json`)."""
    if not _has_float([value]):
        return canonical_json(value)
    return _with_numbers(value).encode("utf-8")


def _with_numbers(value: Any) -> str:
    if isinstance(value, float):
        return es_number(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_with_numbers(v) for v in value) + "]"
    if isinstance(value, dict):
        names = sorted(value, key=lambda k: _check(k).encode("utf-16-be"))
        return "{" + ",".join(canonical_json(k).decode("utf-8") + ":" + _with_numbers(value[k]) for k in names) + "}"
    return canonical_json(value).decode("utf-8")
