"""Export packages: one BagIt bag in a streamed ZIP per object, case or query, read back with independent tools
(the bagit library, our offline ER verifier, RFC 6962 proof checks) — and the export itself journaled in it."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import bagit

from vault.evidence.verify import DataObject, verify_evidence_record
from vault.journal.merkle import leaf_hash, verify_consistency, verify_inclusion
from vault.journal.note import Verifier, open_checkpoint
from vault.timestamping.tokens import load_pem_roots


def export(api, path: str) -> tuple[zipfile.ZipFile, str, dict]:
    response = api.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    [top] = {name.split("/")[0] for name in archive.namelist()}
    manifest = json.loads(archive.read(f"{top}/data/package.json"))
    return archive, top, manifest


def test_a_case_package_carries_and_proves_every_object(vault, depositor, tmp_path):
    ids = [depositor.deposit(f"proof {n}".encode(), case_ref="PKG-1", event_type=event).json()["id"]
           for n, event in enumerate(("deposit", "sending", "receipt"))]
    vault.seal_scheduler.seal_all_pending()
    vault.checkpointer.checkpoint_now()
    vault.anchorer.anchor_now(force=True)
    depositor.get(f"/v1/objects/{ids[0]}/content")  # an access after the anchor
    archive, top, manifest = export(depositor, "/v1/cases/PKG-1/package")

    archive.extractall(tmp_path)
    bagit.Bag(str(tmp_path / top)).validate()  # an independent BagIt implementation: fixity and completeness
    assert manifest["format"] == "vault-package" and manifest["scope"] == {"kind": "case", "case_ref": "PKG-1"}
    assert [o["id"] for o in manifest["objects"]] == ids
    data = tmp_path / top / "data"
    roots = load_pem_roots((data / manifest["certificates"]["tsa_roots"]).read_bytes())
    for entry in manifest["objects"]:
        assert json.loads((data / entry["metadata"]).read_text())["sha256"] == entry["sha256"]
        verdict = verify_evidence_record((data / entry["evidence_record"]).read_bytes(),
                                         [DataObject(path=str(data / entry["content"]))], roots=roots)
        assert verdict.ok, verdict.first_failure

    journal = manifest["journal"]
    verifier = Verifier.parse((data / journal["key"]).read_text().strip())
    checkpoint = open_checkpoint((data / journal["checkpoint"]).read_bytes(), verifier)
    proofs = json.loads((data / journal["proofs"]).read_text())
    lines = (data / journal["entries"]).read_bytes().splitlines()
    entries = {json.loads(line)["seq"]: line for line in lines}
    for seq, line in entries.items():
        proof = [base64.b64decode(h) for h in proofs["inclusion"][str(seq)]]
        verify_inclusion(seq, checkpoint.size, leaf_hash(line), proof, checkpoint.root)
    actions = [json.loads(line)["action"] for line in lines]
    assert actions.count("deposit") == 3 and "content_read" in actions and actions[-1] == "package_export"
    assert {o["deposit_journal_index"] for o in manifest["objects"]} <= set(entries)
    anchored = open_checkpoint((data / journal["anchor_checkpoint"]).read_bytes(), verifier)
    verify_consistency(anchored.size, checkpoint.size, anchored.root, checkpoint.root,
                       [base64.b64decode(h) for h in proofs["anchor"]["consistency"]])


def test_object_and_query_packages_and_refusals(vault, depositor, admin):
    first = depositor.deposit(b"alone", case_ref="PKG-2", sender="ann@example.org").json()["id"]
    depositor.deposit(b"other", case_ref="PKG-3", sender="ann@example.org")
    _archive, _top, manifest = export(depositor, f"/v1/objects/{first}/package")
    assert [o["id"] for o in manifest["objects"]] == [first] and manifest["objects"][0]["evidence_record"] is None
    _archive, _top, manifest = export(depositor, "/v1/packages?party=ann@example.org")
    assert len(manifest["objects"]) == 2 and manifest["scope"]["filters"] == {"party": "ann@example.org"}
    assert depositor.get("/v1/packages").status_code == 422
    assert depositor.get("/v1/cases/NOPE/package").status_code == 404
    other = admin.as_key(admin.new_key("depositor", "globex"))
    assert other.get(f"/v1/objects/{first}/package").status_code == 403
    auditor = admin.as_key(admin.new_key("auditor", "acme"))
    assert auditor.get(f"/v1/objects/{first}/package").status_code == 403  # auditors never read content


def test_a_large_export_is_journaled_in_entries_that_fit_a_tile(vault, depositor, monkeypatch):
    """An entry naming thousands of objects would pass the 64 KiB limit of a tlog entry bundle: parts instead."""
    import vault.api.routes.packages as packages

    monkeypatch.setattr(packages, "IDS_PER_ENTRY", 2)
    ids = [depositor.deposit(f"p{n}".encode(), case_ref="PKG-BIG").json()["id"] for n in range(5)]
    _archive, _top, manifest = export(depositor, "/v1/cases/PKG-BIG/package")
    assert [o["id"] for o in manifest["objects"]] == ids
    exported = [json.loads(e) for _s, e in vault.journal_objects.entries(ids)]
    parts = [e for e in exported if e["action"] == "package_export"]
    assert [p["detail"]["part"] for p in parts] == [1, 2, 3] and {p["detail"]["parts"] for p in parts} == {3}
    assert sorted(i for p in parts for i in p["objects"]) == sorted(ids)
    first = parts[0]["seq"]  # one transaction: the parts are consecutive entries, nothing in between
    assert [p["seq"] for p in parts] == [first, first + 1, first + 2]


def test_too_many_objects_for_one_package_is_a_clear_error(vault, depositor, monkeypatch):
    import vault.api.routes.packages as packages

    monkeypatch.setattr(packages, "MAX_OBJECTS", 2)
    for n in range(3):
        depositor.deposit(f"q{n}".encode(), case_ref="PKG-MANY")
    response = depositor.get("/v1/packages", params={"case_ref": "PKG-MANY"})
    assert response.status_code == 422 and response.json()["type"].endswith("too-many-objects")
    assert "export-all" in response.json()["detail"]
