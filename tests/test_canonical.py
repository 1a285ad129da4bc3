"""RFC 8785 canonical JSON, checked against the RFC's own examples and the rfc8785 reference package if present."""

from __future__ import annotations

import pytest

from vault.journal.canonical import CanonicalError, canonical_json


def test_member_order_is_by_utf16_code_units():
    # RFC 8785 §3.2.3 sorting example (names only; values are integers here)
    value = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
    text = canonical_json(value).decode()
    order = [text.index(f'":{n}') for n in (2, 4, 6, 7, 1, 5, 3)]
    assert order == sorted(order)


def test_string_escapes_follow_ecmascript():
    assert canonical_json("\u20ac$\u000f\nA'B\"\\\\\"/") == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()
    assert canonical_json({"b": [True, None, 0, -7], "a": {}}) == b'{"a":{},"b":[true,null,0,-7]}'


@pytest.mark.parametrize("bad", [1.5, float("nan"), 2**53, {1: "x"}, "\ud800", object()])
def test_refused_values(bad):
    with pytest.raises(CanonicalError):
        canonical_json(bad)


def test_agrees_with_the_reference_implementation():
    rfc8785 = pytest.importorskip("rfc8785", reason="the rfc8785 package is not installed")
    samples = [{"seq": 3, "actor": "k1", "objects": ["a", "b"], "detail": {"z": 1, "é": "ü", "A": [None, True]}},
               {"\U0001f600": "\u2028", "\x7f": "\x00\x1f"}]
    for sample in samples:
        assert canonical_json(sample) == rfc8785.dumps(sample)
