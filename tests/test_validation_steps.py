"""Validation steps, doctor and fixity findings, JWS, certificate and format verdicts are vault_verify checks;
their stored and printed shapes do not change."""

import json
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vault.documents import jws
from vault.doctor.report import DoctorReport, Finding
from vault.retention.certificate import sign_certificate, verify_certificate
from vault.storage.fixity import COPY_MISSING, Finding as CopyFinding
from vault.validation.steps import step, steps_report
from vault.validation.verdicts import INVALID, SignatureVerdict
from vault_verify.report import Report

NOW = datetime(2026, 12, 6, tzinfo=timezone.utc)


def test_a_verdict_stores_its_checks_as_the_etsi_steps_and_reads_them_back():
    checks = [step("integrity", True), step("trust", "failed", "no path"), step("message imprint", "not checked",
                                                                           "unknown algorithm")]
    verdict = SignatureVerdict("rfc3161", None, INVALID, "broken", NOW, {"steps": checks})
    assert verdict.as_dict()["details"]["steps"] == [
        {"check": "integrity", "result": "passed", "detail": ""},
        {"check": "trust", "result": "failed", "detail": "no path"},
        {"check": "message imprint", "result": "not checked", "detail": "unknown algorithm"}]
    report = verdict.report
    assert not report.ok and report.first_failure.name == "trust" and report.notes == ["unknown algorithm"]


def test_an_old_row_reads_back_with_its_words_kept():
    rows = [{"check": "signature value", "result": "passed", "detail": ""},
            {"check": "TSA revocation", "result": "indeterminate", "detail": "soft-fail"},
            {"check": "odd", "result": "something new"}]
    report = steps_report(rows)
    assert report.ok and [c.status for c in report.checks] == ["ok", "warning", "warning"]
    again = SignatureVerdict("pades", None, INVALID, "x", NOW, {"steps": rows}).details["steps"]
    assert again == rows


def test_doctor_findings_are_checks_and_keep_the_doctor_words():
    report = DoctorReport([Finding("config", "ok", "fine"), Finding("tsa.clock", "error", "6 min off", "fix NTP"),
                           Finding("disk.free", "warning", "low")])
    assert not report.ok and report.exit_status() == 1 and report.first_failure.name == "tsa.clock"
    assert report.to_json() == {"status": "error", "checks": [
        {"check": "config", "status": "ok", "message": "fine", "fix": ""},
        {"check": "tsa.clock", "status": "error", "message": "6 min off", "fix": "fix NTP"},
        {"check": "disk.free", "status": "warning", "message": "low", "fix": ""}]}
    assert report.render_text().splitlines()[1] == f"{'error':7} {'tsa.clock':22} 6 min off — fix NTP"
    assert DoctorReport([Finding("config", "ok", "fine")]).exit_status() == 0


def test_jws_and_destruction_certificate_verdicts_name_the_failing_check():
    key = Ed25519PrivateKey.generate()
    compact = jws.sign_compact({"type": "t"}, key, "application/json")
    good = jws.verify(compact, key.public_key())
    assert good.ok and good.reason == "signature valid" and good.payload == {"type": "t"}
    other = jws.verify(compact, Ed25519PrivateKey.generate().public_key())
    assert not other.ok and other.first_failure.name == "key" and "not the pinned key" in other.reason
    assert jws.verify("not.a-jws", key.public_key()).first_failure.name == "form"
    signed = sign_certificate({"batch": 1}, key)
    assert verify_certificate(json.dumps(signed).encode()).ok
    signed["certificate"]["batch"] = 2
    bad = verify_certificate(json.dumps(signed).encode())
    assert not bad.ok and bad.reason == "the signature does not match the certificate's content"


def test_a_fixity_finding_is_a_check_on_one_copy():
    good, bad = CopyFinding.of("ab" * 32, "local", "o1", "ab" * 32), CopyFinding.of("ab" * 32, "rgw", "o1", None)
    assert good.ok and good.kind is None and good.detail == "intact"
    assert not bad.ok and bad.kind == COPY_MISSING and bad.line() == f"copy of {'ab' * 32} on rgw: copy-missing"
    assert Report([good, bad]).first_failure is bad


def test_a_signed_document_that_is_not_a_receipt_is_refused_by_the_cli(tmp_path, capsys):
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from vault.cli.main import main as vault_main

    key = Ed25519PrivateKey.generate()
    (tmp_path / "other.jws").write_text(jws.sign_compact({"type": "something-else"}, key, "application/json"))
    (tmp_path / "key.pem").write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    capsys.readouterr()
    assert vault_main(["receipt", "verify", str(tmp_path / "other.jws"), "--key", str(tmp_path / "key.pem"),
                       "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["valid"] is False and answer["receipt"] is None
    assert answer["reason"] == "signed, but not a vault deposit receipt (type 'something-else')"
