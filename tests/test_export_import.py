"""Reversibility: ``vault export-all`` of a live archive (several tenants and cases, a consent record, a sealed and
anchored journal, one object still waiting for its seal), resumed after an interruption, then ``vault import``
into a fresh vault — the same objects, ids, digests, dates and cases; the source's evidence records kept and still
valid; the new vault's own seals; the import journaled — and the refusals (a vault that is not empty, a tampered
package)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.server_process import ROOT, ServerProcess, deposit
from tests.test_verify_package import rewrite_package
from tests.times import days_ago
from vault.cli.reversibility import safe_name
from vault.clock import iso_z
from tests.interop import bc_ers
from vault_verify.asn1 import EvidenceRecord
from vault_verify.ers import DataObject, verify_evidence_record
from vault_verify.package import verify_package
from vault_verify.tokens import load_pem_roots

pytestmark = pytest.mark.slow

WEIRD_CASE = "LRE/2026/../é %2F" + "x" * 230  # slashes, dots, non-ASCII, an escape, longer than a file name
SUBJECT, PURPOSE = "Ann.Martin@example.org", "newsletter"
CASE_DAY = days_ago(60)  # CASE-A's first day: the live server deposits at the real clock (max_backdate P1Y)


def case_time(**delta) -> str:
    return iso_z(CASE_DAY + timedelta(**delta))


CONSENTED, CONSENT_ASKED = case_time(days=-28, hours=9), case_time(days=30)  # the consent, and a later state
LIVE_ENV = {"VAULT_SEAL_INTERVAL": "86400", "VAULT_CHECKPOINT_INTERVAL": "1", "VAULT_ANCHOR_INTERVAL": "1"}


def cli(*args: str, key: str | None = None, url: str | None = None, env: dict | None = None):
    command = [sys.executable, "-m", "vault.cli.main", *args]
    if url:
        command += ["--url", url]
    if key:
        command += ["--key", key]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=180,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT), **(env or {})})


def import_env(data_dir: Path) -> dict:
    return {"VAULT_DATA_DIR": str(data_dir), "VAULT_POLICIES_DIR": str(ROOT / "policies")}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A live source archive with its objects: {"server", "ids": {name: id}, "cases": {...}}."""
    base = tmp_path_factory.mktemp("source")
    with ServerProcess(base / "data", env=LIVE_ENV) as server:
        acme = server.client(server.new_key("depositor", "acme"))
        globex = server.client(server.new_key("depositor", "globex"))
        ids = {}

        def put(http, name, content, **metadata):
            response = deposit(http, content, **metadata)
            assert response.status_code == 201, response.text
            ids[name] = response.json()["id"]

        put(acme, "a-deposit", b"%PDF-1.7 deposit proof", case_ref="CASE-A", event_type="deposit",
            event_time=case_time(hours=10), contract_number="K-1", extra={"channel": "lre"})
        put(acme, "a-sending", b"sending proof", case_ref="CASE-A", event_type="sending",
            event_time=case_time(hours=10, minutes=5, microseconds=123456), sender="bank@example.com", recipient="ann@example.org")
        put(acme, "a-receipt", b"receipt proof", case_ref="CASE-A", event_type="receipt",
            event_time=case_time(days=1, hours=8))
        put(globex, "g-same-ref", b"another tenant, same case reference", case_ref="CASE-A")
        put(acme, "weird", b"a case reference no file system likes", case_ref=WEIRD_CASE)
        put(acme, "consent", b'{"optin": true, "email": "Ann.Martin@example.org"}', case_ref="CONSENT-1",
            policy="consent-record", kind="consent-record", event_type="consent", subject=SUBJECT, purpose=PURPOSE,
            event_time=CONSENTED)
        with server.client() as admin:
            assert admin.post("/v1/admin/reseal", json={"kind": "seal"}).status_code == 200
            deadline = time.monotonic() + 30
            while not admin.get("/v1/journal/anchors").json()["anchors"]:
                assert time.monotonic() < deadline, "no journal anchor within 30 s"
                time.sleep(0.2)
        put(acme, "pending", b"deposited after the seal: still pending", case_ref="CASE-A", event_type="other")
        acme.close()
        globex.close()
        yield {"server": server, "ids": ids, "base": base}


