"""The search archivists need (issue 21): case-insensitive references with prefixes, parties, extra fields a
policy declares indexable, count, facets, sorting with keyed cursors, unknown parameters refused; tenant-scoped
and journaled with pseudonyms. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import timedelta

import pytest

from tests.conftest import POLICIES, make_settings
from tests.test_pseudonyms import clear_values, entries
from tests.times import days_ago
from vault.clock import iso_z

CHANNEL_POLICY = """
id = "channel-proof"
version = 1
title = "Proofs searchable by channel"
legal_basis = "tests"
duration = "P10Y"
indexed_extra = ["channel", "tags"]
personal_fields = ["sender", "recipient", "filename", "extra.channel"]
"""


@pytest.fixture
def settings(tmp_path, database_url):
    """The shipped policies and one declaring ``extra.channel`` and ``extra.tags`` indexable."""
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "channel-proof.toml").write_text(CHANNEL_POLICY, encoding="utf-8")
    return make_settings(tmp_path, database_url, policies_dir=policies)


def found(api, path="/v1/objects", **params) -> list[str]:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return sorted(o["case_ref"] for o in response.json()["items"])


def count(api, **params) -> int:
    response = api.get("/v1/objects/count", params=params)
    assert response.status_code == 200, response.text
    return response.json()["count"]


def test_references_match_case_insensitively_and_by_prefix(depositor):
    for ref, contract in [("LRE-2026-000123", "CT-Alpha-1"), ("LRE-2026-000124", "ct-alpha-2"),
                          ("LRE-2025-000001", "CT-BETA"), ("Straße-7", None)]:
        assert depositor.deposit(ref.encode(), case_ref=ref, contract_number=contract).status_code == 201
    assert found(depositor, case_ref="lre-2026-000123") == ["LRE-2026-000123"]
    assert found(depositor, case_ref="LRE-2026*") == ["LRE-2026-000123", "LRE-2026-000124"]
    assert found(depositor, case_ref="lre-20*") == ["LRE-2025-000001", "LRE-2026-000123", "LRE-2026-000124"]
    assert found(depositor, case_ref="LRE-2026") == []  # without the star: exact
    assert found(depositor, case_ref="STRASSE-7") == ["Straße-7"]  # Unicode case folding
    assert found(depositor, contract_number="ct-ALPHA*") == ["LRE-2026-000123", "LRE-2026-000124"]
    assert found(depositor, contract_number="ct-beta") == ["LRE-2025-000001"]
    assert found(depositor, contract_number="*") == ["LRE-2025-000001", "LRE-2026-000123", "LRE-2026-000124"]
    assert count(depositor, case_ref="LRE-2026*") == 2


def test_parties_match_exactly_and_case_insensitively(depositor):
    depositor.deposit(b"1", case_ref="P1", sender="sender@example.org", recipient="Bob@Example.org")
    depositor.deposit(b"2", case_ref="P2", sender="bob@example.org", recipient="carol@example.org")
    assert found(depositor, sender="SENDER@example.org") == ["P1"]
    assert found(depositor, recipient="bob@example.ORG") == ["P1"]
    assert found(depositor, party="BOB@example.org") == ["P1", "P2"]
    assert found(depositor, sender="sender@") == [] and found(depositor, sender="sender@*") == []  # no prefix


@pytest.mark.parametrize("path", ["/v1/objects", "/v1/objects/count", "/v1/packages"])
def test_unknown_query_parameters_are_refused_by_name(depositor, path):
    depositor.deposit(b"x", case_ref="U-1")
    response = depositor.get(path, params={"caseref": "U-1", "limt": "3"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["parameters"] == ["caseref", "limt"] and "caseref" in body["detail"]
    undeclared = depositor.get(path, params={"case_ref": "U-1", "extra.colour": "red"})
    assert undeclared.status_code == 422 and undeclared.json()["parameters"] == ["extra.colour"]


@pytest.mark.parametrize("path", ["/v1/objects", "/v1/objects/count", "/v1/packages"])
def test_filters_are_validated_in_one_step_and_described_in_the_openapi_document(depositor, path):
    """The filters are one model (vault.api.query_model): a bad value is a 422 naming it, as FastAPI's own
    validation answers, and the OpenAPI document describes each filter with its bounds."""
    for params, field in (({"case_ref": "x" * 257}, "case_ref"), ({"event_type": "party"}, "event_type"),
                          ({"from": "2026-01-01T00:00:00"}, "from"), ({"verdict": "maybe", "kind": "x"}, "kind")):
        response = depositor.get(path, params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in {error["field"] for error in response.json()["errors"]}, response.json()
    depositor.deposit(b"x", case_ref="V-1")
    counted = depositor.get("/v1/objects/count", params={"case_ref": "v-1", "from": iso_z(days_ago(3))})
    assert counted.json()["count"] == 1
    parameters = {p["name"]: p for p in depositor.get("/openapi.json").json()["paths"][path]["get"]["parameters"]}
    assert {"case_ref", "from", "to", "event_type", "etsi_event", "format_puid", "tenant"} <= set(parameters)
    assert {"type": "string", "maxLength": 256} in parameters["case_ref"]["schema"]["anyOf"]
    assert "prefix" in parameters["case_ref"]["description"] and parameters["case_ref"]["in"] == "query"
    assert "sending" in json.dumps(parameters["event_type"]["schema"])  # the enumeration, inlined


@pytest.mark.parametrize("path", ["/v1/objects", "/v1/objects/count", "/v1/packages"])
def test_callers_are_authenticated_before_their_parameters_are_checked(client, path):
    """A request without credentials learns nothing about the parameters a route takes: 401, not 422."""
    response = client.get(path, params={"caseref": "U-1"})
    assert response.status_code == 401, response.text
    assert "caseref" not in response.text


def test_count_is_the_number_of_results(depositor):
    start = days_ago(30)
    for i in range(7):
        depositor.deposit(f"c{i}".encode(), case_ref=f"CNT-{i % 3}", event_type="sending" if i % 2 else "receipt",
                          event_time=iso_z(start + timedelta(days=i)))
    for params in [{}, {"case_ref": "cnt-1"}, {"case_ref": "CNT*"}, {"event_type": "sending"},
                   {"from": iso_z(start + timedelta(days=2)), "case_ref": "cnt-*"}, {"case_ref": "none"}]:
        assert count(depositor, **params) == len(found(depositor, limit=500, **params)), params


def test_facets_count_every_matching_object_not_the_page(depositor, vault):
    made = [depositor.deposit(b"%PDF-1.7 a", case_ref="F-1", event_type="sending"),
            depositor.deposit(b"%PDF-1.7 b", case_ref="F-2", event_type="receipt", kind="email-proof"),
            depositor.deposit(b"plain c", case_ref="F-3", event_type="receipt", policy="email-proof"),
            depositor.deposit(b"plain d", case_ref="G-1", event_type="refusal")]
    assert all(r.status_code == 201 for r in made)
    rows = [vault.catalog.get(r.json()["id"]) for r in made[:3]]  # counted here in Python, there in SQL
    expected = {facet: dict(Counter(row[column] or "none" for row in rows)) for facet, column in [
        ("event_type", "event_type"), ("kind", "kind"), ("policy", "policy_id"), ("verdict", "validation_verdict"),
        ("format", "detected_media_type")]}
    assert expected["event_type"] == {"sending": 1, "receipt": 2} and expected["policy"]["email-proof"] == 1
    page = depositor.get("/v1/objects", params={"case_ref": "f-*", "limit": 1,
                                                "facets": "event_type,kind,policy,verdict,format"}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    assert page["facets"] == expected
    assert sum(page["facets"]["kind"].values()) == 3
    counted = depositor.get("/v1/objects/count", params={"case_ref": "F*", "facets": "event_type"}).json()
    assert counted == {"count": 3, "facets": {"event_type": {"receipt": 2, "sending": 1}}}
    assert "facets" not in depositor.get("/v1/objects").json()  # the shape of earlier releases without ?facets
    bad = depositor.get("/v1/objects", params={"facets": "event_type,colour"})
    assert bad.status_code == 422 and "colour" in bad.json()["detail"]


def test_extra_fields_declared_indexable_are_searchable(depositor, vault):
    depositor.deposit(b"1", case_ref="X-1", policy="channel-proof", extra={"channel": "Email", "tags": ["A", "b"]})
    depositor.deposit(b"2", case_ref="X-2", policy="channel-proof", extra={"channel": "lre", "tags": "a"})
    depositor.deposit(b"3", case_ref="X-3", policy="email-proof", extra={"channel": "email"})  # not indexed there
    depositor.deposit(b"4", case_ref="X-4", policy="channel-proof", extra={"channel": {"nested": "email"}})
    assert found(depositor, **{"extra.channel": "EMAIL"}) == ["X-1"]
    assert found(depositor, **{"extra.channel": "e*"}) == ["X-1"]
    assert found(depositor, **{"extra.tags": "a"}) == ["X-1", "X-2"]
    assert found(depositor, **{"extra.tags": "B", "extra.channel": "email"}) == ["X-1"]
    assert count(depositor, **{"extra.channel": "lre", "case_ref": "x-*"}) == 1
    from sqlalchemy import select

    from vault.db.tables import ObjectExtraKey
    with vault.reader.connect() as connection:  # indexed in the database, in the deposit's transaction
        keys = {(r.name, r.value_key) for r in connection.execute(select(ObjectExtraKey.__table__))}
    assert keys == {("channel", "email"), ("channel", "lre"), ("tags", "a"), ("tags", "b")}
    refused = depositor.get("/v1/objects", params={"extra.sender_name": "x"})
    assert refused.status_code == 422 and "extra.channel" in refused.json()["detail"]


def test_sorting_pages_through_every_object_once_in_order(depositor):
    start = days_ago(20)
    offsets = [5, 1, 9, 1, 3, 7, 0]  # deposit order differs from event order; two equal event times
    ids = [depositor.deposit(f"s{i}".encode(), case_ref=f"S-{i}", event_time=iso_z(start + timedelta(days=d)))
           .json()["id"] for i, d in enumerate(offsets)]
    by_event = [ids[i] for i in sorted(range(len(ids)), key=lambda i: (offsets[i], ids[i]))]

    def pages(sort: str | None) -> list[str]:
        seen, cursor = [], None
        while True:
            params = {"case_ref": "s-*", "limit": 2, **({"sort": sort} if sort else {}),
                      **({"cursor": cursor} if cursor else {})}
            response = depositor.get("/v1/objects", params=params)
            assert response.status_code == 200, response.text
            seen += [o["id"] for o in response.json()["items"]]
            cursor = response.json()["next_cursor"]
            if not cursor:
                return seen

    assert pages(None) == ids
    assert pages("event_time") == by_event
    assert pages("-event_time") == by_event[::-1]
    assert pages("deposited_at") == ids
    assert pages("-deposited_at") == ids[::-1]
    first = depositor.get("/v1/objects", params={"case_ref": "s-*", "limit": 2, "sort": "event_time"}).json()
    mixed = depositor.get("/v1/objects", params={"case_ref": "s-*", "sort": "-deposited_at",
                                                 "cursor": first["next_cursor"]})
    assert mixed.status_code == 422 and mixed.json()["title"] == "Invalid cursor"
    assert depositor.get("/v1/objects", params={"sort": "size"}).status_code == 422


def test_count_and_facets_never_see_another_tenant(admin, depositor):
    other = admin.as_key(admin.new_key("depositor", "globex"))
    depositor.deposit(b"a", case_ref="T-1", event_type="sending")
    other.deposit(b"b", case_ref="T-2", event_type="receipt")
    other.deposit(b"c", case_ref="T-3", event_type="receipt")
    facets = {"facets": "event_type"}
    assert depositor.get("/v1/objects/count", params={"case_ref": "t*", **facets}).json() == {
        "count": 1, "facets": {"event_type": {"sending": 1}}}
    assert depositor.get("/v1/objects", params={"case_ref": "t*", **facets}).json()["facets"] == {
        "event_type": {"sending": 1}}
    assert other.get("/v1/objects/count", params={"case_ref": "T*"}).json()["count"] == 2
    refused = depositor.get("/v1/objects/count", params={"tenant": "globex"})
    assert refused.status_code == 403
    assert admin.get("/v1/objects/count", params={"case_ref": "t*"}).json()["count"] == 3  # an all-tenant key
    assert admin.get("/v1/objects/count", params={"case_ref": "t*", "tenant": "globex"}).json()["count"] == 2


def test_count_and_facets_are_journaled_with_pseudonyms(depositor, vault):
    depositor.deposit(b"j", case_ref="DUPONT-2026-9", policy="channel-proof", extra={"channel": "jean@example.org"})
    depositor.get("/v1/objects/count", params={"case_ref": "dupont*", "extra.channel": "JEAN@example.org",
                                               "facets": "kind"})
    depositor.get("/v1/objects", params={"case_ref": "dupont-2026-9", "facets": "verdict", "sort": "-event_time"})
    log = entries(vault)
    assert "dupont" not in json.dumps(log).lower() and "jean@" not in json.dumps(log).lower()
    counted, searched = [e for e in log if e["action"] == "search"][-2:]
    assert counted["detail"]["counted"] == 1 and counted["detail"]["facets"] == ["kind"]
    assert counted["tenant"] == "acme" and not counted.get("object_ids")
    filters = counted["detail"]["filters"]
    assert clear_values(vault)[filters["case_ref"]] == "dupont*"
    assert clear_values(vault)[filters["extra.channel"]] == "JEAN@example.org"
    assert searched["detail"]["facets"] == ["verdict"] and searched["detail"]["sort"] == "-event_time"
    assert clear_values(vault)[searched["detail"]["filters"]["case_ref"]] == "dupont-2026-9"


def test_an_extra_search_term_can_be_erased_from_the_journal(admin, depositor, vault):
    depositor.get("/v1/objects", params={"extra.channel": "marie@example.org"})
    [term] = [v for v in clear_values(vault).values() if v == "marie@example.org"]
    erased = admin.post("/v1/journal/erasures", json={"kind": "extra.channel", "value": term})
    assert erased.status_code == 200, erased.text
    assert "marie@example.org" not in clear_values(vault).values()
    assert admin.post("/v1/journal/erasures", json={"kind": "extra.", "value": "x"}).status_code == 422
