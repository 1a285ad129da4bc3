"""Attack: a tenant's auditor reads another tenant's journal (issue #18). A tenant auditor sees its tenant's entries
only, each proven included in a signed checkpoint; entry bundles (every tenant's entries) are the platform's."""

from __future__ import annotations

import base64
import hashlib

from vault_verify.canonical import canonical_json
from vault_verify.merkle import leaf_hash, verify_inclusion
from vault_verify.note import Verifier, open_checkpoint


def _tenants(admin):
    acme = admin.as_key(admin.new_key("depositor", "acme"))
    globex = admin.as_key(admin.new_key("depositor", "globex"))
    return acme, globex


def test_a_tenant_auditor_reads_its_own_entries_only(admin, vault):
    acme, globex = _tenants(admin)
    secret = b"%PDF-1.7 globex board minutes"
    foreign = globex.deposit(secret, case_ref="GLOBEX-1").json()["id"]
    own = acme.deposit(b"%PDF-1.7 acme proof", case_ref="ACME-1").json()["id"]
    auditor = admin.as_key(admin.new_key("auditor", "acme"))
    vault.checkpointer.checkpoint_now()
    answer = auditor.get("/v1/journal/entries", params={"limit": 1000})
    assert answer.status_code == 200
    listed = answer.json()
    assert listed["entries"] and {e["tenant"] for e in listed["entries"]} == {"acme"}
    assert own in {o for e in listed["entries"] for o in e["objects"]}
    text = answer.text
    assert foreign not in text and hashlib.sha256(secret).hexdigest() not in text and "globex" not in text
    assert auditor.get("/v1/journal/entries", params={"object": foreign}).json()["entries"] == []
    everything = admin.as_key(admin.new_key("auditor", "*")).get("/v1/journal/entries", params={"limit": 1000}).json()
    assert {"acme", "globex"} <= {e["tenant"] for e in everything["entries"]}
    assert "proofs" not in everything  # a platform auditor asks for them (?proofs=true)


def test_the_entries_answer_proves_itself_against_the_signed_checkpoint(admin, vault):
    acme, globex = _tenants(admin)
    for i in range(3):
        acme.deposit(f"%PDF-1.7 acme {i}".encode())
        globex.deposit(f"%PDF-1.7 globex {i}".encode())
    auditor = admin.as_key(admin.new_key("auditor", "acme"))
    vault.checkpointer.checkpoint_now()
    verifier = Verifier.parse(auditor.get("/v1/journal/key").text)
    listed = auditor.get("/v1/journal/entries").json()
    checkpoint = open_checkpoint(listed["checkpoint"].encode(), verifier)
    assert listed["proofs"]["checkpoint_size"] == checkpoint.size
    proven = 0
    for entry in listed["entries"]:
        if entry["seq"] >= checkpoint.size:
            assert entry["seq"] in listed["proofs"]["unproven"]
            continue
        proof = [base64.b64decode(h) for h in listed["proofs"]["inclusion"][str(entry["seq"])]]
        verify_inclusion(entry["seq"], checkpoint.size, leaf_hash(canonical_json(entry)), proof, checkpoint.root)
        proven += 1
    assert proven >= 3
    platform = admin.as_key(admin.new_key("auditor", "*")).get("/v1/journal/entries", params={"proofs": "true"}).json()
    assert platform["checkpoint"] and platform["proofs"]["inclusion"]


def test_entry_bundles_are_refused_to_a_tenant_auditor_and_hash_tiles_are_not(admin, vault):
    acme, globex = _tenants(admin)
    globex.deposit(b"%PDF-1.7 globex")
    vault.checkpointer.checkpoint_now()
    auditor = admin.as_key(admin.new_key("auditor", "acme"))
    size = int(auditor.get("/journal/checkpoint").text.split("\n")[1])
    width = f".p/{size}" if size < 256 else ""
    refused = auditor.get(f"/journal/tile/entries/000{width}")
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    denial = admin.as_key(admin.new_key("auditor", "*")).get("/v1/journal/entries", params={
        "action": "access_denied"}).json()["entries"][-1]
    assert denial["tenant"] == "acme" and denial["detail"]["route"] == "/journal/tile"
    tile = auditor.get(f"/journal/tile/0/000{width}")
    assert tile.status_code == 200 and len(tile.content) == 32 * min(size, 256)
    assert tile.headers["cache-control"] == "private, max-age=31536000, immutable"
    bundles = admin.get(f"/journal/tile/entries/000{width}")
    assert bundles.status_code == 200 and b"globex" in bundles.content
    assert bundles.headers["cache-control"].startswith("private")
    for readable in ("/journal/checkpoint", "/v1/journal/key", "/v1/journal/anchors",
                     f"/v1/journal/proof/inclusion?index=0&size={size}",
                     f"/v1/journal/proof/consistency?old=1&new={size}"):
        assert auditor.get(readable).status_code == 200, readable


def test_a_tenant_admin_cannot_erase_a_pseudonym(admin, vault):
    acme, globex = _tenants(admin)
    globex.get("/v1/objects", params={"sender": "boss@globex.example"})
    tenant_admin = admin.as_key(admin.new_key("admin", "acme"))
    body = {"kind": "sender", "value": "boss@globex.example"}
    refused = tenant_admin.post("/v1/journal/erasures", json=body)
    assert refused.status_code == 403 and "platform" in refused.json()["detail"]
    assert admin.post("/v1/journal/erasures", json=body).json()["erased"] is True


def test_pages_neither_skip_nor_repeat_across_foreign_entries(admin, vault):
    """Many foreign entries between two of a tenant's: each page reads a bounded window, ``next_from`` goes on."""
    from vault.journal.listing import EntryQuery, entry_page

    acme, globex = _tenants(admin)
    for round_ in range(4):
        acme.get("/v1/objects")
        for _ in range(9):
            globex.get("/v1/objects")
    with vault.reader.connect() as connection:
        wanted = [seq for seq, _ in entry_page(connection, EntryQuery(tenant="acme", limit=1000)).entries]
        seen, start, pages = [], 0, 0
        while start is not None:
            page = entry_page(connection, EntryQuery(start=start, tenant="acme", limit=2), scan=5)
            assert all(start <= seq < start + 5 for seq, _ in page.entries)
            assert page.next_from is None or page.next_from > start
            seen += [seq for seq, _ in page.entries]
            start, pages = page.next_from, pages + 1
    assert len(wanted) >= 4 and seen == wanted and pages > len(wanted)
