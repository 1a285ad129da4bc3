"""The scaled configuration's database backup (docs/operations.md, Backup and restore): ``pg_dump`` of a live
vault's PostgreSQL database, ``pg_restore`` into a fresh database on the same server, and a vault opened on the
restored database (same data directory keys, same Ceph RGW bucket) whose journal, evidence records and copies
verify."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, fresh_pg_database, make_settings
from vault.api.app import create_app
from vault.app import Vault
from vault.cli.main import main
from vault.evidence.verify import DataObject, verify_evidence_record
from vault.timestamping.tokens import load_pem_roots

pytestmark = pytest.mark.postgres


def libpq(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection URI (what pg_dump and pg_restore take)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_pg_dump_restored_into_a_fresh_database_verifies(tmp_path, monkeypatch):
    if not shutil.which("pg_dump"):
        pytest.skip("pg_dump not installed (Debian package postgresql)")
    contents = [f"scaled proof {i}".encode() for i in range(3)]
    with fresh_pg_database() as source_url, fresh_pg_database() as restored_url:
        settings = make_settings(tmp_path, source_url)
        vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
        try:
            with TestClient(create_app(vault)) as http:
                depositor = Api(http, Api(http, ADMIN_KEY).new_key("depositor", "acme"))
                ids = [depositor.deposit(content).json()["id"] for content in contents]
            vault.seal_scheduler.seal_all_pending()
            vault.checkpointer.checkpoint_now()
        finally:
            vault.close()
        dump = tmp_path / "vault.dump"
        subprocess.run(["pg_dump", "--format=custom", "--file", str(dump), libpq(source_url)], check=True,
                       timeout=120)
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", libpq(restored_url), str(dump)],
                       check=True, timeout=120)

        monkeypatch.setenv("VAULT_DATABASE_URL", restored_url)
        assert main(["journal", "verify", "--data-dir", str(settings.data_dir)]) == 0
        restored = Vault.open(settings.with_(database_url=restored_url), sweep_in_background=False,
                              background_jobs=False)
        try:
            with TestClient(create_app(restored)) as http:
                admin = Api(http, ADMIN_KEY)
                roots = load_pem_roots(admin.get("/v1/tsa/roots").content)
                for object_id, content in zip(ids, contents):
                    assert admin.get(f"/v1/objects/{object_id}/content").content == content
                    record = admin.get(f"/v1/objects/{object_id}/evidence-record").content
                    data = [DataObject(digests={"sha256": hashlib.sha256(content).digest(),
                                                "sha512": hashlib.sha512(content).digest()})]
                    assert verify_evidence_record(record, data, roots=roots).ok
            audit = restored.copies.audit()
            assert audit["blobs"] == len(contents) and audit["copies_checked"] == 2 * len(contents)
            assert not audit["bad"] and not audit["lost"]
        finally:
            restored.close()
