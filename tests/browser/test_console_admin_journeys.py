"""The auditor's and the admin's console journeys in a real browser against a real server (issue #21): an
archivist's download shows on the auditor's Journal page with its inclusion proof, the auditor verifies the whole
journal and downloads its offline export, which `vault journal verify` accepts; an admin issues a key (its secret
shown once) and revokes it, after which the API refuses it. Every page passes axe-core and stays on its origin
(tests/browser/conftest.py)."""

from __future__ import annotations

import json
import os
import time
import zipfile

import httpx
import pytest

from tests.browser.conftest import copy_to_docs
from tests.test_journal_replay import vault_cli

pytestmark = pytest.mark.slow
PAGES = ["journal", "journal-verified", "keys", "key-issued", "policies", "inventory", "alerts", "kpis"]


def test_auditor_sees_the_download_with_its_proof_and_verifies_the_journal(console, live, tmp_path):
    depositor = live.key("depositor")["key"]
    object_id = live.deposit(depositor, "LRE-2026-JOURNAL", "deposit", b"%PDF-1.7 journal")["id"]
    archivist = live.key("archivist", holder="arnold@example.org")
    read = httpx.get(f"{live.url}/v1/objects/{object_id}/content", timeout=30,
                     headers={"Authorization": f"Bearer {archivist['key']}"})
    assert read.status_code == 200
    c = console()
    c.sign_in(live.key("auditor", holder="audrey@example.org")["key"])
    nav = c.page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Journal").count() == 1 and nav.get_by_role("link", name="API keys").count() == 0
    nav.get_by_role("link", name="Journal").click()
    c.page.get_by_label("Object id").fill(object_id)
    c.page.get_by_label("Action").fill("content_read")
    c.page.get_by_role("button", name="Filter").click()
    c.page.wait_for_url("**/ui/journal?*")
    deadline = time.monotonic() + 30
    while c.page.locator("details.proof").count() == 0 and time.monotonic() < deadline:  # the next checkpoint
        time.sleep(1)
        c.page.reload()
    entries = c.page.locator("li.entry")
    assert entries.count() == 1
    entry = entries.first
    assert "content_read" in entry.inner_text() and archivist["key_id"] in entry.inner_text()
    proof = entry.locator("details.proof")
    assert not proof.evaluate("d => d.open")  # collapsed by default
    proof.locator("summary").click()
    assert proof.evaluate("d => d.open")
    assert int(proof.locator("dd").nth(1).inner_text()) > int(proof.locator("dd").first.inner_text())
    assert proof.locator("ol li").count() >= 1
    assert c.page.locator("pre").first.inner_text().count("\n") >= 3  # the signed checkpoint note
    c.check("journal")
    c.page.get_by_role("button", name="Verify the journal now").click()
    c.page.wait_for_url("**/ui/journal*")
    deadline = time.monotonic() + 60
    while c.page.locator(".verdict").count() == 0 and time.monotonic() < deadline:
        time.sleep(1)
        c.page.get_by_role("link", name="Refresh").click() if c.page.get_by_role("link", name="Refresh").count() \
            else c.page.reload()
    assert c.page.locator(".verdict").inner_text().startswith("Journal OK"), c.page.locator("#main").inner_text()
    c.check("journal-verified")

    with c.page.expect_download() as downloading:  # the offline export, verified offline as a tenant's view
        c.page.get_by_role("link", name="Download the offline export (ZIP)").click()
    download = downloading.value
    assert download.suggested_filename.startswith("vault-journal-acme-"), download.suggested_filename
    with zipfile.ZipFile(download.path()) as archive:
        archive.extractall(tmp_path)
    (unpacked,) = tmp_path.iterdir()
    assert not (unpacked / "tile/entries").exists() and (unpacked / "tenant-entries.json").is_file()
    vkey = live.api.get("/v1/journal/key").text.strip()
    done = vault_cli("journal", "verify", str(unpacked), "--vkey", vkey, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["scope"] == "acme"
    assert f"vault-journal-acme-{report['entries']}.zip" == download.suggested_filename


def test_admin_issues_a_key_sees_its_secret_once_and_revokes_it(console, live):
    from tests.browser.conftest import ADMIN

    c = console()
    c.sign_in(ADMIN)
    nav = c.page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="API keys").click()
    c.page.wait_for_url("**/ui/keys")
    c.check("keys")
    c.page.get_by_label("Role").select_option("archivist")
    c.page.get_by_label("Scope (tenant, or * for all)").fill("acme")
    c.page.get_by_label("Holder").fill("carol@example.org")
    c.page.get_by_label("Label").fill("carol's laptop")
    c.page.get_by_role("button", name="Issue the key").click()
    c.page.wait_for_load_state()
    secret = c.page.get_by_label("Secret").input_value()
    key_id = c.page.locator("#secret").inner_text().split()[1]
    assert secret.startswith("vault_")
    c.check("key-issued")
    api = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert api.get("/v1/objects").status_code == 200
    c.open("/ui/keys")
    assert secret not in c.page.content()  # shown once
    c.page.get_by_role("button", name=f"Revoke key {key_id}").click()
    c.page.wait_for_url("**/ui/keys?revoked=*")
    assert c.page.get_by_role("status").inner_text() == f"Key {key_id} revoked."
    assert c.page.get_by_role("button", name=f"Revoke key {key_id}").count() == 0
    time.sleep(4.5)  # the key ring's cache (4 s)
    assert api.get("/v1/objects").status_code == 401
    for name, path in (("policies", "/ui/policies"), ("inventory", "/ui/inventory"), ("alerts", "/ui/alerts"),
                       ("kpis", "/ui/kpis")):
        assert c.open(path).status == 200, path
        c.check(name)
    if os.environ.get("VAULT_UPDATE_DOCS_SCREENSHOTS"):
        copy_to_docs(PAGES)
