"""Every bad deposit gets a clear problem+json 4xx, and nothing is stored: no row, no blob, no temp file."""

from __future__ import annotations

import hashlib
import json

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from vault.api.app import create_app
from vault.app import Vault


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if slug:
        assert body["type"] == f"urn:vault:problem:{slug}"
    return body


@pytest.fixture
def nothing_stored(vault):
    """Asserts after the test body that the archive is exactly as it was before."""
    before = (vault.catalog.count(), sorted(vault.store.addresses()))
    yield
    assert (vault.catalog.count(), sorted(vault.store.addresses())) == before
    assert list(vault.store.tmp_dir.iterdir()) == []


pytestmark = pytest.mark.usefixtures("nothing_stored")


def test_missing_file(depositor):
    response = depositor.post("/v1/objects", files={"metadata": (None, json.dumps({"case_ref": "C", "policy": "lre-proof"}))})
    assert_problem(response, 422, "missing-file")


def test_empty_file(depositor):
    assert_problem(depositor.deposit(b""), 422, "empty-file")


def test_missing_metadata(depositor):
    response = depositor.post("/v1/objects", files={"file": ("a.pdf", b"data", "application/pdf")})
    assert_problem(response, 422, "missing-metadata")


def test_missing_case_ref(depositor):
    body = assert_problem(depositor.deposit(raw_metadata=json.dumps({"policy": "lre-proof"})), 422, "invalid-metadata")
    assert body["errors"] == [{"field": "case_ref", "problem": "required"}]


def test_unknown_policy(depositor):
    body = assert_problem(depositor.deposit(policy="no-such-policy"), 422, "unknown-policy")
    assert "lre-proof" in body["detail"]


def test_expected_sha256_mismatch(depositor):
    body = assert_problem(depositor.deposit(b"real bytes", expected_sha256="0" * 64), 422, "digest-mismatch")
    assert body["actual_sha256"] == hashlib.sha256(b"real bytes").hexdigest()


@pytest.mark.parametrize("raw", ['["case_ref"]', '"text"', "42", "{not json", ""])
def test_metadata_not_a_json_object(depositor, raw):
    assert_problem(depositor.deposit(raw_metadata=raw), 422, "invalid-metadata")


def test_metadata_too_large(depositor):
    huge = json.dumps({"case_ref": "C", "policy": "lre-proof", "extra": {"blob": "x" * 70_000}})
    assert_problem(depositor.deposit(raw_metadata=huge), 413, "metadata-too-large")


def test_unknown_metadata_key_outside_extra(depositor):
    body = assert_problem(depositor.deposit(colour="blue"), 422, "invalid-metadata")
    assert body["errors"][0]["field"] == "colour"
    assert "extra" in body["errors"][0]["problem"]


@pytest.mark.parametrize("when", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T10:00:00"])
def test_bad_event_time(depositor, when):
    body = assert_problem(depositor.deposit(event_time=when), 422, "invalid-metadata")
    assert body["errors"][0]["field"] == "event_time"


@pytest.mark.parametrize("field,value", [("kind", "letter"), ("event_type", "sent"), ("case_ref", ""),
                                         ("case_ref", "a\nb"), ("extra", [1, 2]), ("expected_sha256", "abc")])
def test_bad_field_values(depositor, field, value):
    body = assert_problem(depositor.deposit(**{field: value}), 422, "invalid-metadata")
    assert body["errors"][0]["field"].startswith(field)


def test_not_multipart(depositor):
    assert_problem(depositor.post("/v1/objects", content=b"raw", headers={"Content-Type": "application/pdf"}), 415)


def test_malformed_multipart(depositor):
    response = depositor.post("/v1/objects", content=b"--b\r\nnot a header line\r\n\r\ndata",
                              headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_problem(response, 400, "malformed-multipart")


def test_unknown_form_field(depositor):
    files = {"file": ("a", b"data"), "metadata": (None, '{"case_ref":"C","policy":"lre-proof"}'), "note": (None, "hi")}
    assert_problem(depositor.post("/v1/objects", files=files), 422, "unknown-form-field")


def test_two_files(depositor):
    files = [("file", ("a", b"one")), ("file", ("b", b"two")), ("metadata", (None, '{"case_ref":"C","policy":"lre-proof"}'))]
    assert_problem(depositor.post("/v1/objects", files=files), 422, "several-files")


def test_unknown_object_id(depositor):
    for path in ("/v1/objects/01890a5d-ac96-774b-bcce-b302099a8057", "/v1/objects/not-an-id",
                 "/v1/objects/01890a5d-ac96-774b-bcce-b302099a8057/content"):
        assert_problem(depositor.get(path), 404, "unknown-object")


def test_bad_search_parameters(depositor):
    assert_problem(depositor.get("/v1/objects", params={"from": "not-a-date"}), 422, "invalid-request")
    assert_problem(depositor.get("/v1/objects", params={"from": "2026-01-01T00:00:00"}), 422, "invalid-request")
    assert_problem(depositor.get("/v1/objects", params={"limit": 0}), 422)
    assert_problem(depositor.get("/v1/objects", params={"cursor": "!!!"}), 422, "invalid-cursor")
    assert_problem(depositor.get("/v1/objects", params={"event_type": "bogus"}), 422)


@pytest.fixture
def small_limit_api(tmp_path):
    opened = Vault.open(make_settings(tmp_path / "small", max_upload_bytes=4096), sweep_in_background=False)
    with TestClient(create_app(opened)) as http:
        admin = Api(http, ADMIN_KEY)
        yield admin.as_key(admin.new_key("depositor", "acme")), opened
    opened.close()


def test_body_over_the_maximum_is_refused_with_413(small_limit_api):
    api, opened = small_limit_api
    before = opened.catalog.count()
    body = assert_problem(api.deposit(b"x" * 10_000), 413, "body-too-large")
    assert body["max_bytes"] == 4096
    assert api.deposit(b"x" * 1000).status_code == 201
    assert opened.catalog.count() == before + 1
    assert list(opened.store.tmp_dir.iterdir()) == []


def test_chunked_body_over_the_maximum_is_cut_off_while_streaming(small_limit_api):
    api, opened = small_limit_api
    boundary = "vaultboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n"
            '{"case_ref":"C","policy":"lre-proof"}\r\n'
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big\"\r\n\r\n").encode()
    sent = []

    def body():  # no Content-Length: the server must count while it streams
        yield head
        for _ in range(100):
            sent.append(1)
            yield b"y" * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    response = api.post("/v1/objects", content=body(),
                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert_problem(response, 413, "body-too-large")
    assert opened.catalog.count() == 0
    assert list(opened.store.addresses()) == [] and list(opened.store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize("records", [{"sel._domainkey.example.org": ""}, {"": "v=DKIM1; p=AAAA"},
                                     {"sel._domainkey.example.org": "p" * 9000},
                                     {f"s{n}._domainkey.example.org": "v=DKIM1" for n in range(17)},
                                     ["not", "an", "object"]])
def test_bad_dkim_key_records_are_refused(depositor, vault, records):
    before = vault.catalog.count()
    body = assert_problem(depositor.deposit(b"From: a@example.org\r\n\r\nx", dkim_records=records), 422,
                          "invalid-metadata")
    assert body["errors"][0]["field"].startswith("dkim_records")
    assert vault.catalog.count() == before