@pytest.fixture(scope="module")
def exported(source, tmp_path_factory):
    """``vault export-all`` of the source, then an interrupted export resumed."""
    server = source["server"]
    target = tmp_path_factory.mktemp("export") / "archive"
    done = cli("export-all", str(target), "--json", url=server.url, key=server.admin_key)
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)
    assert first["packages"] == 4 and first["objects"] == 7 and first["fetched"] == 4

    manifest = json.loads((target / "export.json").read_text())
    files = {(p["tenant"], p["case_ref"]): p["file"] for p in manifest["packages"]}
    assert files[("acme", "CASE-A")] == "packages/acme/CASE-A.zip"
    assert files[("globex", "CASE-A")] == "packages/globex/CASE-A.zip"
    weird = Path(files[("acme", WEIRD_CASE)])
    assert weird.parent == Path("packages/acme") and weird.name == safe_name(WEIRD_CASE) + ".zip"
    assert len(weird.name.encode()) < 255 and "/" not in weird.stem
    assert manifest["tenants"] == {"acme": {"cases": 3, "objects": 6}, "globex": {"cases": 1, "objects": 1}}
    assert manifest["keys"]["journal"].startswith("vault.local/journal+")
    assert manifest["keys"]["archive"]["algorithm"] == "Ed25519"
    assert (target / "journal" / "checkpoint").is_file() and list((target / "journal" / "anchors").iterdir())
    journal_ok = cli("journal", "verify", str(target / "journal"), "--vkey", manifest["keys"]["journal"],
                     "--tsa-roots", str(target / "tsa-roots.pem"))
    assert journal_ok.returncode == 0, journal_ok.stdout + journal_ok.stderr

    # an interrupted run: one package never finished (only its stale .part is there)
    lost = target / files[("acme", "CASE-A")]
    kept = {p: (target / p).stat().st_mtime_ns for p in files.values() if target / p != lost}
    lost.unlink()
    lost.with_name(lost.name + ".part").write_bytes(b"PK\x03\x04 half a package")
    resumed = cli("export-all", str(target), "--json", url=server.url, key=server.admin_key)
    assert resumed.returncode == 0, resumed.stderr
    again = json.loads(resumed.stdout)
    assert again["fetched"] == 1 and again["kept"] == 3, resumed.stderr
    assert resumed.stderr.count("(fetched)") == 1 and "CASE-A.zip" in resumed.stderr
    assert lost.is_file() and not lost.with_name(lost.name + ".part").exists()
    assert {p: (target / p).stat().st_mtime_ns for p in kept} == kept  # the others were not fetched again
    return target


def test_export_all_cuts_a_large_case_by_event_time(source, tmp_path):
    server = source["server"]
    done = cli("export-all", str(tmp_path / "cut"), "--tenant", "acme", "--max-objects", "2", "--json",
               url=server.url, key=server.admin_key)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "cut" / "export.json").read_text())
    parts = [p for p in manifest["packages"] if p["case_ref"] == "CASE-A"]
    assert [p["part"]["index"] for p in parts] == [1, 2] and all(p["objects"] == 2 for p in parts)
    assert {p["tenant"] for p in manifest["packages"]} == {"acme"}
    held = []
    for part in parts:
        with zipfile.ZipFile(tmp_path / "cut" / part["file"]) as archive:
            top = archive.namelist()[0].split("/")[0]
            held += [o["id"] for o in json.loads(archive.read(f"{top}/data/package.json"))["objects"]]
    ids = source["ids"]
    assert sorted(held) == sorted(ids[n] for n in ("a-deposit", "a-sending", "a-receipt", "pending"))


