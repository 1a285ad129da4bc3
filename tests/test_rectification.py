"""Rectification and erasure of object metadata (issue 22, GDPR art. 16/17): a correction is the next record
version, linked by hash and carrying its sealed reason; an erasure deletes the salts and clear values of erasable
personal fields, everywhere the archive keeps them, and every proof still verifies (docs/metadata-record.md)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from sqlalchemy import select, update

from tests.test_journal_export_zip import _unpack
from vault.db.tables import JournalEntry, JournalPseudonym, ObjectExtraKey
from vault.evidence.metadata_store import DISCLOSURES, ERASURES, RECORDS, disclosures, record_bytes
from vault.evidence.rowaudit import OBJECTS, row_mismatches
from vault_verify.cli import main as verify_main
from vault_verify.metadata import commitment
from vault_verify.package import verify_package

ENTRIES = JournalEntry.__table__


def _problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(slug), response.json()
    return response.json()


def _versions(vault, object_id: str) -> dict[int, bytes]:
    with vault.reader.connect() as c:
        return {r.version: bytes(r.record) for r in c.execute(select(RECORDS).where(RECORDS.c.object_id == object_id))}


def _journal(vault, action: str) -> list[bytes]:
    with vault.reader.connect() as c:
        return [bytes(e) for e in c.execute(select(ENTRIES.c.entry).where(ENTRIES.c.action == action)).scalars()]


def _found(api, **params) -> list[str]:
    response = api.get("/v1/objects", params=params)
    assert response.status_code == 200, response.text
    return [o["id"] for o in response.json()["items"]]


def test_a_correction_is_the_next_sealed_version_and_search_follows(vault, admin):
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    stranger = admin.as_key(admin.new_key("archivist", "globex"))
    made = depositor.deposit(b"%PDF-1.7 corrected", case_ref="RECT-OLD", sender="alice@example.org",
                             extra={"channel": "lre"})
    assert made.status_code == 201, made.text
    oid = made.json()["id"]
    first = _versions(vault, oid)[1]
    url = f"/v1/objects/{oid}/corrections"

    # refused, with nothing changed: each names what is wrong
    body = _problem(archivist.post(url, json={"changes": {"tenant": "globex", "case_ref": "X"}, "reason": "r"}),
                    422, "not-correctable")
    assert body["fields"] == ["tenant"]
    _problem(archivist.post(url, json={"changes": {"policy": "email-proof"}, "reason": "r"}), 422, "not-correctable")
    body = _problem(archivist.post(url, json={"changes": {"event_type": "teleport"}, "reason": "r"}), 422,
                    "invalid-correction")
    assert body["errors"][0]["field"] == "event_type"
    _problem(archivist.post(url, json={"changes": {"sender": "a\x07b"}, "reason": "r"}), 422, "invalid-correction")
    _problem(archivist.post(url, json={"changes": {"filename": "x" * 300}, "reason": "r"}), 422, "invalid-correction")
    _problem(archivist.post(url, json={"changes": {"event_time": "1990-01-01T00:00:00Z"}, "reason": "r"}), 422,
             "invalid-correction")
    _problem(archivist.post(url, json={"changes": {"case_ref": None}, "reason": "r"}), 422, "invalid-correction")
    _problem(archivist.post(url, json={"changes": {}, "reason": "r"}), 422, "empty-changes")
    _problem(archivist.post(url, json={"changes": {"case_ref": "RECT-NEW"}}), 422, "invalid-request")
    _problem(archivist.post(url, json={"changes": {"case_ref": "RECT-NEW"}, "reason": " "}), 422, "invalid-request")
    assert depositor.post(url, json={"changes": {"case_ref": "RECT-NEW"}, "reason": "r"}).status_code == 403
    _problem(stranger.post(url, json={"changes": {"case_ref": "RECT-NEW"}, "reason": "r"}), 404, "unknown-object")
    assert list(_versions(vault, oid)) == [1] and depositor.get(f"/v1/objects/{oid}").json()["case_ref"] == "RECT-OLD"

    done = archivist.post(url, json={"changes": {"case_ref": "RECT-NEW", "sender": "alicia@example.org",
                                                 "extra.channel": "post"}, "reason": "typo in the case reference"})
    assert done.status_code == 201, done.text
    versions = _versions(vault, oid)
    assert done.json() == {"object_id": oid, "version": 2, "sha256": hashlib.sha256(versions[2]).hexdigest()}
    assert versions[1] == first and b"correction" not in first  # version 1 untouched
    record = json.loads(versions[2])
    assert record["version"] == 2 and record["previous"] == hashlib.sha256(first).hexdigest()
    assert record["correction"] == {"reason": "typo in the case reference",
                                    "fields": ["case_ref", "extra.channel", "sender"]}
    assert record["case_ref"] == "RECT-NEW" and record["extra"] == {"channel": "post"}
    opened = {d["field"]: d for d in depositor.get(f"/v1/objects/{oid}/disclosures").json()["disclosures"]}
    assert opened["sender"]["value"] == "alicia@example.org"
    assert commitment(bytes.fromhex(opened["sender"]["salt"]), "alicia@example.org") == record["commitments"]["sender"]
    assert record["commitments"]["sender"] != json.loads(first)["commitments"]["sender"]  # a fresh salt

    # views and search use the newest values; the row agrees with the newest record
    view = depositor.get(f"/v1/objects/{oid}").json()
    assert view["case_ref"] == "RECT-NEW" and view["sender"] == "alicia@example.org"
    assert _found(depositor, case_ref="RECT-NEW") == [oid] and _found(depositor, case_ref="RECT-OLD") == []
    assert _found(depositor, sender="alicia@example.org") == [oid] and _found(depositor, sender="alice@example.org") == []
    assert _found(depositor, **{"extra.channel": "post"}) == [oid] and _found(depositor, **{"extra.channel": "lre"}) == []
    big = archivist.post(url, json={"changes": {"extra.n": 2**60}, "reason": "r"})
    _problem(big, 422, "invalid-correction")
    with vault.reader.connect() as c:
        row = dict(c.execute(select(OBJECTS).where(OBJECTS.c.id == oid)).mappings().one())
        assert row_mismatches(c, row, vault.policies) == []
        assert row_mismatches(c, {**row, "case_ref": "RECT-OLD"}, vault.policies)  # and still catches an edit

    # journaled with field names and the reason, never a value
    [entry] = _journal(vault, "metadata_corrected")
    detail = json.loads(entry)["detail"]
    assert detail["fields"] == ["case_ref", "extra.channel", "sender"] and detail["version"] == 2
    assert b"RECT-NEW" not in entry and b"alicia" not in entry and b"post" not in entry

    # a destroyed object is not corrected
    vault.writer.run(lambda c: c.execute(update(OBJECTS).where(OBJECTS.c.id == oid)
                                         .values(destroyed_at=row["deposited_at"])))
    _problem(archivist.post(url, json={"changes": {"case_ref": "RECT-3"}, "reason": "r"}), 409, "destroyed")
    _problem(archivist.post(f"/v1/objects/{oid}/erasure", json={"fields": ["sender"], "reason": "r"}), 409,
             "destroyed")


SECRET_MAIL = "erin.erasable@example.org"
SECRET_IP = "203.0.113.77"


def _files_holding(directory: Path, needles: list[bytes]) -> list[str]:
    return [str(p) for p in directory.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]


def test_erasure_removes_the_values_everywhere_and_every_proof_still_verifies(vault, admin, tmp_path):
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    auditor = admin.as_key(admin.new_key("auditor", "*"))
    content = b"opt-in record of a newsletter consent"
    made = depositor.deposit(content, filename="consent.txt", media_type="text/plain", case_ref="GDPR-1",
                             policy="consent-record",
                             sender=SECRET_MAIL, extra={"ip_address": SECRET_IP, "email": "kept@example.org"})
    assert made.status_code == 201, made.text
    oid = made.json()["id"]
    assert _found(depositor, sender=SECRET_MAIL.upper()) == [oid]  # the search's pseudonym keeps the clear value
    vault.seal_scheduler.seal_all_pending()
    vault.checkpointer.checkpoint_now()
    vault.anchorer.anchor_now(force=True)
    before = tmp_path / "before.zip"
    answer = depositor.get(f"/v1/objects/{oid}/package")
    assert answer.status_code == 200, answer.text
    before.write_bytes(answer.content)
    with vault.reader.connect() as c:
        record = record_bytes(c, oid)
    url = f"/v1/objects/{oid}/erasure"

    body = _problem(archivist.post(url, json={"fields": ["sender", "filename"], "reason": "art. 17 request"}), 422,
                    "not-erasable")
    assert body["fields"] == ["filename"] and "extra.ip_address" in body["erasable"]
    _problem(archivist.post(url, json={"fields": [], "reason": "r"}), 422, "invalid-request")
    assert depositor.post(url, json={"fields": ["sender"], "reason": "r"}).status_code == 403
    assert depositor.get(f"/v1/objects/{oid}").json()["sender"] == SECRET_MAIL  # nothing changed by a refusal

    done = archivist.post(url, json={"fields": ["sender", "extra.ip_address"], "reason": "request of the subject"})
    assert done.status_code == 200, done.text
    assert done.json()["erased"] == ["extra.ip_address", "sender"]

    # gone from the views, the disclosures, search, and every table that held them
    view = depositor.get(f"/v1/objects/{oid}").json()
    assert view["sender"] is None and view["extra"] == {"email": "kept@example.org"}
    fields = [d["field"] for d in depositor.get(f"/v1/objects/{oid}/disclosures").json()["disclosures"]]
    assert "sender" not in fields and "extra.ip_address" not in fields and "extra.email" in fields
    with vault.reader.connect() as c:
        assert {d["field"] for d in disclosures(c, oid)} == {"extra.email", "filename"}
        assert not c.execute(select(JournalPseudonym.__table__).where(
            JournalPseudonym.__table__.c.value.in_([SECRET_MAIL, SECRET_MAIL.upper()]))).all()
        assert not c.execute(select(ObjectExtraKey.__table__).where(
            ObjectExtraKey.__table__.c.value_key == SECRET_IP)).all()
        marks = {r.field: r.reason for r in c.execute(select(ERASURES).where(ERASURES.c.object_id == oid))}
        assert marks == {"sender": "request of the subject", "extra.ip_address": "request of the subject"}
        # the record and its commitments are untouched; the row agrees with it (the values read as erased)
        assert record_bytes(c, oid) == record and {"sender", "extra.ip_address"} <= set(json.loads(record)["commitments"])
        row = dict(c.execute(select(OBJECTS).where(OBJECTS.c.id == oid)).mappings().one())
        assert row_mismatches(c, row, vault.policies) == []
        # a value and its disclosure both missing without a marker is a mismatch (a silent edit, not an erasure)
        assert [m.field for m in row_mismatches(c, {**row, "extra": {}}, vault.policies)] == ["extra.email"]
    [entry] = _journal(vault, "personal_data_erased")
    assert _found(depositor, case_ref="GDPR-1") == [oid]
    assert json.loads(entry)["detail"]["fields"] == ["extra.ip_address", "sender"]
    assert b"request of the subject" not in entry and SECRET_MAIL.encode() not in entry

    needles = [SECRET_MAIL.encode(), SECRET_MAIL.casefold().encode(), SECRET_IP.encode()]
    if vault.settings.database_url.startswith("sqlite"):
        database = Path(vault.settings.database_url.removeprefix("sqlite:///"))
        with sqlite3.connect(database) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert _files_holding(Path(vault.settings.data_dir), needles) == []  # database, WAL, blobs, journal tiles
    assert not any(n in content for n in needles)  # S3 replicas hold the content only (docs/metadata-record.md)
    assert _found(depositor, sender=SECRET_MAIL) == []  # (this search's own term is journaled again, erasable)

    # a new package shows no erased value and verifies; the one made before still verifies
    after = depositor.get(f"/v1/objects/{oid}/package")
    assert after.status_code == 200 and not any(n in after.content for n in needles)
    (tmp_path / "after.zip").write_bytes(after.content)
    for package in (before, tmp_path / "after.zip"):
        verdict = verify_package(package)
        assert verdict.ok, verdict.first_failure

    # the evidence record still proves the content, and the journal still verifies
    (tmp_path / "er.ers").write_bytes(depositor.get(f"/v1/objects/{oid}/evidence-record").content)
    (tmp_path / "content").write_bytes(content)
    (tmp_path / "roots.pem").write_bytes(vault.tsa_roots_pem())
    assert verify_main(["ers", str(tmp_path / "er.ers"), "--data", str(tmp_path / "content"),
                        "--roots", str(tmp_path / "roots.pem")]) == 0
    vault.checkpointer.checkpoint_now()
    exported = auditor.get("/v1/journal/export")
    assert exported.status_code == 200, exported.text
    (tmp_path / "journal.vkey").write_text(vault.checkpointer.signer.verifier.vkey())
    assert verify_main(["journal", str(_unpack(exported.content, tmp_path / "journal")),
                        "--vkey", str(tmp_path / "journal.vkey")]) == 0


def test_rectification_round_trip_sealed_provable_found_and_proven_in_a_package(vault, admin, tmp_path):
    """Issue 22's must-show: a correction is sealed; both versions are provable (each by its evidence record over
    the content and that version); search finds the new value; the package verifier proves the history."""
    from tests.test_metadata_seal import check_group
    from tests.test_record_seals import _case_package, history, version_er

    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    content = b"%PDF-1.7 rectified and sealed"
    made = depositor.deposit(content, case_ref="RT-OLD", sender="alice@example.org")
    assert made.status_code == 201, made.text
    oid = made.json()["id"]
    vault.seal_scheduler.seal_all_pending()
    done = archivist.post(f"/v1/objects/{oid}/corrections",
                          json={"changes": {"case_ref": "RT-NEW"}, "reason": "wrong case reference"})
    assert done.status_code == 201, done.text
    assert [v["sealed"] is not None for v in history(depositor, oid)] == [True, False]
    assert version_er(depositor, oid, 2).status_code == 409  # not sealed yet: said so, not served

    [batch] = vault.seal_scheduler.seal_all_pending()  # the correction is sealed in the next pass
    first, second = history(depositor, oid)
    assert second["sealed"]["batch"] == batch and second["correction"]["fields"] == ["case_ref"]
    versions = _versions(vault, oid)
    for number in (1, 2):  # both versions provable, each with the content
        response = version_er(depositor, oid, number)
        assert response.status_code == 200, response.text
        check_group(depositor, response.content, content, versions[number])
    assert _found(depositor, case_ref="RT-NEW") == [oid] and _found(depositor, case_ref="RT-OLD") == []

    path = _case_package(vault, depositor, "RT-NEW", tmp_path / "rectified.zip")
    [obj] = verify_package(path).objects
    assert obj.ok, obj.first_failure
    names = {c.name: c for c in obj.checks}
    assert names[f"metadata record history of {oid}"].ok
    assert any(n.startswith("metadata proven") and "version 2" in n and "RT-NEW" in n for n in obj.notes), obj.notes
