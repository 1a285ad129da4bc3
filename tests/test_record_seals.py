"""Metadata record versions sealed apart from their content (issue 22): a reassignment's version 2, a version 1
backfilled for an object sealed before records; their history and evidence records over the API, renewed."""

from __future__ import annotations

import hashlib
import importlib
import json

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


def test_a_hash_the_rows_do_not_keep_seals_the_record_apart(vault_at, tmp_path):
    from datetime import datetime, timezone

    vault, _clock, admin = vault_at(datetime.now(timezone.utc), seal_hash="sha3_512")
    api = admin.as_key(admin.new_key("depositor", "acme"))
    content = b"sha3 sealed"
    receipt = deposit(api, content, **META)
    batches = vault.seal_scheduler.seal_all_pending()
    assert len(batches) == 2  # the content's initial batch, then the record's own
    check_group(api, version_er(api, receipt["id"], 1).content, content, record_of(api, receipt["id"]))
