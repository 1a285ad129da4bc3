"""Every answer of a sandbox says so (issue #23, vault/api/sandbox_answers.py): ``"sandbox": true`` at the top of
each JSON object the app builds, problems included, and ``Vault-Sandbox: true`` on every answer; a real archive's
answers carry neither; signed bytes and bytes whose digest is published are never touched."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock
from vault.documents.jws import b64url_decode, load_public_key, verify
from vault.sandbox import NOTICE

E = "/etsi/119512/v1"
PDF = b"%PDF-1.7 sandbox answers proof"


@pytest.fixture(params=[True, False], ids=["sandbox", "real"])
def instance(request, tmp_path, database_url):
    """A sealed deposit on a sandbox and on a real archive: (is it a sandbox, its admin, a depositor, the receipt)."""
    vault = Vault.open(make_settings(tmp_path, database_url, sandbox=request.param),
                       FixedClock(datetime(2026, 12, 1, 9, tzinfo=timezone.utc)),
                       sweep_in_background=False, background_jobs=False)
    try:
        admin = Api(TestClient(create_app(vault)), ADMIN_KEY)
        depositor = admin.as_key(admin.new_key("depositor", "acme"))
        receipt = depositor.deposit(PDF, case_ref="SBX-ANSWERS")
        assert receipt.status_code == 201, receipt.text
        vault.seal_scheduler.seal_all_pending()
        yield request.param, admin, depositor, receipt.json()
    finally:
        vault.close()


def _sample(admin: Api, depositor: Api, object_id: str) -> dict:
    """One answer of each kind: a page, an object view, problems (404, 422, 401, ETSI 422), ETSI, health, ready."""
    anonymous = admin.client
    return {
        "page": depositor.get("/v1/objects", params={"case_ref": "SBX-ANSWERS"}),
        "view": depositor.get(f"/v1/objects/{object_id}"),
        "case": depositor.get("/v1/cases/SBX-ANSWERS"),
        "journal page": admin.get("/v1/journal/entries", params={"limit": 5}),
        "404": depositor.get("/v1/objects/no-such-object"),
        "422": depositor.get("/v1/objects", params={"limit": "many"}),
        "401": anonymous.get("/v1/objects"),
        "route 404": anonymous.get("/no/such/route"),
        "etsi": depositor.post(f"{E}/RetrieveInfo", json={}),
        "etsi 422": depositor.post(f"{E}/RetrievePO", json={"reqId": "r-1"}),
        "health": anonymous.get("/health"),
        "ready": anonymous.get("/ready"),
    }


def test_json_answers_say_sandbox_only_in_a_sandbox(instance):
    sandbox, admin, depositor, receipt = instance
    assert (receipt.get("sandbox") is True) == sandbox  # the deposit answer: the marked receipt, as before
    for name, answer in _sample(admin, depositor, receipt["id"]).items():
        media = answer.headers["content-type"]
        assert media in ("application/json", "application/problem+json"), (name, media)
        assert (answer.headers.get("vault-sandbox") == "true") == sandbox, (name, answer.headers)
        body = answer.json()
        assert isinstance(body, dict), name
        if sandbox:
            assert body["sandbox"] is True, (name, body)
            assert answer.text.count('"sandbox"') == 1 or name == "journal page", (name, answer.text)
        else:
            assert "sandbox" not in body and "vault-sandbox" not in answer.headers, (name, body)
        if name[0].isdigit() or name.endswith("422"):
            assert media == "application/problem+json" and body["status"] == int(answer.status_code), name


def test_marked_documents_keep_their_own_members_once(instance):
    sandbox, _admin, depositor, receipt = instance
    answer = depositor.get(f"/v1/objects/{receipt['id']}/receipt")
    assert json.loads(answer.text, object_pairs_hook=_no_duplicates)
    assert (answer.json().get("notice") == NOTICE) == sandbox


def _no_duplicates(pairs):
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), names
    return dict(pairs)


def test_signed_and_digested_bytes_are_untouched(instance):
    sandbox, admin, depositor, receipt = instance
    object_id = receipt["id"]
    content = depositor.get(f"/v1/objects/{object_id}/content")
    assert content.content == PDF and hashlib.sha256(content.content).hexdigest() == receipt["sha256"]
    assert (content.headers.get("vault-sandbox") == "true") == sandbox  # marked by its header alone
    key = load_public_key(json.dumps(admin.client.get("/v1/archive/key").json()["jwk"]))
    compact = depositor.get(f"/v1/objects/{object_id}/receipt", params={"format": "jws"})
    assert compact.headers["content-type"] == "application/jose"
    verdict = verify(compact.text, key)
    assert verdict.ok, verdict.reason
    assert b64url_decode(compact.text.split(".")[1]) == json.dumps(
        verdict.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    flattened = depositor.get(f"/v1/objects/{object_id}/receipt", params={"format": "jws-json"})
    assert set(flattened.json()) == {"payload", "protected", "signature"}  # a signed artifact: no member added
    assert verify(".".join(flattened.json()[k] for k in ("protected", "payload", "signature")), key).ok
    evidence = depositor.get(f"/v1/objects/{object_id}/evidence-record")
    assert evidence.status_code == 200 and not evidence.content.startswith(b"{")
    assert (evidence.headers.get("vault-sandbox") == "true") == sandbox


def test_openapi_documents_the_optional_member(tmp_path, database_url):
    vault = Vault.open(make_settings(tmp_path, database_url, sandbox=True), sweep_in_background=False,
                       background_jobs=False)
    try:
        api = TestClient(create_app(vault))
        document = api.get("/openapi.json")
        assert "sandbox" not in document.json()  # an OpenAPI document keeps its own shape; the header marks it
        assert document.headers["vault-sandbox"] == "true"
        assert "Vault-Sandbox" in document.json()["info"]["description"]
    finally:
        vault.close()


def test_every_json_answer_of_the_api_goes_through_the_marking_class():
    """A route answering with Starlette's own JSONResponse would escape the marking: only sandbox_answers may
    import it (and exposes it as ArtifactJSON, for signed documents)."""
    root = Path(__file__).resolve().parents[1] / "vault"
    plain = re.compile(r"from (fastapi|starlette)\.responses import [^\n]*\bJSONResponse\b")
    offenders = [str(path.relative_to(root)) for path in root.rglob("*.py")
                 if plain.search(path.read_text()) and path.name != "sandbox_answers.py"]
    assert offenders == []


def test_console_pages_show_the_banner_only_in_a_sandbox(instance):
    sandbox, admin, _depositor, _receipt = instance
    for path in ("/ui/sign-in", "/ui/nowhere"):
        page = admin.client.get(path)
        assert page.headers["content-type"].startswith("text/html"), path
        assert (NOTICE in page.text) == sandbox and ('class="sandbox-banner"' in page.text) == sandbox, path
        assert (page.headers.get("vault-sandbox") == "true") == sandbox, path


def test_answers_render_as_the_json_module_would():
    """orjson renders the app's JSON (vault.api.sandbox_answers.JSONResponse): the bytes Starlette's json.dumps
    wrote for strings (non-ASCII, line separators, escapes), integers, booleans, null, nesting and key order; what
    orjson refuses (an integer beyond 64 bits, a key that is not a string) still goes the json module's way."""
    from starlette.responses import JSONResponse as StarletteJSON

    from vault.api.sandbox_answers import JSONResponse

    for content in ({"é": "Zoë \u2028 \"quoted\" \\ \n\t\x01", "n": [0, -1, 2**63 - 1, None, True, False],
                     "nested": {"b": [], "a": {}}, "z": "last"},
                    {"big": 2**70}, {1: "int key"}, ["a", 1]):
        assert JSONResponse(content).body == StarletteJSON(content).body, content
