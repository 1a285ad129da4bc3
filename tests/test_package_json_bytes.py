"""The package's JSON files are written with orjson where its bytes are the ``json`` module's (vault.package.build._json):
a property test over every JSON shape the package writes, floats and huge integers included."""

import json

from hypothesis import given, settings, strategies as st

from vault.package.build import _json

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.text(),
                    st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                       st.dictionaries(st.text(), inner, max_size=5)), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(values)
def test_bytes_equal_the_json_modules(value):
    assert _json(value) == json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
