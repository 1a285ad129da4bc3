"""vault.limits.json_depth_within against a recursive count of the nesting of the parsed document."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.limits import TooDeep, json_depth_within

LEAVES = st.none() | st.booleans() | st.integers() | st.text(alphabet="[]{}\"\\ab", max_size=6)
DOCUMENTS = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.text(alphabet="[{a\"", max_size=3), inner, max_size=3), max_leaves=40)


def depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS, st.integers(min_value=0, max_value=6))
def test_the_scan_agrees_with_the_parsed_depth(document, limit):
    text = json.dumps(document)
    if depth(document) > limit:
        with pytest.raises(TooDeep):
            json_depth_within(text, limit)
    else:
        json_depth_within(text, limit)


def test_a_thousand_levels_are_refused_without_recursion():
    with pytest.raises(TooDeep):
        json_depth_within("[" * 1000 + "]" * 1000)