@pytest.fixture(scope="module")
def imported(source, exported, tmp_path_factory):
    """``vault import`` of the export into a fresh data directory (with the source's pseudonym key, so that
    consent events carry over), run twice; then the new vault served."""
    data = tmp_path_factory.mktemp("target") / "data"
    data.mkdir()
    shutil.copy(source["base"] / "data" / "journal-pseudonym.key", data / "journal-pseudonym.key")
    done = cli("import", str(exported), "--json", env=import_env(data))
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["imported"] == 4 and summary["objects_imported"] == 7 and summary["refused"] == 0
    assert summary["consent_events"] == 1 and summary["consent_events_not_rebuilt"] == 0
    rerun = cli("import", str(exported), "--json", env=import_env(data))
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["skipped"] == 4 and json.loads(rerun.stdout)["objects_imported"] == 0
    with ServerProcess(data, env=LIVE_ENV) as server:
        yield server


def _data(content: bytes) -> DataObject:
    return DataObject(digests={"sha256": hashlib.sha256(content).digest(), "sha512": hashlib.sha512(content).digest()})


def _get(server, path: str, **params) -> httpx.Response:
    with server.client() as http:
        return http.get(path, params=params)


def _identified(server, object_id: str) -> dict:
    """The object's view once the background PRONOM pass identified its format (each archive identifies its own)."""
    deadline = time.monotonic() + 60
    while True:
        view = _get(server, f"/v1/objects/{object_id}").json()
        if view["format"].get("puid") != "pending" or time.monotonic() > deadline:
            return view
        time.sleep(0.2)


def test_imported_objects_equal_the_source(source, imported):
    src = source["server"]
    for name, object_id in source["ids"].items():
        before, after = _identified(src, object_id), _identified(imported, object_id)
        after.pop("journal_index"), before.pop("journal_index")  # the deposit entry there, the import entry here
        assert after == before, name  # id, tenant, case, digests, dates, retention, policy, depositor, fields…
        assert _get(imported, f"/v1/objects/{object_id}/content").content == \
            _get(src, f"/v1/objects/{object_id}/content").content
    for tenant, case_ref in (("acme", "CASE-A"), ("globex", "CASE-A"), ("acme", WEIRD_CASE)):
        found = [[i["id"] for i in _get(s, "/v1/objects", case_ref=case_ref, tenant=tenant).json()["items"]]
                 for s in (src, imported)]
        assert found[0] == found[1] and found[0]
    timelines = [_get(s, "/v1/cases/CASE-A", tenant="acme").json() for s in (src, imported)]
    assert [e["id"] for e in timelines[0]["events"]] == [e["id"] for e in timelines[1]["events"]]
    assert timelines[0]["completeness"]["steps"] == timelines[1]["completeness"]["steps"]


def test_original_evidence_records_are_kept_and_verify(source, imported):
    src, ids = source["server"], source["ids"]
    source_roots = load_pem_roots(_get(src, "/v1/tsa/roots").content)
    for name, object_id in ids.items():
        original = _get(imported, f"/v1/objects/{object_id}/evidence-record", source="import")
        if name == "pending":
            assert original.status_code == 404 and "had sealed it" in original.json()["detail"]
            continue
        assert original.status_code == 200, original.text
        assert original.content == _get(src, f"/v1/objects/{object_id}/evidence-record").content
        content = _get(imported, f"/v1/objects/{object_id}/content").content
        verdict = verify_evidence_record(original.content, [_data(content)], roots=source_roots)
        assert verdict.ok, verdict.first_failure
    # the new vault's own record: pending until it seals, then valid under its own TSA's roots
    assert _get(imported, f"/v1/objects/{ids['a-deposit']}/evidence-record").status_code == 409
    with imported.client() as admin:
        assert admin.post("/v1/admin/reseal", json={"kind": "seal"}).status_code == 200
    own_roots = load_pem_roots(_get(imported, "/v1/tsa/roots").content)
    for object_id in ids.values():
        record = _get(imported, f"/v1/objects/{object_id}/evidence-record")
        assert record.status_code == 200
        content = _get(imported, f"/v1/objects/{object_id}/content").content
        assert verify_evidence_record(record.content, [_data(content)], roots=own_roots).ok
        # a metadata record made at import, sealed here with the content as a data group (issue 22)
        metadata = _get(imported, f"/v1/objects/{object_id}/metadata-record")
        assert metadata.status_code == 200 and json.loads(metadata.content)["object_id"] == object_id
        assert _get(imported, f"/v1/objects/{object_id}/metadata-records").json()["versions"][0]["sealed"]
        assert verify_evidence_record(record.content, [_data(content), _data(metadata.content)], roots=own_roots,
                                      group=True).ok


