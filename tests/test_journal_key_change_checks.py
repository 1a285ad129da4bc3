"""After a journal key change, the single-key checks still hold for what the old key signed: the probative-value
report's journal lines, a package's journal excerpt (``vault-verify package``) and a tenant auditor's export; each
refuses a key no recorded change introduced (docs/journal.md "Key changes")."""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_KEY, Api, make_settings
from tests.test_journal_key_change import rotate
from vault.api.app import create_app
from vault.app import Vault
from vault.reports.journal_checks import journal_checks
from vault_verify.journalkeys import signed_by
from vault_verify.note import Signer
from vault_verify.package import verify_package
from vault_verify.replay import verify_tenant_export


class Rotated:
    """A vault whose object was deposited, sealed and anchored under the old journal key, then the key changed
    and the log was anchored again under the new one."""

    def __init__(self, tmp_path, database_url, monkeypatch, anchor_after: bool = True):
        self.keys = tmp_path / "keys"
        self.settings = make_settings(tmp_path, database_url, keys_dir=self.keys)
        monkeypatch.setenv("VAULT_KEYS_DIR", str(self.keys))
        monkeypatch.setenv("VAULT_DATABASE_URL", database_url)
        with self.opened() as (vault, admin):
            self.depositor_key = admin.new_key("depositor", "acme")
            self.receipt = admin.as_key(self.depositor_key).deposit(b"%PDF-1.7 before the change",
                                                                    case_ref="KEY-1").json()
            vault.seal_scheduler.seal_all_pending()
            vault.checkpointer.checkpoint_now()
            assert vault.anchorer.anchor_now(force=True) is not None
        self.old, self.new = rotate(self.settings, self.keys, tmp_path / "previous")
        if anchor_after:
            with self.opened() as (vault, _admin):
                vault.checkpointer.checkpoint_now()
                assert vault.anchorer.anchor_now(force=True) is not None

    def opened(self):
        rotated = self

        class Session:
            def __enter__(self):
                self.vault = Vault.open(rotated.settings, sweep_in_background=False, background_jobs=False)
                self.http = TestClient(create_app(self.vault)).__enter__()
                return self.vault, Api(self.http, ADMIN_KEY)

            def __exit__(self, *exc):
                self.http.__exit__(*exc)
                self.vault.close()

        return Session()


@pytest.fixture
def rotated(tmp_path, database_url, monkeypatch) -> Rotated:
    return Rotated(tmp_path, database_url, monkeypatch)


def _lines(checks: list[dict]) -> dict:
    return {line["id"]: line for line in checks}


def test_report_on_an_object_anchored_before_the_change(rotated):
    with rotated.opened() as (vault, admin):
        response = admin.as_key(rotated.depositor_key).get(f"/v1/objects/{rotated.receipt['id']}/report")
        assert response.status_code == 200, response.text
        checks = _lines(response.json()["checks"])
        checkpoint = checks["journal.checkpoint"]
        assert checkpoint["result"] == "pass", checkpoint
        assert checkpoint["data"]["key"] == rotated.new.verifier.vkey()  # names the key that actually signed
        assert rotated.new.verifier.key_hash.hex() in checkpoint["detail"]
        assert checkpoint["data"]["key_changes"][0]["old"] == rotated.old.verifier.vkey()
        assert checks["journal.anchors"]["result"] == "pass", checks["journal.anchors"]
        assert checks["journal.anchors"]["data"]["anchors"] == 2
        deposit = checks["journal.entries"]["items"][0]
        assert deposit["action"] == "deposit" and deposit["result"] == "pass", deposit
        assert deposit["anchor"]["seq"] == 0 and deposit["anchor"]["included"]  # the old key's anchor

        # without the recorded change the old key is unknown: its anchor fails; a stranger key opens nothing
        documents = vault.documents
        roots = documents.tsa_roots()
        stranger = Signer.generate(rotated.settings.journal_origin).verifier
        with vault.reader.connect() as connection:
            evidence = documents._journal(connection, rotated.receipt["id"])
            unknown = _lines(journal_checks(evidence, stranger, roots))
            evidence.key_changes = []
            forgotten = _lines(journal_checks(evidence, rotated.new.verifier, roots))
        assert unknown["journal.checkpoint"]["result"] == "fail"
        assert "not one the journal introduced" in unknown["journal.checkpoint"]["detail"]
        assert unknown["journal.anchors"]["result"] == "fail"
        assert forgotten["journal.checkpoint"]["result"] == "pass"
        assert forgotten["journal.anchors"]["result"] == "fail"
        assert "no signature by" in forgotten["journal.anchors"]["detail"]


