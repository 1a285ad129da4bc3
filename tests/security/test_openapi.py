"""The OpenAPI document: errors as problem+json with realistic statuses per route, bounded integers, an example
deposit (issue #18)."""

from __future__ import annotations

import json

import pytest

from vault.deposit.metadata import DepositMetadata
from vault.limits import INT64_MAX, INT64_MIN

INPUT_LESS_PUBLIC = {"/health", "/ready", "/metrics", "/v1/archive/key", "/v1/tsa/roots", "/v1/tsa/crl"}
"""Answered to anyone and taking no input: no client error is possible, so none is listed."""


@pytest.fixture
def document(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_every_error_is_a_problem_document(document):
    assert document["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
    assert "HTTPValidationError" not in json.dumps(document)
    for method, path, operation in operations(document):
        errors = {code: answer for code, answer in operation["responses"].items() if code[0] in "45"}
        if path in INPUT_LESS_PUBLIC:
            assert not errors, (method, path)
            continue
        assert any(code.startswith("4") for code in errors), (method, path)
        for code, answer in errors.items():
            assert list(answer["content"]) == ["application/problem+json"], (method, path, code)
            assert answer["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_statuses_follow_the_route(document):
    paths = document["paths"]
    deposit = set(paths["/v1/objects"]["post"]["responses"])
    assert {"400", "401", "403", "409", "413", "415", "422"} <= deposit and "404" not in deposit
    assert {"401", "403", "404"} <= set(paths["/v1/objects/{object_id}"]["get"]["responses"])
    assert "409" not in paths["/v1/objects/{object_id}"]["get"]["responses"]
    assert "401" not in paths["/v1/tsa"]["post"]["responses"]  # public
    assert "409" in paths["/v1/disposal/batches/{batch_id}/approve"]["post"]["responses"]


def test_the_deposit_has_an_example_that_validates(document):
    form = document["paths"]["/v1/objects"]["post"]["requestBody"]["content"]["multipart/form-data"]
    example = form["example"]
    assert set(example) == {"file", "metadata"}
    DepositMetadata.model_validate(json.loads(example["metadata"]))


def _integers(node, where):
    if isinstance(node, dict):
        if node.get("type") == "integer":
            yield where, node
        for key, value in node.items():
            yield from _integers(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _integers(value, f"{where}[{i}]")


def test_every_integer_a_client_sends_is_bounded_to_64_bits(document):
    inputs = {"parameters": [p for _, _, op in operations(document) for p in op.get("parameters", [])],
              "bodies": [op["requestBody"] for _, _, op in operations(document) if "requestBody" in op],
              "schemas": {name: schema for name, schema in document["components"]["schemas"].items()
                          if name.endswith(("Request", "Start", "Reassignment", "Proposal"))}}
    found = list(_integers(inputs, "input"))
    assert len(found) >= 8
    for where, schema in found:
        assert isinstance(schema.get("minimum"), int) and isinstance(schema.get("maximum"), int), where
        assert INT64_MIN <= schema["minimum"] <= schema["maximum"] <= INT64_MAX, where