def test_imported_records_are_continued_by_this_archive(source, imported, bouncy_castle, tmp_path):
    """RFC 4998 §5.2 by the new holder: a timestamp renewal here appends an ATS to each imported record's last
    chain; the source's bytes stay as they were, and Bouncy Castle checks the whole with both archives' roots."""
    src, ids = source["server"], source["ids"]
    source_pem, own_pem = _get(src, "/v1/tsa/roots").content, _get(imported, "/v1/tsa/roots").content
    (tmp_path / "source-roots.pem").write_bytes(source_pem)
    (tmp_path / "own-roots.pem").write_bytes(own_pem)
    with imported.client() as admin:
        renewed = admin.post("/v1/admin/reseal", json={"kind": "timestamp-renewal"})
        assert renewed.status_code == 200 and renewed.json()["renewed"] >= 2, renewed.text  # own and imported
    for name in ("a-deposit", "a-sending", "consent"):
        object_id = ids[name]
        original = _get(imported, f"/v1/objects/{object_id}/evidence-record", source="import").content
        response = _get(imported, f"/v1/objects/{object_id}/evidence-record", source="import-continued")
        assert response.status_code == 200, response.text
        continued, renewals = response.content, int(response.headers["X-Renewals-Here"])
        assert renewals >= 1
        old, new = EvidenceRecord.load(original), EvidenceRecord.load(continued)
        old_chains, new_chains = old["archive_time_stamp_sequence"], new["archive_time_stamp_sequence"]
        assert [c.dump() for c in new_chains][:-1] == [c.dump() for c in old_chains][:-1]
        assert [a.dump() for a in new_chains[-1]][:len(old_chains[-1])] == [a.dump() for a in old_chains[-1]]
        assert len(new_chains[-1]) == len(old_chains[-1]) + renewals
        content = _get(imported, f"/v1/objects/{object_id}/content").content
        both = load_pem_roots(source_pem) + load_pem_roots(own_pem)
        verdict = verify_evidence_record(continued, [_data(content)], roots=both)
        assert verdict.ok, verdict.first_failure
        assert not verify_evidence_record(continued, [_data(content)], roots=load_pem_roots(source_pem)).ok
        (tmp_path / f"{name}.ers").write_bytes(continued)
        (tmp_path / f"{name}.data").write_bytes(content)
        checked = bc_ers.run(bouncy_castle, "verify", "--ers", tmp_path / f"{name}.ers", "--data",
                             tmp_path / f"{name}.data", "--ca", tmp_path / "source-roots.pem",
                             "--ca", tmp_path / "own-roots.pem")
        assert checked.stdout.strip() == "OK", checked.stdout + checked.stderr
    pending = _get(imported, f"/v1/objects/{ids['pending']}/evidence-record", source="import-continued")
    assert pending.status_code == 404


