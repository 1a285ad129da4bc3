"""Packages carry each object's metadata record and disclosures; ``vault-verify package`` proves the business
metadata with them (issue 22, docs/package.md, docs/metadata-record.md)."""

from __future__ import annotations

import json

from tests.test_verify_package import built, make_package, replace, rewrite_package  # noqa: F401 (fixture)
from vault.cli.main import main as vault_main
from vault_verify.package import UNPROVEN, verify_package


def _member(made: dict, rel: str) -> bytes:
    import zipfile
    with zipfile.ZipFile(made["path"]) as archive:
        top = archive.namelist()[0].split("/")[0]
        return archive.read(f"{top}/data/{rel}")


def test_a_package_carries_the_records_and_disclosures_and_proves_the_metadata(vault, depositor, tmp_path, capsys):
    made = make_package(vault, depositor, "MR-API", tmp_path / "p.zip")
    entries = made["manifest"]["objects"]
    for entry in entries:
        oid = entry["id"]
        assert entry["metadata_record"] == f"objects/{oid}/metadata-record.json"
        assert _member(made, entry["metadata_record"]) == depositor.get(f"/v1/objects/{oid}/metadata-record").content
        assert json.loads(_member(made, entry["disclosures"])) == \
            depositor.get(f"/v1/objects/{oid}/disclosures").json()["disclosures"]
    assert [e["metadata_record_sealed"] for e in entries] == [True] * 4 + [False]  # the last one: seal pending
    assert any(d["field"] == "filename" for d in json.loads(_member(made, entries[0]["disclosures"])))

    verdict = verify_package(made["path"])
    assert verdict.ok, verdict.first_failure
    for obj in verdict.objects[:4]:
        proven = [n for n in obj.notes if n.startswith("metadata proven")]
        assert len(proven) == 1 and "case_ref 'MR-API'" in proven[0] and "commitments to filename" in proven[0]
        assert "(the evidence record's first timestamp)" in proven[0]
        names = [c.name for c in obj.checks]
        assert f"disclosures of {obj.id}" in names and f"metadata.json = metadata record of {obj.id}" in names
    pending = verdict.objects[-1]
    assert "metadata record not sealed yet: its statements are not proven" in pending.notes
    assert not any(n.startswith("metadata proven") for n in pending.notes)
    assert UNPROVEN not in verdict.notes and any("of 4 of 5 object(s) is proven" in n for n in verdict.notes)

    assert vault_main(["verify-package", str(made["path"])]) == 0
    out = capsys.readouterr().out
    assert out.count("metadata proven: the metadata record (case_ref 'MR-API'") == 4 and out.strip().endswith("VALID")


def _object(built, n: int = 0) -> dict:
    return built["manifest"]["objects"][n]


def _verify_changed(built, tmp_path, changes):
    rewrite_package(built["path"], tmp_path / "t.zip", changes, rebag=True)  # the BagIt manifests fixed
    verdict = verify_package(tmp_path / "t.zip")
    assert all(c.ok for c in verdict.bag), [c for c in verdict.bag if not c.ok]
    return verdict


def test_a_record_changed_by_one_byte_fails_the_object(built, tmp_path):
    entry = _object(built)
    verdict = _verify_changed(built, tmp_path, {f"data/{entry['metadata_record']}": replace('"VP-1"', '"VP-2"')})
    assert not verdict.ok and not verdict.objects[0].ok and all(o.ok for o in verdict.objects[1:])
    failure = verdict.objects[0].first_failure
    assert failure.name == f"evidence record {entry['evidence_record']}" and "data group" in failure.detail, failure
    assert not any(n.startswith("metadata proven") for n in verdict.objects[0].notes)
    # a byte that breaks the canonical form is named as such
    verdict = _verify_changed(built, tmp_path, {f"data/{entry['metadata_record']}": replace(b'{"case_ref"',
                                                                                            b'{ "case_ref"')})
    failure = verdict.objects[0].first_failure
    assert failure.name == f"metadata record {entry['metadata_record']}" and "canonical" in failure.detail, failure


def test_a_changed_disclosure_value_fails_naming_the_field(built, tmp_path):
    entry = _object(built)
    verdict = _verify_changed(built, tmp_path, {f"data/{entry['disclosures']}": replace('"proof.pdf"', '"proof.pdg"')})
    failure = verdict.first_failure
    assert failure.name == f"disclosures of {entry['id']}" and failure.detail.startswith("filename: "), failure


def test_metadata_json_disagreeing_with_the_record_fails_naming_the_field(built, tmp_path):
    entry = _object(built)
    verdict = _verify_changed(built, tmp_path, {f"data/{entry['metadata']}": replace('"VP-1"', '"VP-X"')})
    failure = verdict.first_failure
    assert failure.name == f"metadata.json = metadata record of {entry['id']}", failure
    assert failure.detail == "case_ref: metadata.json says 'VP-X', the record 'VP-1'"
    # a personal value shown otherwise than disclosed
    verdict = _verify_changed(built, tmp_path, {f"data/{entry['metadata']}": replace('"proof.pdf"', '"other.pdf"')})
    assert "filename: metadata.json says 'other.pdf', the record's disclosed value is 'proof.pdf'" \
        in verdict.first_failure.detail


def _package_json(edit):
    def change(data: bytes) -> bytes:
        manifest = json.loads(data)
        for entry in manifest["objects"]:
            edit(entry)
        return json.dumps(manifest).encode()
    return change


def test_an_old_style_package_without_records_verifies_as_before(built, tmp_path):
    def drop(entry):
        for key in ("metadata_record", "disclosures", "metadata_record_sealed", "metadata_records"):
            entry.pop(key)
    changes = {f"data/{e[k]}": (lambda _data: None) for e in built["manifest"]["objects"]
               for k in ("metadata_record", "disclosures")}
    verdict = _verify_changed(built, tmp_path, {**changes, "data/package.json": _package_json(drop)})
    assert verdict.ok, verdict.first_failure
    assert UNPROVEN in verdict.notes
    assert not any(n.startswith("metadata") for o in verdict.objects for n in o.notes)
    assert not any(c.name.startswith(("disclosures", "metadata.json = metadata record"))
                   for o in verdict.objects for c in o.checks)


def test_a_record_the_evidence_record_does_not_cover_is_checked_but_not_proven(built, tmp_path):
    verdict = _verify_changed(built, tmp_path, {"data/package.json": _package_json(
        lambda entry: entry.update(metadata_record_sealed=False))})
    assert verdict.ok, verdict.first_failure
    assert UNPROVEN in verdict.notes
    assert any(n.startswith("metadata record made after the object was sealed") for n in verdict.objects[0].notes)
    # still checked against the content and metadata.json
    assert any(c.name == f"disclosures of {_object(built)['id']}" for c in verdict.objects[0].checks)
