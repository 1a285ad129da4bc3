"""Issue #18: inputs that made the server answer 500. Each answers 422 problem+json naming the field now."""

from __future__ import annotations

import json

import pytest

from vault.limits import MAX_JSON_DEPTH

PROBLEM = "application/problem+json"
TOO_LATE = "9999-12-31T23:59:59-23:59"  # past the end of datetime once moved to UTC
TOO_EARLY = "0001-01-01T00:00:00+01:00"  # before year 1 once moved to UTC
OVER_INT64 = str(2**63)


def nested(depth: int):
    value: object = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


def assert_refused(response, field: str):
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in response.json()["detail"], response.json()


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 5000])
def test_deeply_nested_metadata_is_refused(depositor, depth):
    raw = '{"case_ref": "C-1", "policy": "lre-proof", "extra": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    response = depositor.deposit(raw_metadata=raw)
    assert_refused(response, "nested")
    assert depositor.get("/v1/objects").json()["items"] == []


def test_metadata_with_an_integer_beyond_pythons_digit_limit_is_refused(depositor):
    response = depositor.deposit(raw_metadata='{"case_ref": "C-1", "policy": "lre-proof", "extra": {"n": '
                                              + "9" * 5000 + "}}")
    assert_refused(response, "metadata")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_deeply_nested_json_bodies_are_refused(admin, depth):
    body = json.dumps({"tenant": "acme", "query": {"case_ref": "C"}, "reason": "r", "reference": "x"})
    body = body.replace('"C"', '{"a": ' * depth + "1" + "}" * depth)
    response = admin.post("/v1/holds", content=body, headers={"Content-Type": "application/json"})
    assert_refused(response, "nested")


@pytest.mark.parametrize("when", [TOO_LATE, TOO_EARLY, "1899-12-31T23:30:00+00:00", "2201-01-01T00:00:00Z",
                                  "1900-01-01T00:30:00+01:00"])
def test_event_time_outside_the_archive_years_is_refused(depositor, when):
    assert_refused(depositor.deposit(event_time=when), "event_time")


def test_the_year_bounds_apply_after_the_offset(depositor):
    """1899-12-31T23:00-02:00 is 1900-01-01T01:00Z: inside the archive's years, so the time is read and reaches the
    policy's back-dating rule (which refuses it, being 126 years old) instead of being refused as unreadable."""
    response = depositor.deposit(event_time="1899-12-31T23:00:00-02:00")
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("event-time-out-of-range")
    assert response.json()["earliest"] > "1900-01-01T01:00"


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("when", [TOO_LATE, TOO_EARLY])
def test_search_dates_outside_the_archive_years_are_refused(depositor, name, when):
    assert_refused(depositor.get("/v1/objects", params={name: when}), name)


@pytest.mark.parametrize("when", [TOO_LATE, TOO_EARLY])
def test_package_search_dates_are_bounded(admin, when):
    archivist = admin.as_key(admin.new_key("archivist", "acme"))  # may export packages (an auditor may not: 403)
    for name in ("from", "to"):
        response = archivist.get("/v1/packages", params={name: when, "case_ref": "C-1"})
        assert response.status_code == 422, response.text
        assert name in response.json()["detail"]


@pytest.mark.parametrize("when", [TOO_LATE, TOO_EARLY])
def test_consent_query_dates_are_bounded(admin, when):
    auditor = admin.as_key(admin.new_key("auditor", "acme"))
    assert_refused(auditor.get("/v1/consents/someone@example.org", params={"purpose": "news", "at": when}), "at")


@pytest.mark.parametrize("when", [TOO_LATE, TOO_EARLY])
def test_retention_start_and_key_expiry_are_bounded(admin, depositor, when):
    object_id = depositor.deposit().json()["id"]
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    response = archivist.client.patch(f"/v1/objects/{object_id}/retention-start", json={"at": when},
                                      headers=archivist.headers())
    assert_refused(response, "at")
    assert_refused(admin.post("/v1/keys", json={"role": "depositor", "tenant": "acme", "expires_at": when}),
                   "expires_at")


@pytest.mark.parametrize("path, params, field", [
    ("/v1/journal/entries", {"from": OVER_INT64}, "from"),
    ("/v1/journal/entries", {"to": OVER_INT64}, "to"),
    ("/v1/journal/anchors", {"after": OVER_INT64}, "after"),
    ("/v1/journal/proof/inclusion", {"index": "0", "size": OVER_INT64}, "size"),
    ("/v1/journal/proof/consistency", {"old": "1", "new": OVER_INT64}, "new"),
])
def test_integers_beyond_64_bits_are_refused(admin, path, params, field):
    assert_refused(admin.get(path, params=params), field)


def test_integers_beyond_64_bits_in_json_bodies_are_refused(admin, depositor):
    object_id = depositor.deposit().json()["id"]
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    response = archivist.post(f"/v1/objects/{object_id}/policy", json={"policy": "lre-proof", "version": 2**63})
    assert_refused(response, "version")
