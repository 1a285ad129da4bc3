"""``vault doctor`` (issue 20) names a planted misconfiguration — a world-readable key file, an expired TSA root, a
bucket without Object Lock on the real Ceph RGW, a TSA that hangs — and exits 0 on a clean data directory."""

from __future__ import annotations

import json
import socket
import time
import uuid
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import make_settings
from tests.test_copies import s3_url
from vault.app import Vault
from vault.cli.main import main
from vault.doctor.tsa import skew_finding


@pytest.fixture
def installation(tmp_path, database_url, openssl_tsa, monkeypatch):
    """A data directory a vault has run in (real TSA; PostgreSQL + Ceph on the scaled variant) and its VAULT_*."""
    settings = make_settings(tmp_path, database_url, tsa_urls=(openssl_tsa["url"],), tsa_roots=openssl_tsa["roots"])
    Vault.open(settings, sweep_in_background=False, background_jobs=False).close()
    for name in ("VAULT_STORES", "VAULT_COPY_QUORUM", "VAULT_TRUST_DIR", "VAULT_MIN_FREE_BYTES", "VAULT_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)
    env = {"VAULT_DATA_DIR": str(settings.data_dir), "VAULT_DATABASE_URL": database_url,
           "VAULT_POLICIES_DIR": str(settings.policies_dir), "VAULT_TSA_URLS": openssl_tsa["url"],
           "VAULT_TSA_ROOTS": str(openssl_tsa["roots"]), "VAULT_STORES": ",".join(settings.stores),
           "VAULT_COPY_QUORUM": str(settings.copy_quorum or "")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings


def doctor(capsys, *extra) -> tuple[int, list[dict]]:
    status = main(["doctor", "--json", *extra])
    return status, json.loads(capsys.readouterr().out)["checks"]


def errors(checks: list[dict]) -> list[dict]:
    return [c for c in checks if c["status"] == "error"]


def test_a_clean_installation_passes(installation, capsys):
    status, checks = doctor(capsys)
    assert status == 0 and errors(checks) == [], checks
    names = {c["check"] for c in checks}
    assert {"files.data-dir", "files.keys", "tsa.reachable", "tsa.clock", "db.schema", "disk.free"} <= names
    if installation.stores:
        assert any(c["check"] == "stores.object-lock" and c["status"] == "ok" for c in checks)
    assert main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.split()[0] in ("ok", "warning") for line in lines)


def test_a_world_readable_key_file_is_an_error(installation, capsys):
    key = installation.data_dir / "journal.key"
    key.chmod(0o644)
    status, checks = doctor(capsys)
    assert status == 1
    [found] = errors(checks)
    assert found["check"] == "files.keys" and str(key) in found["message"] and "0644" in found["message"]
    assert f"chmod 0600 {key}" in found["fix"]


def test_a_group_readable_data_dir_is_an_error(installation, capsys):
    installation.data_dir.chmod(0o750)
    status, checks = doctor(capsys)
    assert status == 1 and [c["check"] for c in errors(checks)] == ["files.data-dir"]


def expired_root(path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Expired TSA Root")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=3650))
            .not_valid_after(now - timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    path.write_bytes(path.read_bytes() + cert.public_bytes(serialization.Encoding.PEM))


def test_an_expired_tsa_root_is_an_error(installation, openssl_tsa, tmp_path, monkeypatch, capsys):
    roots = tmp_path / "roots.pem"
    roots.write_bytes(openssl_tsa["roots"].read_bytes())
    expired_root(roots)
    monkeypatch.setenv("VAULT_TSA_ROOTS", str(roots))
    status, checks = doctor(capsys)
    assert status == 1
    [found] = errors(checks)
    assert found["check"] == "tsa.roots" and "CN=Expired TSA Root expired on" in found["message"]


def test_a_bucket_without_object_lock_is_an_error(installation, rgw, monkeypatch, capsys):
    bucket = f"nolock-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=rgw["endpoint"], aws_access_key_id=rgw["access_key"],
                 aws_secret_access_key=rgw["secret_key"], region_name=rgw["region"]).create_bucket(Bucket=bucket)
    monkeypatch.setenv("VAULT_STORES", s3_url(rgw, bucket))
    monkeypatch.setenv("VAULT_COPY_QUORUM", "1")
    status, checks = doctor(capsys)
    assert status == 1
    [found] = errors(checks)
    assert found["check"] == "stores.object-lock" and f"bucket {bucket} has no Object Lock" in found["message"]


def test_a_hanging_tsa_does_not_hang_the_doctor(installation, monkeypatch, capsys):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("VAULT_TSA_URLS", f"http://127.0.0.1:{silent.getsockname()[1]}/tsa")
        started = time.monotonic()
        status, checks = doctor(capsys, "--timeout", "2")
        assert time.monotonic() - started < 15
    assert status == 1
    assert [c["check"] for c in errors(checks)] == ["tsa.reachable"]


def test_clock_skew_thresholds():
    sent = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
    received = sent + timedelta(seconds=0.2)
    assert skew_finding("tsa", sent, sent, received).word == "ok"
    assert skew_finding("tsa", sent - timedelta(seconds=90), sent, received).word == "warning"
    assert skew_finding("tsa", sent + timedelta(minutes=6), sent, received).word == "error"