def test_package_made_after_the_change_of_an_object_anchored_before(tmp_path, database_url, monkeypatch):
    rotated = Rotated(tmp_path, database_url, monkeypatch, anchor_after=False)  # the newest anchor: the old key's
    with rotated.opened() as (_vault, admin):
        response = admin.as_key(rotated.depositor_key).get("/v1/packages", params={"case_ref": "KEY-1"})
        assert response.status_code == 200, response.text
    package = response.content
    verdict = verify_package(io.BytesIO(package), journal_key=rotated.new.verifier.vkey())
    assert verdict.ok, [c for c in verdict.checks if not c.ok]
    journal = {check.name: check for check in verdict.journal}
    assert journal["journal keys"].ok and "2 keys" in journal["journal keys"].detail
    anchor = next(check for name, check in journal.items() if name.startswith("anchor checkpoint"))
    assert anchor.ok and rotated.old.verifier.key_hash.hex() in anchor.detail  # opened with the old key
    # the old key cannot vouch for the new one, nor can a key the journal never introduced
    for key in (rotated.old.verifier, Signer.generate(rotated.settings.journal_origin).verifier):
        assert not verify_package(io.BytesIO(package), journal_key=key.vkey()).ok


def _tenant_export(rotated: Rotated, target):
    from vault.auth.roles import Principal, Role
    from vault.journal.export import open_export, write_directory
    from vault.journal.visible import VaultSource

    with rotated.opened() as (vault, _admin):
        write_directory(open_export(VaultSource(vault, Principal("test", Role.AUDITOR, "acme"))), target)
    return target


def test_tenant_export_after_the_change(rotated, tmp_path):
    """A tenant's auditor gets the key change with its page; its export then verifies the old key's anchor and an
    old trusted checkpoint with the new key pinned, or the old key (followed through the co-signed handover), and
    refuses a stranger's key."""
    with rotated.opened() as (_vault, admin):
        auditor = admin.as_key(admin.new_key("auditor", "acme"))
        page = auditor.get("/v1/journal/entries").json()
    assert [change["action"] for change in page["key_changes"]] == ["identity_keys_accepted"]
    assert str(page["key_changes"][0]["seq"]) in page["proofs"]["inclusion"]
    assert {entry["tenant"] for entry in page["entries"]} == {"acme"}

    exported = _tenant_export(rotated, tmp_path / "export")
    old_anchor = (exported / "anchors/00000000.checkpoint").read_bytes()
    assert signed_by(old_anchor, rotated.old.verifier) == [rotated.old.verifier]  # the old key alone signed it
    report = verify_tenant_export(exported, rotated.new.verifier, old_anchor)
    assert report.ok, report.problems
    assert report.anchors == 2
    assert any(check.name == "journal keys" and "2 keys" in check.detail for check in report.checks)
    assert any(check.name.startswith("trusted checkpoint") and check.ok for check in report.checks)

    old = verify_tenant_export(exported, rotated.old.verifier, old_anchor)  # followed through the handover
    assert old.ok and any(c.name == "journal keys" and c.detail.startswith("followed") for c in old.checks), old.problems
    stranger = verify_tenant_export(exported, Signer.generate(rotated.settings.journal_origin).verifier)
    assert not stranger.ok and any("not one the journal introduced" in p for p in stranger.problems)

    listing = json.loads((exported / "tenant-entries.json").read_text())
    forged = [{**page, "key_changes": [{**change, "reason": "forged"} for change in page["key_changes"]]}
              for page in listing["pages"]]
    (exported / "tenant-entries.json").write_text(json.dumps({**listing, "pages": forged}))
    report = verify_tenant_export(exported, rotated.new.verifier, old_anchor)
    assert not report.ok and any("not the leaf of the signed tree" in p for p in report.problems), report.problems
    dropped = [{**page, "key_changes": []} for page in listing["pages"]]
    (exported / "tenant-entries.json").write_text(json.dumps({**listing, "pages": dropped}))
    report = verify_tenant_export(exported, rotated.new.verifier)
    assert not report.ok and any("anchor 0" in p for p in report.problems), report.problems