def test_import_is_journaled_and_consents_carry_over(source, imported):
    ids = source["ids"]
    entries = _get(imported, "/v1/journal/entries", action="import", limit=100).json()["entries"]
    assert sorted(o for e in entries for o in e["objects"]) == sorted(ids.values())
    for entry in entries:
        info = _get(imported, f"/v1/objects/{entry['objects'][0]}").json()
        assert entry["seq"] == info["journal_index"]
        detail = entry["detail"]
        assert detail["sha256"] == info["sha256"] and detail["source"] == "vault.local"
        original = _get(imported, f"/v1/objects/{info['id']}/evidence-record", source="import")
        assert detail["evidence_record_sha256"] == (
            hashlib.sha256(original.content).hexdigest() if original.status_code == 200 else None)
        assert detail["package"].startswith("vault-package-case-") and detail["deposited_at"] == info["deposited_at"]
    state = _get(imported, f"/v1/consents/{SUBJECT}", purpose=PURPOSE, at=CONSENT_ASKED).json()
    assert state["state"] == "granted" and state["proof"]["object_id"] == ids["consent"]
    assert state == _get(source["server"], f"/v1/consents/{SUBJECT}", purpose=PURPOSE, at=CONSENT_ASKED).json()


def test_a_package_of_the_new_vault_carries_both_records_and_verifies(source, imported, tmp_path):
    with imported.client() as admin:
        admin.post("/v1/admin/reseal", json={"kind": "seal"})
        assert admin.post("/v1/admin/reseal", json={"kind": "timestamp-renewal"}).status_code == 200
        deadline = time.monotonic() + 30
        while not admin.get("/v1/journal/anchors").json()["anchors"]:  # one anchor covers the import entries
            assert time.monotonic() < deadline, "no journal anchor within 30 s"
            time.sleep(0.2)
        response = admin.get("/v1/cases/CASE-A/package", params={"tenant": "acme"})
    assert response.status_code == 200
    path = tmp_path / "again.zip"
    path.write_bytes(response.content)
    verdict = verify_package(path)
    assert verdict.ok, verdict.first_failure
    with zipfile.ZipFile(path) as archive:
        top = archive.namelist()[0].split("/")[0]
        objects = {o["id"]: o for o in json.loads(archive.read(f"{top}/data/package.json"))["objects"]}
    sealed_there = objects[source["ids"]["a-deposit"]]
    assert sealed_there["evidence_record_imported"].endswith("/evidence-record-imported.ers")
    assert objects[source["ids"]["pending"]]["evidence_record_imported"] is None
    bound = next(o for o in verdict.objects if o.id == source["ids"]["a-deposit"])
    assert any(c.name.startswith("import entry") and c.ok for c in bound.checks)
    continued = sealed_there["evidence_record_imported_continued"]
    assert continued.endswith("/evidence-record-imported-continued.ers")
    assert [c.ok for c in bound.checks if c.name.startswith(f"{continued} continues ")] == [True]
    assert any(c.name == f"continued imported evidence record {continued}" and c.ok for c in bound.checks)
    assert objects[source["ids"]["pending"]]["evidence_record_imported_continued"] is None
    assert any(n.startswith("the imported evidence record existed by") and "import entry" in n for n in bound.notes)

    # the import entry names the source's record: another record in its place, or none, is caught
    own = sealed_there["evidence_record"]
    swapped, dropped = tmp_path / "swapped.zip", tmp_path / "dropped.zip"
    rewrite_package(path, swapped, {f"data/{sealed_there['evidence_record_imported']}":
                                    lambda _old: _member(path, f"data/{own}")}, rebag=True)

    def without_record(old: bytes) -> bytes:
        manifest = json.loads(old)
        for entry in manifest["objects"]:
            if entry["id"] == sealed_there["id"]:
                entry["evidence_record_imported"] = None
        return json.dumps(manifest).encode()
    rewrite_package(path, dropped, {"data/package.json": without_record,
                                    f"data/{sealed_there['evidence_record_imported']}": lambda _old: None}, rebag=True)
    not_continued = tmp_path / "not-continued.zip"  # the verbatim record passed off as continued
    rewrite_package(path, not_continued, {f"data/{continued}": lambda _old: _member(
        path, f"data/{sealed_there['evidence_record_imported']}")}, rebag=True)
    failure = next(o for o in verify_package(not_continued).objects if o.id == sealed_there["id"]).first_failure
    assert failure.name.startswith(f"{continued} continues") and failure.detail == "no timestamp appended", failure
    for forged in (swapped, dropped):
        failed = verify_package(forged)
        assert not failed.ok
        checks = next(o for o in failed.objects if o.id == sealed_there["id"]).checks
        assert [c.detail for c in checks if c.name.startswith("import entry") and not c.ok][0].count(
            "evidence_record_sha256") == 1, checks
        assert all(o.ok for o in failed.objects if o.id != sealed_there["id"])


