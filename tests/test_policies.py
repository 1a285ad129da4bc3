"""Retention policy files and ISO 8601 periods."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.conftest import POLICIES
from vault.retention.period import Period, PeriodError
from vault.retention.policy import PolicyError, load_policies, parse_policy

GOOD = """
id = "lre-proof"
version = 2
title = "LRE"
legal_basis = "eIDAS art. 44"
duration = "{duration}"
start = "{start}"
"""


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize("text,expected", [
    ("P10Y", (10, 0, 0, 0)), ("P10Y6M", (10, 6, 0, 0)), ("P3650D", (0, 0, 3650, 0)), ("P2W", (0, 0, 14, 0)),
    ("P1DT12H", (0, 0, 1, 43200)), ("PT36H", (0, 0, 0, 129600)),
])
def test_period_parsing(text, expected):
    period = Period.parse(text)
    assert (period.years, period.months, period.days, period.seconds) == expected


@pytest.mark.parametrize("text", ["", "P", "10Y", "P10", "PT", "P1.5Y", "P-1Y", "p10y", "P10Y ", "P1H"])
def test_bad_periods(text):
    with pytest.raises(PeriodError):
        Period.parse(text)


def test_calendar_arithmetic_clamps_to_month_end():
    assert Period.parse("P10Y").after(utc(2024, 2, 29, 9)) == utc(2034, 2, 28, 9)
    assert Period.parse("P1M").after(utc(2026, 1, 31)) == utc(2026, 2, 28)
    assert Period.parse("P10Y1D").after(utc(2026, 12, 31)) == utc(2037, 1, 1)


def test_ten_year_minimum():
    assert Period.parse("P10Y").at_least(10)
    assert Period.parse("P3653D").at_least(10)
    assert not Period.parse("P3652D").at_least(10)  # short by a day when two leap days fall inside
    assert not Period.parse("P9Y11M30D").at_least(10)


@pytest.mark.parametrize("duration", ["P9Y", "P5Y11M", "P3650D"])
def test_policy_under_ten_years_is_refused_naming_file_and_field(duration):
    with pytest.raises(PolicyError) as error:
        parse_policy(GOOD.format(duration=duration, start="deposit"), "policies/short.toml")
    assert "policies/short.toml" in str(error.value) and "'duration'" in str(error.value)


@pytest.mark.parametrize("text,field", [
    ('version = 1\ntitle="t"\nlegal_basis="b"\nduration="P10Y"', "'id'"),
    ('id="Bad Id"\ntitle="t"\nlegal_basis="b"\nduration="P10Y"', "'id'"),
    ('id="x-1"\ntitle="t"\nduration="P10Y"', "'legal_basis'"),
    ('id="x-1"\ntitle="t"\nlegal_basis="b"\nduration="ten years"', "'duration'"),
    ('id="x-1"\ntitle="t"\nlegal_basis="b"\nduration="P10Y"\nstart="Not A Field!"', "'start'"),
    ('id="x-1"\ntitle="t"\nlegal_basis="b"\nduration="P10Y"\nversion=0', "'version'"),
    ("id = [", "TOML"),
    ('id="x-1"\ntitle="t"\nlegal_basis="b"\nduration="P10Y"\nerasable_fields=["case_ref"]', "'erasable_fields'"),
    ('id="x-1"\ntitle="t"\nlegal_basis="b"\nduration="P10Y"\nerasable_fields="sender"', "'erasable_fields'"),
])
def test_bad_policy_files(text, field):
    with pytest.raises(PolicyError) as error:
        parse_policy(text, "p.toml")
    assert field in str(error.value) and "p.toml" in str(error.value)


def test_retention_end_by_start_event():
    deposit_policy = parse_policy(GOOD.format(duration="P10Y", start="deposit"), "a.toml")
    event_policy = parse_policy(GOOD.format(duration="P10Y", start="event_time"), "b.toml")
    field_policy = parse_policy(GOOD.format(duration="P10Y", start="contract_end"), "c.toml")
    deposited, event = utc(2026, 6, 1), utc(2026, 1, 15)
    assert deposit_policy.retention_until(deposited, event) == utc(2036, 6, 1)
    assert event_policy.retention_until(deposited, event) == utc(2036, 1, 15)
    assert event_policy.retention_until(deposited, None) is None
    assert field_policy.retention_until(deposited, event) is None


def test_shipped_policies_load_and_are_all_at_least_ten_years():
    book = load_policies(POLICIES)
    assert {"lre-proof", "email-proof", "consent-record", "commercial-contract"} <= set(book.ids())
    for policy in book:
        assert policy.duration.at_least(10) and policy.legal_basis.strip()
        assert set(policy.erasable_fields) <= set(policy.personal_fields)
    assert book.get("consent-record").erasable_fields == ("sender", "recipient", "extra.ip_address")
    assert book.get("lre-proof").erasable_fields == ()  # the default: nothing erasable during retention


def test_a_short_policy_stops_the_service(tmp_path):
    (tmp_path / "ok.toml").write_text(GOOD.format(duration="P10Y", start="deposit"))
    (tmp_path / "short.toml").write_text(GOOD.replace("lre-proof", "short").format(duration="P2Y", start="deposit"))
    with pytest.raises(PolicyError, match="short.toml"):
        load_policies(tmp_path)


def test_missing_or_empty_policy_directory(tmp_path):
    with pytest.raises(PolicyError, match="not found"):
        load_policies(tmp_path / "absent")
    with pytest.raises(PolicyError, match="no \\*.toml"):
        load_policies(tmp_path)


def test_same_id_and_version_twice_is_refused(tmp_path):
    for name in ("a.toml", "b.toml"):
        (tmp_path / name).write_text(GOOD.format(duration="P10Y", start="deposit"))
    with pytest.raises(PolicyError, match="also defined"):
        load_policies(tmp_path)
