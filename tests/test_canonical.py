"""RFC 8785 canonical JSON, checked against the RFC's own examples and the rfc8785 reference package if present."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from vault.journal.canonical import CanonicalError, canonical_json, parse_canonical, parse_canonical_many


def test_member_order_is_by_utf16_code_units():
    # RFC 8785 §3.2.3 sorting example (names only; values are integers here)
    value = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
    text = canonical_json(value).decode()
    order = [text.index(f'":{n}') for n in (2, 4, 6, 7, 1, 5, 3)]
    assert order == sorted(order)


def test_string_escapes_follow_ecmascript():
    assert canonical_json("\u20ac$\u000f\nA'B\"\\\\\"/") == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()
    assert canonical_json({"b": [True, None, 0, -7], "a": {}}) == b'{"a":{},"b":[true,null,0,-7]}'


@pytest.mark.parametrize("bad", [1.5, float("nan"), 2**53, {1: "x"}, "\ud800", {"\ud800": 1}, object()])
def test_refused_values(bad):
    with pytest.raises(CanonicalError):
        canonical_json(bad)


def test_agrees_with_the_reference_implementation():
    rfc8785 = pytest.importorskip("rfc8785", reason="the rfc8785 package is not installed")
    samples = [{"seq": 3, "actor": "k1", "objects": ["a", "b"], "detail": {"z": 1, "é": "ü", "A": [None, True]}},
               {"\U0001f600": "\u2028", "\x7f": "\x00\x1f"}]
    for sample in samples:
        assert canonical_json(sample) == rfc8785.dumps(sample)


# The bulk check used by journal replay (orjson or json fast paths) must agree with the one-by-one check.
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)


def _one_by_one(entries):
    try:
        return [parse_canonical(e) for e in entries]
    except CanonicalError:
        return None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_json_values, st.sampled_from(["canonical", "sorted", "ascii", "spaced"])),
                min_size=1, max_size=5))
def test_bulk_check_agrees_with_one_by_one(items):
    entries = []
    for value, style in items:
        if style == "canonical":
            try:
                entries.append(canonical_json(value))
            except CanonicalError:
                entries.append(json.dumps(value).encode())
        elif style == "sorted":
            entries.append(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
                "utf-8", "surrogatepass"))
        elif style == "ascii":
            entries.append(json.dumps(value, separators=(",", ":")).encode())
        else:
            entries.append(json.dumps(value).encode())
    bulk = parse_canonical_many(entries)
    single = _one_by_one(entries)
    if bulk is not None:
        assert single is not None and bulk == single
    elif single is not None:
        assert all(canonical_json(d) == e for d, e in zip(single, entries))


@pytest.mark.parametrize("entry", [
    b'{"a":1e21}', b'{"a":1.5}', b'{"a":9007199254740993}', b'{"b":1,"a":2}', b'{"a":1,"a":1}', b'{"a":-0}',
    b'{"a":"\\u00e9"}', b'{"a":"\\/"}', b'{"\xef\xbf\xbd":2,"\xf0\x9f\x98\x80":1}', b'{"a": 1}',
])
def test_bulk_check_refuses_what_is_not_canonical(entry):
    assert parse_canonical_many([b'{"seq":0}', entry]) is None
    with pytest.raises(CanonicalError):
        parse_canonical(entry)


def test_supplementary_member_names_sort_by_utf16_in_the_bulk_check_too():
    entry = b'{"\xf0\x9f\x98\x80":1,"\xef\xbf\xbd":2}'  # U+1F600 is D83D DE00 in UTF-16: before U+FFFD
    assert parse_canonical(entry) == {"\U0001F600": 1, "\ufffd": 2}
    assert parse_canonical_many([entry]) is None  # left to the one-by-one check, which accepts it


# The journal writes its usual entries through a one-call fast path; it must give exactly the general bytes.
_texts = st.text(max_size=6) | st.sampled_from(["k1", "", "é", "\U0001F600", "a\"b", "\\", "\x00", "\ud800", "\u2028"])
_optional_texts = st.none() | _texts
_odd = st.integers(-3, 3) | st.floats(allow_nan=False) | st.booleans() | st.just(["x"])  # what a caller might pass


@settings(max_examples=600, deadline=None)
@given(seq=st.integers(0, 2**53 + 2) | st.booleans(), actor=_texts | _odd, role=_optional_texts | _odd,
       tenant=_optional_texts, action=_texts, objects=st.lists(_texts | _odd, max_size=3) | st.just(("t",)),
       outcome=_texts, request_id=_optional_texts | _odd,
       detail=st.just({}) | st.just([]) | st.none() | st.dictionaries(_texts, st.integers(0, 9), max_size=2))
def test_the_journal_fast_path_writes_the_general_bytes(seq, actor, role, tenant, action, objects, outcome,
                                                        request_id, detail):
    from vault.journal.log import entry_document, entry_json

    fields = (seq, "2026-11-23T10:00:00.000000Z", actor, role, tenant, action, objects, outcome, request_id, detail)
    try:
        expected = canonical_json(entry_document(*fields))
    except CanonicalError:
        with pytest.raises(CanonicalError):
            entry_json(*fields)
        return
    assert entry_json(*fields) == expected


def test_the_journal_fast_path_matches_the_reference_implementation():
    rfc8785 = pytest.importorskip("rfc8785", reason="the rfc8785 package is not installed")
    from vault.journal.log import entry_document, entry_json

    for fields in [(7, "2026-11-23T10:00:00.000000Z", "k1", "auditor", "t", "metadata_read", ["o1", "o2"], "ok",
                    None, {}),
                   (2**53 - 1, "2026-11-23T10:00:00.000000Z", "ké\U0001F600", None, None, "search", [], "denied",
                    "r\u2028", {})]:
        assert entry_json(*fields) == rfc8785.dumps(entry_document(*fields))
