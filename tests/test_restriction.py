"""Restriction of processing of personal values (GDPR art. 18, issue 22): every read route and the console hide
them from every role, except an archivist who states a reason (``Vault-Access-Reason``, journaled); new packages
carry the commitments but not the disclosures; lifting restores."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest

from tests.test_console_object import _signed_in
from vault_verify.package import verify_package

REASON = {"Vault-Access-Reason": "court order TJ-42"}
SENDER, RECIPIENT = "alice@example.org", "bob@example.org"


@pytest.fixture
def world(vault, admin):
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    roles = {role: admin.as_key(admin.new_key(role, "acme")) for role in ("archivist", "auditor")}
    receipt = depositor.deposit(b"%PDF-1.7 restricted", case_ref="C-RESTRICT", sender=SENDER, recipient=RECIPIENT)
    assert receipt.status_code == 201, receipt.text
    vault.seal_scheduler.seal_all_pending()
    return {"depositor": depositor, **roles, "admin": admin, "id": receipt.json()["id"]}


def package_json(package: bytes, *rels: str) -> list:
    """The JSON members ``rels`` (paths under ``data/``) of a package's bytes."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        top = archive.namelist()[0].split("/")[0]
        return [json.loads(archive.read(f"{top}/data/{rel}")) for rel in rels]


def views(api, object_id: str, headers: dict | None = None) -> dict[str, dict]:
    """The object as each read route shows it to ``api``."""
    one = api.get(f"/v1/objects/{object_id}", headers=headers)
    found = api.get("/v1/objects", params={"case_ref": "C-RESTRICT"}, headers=headers)
    case = api.get("/v1/cases/C-RESTRICT", headers=headers)
    for response in (one, found, case):
        assert response.status_code == 200, response.text
    return {"object": one.json(), "search": found.json()["items"][0], "case": case.json()["events"][0]}


def disclosed(api, object_id: str, headers: dict | None = None) -> set[str]:
    response = api.get(f"/v1/objects/{object_id}/disclosures", headers=headers)
    assert response.status_code == 200, response.text
    return {d["field"] for d in response.json()["disclosures"]}


def entries(admin, action: str, object_id: str) -> list[dict]:
    return admin.get("/v1/journal/entries", params={"action": action, "object": object_id}).json()["entries"]


