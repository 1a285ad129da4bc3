"""Probative-value reports: every check re-run when the report is made, the JSON valid against the published
schema, a tampered blob failing the next report, a readable signed PDF, case reports, tombstones."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, ROOT, Api, make_settings
from tests.test_receipts import cli_against  # noqa: F401 (a fixture: vault commands in process)
from tests.times import days_ago
from vault.api.app import create_app
from vault.app import Vault
from vault.clock import FixedClock, iso_z
from vault.documents.pdf import verify_signed_pdf

SCHEMA = json.loads((ROOT / "docs" / "schemas" / "probative-report.schema.json").read_text())
RESULTS = {"pass", "fail", "warning", "info", "not_applicable"}
OBJECT_CHECKS = ["content.size", "content.sha256", "content.sha512", "evidence.seal", "evidence.record",
                 "metadata.record", "metadata.row", "metadata.personal", "signatures.deposit", "journal.checkpoint", "journal.entries", "journal.anchors", "storage.copies",
                 "storage.fixity", "retention.period", "retention.holds"]


def validate(report: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    for child in [report] + report.get("objects", []):
        for line in child["checks"]:
            assert line["result"] in RESULTS and line["detail"], line
            for sub in line.get("items", []):
                assert sub["result"] in RESULTS, sub


def by_id(report: dict) -> dict:
    return {line["id"]: line for line in report["checks"]}


@pytest.fixture
def sealed(vault, depositor):
    receipt = depositor.deposit(b"%PDF-1.7 proof of receipt", case_ref="REP-1", event_type="deposit").json()
    vault.seal_scheduler.seal_all_pending()
    vault.checkpointer.checkpoint_now()
    vault.anchorer.anchor_now(force=True)
    return receipt


def test_object_report_reruns_every_check(vault, admin, depositor, sealed):
    response = depositor.get(f"/v1/objects/{sealed['id']}/report")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    report = response.json()
    validate(report)
    assert [line["id"] for line in report["checks"]] == OBJECT_CHECKS
    assert report["scope"] == "object" and report["object"]["id"] == sealed["id"]
    assert report["verdict"]["result"] == "pass", report["verdict"]
    checks = by_id(report)
    assert checks["content.sha256"]["data"] == {"store": "local", "recorded": sealed["sha256"],
                                                "computed": sealed["sha256"]}
    assert checks["evidence.record"]["result"] == "pass"
    assert any(step["name"].endswith("token") for step in checks["evidence.record"]["items"])
    signatures = checks["signatures.deposit"]
    assert signatures["rerun"] is False and "not re-validated" in signatures["detail"]
    entries = checks["journal.entries"]["items"]
    assert entries[0]["seq"] == sealed["journal_index"] and entries[0]["action"] == "deposit"
    assert entries[0]["result"] == "pass" and entries[0]["anchor"]["included"]  # the anchor made after the deposit
    assert entries[-1]["action"] == "report_read"  # the report's own read is in the history it proves
    assert all(e["result"] == "pass" for e in entries)
    assert checks["journal.anchors"]["result"] == "pass"
    assert checks["storage.copies"]["items"][0]["store"] == "local"
    assert checks["retention.period"]["result"] == "pass" and checks["retention.holds"]["items"] == []

    # a hold shows; the auditor may read reports too; the read is journaled as report_read
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    hold = archivist.post("/v1/holds", json={"case_ref": "REP-1", "reason": "dispute", "reference": "TJ-1"})
    assert hold.status_code == 201, hold.text
    auditor = admin.as_key(admin.new_key("auditor", "acme"))
    again = auditor.get(f"/v1/objects/{sealed['id']}/report").json()
    assert [h["name"] for h in by_id(again)["retention.holds"]["items"]] == [hold.json()["id"]]
    reads = admin.get("/v1/journal/entries", params={"object": sealed["id"], "action": "report_read"}).json()
    assert [e["detail"] for e in reads["entries"]] == [{"format": "json", "scope": "object"}] * 2


def test_tampered_blob_fails_the_next_report(vault, depositor, sealed):
    path = vault.store.path_for(sealed["sha256"])
    os.chmod(path, 0o644)
    path.write_bytes(b"%PDF-1.7 proof of receipt, altered on disk")
    report = depositor.get(f"/v1/objects/{sealed['id']}/report").json()
    validate(report)
    checks = by_id(report)
    for name in ("content.sha256", "content.sha512", "content.size", "evidence.record"):
        assert checks[name]["result"] == "fail", checks[name]
    assert "DIFFERENT" in checks["content.sha256"]["detail"]
    assert checks["content.sha256"]["data"]["computed"] != sealed["sha256"]
    assert "covers the data" in checks["evidence.record"]["detail"]
    assert checks["storage.copies"]["result"] == "fail"
    assert report["verdict"]["result"] == "fail"
    assert "content.sha256" in report["verdict"]["failed"] and "content.sha256" in report["verdict"]["summary"]
    assert checks["journal.entries"]["result"] == "pass"  # the rest still proves what it proves


def test_pending_seal_is_a_warning(depositor):
    receipt = depositor.deposit(b"%PDF-1.7 waiting for its seal").json()
    report = depositor.get(f"/v1/objects/{receipt['id']}/report").json()
    validate(report)
    checks = by_id(report)
    assert checks["evidence.seal"]["result"] == "warning" and checks["evidence.record"]["result"] == "warning"
    assert checks["journal.anchors"]["result"] == "info"
    assert report["verdict"]["result"] == "warning" and report["verdict"]["failed"] == []


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the 8-bit samples of a non-interlaced 8-bit PNG (grey, RGB, with or without alpha), as
    pdftoppm writes them: chunks read, IDAT inflated, each scanline's filter (PNG §9) undone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (0, 2, 4, 6)
            bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    stride = width * bpp
    raw, rows, previous = zlib.decompress(idat), [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            up, corner = previous[x], previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, b"".join(rows)


@pytest.mark.skipif(not (shutil.which("pdftoppm") and shutil.which("pdftotext")),
                    reason="poppler-utils (pdftoppm, pdftotext) not installed: scripts/test installs it")
def test_report_pdf_is_readable_and_signed(depositor, sealed, tmp_path):
    response = depositor.get(f"/v1/objects/{sealed['id']}/report", headers={"Accept": "application/pdf"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.content)
    signer = depositor.client.get("/v1/archive/key").json()["pdf_signing_certificate"].encode()
    ok, reason = verify_signed_pdf(response.content, signer, depositor.client.get("/v1/tsa/roots").content)
    assert ok, reason
    subprocess.run(["pdftoppm", "-png", "-r", "72", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, capture_output=True)
    [page] = sorted(tmp_path.glob("page*.png"))
    width, height, pixels = _png_pixels(page.read_bytes())
    assert width > 100 and height > 100
    dark = sum(1 for value in pixels if value < 128)
    assert min(pixels) < 100 and dark > len(pixels) // 200, (min(pixels), dark)  # text drawn: not a white page
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert sealed["id"] in text and sealed["sha256"] in text
    assert "Overall verdict: PASS" in text and "relevé de valeur probante" in text
    assert "[PASS] SHA-256 of the stored bytes" in text


def test_case_report(vault, admin, depositor, sealed):
    depositor.deposit(b"%PDF-1.7 the sending", case_ref="REP-1", event_type="sending",
                      event_time=iso_z(days_ago(30) + timedelta(hours=10)))
    vault.seal_scheduler.seal_all_pending()
    response = depositor.get("/v1/cases/REP-1/report")
    assert response.status_code == 200, response.text
    report = response.json()
    validate(report)
    assert report["scope"] == "case" and report["case"]["count"] == 2 and len(report["objects"]) == 2
    assert {o["object"]["id"] for o in report["objects"]} == {e["id"] for e in report["case"]["events"]}
    assert by_id(report)["case.completeness"]["data"]["status"] in ("incomplete", "overdue", "complete")
    assert report["verdict"]["checks_rerun"] >= 2 * 10
    assert all(o["verdict"]["result"] == "pass" for o in report["objects"])
    entry = admin.get("/v1/journal/entries", params={"action": "report_read"}).json()["entries"][-1]
    assert entry["detail"]["scope"] == "case" and sealed["id"] in entry["objects"]
    assert "REP-1" not in json.dumps(entry)  # the case reference is journaled as a pseudonym
    assert depositor.get("/v1/cases/NOPE/report").status_code == 404
    pdf = depositor.get("/v1/cases/REP-1/report", params={"format": "pdf"})
    assert pdf.status_code == 200 and sealed["sha256"].encode() in pdf.content
    assert depositor.get("/v1/cases/REP-1").json()["count"] == 2  # the timeline route is untouched


def test_reports_are_scoped_to_the_tenant(admin, sealed):
    other = admin.as_key(admin.new_key("depositor", "other"))
    assert other.get(f"/v1/objects/{sealed['id']}/report").status_code == 403
    assert other.get("/v1/cases/REP-1/report").status_code == 404
    assert other.get(f"/v1/objects/{sealed['id']}/report", headers={"Accept": "text/csv"}).status_code == 406


def test_report_cli(vault, depositor, sealed, tmp_path, capsys, cli_against):  # noqa: F811
    assert cli_against("report", sealed["id"], key=depositor.key) == 0
    out = capsys.readouterr().out
    assert f"{sealed['id']}: PASS" in out and "content.sha256" in out
    target = tmp_path / "case.pdf"
    assert cli_against("report", "--case-ref", "REP-1", "--pdf", "-o", str(target), key=depositor.key) == 0
    assert target.read_bytes().startswith(b"%PDF")
    path = vault.store.path_for(sealed["sha256"])
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    capsys.readouterr()
    assert cli_against("report", sealed["id"], "--json", key=depositor.key) == 1  # a failing verdict exits 1
    assert json.loads(capsys.readouterr().out)["verdict"]["result"] == "fail"


START = datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)


def test_report_on_a_destroyed_object_proves_the_digests(tmp_path, database_url):
    clock = FixedClock(START)
    vault = Vault.open(make_settings(tmp_path, database_url), clock, sweep_in_background=False, background_jobs=False)
    try:
        admin = Api(TestClient(create_app(vault)), ADMIN_KEY)
        depositor, first, second = (admin.as_key(admin.new_key(role, "acme"))
                                    for role in ("depositor", "archivist", "archivist"))
        receipt = depositor.deposit(b"%PDF-1.7 kept ten years", case_ref="OLD-1").json()
        vault.seal_scheduler.seal_all_pending()
        clock.advance(timedelta(days=3653))
        batch = first.post("/v1/disposal/batches", json={"object_ids": [receipt["id"]]}).json()
        assert second.post(f"/v1/disposal/batches/{batch['id']}/approve").status_code == 200
        clock.advance(timedelta(days=7))  # VAULT_DISPOSAL_NOTICE
        assert first.post(f"/v1/disposal/batches/{batch['id']}/execute").status_code == 200
        report = first.get(f"/v1/objects/{receipt['id']}/report").json()
        validate(report)
        checks = by_id(report)
        assert checks["content.sha256"]["result"] == "not_applicable"
        assert checks["storage.copies"]["result"] == "not_applicable"
        assert checks["evidence.record"]["result"] == "pass"  # against the digests the tombstone keeps
        assert "recorded at deposit" in checks["evidence.record"]["data"]["data"]
        assert any(e["action"] == "destruction_done" for e in checks["journal.entries"]["items"])
        assert report["verdict"]["result"] == "pass" and report["object"]["status"] == "destroyed"
    finally:
        vault.close()


def test_schema_is_published_and_strict():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    broken = {"type": "vault-probative-report", "scope": "object", "version": 1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(broken)
    assert Path(ROOT / "docs" / "reports.md").exists()
