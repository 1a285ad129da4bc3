"""The auditor's and the admin's console pages without a browser: the Journal page's filters and proofs, "verify the
journal now", keys issued (secret once), refused, rotated and revoked through the API's own rules, the read-only
pages, the navigation each role gets (the browser journeys: tests/browser)."""

from __future__ import annotations

import re

from tests.conftest import ADMIN_KEY, Api
from tests.test_console import _sign_in
from vault.console.sessions import COOKIE


def _csrf(page) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def _nav(page) -> list[str]:
    nav = re.search(r"<nav .*?</nav>", page.text, re.S).group(0)
    return re.findall(r'href="(/ui/[a-z]+)"', nav)


def test_the_journal_page_shows_an_objects_reads_with_their_proofs_and_verifies_the_journal(vault, client, admin,
                                                                                           depositor):
    object_id = depositor.deposit(b"%PDF-1.7 journal page").json()["id"]
    archivist = admin.as_key(admin.new_key("archivist", "acme"))
    assert archivist.get(f"/v1/objects/{object_id}/content").status_code == 200
    vault.checkpointer.checkpoint_now()
    auditor_key = admin.new_key("auditor", "acme")
    assert _sign_in(client, auditor_key).status_code == 303
    page = client.get("/ui/journal", params={"object": object_id, "action": "content_read"})
    assert page.status_code == 200
    assert _nav(page) == ["/ui/search", "/ui/holds", "/ui/disposal", "/ui/journal", "/ui/policies", "/ui/alerts",
                          "/ui/kpis"]
    entries = re.findall(r'<li class="entry">.*?</li>\s*</ol>|<li class="entry">.*?</details>', page.text, re.S)
    assert len(entries) == 1 and "content_read" in entries[0] and object_id in entries[0]
    assert '<details class="proof">' in entries[0] and re.search(r"Tree size</dt><dd>[1-9]\d*</dd>", entries[0])
    assert len(re.findall(r"<li>[A-Za-z0-9+/]{43}=</li>", entries[0])) >= 1  # the audit path's SHA-256 hashes
    assert "Latest signed checkpoint" in page.text and re.search(r'<pre class="mono">.*\n\d+\n', page.text)
    # a period that ends before the read: nothing
    assert "No entry matches." in client.get("/ui/journal", params={"object": object_id,
                                                                    "until": "2020-01-01"}).text
    assert client.get("/ui/journal", params={"since": "yesterday"}).status_code == 422

    started = client.post("/ui/journal/verify", data={"csrf": _csrf(page)}, follow_redirects=False)
    assert started.status_code == 303
    run = client.app.state.console_verifications.get(client.cookies.get(COOKIE))
    assert run is not None and run.wait(60)
    done = client.get("/ui/journal")
    assert re.search(r"Journal OK: \d+ entries, [1-9]\d* signed checkpoints", done.text), done.text
    assert client.post("/ui/journal/verify", data={"csrf": "wrong"}).status_code == 403


def test_a_tenant_auditor_sees_only_its_tenants_entries(vault, client, admin):
    admin.new_key("archivist", "other")  # journaled for tenant other
    assert _sign_in(client, admin.new_key("auditor", "acme")).status_code == 303
    page = client.get("/ui/journal", params={"action": "key_created"})
    assert "Only the entries of tenant acme are shown." in page.text
    assert "other" not in re.sub(r"<form.*?</form>", "", page.text.split('id="entries"')[1].split("</section>")[0], flags=re.S)


def test_admin_issues_a_key_sees_its_secret_once_rotates_and_revokes_it(vault, client, admin):
    assert _sign_in(client, ADMIN_KEY).status_code == 303
    page = client.get("/ui/keys")
    assert page.status_code == 200 and "/ui/keys" in _nav(page) and "/ui/inventory" in _nav(page)
    issued = client.post("/ui/keys", data={"csrf": _csrf(page), "role": "archivist", "tenant": "acme",
                                           "holder": "bob@example.org", "label": "bob"})
    assert issued.status_code == 201
    secret = re.search(r'id="new_secret" class="mono" readonly value="([^"]+)"', issued.text).group(1)
    key_id = re.search(r"Key (\S+) issued", issued.text).group(1)
    assert admin.as_key(secret).get("/v1/objects").status_code == 200
    assert secret not in client.get("/ui/keys").text  # shown once
    rotated = client.post(f"/ui/keys/{key_id}/rotate", data={"csrf": _csrf(page)})
    new_secret = re.search(r'id="new_secret" class="mono" readonly value="([^"]+)"', rotated.text).group(1)
    assert new_secret != secret and admin.as_key(new_secret).get("/v1/objects").status_code == 200
    revoked = client.post(f"/ui/keys/{key_id}/revoke", data={"csrf": _csrf(page)}, follow_redirects=False)
    assert revoked.status_code == 303
    vault.keys.forget()
    assert admin.as_key(new_secret).get("/v1/objects").status_code == 401
    actions = [e["action"] for e in admin.get("/v1/journal/entries", params={"limit": 1000}).json()["entries"]]
    assert {"key_created", "key_rotated", "key_revoked", "keys_read"} <= set(actions)


def test_a_tenant_admin_may_not_issue_an_admin_key_through_the_console(client, admin):
    assert _sign_in(client, admin.new_key("admin", "acme")).status_code == 303
    page = client.get("/ui/keys")
    assert "/ui/inventory" not in _nav(page)  # a platform operation
    refused = client.post("/ui/keys", data={"csrf": _csrf(page), "role": "admin", "holder": "eve@example.org"})
    assert refused.status_code == 403 and "<h1>" in refused.text
    assert client.get("/ui/inventory").status_code == 403


def test_the_read_only_admin_pages_answer_and_are_journaled_like_the_api(client, admin):
    assert _sign_in(client, ADMIN_KEY).status_code == 303
    for path in ("/ui/policies", "/ui/inventory", "/ui/alerts", "/ui/kpis"):
        page = client.get(path, params={"lang": "fr"})
        assert page.status_code == 200, (path, page.text)
        assert '<html lang="fr">' in page.text
    assert "lre-proof" in client.get("/ui/policies").text
    assert client.get("/ui/kpis", params={"from": "2026-01-01", "to": "2025-01-01"}).status_code == 422
    actions = [e["action"] for e in admin.get("/v1/journal/entries", params={"limit": 1000}).json()["entries"]]
    assert "kpis_view" in actions and "alerts_view" in actions
