"""Metadata record versions sealed apart from their content (issue 22): a reassignment's version 2, a version 1
backfilled for an object sealed before records; their history and evidence records over the API, renewed."""

from __future__ import annotations

import hashlib
import importlib
import json
import zipfile

from sqlalchemy import delete, func, select

from tests.test_metadata_seal import META, check_group, record_of
from tests.test_seal import _data, check, deposit, evidence, roots
from vault.evidence.batches import BATCHES, RECORD_SEAL
from vault.evidence.metadata_store import DISCLOSURES, PENDING, RECORDS
from vault.evidence.verify import verify_evidence_record

MIGRATION = importlib.import_module("vault.db.migrations.versions.0026_record_seals")


def history(api, object_id: str) -> list[dict]:
    response = api.get(f"/v1/objects/{object_id}/metadata-records")
    assert response.status_code == 200, response.text
    return response.json()["versions"]


def version_er(api, object_id: str, version: int):
    return api.get(f"/v1/objects/{object_id}/metadata-records/{version}/evidence-record")


def reassign(admin, object_id: str, policy: str = "consent-record") -> None:
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    response = archivist.post(f"/v1/objects/{object_id}/policy", json={"policy": policy})
    assert response.status_code == 200, response.text


def version_bytes(vault, object_id: str, version: int) -> bytes:
    with vault.reader.connect() as c:
        return bytes(c.execute(select(RECORDS.c.record).where(RECORDS.c.object_id == object_id,
                                                               RECORDS.c.version == version)).scalar_one())


def test_a_reassignment_version_is_sealed_in_the_next_pass_and_renewed(vault, depositor, admin):
    content = b"reassigned proof"
    receipt = deposit(depositor, content, **META)
    object_id = receipt["id"]
    vault.seal_scheduler.seal_all_pending()
    reassign(admin, object_id)
    first, second = history(depositor, object_id)
    assert first["version"] == 1 and first["sealed"] is not None and first["previous"] is None
    assert second["version"] == 2 and second["sealed"] is None
    assert second["previous"] == first["sha256"] == hashlib.sha256(version_bytes(vault, object_id, 1)).hexdigest()
    pending = version_er(depositor, object_id, 2)
    assert pending.status_code == 409 and pending.json()["type"].endswith("record-seal-pending")
    assert vault.sealer.pending_count()[0] == 1  # the backlog counts the version

    batches = vault.seal_scheduler.seal_all_pending()
    assert len(batches) == 1 and vault.sealer.pending_count()[0] == 0
    assert vault.seal_scheduler.seal_all_pending() == []  # sealed once
    sealed = history(depositor, object_id)[1]["sealed"]
    assert sealed["batch"] == batches[0] and sealed["gen_time"]
    v1, v2 = version_bytes(vault, object_id, 1), version_bytes(vault, object_id, 2)
    assert version_er(depositor, object_id, 1).content == evidence(depositor, object_id)  # sealed with the content
    for body, chains in [(None, 1), ({"kind": "timestamp-renewal"}, 1),
                         ({"kind": "hash-tree-renewal", "hash": "sha512"}, 2), ({"kind": "timestamp-renewal"}, 2)]:
        if body is not None:
            response = admin.post("/v1/admin/reseal", json=body)
            assert response.status_code == 200 and response.json()["batches"], response.text
        response = version_er(depositor, object_id, 2)
        assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.vault.ers"
        verdict = check_group(depositor, response.content, content, v2)
        assert len({s.name.split(" ATS")[0] for s in verdict.steps}) == chains, body
        check_group(depositor, evidence(depositor, object_id), content, v1)  # the old chains are kept
        edited = v2.replace(b'"consent-record"', b'"lre-proof"')
        assert edited != v2
        assert not verify_evidence_record(response.content, [_data(content), _data(edited)], group=True).ok
        assert not verify_evidence_record(response.content, [_data(content), _data(v1)], group=True).ok
    with vault.reader.connect() as c:
        entries = [json.loads(e) for _s, e in vault.journal_objects.entries([object_id])]
        assert c.execute(select(func.count()).select_from(BATCHES).where(BATCHES.c.kind == RECORD_SEAL)).scalar() == 1
    reads = [e["detail"] for e in entries if e["action"] == "metadata_record_read"]
    assert {"evidence_record": True, "version": 2} in reads and {"history": True} in reads


