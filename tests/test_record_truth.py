"""Issue 22, "the record is the truth": rows edited in the database are named by ``vault verify --data-dir`` and
disposal never acts on them (refused, journaled, alerted) — above all not on a shortened ``retention_until``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.test_restriction import package_json
from tests.test_retention_lifecycle import problem
from vault.api.app import create_app
from vault.app import Vault
from vault.cli.main import main
from vault.clock import FixedClock
from vault.db.tables import ArchivedObject
from vault.evidence.metadata_store import RECORDS
from vault.evidence.rowaudit import row_mismatches
from vault_verify.package import verify_package

OBJECTS = ArchivedObject.__table__
START = datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)
WEEK = timedelta(days=7)


@pytest.fixture
def archive(tmp_path, database_url, monkeypatch):
    """Five sealed deposits of tenant globex, two archivists of different holders, and the CLI pointed at it."""
    clock = FixedClock(START)
    settings = make_settings(tmp_path, database_url)
    vault = Vault.open(settings, clock, sweep_in_background=False, background_jobs=False)
    if database_url:
        monkeypatch.setenv("VAULT_DATABASE_URL", database_url)
    platform = Api(TestClient(create_app(vault)), ADMIN_KEY)
    apis = {name: platform.as_key(platform.new_key(role, "globex", holder=f"{name}@globex.example"))
            for name, role in (("archivist", "archivist"), ("other", "archivist"), ("auditor", "auditor"))}
    depositor = platform.as_key(platform.new_key("depositor", "globex"))
    ids = {}
    for name in ("case", "event", "retention", "party", "clean"):
        receipt = depositor.deposit(f"%PDF-1.7 {name}".encode(), case_ref=f"CASE-{name}", sender=f"{name}@a.example",
                                    event_type="sending", event_time="2026-11-28T10:00:00Z")
        assert receipt.status_code == 201, receipt.text
        ids[name] = receipt.json()["id"]
    vault.seal_scheduler.seal_all_pending()
    yield vault, clock, apis, ids, settings
    vault.close()


def edit(vault: Vault, object_id: str, **values) -> None:
    vault.writer.run(lambda c: c.execute(update(OBJECTS).where(OBJECTS.c.id == object_id).values(**values)))


def verify(capsys, settings) -> tuple[int, dict]:
    code = main(["verify", "--data-dir", str(settings.data_dir), "--workers", "2", "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_clean_archive_verifies_and_each_database_edit_is_named(archive, capsys):
    vault, _clock, _apis, ids, settings = archive
    code, report = verify(capsys, settings)
    assert (code, report["objects"], report["mismatches"], report["notes"]) == (0, 5, [], {})

    edit(vault, ids["case"], case_ref="CASE-other")
    edit(vault, ids["event"], event_time=datetime(2026, 11, 1, tzinfo=timezone.utc))
    edit(vault, ids["retention"], retention_until=datetime(2020, 1, 1, tzinfo=timezone.utc))
    edit(vault, ids["party"], sender="mallory@evil.example")
    code, report = verify(capsys, settings)
    named = {(m["object_id"], m["field"]) for m in report["mismatches"]}
    assert code == 1
    assert named == {(ids["case"], "case_ref"), (ids["event"], "event_time"), (ids["retention"], "retention_until"),
                     (ids["party"], "sender")}
    shortened = next(m for m in report["mismatches"] if m["field"] == "retention_until")
    assert (shortened["row"], shortened["record"]) == ("2020-01-01T00:00:00Z", "2036-11-29T09:00:00Z")
    assert "mallory" not in json.dumps(report)  # a personal value is never printed, only that it differs

    main(["verify", "--data-dir", str(settings.data_dir), "--workers", "1"])
    text = capsys.readouterr().out
    assert f"MISMATCH {ids['party']} sender" in text and "5 objects checked" in text and "4 mismatch(es)" in text


def test_a_record_that_is_not_the_sealed_one_is_named(archive, capsys):
    vault, _clock, _apis, ids, settings = archive
    # a record rewritten to agree with an edited row: the row check passes, the seal check does not
    edit(vault, ids["case"], case_ref="CASE-other")
    with vault.reader.connect() as c:
        data = c.execute(select(RECORDS.c.record).where(RECORDS.c.object_id == ids["case"])).scalar_one()
    forged = bytes(data).replace(b'"CASE-case"', b'"CASE-other"')
    vault.writer.run(lambda c: c.execute(update(RECORDS).where(RECORDS.c.object_id == ids["case"])
                                         .values(record=forged)))
    code, report = verify(capsys, settings)
    assert code == 1
    assert [(m["object_id"], m["field"]) for m in report["mismatches"]] == [(ids["case"], "record")]


def test_disposal_refuses_a_shortened_retention_and_flags_it(archive):
    vault, _clock, apis, ids, _settings = archive
    edit(vault, ids["retention"], retention_until=datetime(2020, 1, 1, tzinfo=timezone.utc))
    with vault.reader.connect() as c:
        row = dict(c.execute(select(OBJECTS).where(OBJECTS.c.id == ids["retention"])).mappings().one())
        assert [m.field for m in row_mismatches(c, row, vault.policies)] == ["retention_until"]

    due = apis["archivist"].get("/v1/disposal/due").json()
    assert due["destroy"] == [] and [i["id"] for i in due["mismatch"]] == [ids["retention"]]
    assert due["mismatch"][0]["mismatches"] == ["retention_until"]
    refused = problem(apis["archivist"].post("/v1/disposal/batches", json={"object_ids": [ids["retention"]]}),
                      409, "not-due")
    assert "retention_until" in refused["refused"][ids["retention"]]

    alerts = [a for a in apis["auditor"].get("/v1/alerts").json()["security"] if a["kind"] == "record-mismatch"]
    assert [a["subject"] for a in alerts] == [ids["retention"]]  # once, however often it was looked at
    entries = apis["auditor"].get("/v1/journal/entries", params={"action": "record_mismatch"}).json()["entries"]
    assert len(entries) == 1 and alerts[0]["journal_index"] == entries[0]["seq"]
    with vault.reader.connect() as c:
        assert c.execute(select(OBJECTS.c.destroyed_at).where(OBJECTS.c.id == ids["retention"])).scalar() is None


def test_execution_refuses_a_row_edited_after_approval(archive):
    vault, clock, apis, ids, _settings = archive
    clock.advance(timedelta(days=3653))  # ten years on: every object is due
    proposed = apis["archivist"].post("/v1/disposal/batches", json={"object_ids": [ids["clean"]]})
    assert proposed.status_code == 201, proposed.text
    path = f"/v1/disposal/batches/{proposed.json()['id']}"
    assert apis["other"].post(f"{path}/approve").status_code == 200
    clock.advance(WEEK)
    edit(vault, ids["clean"], case_ref="CASE-moved")
    refused = problem(apis["archivist"].post(f"{path}/execute"), 409, "not-due")
    assert "case_ref" in refused["refused"][ids["clean"]]
    with vault.reader.connect() as c:
        assert c.execute(select(OBJECTS.c.destroyed_at).where(OBJECTS.c.id == ids["clean"])).scalar() is None
    assert ids["clean"] in [a["subject"] for a in apis["auditor"].get("/v1/alerts").json()["security"]]


def test_the_report_and_the_package_flag_an_edited_row(archive, tmp_path):
    vault, _clock, apis, ids, _settings = archive
    clean = apis["auditor"].get(f"/v1/objects/{ids['clean']}/report").json()
    lines = {c["id"]: c for c in clean["checks"] if c["section"] == "metadata"}
    assert [lines[n]["result"] for n in ("metadata.record", "metadata.row", "metadata.personal")] == \
        ["pass", "pass", "info"]
    assert lines["metadata.record"]["data"]["version"] == 1 and "proven by the evidence record sealed at" in \
        lines["metadata.record"]["detail"]
    assert {i["name"]: i["state"] for i in lines["metadata.personal"]["items"]} == \
        {"sender": "disclosed", "filename": "disclosed"}
    assert clean["verdict"]["result"] == "pass"

    edit(vault, ids["case"], case_ref="CASE-other")
    report = apis["auditor"].get(f"/v1/objects/{ids['case']}/report").json()
    row = next(c for c in report["checks"] if c["id"] == "metadata.row")
    assert row["result"] == "fail" and row["data"]["fields"] == ["case_ref"] and "DISAGREES" in row["detail"]
    assert report["verdict"]["result"] == "fail" and "metadata.row" in report["verdict"]["failed"]
    pdf = apis["auditor"].get(f"/v1/objects/{ids['case']}/report", headers={"Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    vault.checkpointer.checkpoint_now()
    vault.anchorer.anchor_now(force=True)
    response = apis["archivist"].get(f"/v1/objects/{ids['case']}/package")
    assert response.status_code == 200, response.text
    manifest, meta = package_json(response.content, "package.json", f"objects/{ids['case']}/metadata.json")
    assert manifest["objects"][0]["row_disagrees"] == ["case_ref"]
    assert meta["case_ref"] == "CASE-case"  # the view is the record's, not the edited row's
    assert [m["field"] for m in meta["row_disagrees"]] == ["case_ref"]
    (path := tmp_path / "edited.zip").write_bytes(response.content)
    verdict = verify_package(path)
    failed = [c for o in verdict.objects for c in o.checks if not c.ok]
    assert not verdict.ok and [c.name for c in failed] == [f"object row of {ids['case']} = its metadata record"]
    assert "case_ref" in failed[0].detail
    assert main(["verify-package", str(path)]) != 0


# -- the comparison alone (pure) ------------------------------------------------------------------------------


class Book:
    """One policy version: email-proof@1, its start rule the event time, ten years."""

    def __init__(self):
        from vault.retention.policy import load_policies
        from tests.conftest import POLICIES

        self.policy = next(p for p in load_policies(POLICIES).versions() if p.id == "email-proof")

    def version(self, policy_id, version):
        return self.policy if (policy_id, version) == (self.policy.id, self.policy.version) else None


def stored(row: dict, book: Book) -> tuple[bytes, list[dict]]:
    from vault.evidence.metadata_record import build_record

    record = build_record(row, book.policy.personal_fields, book.policy.start)
    return record.data, [{"field": d.field, "salt": d.salt.hex(), "value": d.value} for d in record.disclosures]


def pure_row(book: Book) -> dict:
    from tests.test_metadata_record import ROW

    row = {**ROW, "policy_id": book.policy.id, "policy_version": book.policy.version, "destroyed_at": None}
    return {**row, "retention_until": book.policy.retention_until(row["deposited_at"], row["event_time"])}


def test_compare_row_names_fields_and_respects_erasure_and_destruction():
    from vault.evidence.rowcheck import compare_row

    book = Book()
    row = pure_row(book)
    record, opened = stored(row, book)
    assert compare_row(row, record, opened, book) == []
    changed = {**row, "contract_number": "K-0", "recipient": "eve@example.org", "size": 43,
               "extra": {**row["extra"], "channel": "fax"}, "retention_until": datetime(2027, 1, 1, tzinfo=timezone.utc)}
    assert sorted(m.field for m in compare_row(changed, record, opened, book)) == \
        ["content", "contract_number", "extra", "recipient", "retention_until"]
    # an erased value: no disclosure, and the row's value gone too, is no mismatch; a row still holding it is one
    erased = [d for d in opened if d["field"] != "sender"]
    assert compare_row({**row, "sender": None}, record, erased, book) == []
    assert [m.field for m in compare_row(row, record, erased, book)] == ["sender"]
    # a value the record says was not given
    assert [m.field for m in compare_row({**row, "extra": {**row["extra"], "ip": "1.2.3.4"}}, record, opened, book)] \
        == ["extra.ip"]
    # destroyed: the case reference became a pseudonym and personal values were erased on purpose
    tombstone = {**row, "destroyed_at": row["deposited_at"], "case_ref": "pseud:ab12", "sender": None,
                 "recipient": None, "filename": None, "extra": {"channel": "web", "score": 0.5}}
    assert compare_row(tombstone, record, [], book) == []
    assert [m.field for m in compare_row(tombstone, b"not json", [], book)] == ["record"]


def test_a_reassigned_policy_is_stated_by_a_new_record_version(archive, capsys):
    """A reassignment changes the row's policy and retention; the record's next version states them (linked to the
    one before by hash), so the row still agrees with its record and stays disposable in due time."""
    import hashlib

    vault, _clock, apis, ids, settings = archive
    moved = apis["archivist"].post(f"/v1/objects/{ids['clean']}/policy", json={"policy": "consent-record"})
    assert moved.status_code == 200, moved.text
    with vault.reader.connect() as c:
        versions = c.execute(select(RECORDS.c.version, RECORDS.c.record).where(RECORDS.c.object_id == ids["clean"])
                             .order_by(RECORDS.c.version)).all()
    assert [v.version for v in versions] == [1, 2]
    first, second = json.loads(versions[0].record), json.loads(versions[1].record)
    assert second["previous"] == hashlib.sha256(bytes(versions[0].record)).hexdigest() and second["version"] == 2
    assert first["policy"]["id"] == "lre-proof" and second["policy"]["id"] == "consent-record"
    assert second["commitments"]["sender"] == first["commitments"]["sender"]  # the same salt, the same value
    code, report = verify(capsys, settings)
    assert code == 0 and report["mismatches"] == [], report
    assert report["notes"] == {"record-unsealed": 1}  # version 2 waits for its record-seal batch

    vault.seal_scheduler.seal_all_pending()
    code, report = verify(capsys, settings)
    assert (code, report["mismatches"], report["notes"]) == (0, [], {})  # version 2 checked against its own seal
    forged = bytes(versions[1].record).replace(b'"consent-record"', b'"email-proof"')
    assert forged != bytes(versions[1].record)
    vault.writer.run(lambda c: c.execute(update(RECORDS).where(RECORDS.c.object_id == ids["clean"],
                                                               RECORDS.c.version == 2).values(record=forged)))
    code, report = verify(capsys, settings)
    assert code == 1
    assert (ids["clean"], "record v2", "not the record its evidence record seals") in [
        (m["object_id"], m["field"], m["record"]) for m in report["mismatches"]]
