"""Search keys (vault.catalog.keys): pure functions, tested without a database."""

from __future__ import annotations

from vault.catalog.keys import KEY_LENGTH, extra_keys, key_columns, prefix_range, search_key


def test_keys_fold_case_and_are_bounded():
    assert search_key("LRE-2026-000123") == search_key("lre-2026-000123") == "lre-2026-000123"
    assert search_key("Straße") == search_key("STRASSE")
    assert len(search_key("É" * 400)) == KEY_LENGTH
    assert key_columns({"case_ref": "A", "contract_number": None, "sender": "X@Y", "recipient": None}) == {
        "case_ref_key": "a", "contract_number_key": None, "sender_key": "x@y", "recipient_key": None}


def test_a_prefix_range_holds_exactly_the_keys_that_start_with_it():
    low, high = prefix_range("LRE-2026")
    keys = ["lre-2025-9", "lre-2026", "lre-2026-000123", "lre-2026\U0010ffff", "lre-2027", "lre-202"]
    assert [k for k in keys if low <= k < high] == ["lre-2026", "lre-2026-000123", "lre-2026\U0010ffff"]
    assert prefix_range("a\U0010ffff") == ("a\U0010ffff", "b")
    assert prefix_range("\U0010ffff") == ("\U0010ffff", None) and prefix_range("") == ("", None)
    assert prefix_range("a\ud7ff")[1] == "a\ue000"  # never a surrogate, which no database stores


def test_extra_keys_index_declared_scalars_and_list_elements_once():
    rows = extra_keys("id", {"channel": "Email", "tags": ["A", "a", 3, True, {"x": 1}], "other": "z",
                             "nested": {"a": 1}}, ("channel", "tags", "nested", "absent"))
    assert sorted((r["name"], r["value_key"]) for r in rows) == [
        ("channel", "email"), ("tags", "3"), ("tags", "a"), ("tags", "true")]


def test_policies_declare_indexable_extra_fields():
    import pytest

    from tests.test_search_api import CHANNEL_POLICY
    from vault.retention.policy import PolicyBook, PolicyError, parse_policy

    policy = parse_policy(CHANNEL_POLICY, "channel.toml")
    assert policy.indexed_extra == ("channel", "tags") and policy.describe()["indexed_extra"] == ["channel", "tags"]
    assert PolicyBook([policy]).indexed_extra() == {"channel", "tags"}
    for bad in ('["a.b"]', '["x" ]'.replace("x", "y" * 27), '"channel"', '[""]'):
        with pytest.raises(PolicyError, match="indexed_extra"):
            parse_policy(CHANNEL_POLICY.replace('["channel", "tags"]', bad), "bad.toml")
