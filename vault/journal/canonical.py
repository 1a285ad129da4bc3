"""RFC 8785 JSON Canonicalization Scheme for the values journal entries hold (no floating-point numbers).

Objects have their members sorted by the UTF-16 code units of their names (§3.2.3), strings are serialized as
ECMAScript's JSON.stringify does (§3.2.2.2: only ``"``, ``\\`` and control characters escaped, short forms where
they exist, lowercase ``\\u00xx`` otherwise), no whitespace, UTF-8 output. Integers are kept within the IEEE 754
exact range (§3.2.2.3); floats are refused because entries never need them.
"""

from __future__ import annotations

import json
from typing import Any

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
        return {k: _check(value[k]) for k in sorted(value, key=lambda k: k.encode("utf-16-be"))}
    raise CanonicalError(f"{type(value).__name__} has no JSON form")


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 serialization of ``value`` as UTF-8 bytes."""
    return json.dumps(_check(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