def _member(package: Path, path: str) -> bytes:
    with zipfile.ZipFile(package) as archive:
        top = archive.namelist()[0].split("/")[0]
        return archive.read(f"{top}/{path}")


def test_import_refuses_a_vault_that_is_not_empty(exported, tmp_path):
    settings = make_settings(tmp_path / "busy")
    from vault.app import Vault
    from vault.api.app import create_app

    opened = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    try:
        with TestClient(create_app(opened)) as http:
            admin = Api(http, ADMIN_KEY)
            assert admin.deposit(b"a deposit of its own", tenant="acme").status_code == 201
    finally:
        opened.close()
    done = cli("import", str(exported), env=import_env(settings.data_dir))
    assert done.returncode == 1 and "not empty" in done.stderr and "1 object" in done.stderr


def test_a_tampered_package_is_refused_whole(exported, tmp_path):
    original = exported / "packages" / "acme" / "CASE-A.zip"
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(tampered, "w") as out:
        changed = False
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("/content") and not changed:
                data, changed = data[:-1] + bytes([data[-1] ^ 1]), True
            out.writestr(info, data)
    data = tmp_path / "fresh" / "data"
    done = cli("import", str(tampered), "--json", env=import_env(data))
    assert done.returncode == 1
    summary = json.loads(done.stdout)
    [outcome] = summary["outcomes"]
    assert outcome["status"] == "refused" and "does not verify" in outcome["reason"]
    assert "REFUSED tampered.zip: does not verify" in done.stderr
    assert "content" in outcome["reason"] or "manifest" in outcome["reason"]
    from vault.db.engine import make_engine
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{data / 'vault.db'}")
    try:
        with engine.connect() as connection:
            for table in ("archived_objects", "imported_packages", "imported_evidence"):
                assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
    finally:
        engine.dispose()
    assert not [p for p in (data / "blobs" / "sha256").rglob("*") if p.is_file()]


def test_an_unknown_policy_refuses_its_package_and_a_rerun_completes(exported, tmp_path):
    policies = tmp_path / "policies"
    policies.mkdir()
    for path in (ROOT / "policies").glob("*.toml"):
        if path.name != "consent-record.toml":
            shutil.copy(path, policies)
    data = tmp_path / "data"
    env = {"VAULT_DATA_DIR": str(data), "VAULT_POLICIES_DIR": str(policies)}
    done = cli("import", str(exported), "--json", env=env)
    assert done.returncode == 1
    summary = json.loads(done.stdout)
    [refused] = [o for o in summary["outcomes"] if o["status"] == "refused"]
    assert refused["file"] == "packages/acme/CONSENT-1.zip" and summary["objects_imported"] == 6
    assert "policy consent-record version 2 is not known to this vault" in refused["reason"]
    # the policy file added, the rerun imports what is left; without the source's pseudonym key the consent
    # record comes without its consent event (said, not hidden)
    rerun = cli("import", str(exported), "--json", env=import_env(data))
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["imported"] == 1 and summary["skipped"] == 3 and summary["objects_imported"] == 1
    assert summary["consent_events_not_rebuilt"] == 1 and "journal-pseudonym.key" in rerun.stderr


def test_safe_names_are_distinct_and_usable():
    texts = ["CASE-1", "case-1", "a/b", "a%2Fb", ".", "..", ".hidden", "é", "x" * 256, "x" * 255 + "y",
             "a+b", "a b"]
    names = [safe_name(t) for t in texts]
    assert len(set(names)) == len(names)
    assert all("/" not in n and not n.startswith(".") and len(n.encode()) <= 200 for n in names)
    assert safe_name("CASE-1") == "CASE-1" and safe_name("a/b") == "a%2Fb"