def test_missing_versions_are_404_problems_and_other_tenants_are_refused(vault, depositor, admin):
    receipt = deposit(depositor, b"one version", **META)
    missing = version_er(depositor, receipt["id"], 7)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    for bad in ("0", "-1", str(2**63), "two"):  # not a version number: refused before any read
        refused = depositor.get(f"/v1/objects/{receipt['id']}/metadata-records/{bad}/evidence-record")
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json", bad
    assert version_er(depositor, receipt["id"], 1).status_code == 409  # not sealed yet
    other = admin.as_key(admin.new_key("depositor", "globex"))
    assert other.get(f"/v1/objects/{receipt['id']}/metadata-records").status_code == 403


def test_an_object_sealed_before_records_gets_its_record_sealed_in_the_next_pass(vault, depositor):
    content = b"sealed before records"
    receipt = deposit(depositor, content, **META)
    object_id = receipt["id"]
    vault.writer.run(lambda c: (c.execute(delete(DISCLOSURES)), c.execute(delete(RECORDS))))
    vault.seal_scheduler.seal_all_pending()  # content-only, as before migration 0025
    old = evidence(depositor, object_id)
    vault.writer.run(lambda c: (MIGRATION._backfill_missing(c), MIGRATION._queue(c)))  # 0025's backfill, 0026's queue
    record = record_of(depositor, object_id)
    assert [v["sealed"] for v in history(depositor, object_id)] == [None]
    assert version_er(depositor, object_id, 1).status_code == 409
    with vault.reader.connect() as c:
        assert c.execute(select(PENDING.c.object_id, PENDING.c.version)).all() == [(object_id, 1)]

    [batch] = vault.seal_scheduler.seal_all_pending()
    assert history(depositor, object_id)[0]["sealed"]["batch"] == batch
    er = version_er(depositor, object_id, 1)
    assert er.status_code == 200
    check_group(depositor, er.content, content, record)
    assert evidence(depositor, object_id) == old  # the content's chain is unchanged and still verifies
    check(depositor, old, content)
    assert verify_evidence_record(old, [_data(content)], roots=roots(depositor)).ok


def test_a_package_proves_a_backfilled_record_by_its_own_evidence_record(vault, depositor, tmp_path):
    from vault_verify.package import verify_package

    object_id = deposit(depositor, b"backfilled, packaged", **{**META, "case_ref": "RS-OLD"})["id"]
    vault.writer.run(lambda c: (c.execute(delete(DISCLOSURES)), c.execute(delete(RECORDS))))
    vault.seal_scheduler.seal_all_pending()
    vault.writer.run(lambda c: (MIGRATION._backfill_missing(c), MIGRATION._queue(c)))
    vault.seal_scheduler.seal_all_pending()
    path = _case_package(vault, depositor, "RS-OLD", tmp_path / "p.zip")
    with zipfile.ZipFile(path) as archive:
        top = archive.namelist()[0].split("/")[0]
        [entry] = json.loads(archive.read(f"{top}/data/package.json"))["objects"]
    assert entry["metadata_record_sealed"] is False
    assert entry["metadata_records"] == [{"version": 1, "record": f"objects/{object_id}/metadata-record.json",
                                          "evidence_record": f"objects/{object_id}/metadata-record-v1.ers"}]
    [obj] = verify_package(path).objects
    assert obj.ok, obj.first_failure
    assert any(n.startswith("metadata proven: the metadata record (case_ref 'RS-OLD'") for n in obj.notes)
    assert not any(n.startswith("metadata record made after") for n in obj.notes)