def test_restriction_hides_personal_values_everywhere_but_from_an_archivist_with_a_reason(vault, client, world):
    oid, archivist, admin = world["id"], world["archivist"], world["admin"]
    assert disclosed(world["auditor"], oid) == {"sender", "recipient", "filename"}
    restricted = archivist.post(f"/v1/objects/{oid}/restriction", json={"reason": "data subject contests accuracy"})
    assert restricted.status_code == 200, restricted.text
    assert {"filename", "recipient", "sender"} <= set(restricted.json()["restriction"]["fields"])
    [entry] = entries(admin, "restriction_set", oid)
    assert entry["detail"]["reason"] == "data subject contests accuracy"

    for api, headers in ((world["auditor"], None), (world["depositor"], None), (archivist, None),
                         (world["auditor"], REASON), (world["depositor"], REASON)):  # a reason helps archivists only
        for route, view in views(api, oid, headers).items():
            assert (view["sender"], view["recipient"], view["filename"], view["restricted"]) == \
                (None, None, None, True), (route, view)
            assert view["case_ref"] == "C-RESTRICT" and view["sha256"]  # the rest stays readable
        assert disclosed(api, oid, headers) == set()
        by_sender = api.get("/v1/objects", params={"sender": SENDER}, headers=headers).json()["items"]
        assert by_sender == []  # a match by the hidden value would disclose it
    assert not [e for e in entries(admin, "metadata_read", oid) if "access_reason" in e["detail"]]

    for route, view in views(archivist, oid, REASON).items():
        assert (view["sender"], view["recipient"], view["restricted"]) == (SENDER, RECIPIENT, True), route
    assert disclosed(archivist, oid, REASON) == {"sender", "recipient", "filename"}
    assert [i["id"] for i in archivist.get("/v1/objects", params={"sender": SENDER}, headers=REASON)
            .json()["items"]] == [oid]
    for action in ("metadata_read", "search", "case_view", "disclosures_read"):
        reasons = [e["detail"].get("access_reason") for e in entries(admin, action, oid)]
        assert "court order TJ-42" in reasons, (action, reasons)

    report = world["auditor"].get(f"/v1/objects/{oid}/report").json()
    assert report["object"]["filename"] is None and report["verdict"]["result"] == "pass"
    personal = next(c for c in report["checks"] if c["id"] == "metadata.personal")
    assert {i["name"]: i["state"] for i in personal["items"]} == \
        {"sender": "restricted", "recipient": "restricted", "filename": "restricted"}

    filename = archivist.get(f"/v1/objects/{oid}", headers=REASON).json()["filename"]  # the receipt's one personal
    assert filename                                                                     # field here
    for api in (world["auditor"], archivist):  # receipts issued again: masked too
        assert api.get(f"/v1/objects/{oid}/receipt").json()["filename"] is None
        compact = api.get(f"/v1/objects/{oid}/receipt", params={"format": "jws"}).text
        payload = compact.split(".")[1]
        assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["filename"] is None
    assert archivist.get(f"/v1/objects/{oid}/receipt", headers=REASON).json()["filename"] == filename
    assert "court order TJ-42" in [e["detail"].get("access_reason") for e in entries(admin, "receipt_read", oid)]

    _signed_in(client, archivist.key)  # the console shows the view without the values
    html = client.get(f"/ui/objects/{oid}").text
    assert "C-RESTRICT" in html and SENDER not in html

    package = world["depositor"].get(f"/v1/objects/{oid}/package")
    assert package.status_code == 200, package.text
    meta, opened, record = package_json(package.content, *(f"objects/{oid}/{name}.json" for name in (
        "metadata", "disclosures", "metadata-record")))
    assert (meta["sender"], meta["restricted"], meta["restricted_fields"]) == \
        (None, True, restricted.json()["restriction"]["fields"])
    assert opened == [] and set(record["commitments"]) == {"sender", "recipient", "filename"}
    assert SENDER.encode() not in package.content
    (tmp := vault.settings.data_dir / "restricted.zip").write_bytes(package.content)
    verdict = verify_package(tmp)
    assert verdict.ok, verdict.first_failure

    lifted = archivist.client.request("DELETE", f"/v1/objects/{oid}/restriction", headers=archivist.headers(),
                                      json={"reason": "accuracy verified"})
    assert lifted.status_code == 200 and lifted.json()["restricted"] is False, lifted.text
    assert entries(admin, "restriction_lifted", oid)[0]["detail"]["reason"] == "accuracy verified"
    for view in views(world["auditor"], oid).values():
        assert view["sender"] == SENDER and "restricted" not in view
    assert len(world["auditor"].get("/v1/objects", params={"sender": SENDER}).json()["items"]) == 1
    assert disclosed(world["depositor"], oid) == {"sender", "recipient", "filename"}


def test_restriction_errors_are_problems(world, admin):
    oid, archivist = world["id"], world["archivist"]
    missing = archivist.post(f"/v1/objects/{oid}/restriction", json={})
    assert missing.status_code == 422 and missing.headers["content-type"] == "application/problem+json"
    unknown = archivist.post("/v1/objects/01a24bd2-fec6-7020-a3cf-62ff91086adb/restriction", json={"reason": "x"})
    assert unknown.status_code == 404 and unknown.json()["type"].endswith("unknown-object")
    other = admin.as_key(admin.new_key("archivist", "globex"))
    assert other.post(f"/v1/objects/{oid}/restriction", json={"reason": "x"}).status_code == 403
    assert world["auditor"].post(f"/v1/objects/{oid}/restriction", json={"reason": "x"}).status_code == 403
    not_yet = archivist.client.request("DELETE", f"/v1/objects/{oid}/restriction", headers=archivist.headers(),
                                       json={"reason": "x"})
    assert not_yet.status_code == 409 and not_yet.json()["type"].endswith("not-restricted")
    no_reason = archivist.client.request("DELETE", f"/v1/objects/{oid}/restriction", headers=archivist.headers())
    assert no_reason.status_code == 422
    assert archivist.post(f"/v1/objects/{oid}/restriction", json={"reason": "x"}).status_code == 200
    again = archivist.post(f"/v1/objects/{oid}/restriction", json={"reason": "x"})
    assert again.status_code == 409 and again.json()["type"].endswith("already-restricted")
