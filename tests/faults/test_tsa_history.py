"""Changing TSA never breaks old evidence: every root that sealed something stays published. Issue #19, item 7."""

from __future__ import annotations

import io
import zipfile

from fastapi.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.test_ers_tamper import data
from vault.api.app import create_app
from vault.app import Vault
from vault.evidence.verify import verify_evidence_record
from vault.timestamping.tokens import load_pem_roots


def sealed_record(settings, content: bytes) -> tuple[bytes, Api, Vault]:
    vault = Vault.open(settings, sweep_in_background=False, background_jobs=False)
    admin = Api(TestClient(create_app(vault)), ADMIN_KEY)
    depositor = admin.as_key(admin.new_key("depositor", "acme"))
    object_id = depositor.deposit(content, case_ref="TSA-SWITCH").json()["id"]
    vault.seal_scheduler.seal_all_pending()
    return admin.get(f"/v1/objects/{object_id}/evidence-record").content, admin, vault


def test_records_sealed_before_a_tsa_switch_verify_against_the_published_roots(tmp_path, database_url, openssl_tsa):
    first, _, vault = sealed_record(make_settings(tmp_path, database_url), b"sealed by the development TSA")
    development_root = vault.dev_tsa.root
    vault.close()

    switched = make_settings(tmp_path, database_url, tsa_urls=(openssl_tsa["url"],), tsa_roots=openssl_tsa["roots"])
    second, admin, vault = sealed_record(switched, b"sealed by the OpenSSL TSA")
    try:
        published = admin.get("/v1/tsa/roots")
        roots = load_pem_roots(published.content)
        assert development_root in roots and len(roots) >= 2
        text = published.text
        assert text.count("# used by ") == 2 and "# used by builtin:development-tsa from " in text
        assert f"# used by {openssl_tsa['url']} from " in text
        for record, content in ((first, b"sealed by the development TSA"), (second, b"sealed by the OpenSSL TSA")):
            verdict = verify_evidence_record(record, data(content), roots=roots)
            assert verdict.ok, verdict.first_failure

        package = admin.get("/v1/cases/TSA-SWITCH/package")
        assert package.status_code == 200
        with zipfile.ZipFile(io.BytesIO(package.content)) as bag:
            name = next(n for n in bag.namelist() if n.endswith("certificates/tsa-roots.pem"))
            packaged = bag.read(name)
            assert set(load_pem_roots(packaged)) == set(roots)
            assert packaged.count(b"# used by ") == 2  # with the period each root was used
    finally:
        vault.close()