def test_a_hash_the_rows_do_not_keep_seals_the_record_apart(vault_at, tmp_path):
    from datetime import datetime, timezone

    vault, _clock, admin = vault_at(datetime.now(timezone.utc), seal_hash="sha3_512")
    api = admin.as_key(admin.new_key("depositor", "acme"))
    content = b"sha3 sealed"
    receipt = deposit(api, content, **META)
    batches = vault.seal_scheduler.seal_all_pending()
    assert len(batches) == 2  # the content's initial batch, then the record's own
    check_group(api, version_er(api, receipt["id"], 1).content, content, record_of(api, receipt["id"]))


def _case_package(vault, depositor, case: str, path):
    vault.checkpointer.checkpoint_now()
    vault.anchorer.anchor_now(force=True)
    response = depositor.get(f"/v1/cases/{case}/package")
    assert response.status_code == 200, response.text
    path.write_bytes(response.content)
    return path


def test_a_package_proves_the_history_and_fails_naming_an_edited_version_or_a_broken_chain(vault, depositor, admin,
                                                                                          tmp_path):
    from tests.test_verify_package import replace, rewrite_package
    from vault_verify.package import verify_package

    meta = {**META, "case_ref": "RS-PKG"}
    kept, moved = (deposit(depositor, c, **meta)["id"] for c in (b"kept as deposited", b"reassigned later"))
    vault.seal_scheduler.seal_all_pending()
    reassign(admin, moved)
    vault.seal_scheduler.seal_all_pending()
    path = _case_package(vault, depositor, "RS-PKG", tmp_path / "p.zip")
    verdict = verify_package(path)
    assert verdict.ok, verdict.first_failure
    by_id = {o.id: o for o in verdict.objects}
    assert any(n.startswith("metadata proven: the metadata record (") for n in by_id[kept].notes)
    proven = [n for n in by_id[moved].notes if n.startswith("metadata proven")]
    assert len(proven) == 1 and proven[0].startswith("metadata proven: version 2 of the metadata record")
    assert "policy 'consent-record'" in proven[0]
    names = {c.name: c for c in by_id[moved].checks}
    assert names[f"metadata record history of {moved}"].ok
    assert f"metadata record version 2 evidence record objects/{moved}/metadata-record-v2.ers" in names

    # version 2's bytes edited: its evidence record no longer covers it, and the chain is broken too
    v2 = f"data/objects/{moved}/metadata-record-v2.json"
    rewrite_package(path, tmp_path / "edited.zip", {v2: replace('"consent-record"', '"lre-proof"')}, rebag=True)
    edited = {o.id: o for o in verify_package(tmp_path / "edited.zip").objects}
    assert edited[kept].ok and not edited[moved].ok
    failure = edited[moved].first_failure
    assert failure.name == f"metadata record version 2 evidence record objects/{moved}/metadata-record-v2.ers"
    assert "data group" in failure.detail, failure
    assert not any(n.startswith("metadata proven") for n in edited[moved].notes)
    # the link to version 1 broken
    first = hashlib.sha256(version_bytes(vault, moved, 1)).hexdigest()
    rewrite_package(path, tmp_path / "chain.zip", {v2: replace(first, "0" * 64)}, rebag=True)
    broken = {o.id: o for o in verify_package(tmp_path / "chain.zip").objects}[moved]
    chain = next(c for c in broken.checks if c.name == f"metadata record history of {moved}")
    assert not chain.ok and chain.detail.startswith(f"version 2's previous is {'0' * 64}, the SHA-256 of version 1")


def test_an_unsealed_newest_version_is_named_and_the_last_sealed_one_proven(vault, depositor, admin, tmp_path):
    from vault_verify.package import verify_package

    moved = deposit(depositor, b"moved twice", **{**META, "case_ref": "RS-NEW"})["id"]
    vault.seal_scheduler.seal_all_pending()
    reassign(admin, moved)
    vault.seal_scheduler.seal_all_pending()
    reassign(admin, moved, "lre-proof")  # version 3, not sealed
    path = _case_package(vault, depositor, "RS-NEW", tmp_path / "p.zip")
    [obj] = verify_package(path).objects
    assert obj.ok, obj.first_failure
    assert any(n.startswith("metadata proven: version 2 of the metadata record") for n in obj.notes)
    assert "metadata record version 3 not sealed yet: the business metadata proven is version 2's" in obj.notes
