"""The console's object page without a browser: the seal chain (initial seal, renewals), the copies with their last
audit, the fixity findings, and the evidence record and package downloads, journaled as the API's."""

from __future__ import annotations

import re

from tests.conftest import ADMIN_KEY, Api
from vault.evidence.status import seal_state


def _signed_in(client, key: str):
    form = client.get("/ui/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    assert client.post("/ui/sign-in", data={"api_key": key, "csrf": token}, follow_redirects=False).status_code == 303


def _rows(html: str, heading_id: str) -> list[str]:
    """The text of each body row of the table that follows the heading ``heading_id``."""
    after = html.split(f'id="{heading_id}"', 1)[1]
    body = after.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("</tr>") if "<td" in row]


def test_object_page_shows_the_seal_chain_copies_audits_and_the_evidence_downloads(vault, client):
    admin = Api(client, ADMIN_KEY)
    issued = admin.post("/v1/keys", json={"role": "archivist", "tenant": "acme", "holder": "ann@example.org"}).json()
    receipt = admin.deposit(b"%PDF-1.7 chained", tenant="acme", case_ref="C-CHAIN").json()
    object_id = receipt["id"]
    _signed_in(client, issued["key"])
    pending = client.get(f"/ui/objects/{object_id}").text
    assert "Not sealed yet" in pending and "/evidence-record" not in pending

    vault.seal_scheduler.seal_all_pending()
    for kind in ("timestamp-renewal", "timestamp-renewal"):
        assert admin.post("/v1/admin/reseal", json={"kind": kind}).status_code == 200
    assert admin.post("/v1/admin/audits", json={}).json()["bad"] == []
    html = client.get(f"/ui/objects/{object_id}").text
    chain = _rows(html, "chain")
    assert [row.split(" 20")[0] for row in chain] == ["Initial seal", "Timestamp renewal", "Timestamp renewal"]
    with vault.reader.connect() as connection:
        tsa = seal_state(connection, vault.catalog.get(object_id)["seal_seq"])["tsa"]
    assert all(tsa in row for row in chain), chain
    copies = _rows(html, "copies")
    stores = [s.name for s in vault.copies.stores]
    assert [row.split(" ")[0] for row in copies] == sorted(stores)
    assert all("not audited yet" not in row for row in copies)  # the audit re-read every copy
    assert "No audit or read has found a bad or missing copy." in html

    vault.store.path_for(receipt["sha256"]).write_bytes(b"%PDF-1.7 chainex")  # bit rot on the local store
    admin.post("/v1/admin/audits", json={})
    findings = _rows(client.get(f"/ui/objects/{object_id}").text, "audits")
    assert any(row.startswith("copy-corrupt (audit) local") for row in findings), findings

    ers = client.get(f"/ui/objects/{object_id}/evidence-record")
    assert ers.status_code == 200 and ers.headers["content-type"] == "application/vnd.vault.ers"
    assert ers.content == admin.get(f"/v1/objects/{object_id}/evidence-record").content
    package = client.get(f"/ui/objects/{object_id}/package")
    assert package.status_code == 200 and package.content[:2] == b"PK"
    entries = admin.get("/v1/journal/entries", params={"object": object_id}).json()["entries"]
    mine = {e["action"] for e in entries if e["actor"] == issued["key_id"]}
    assert {"metadata_read", "evidence_export", "package_export"} <= mine, mine
