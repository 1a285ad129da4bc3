"""The console's plumbing without a browser: catalogs, language choice, sessions' idle timeout, CSRF, redirects,
headers (the journeys themselves run in a real browser: tests/browser)."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from tests.conftest import ADMIN_KEY, Api
from vault.console import i18n
from vault.console.pages.signin import safe_next
from vault.console.sessions import SessionStore


def test_every_language_has_every_message_and_every_template_key_exists():
    assert set(i18n.catalog("en")) == set(i18n.catalog("fr"))
    used = set()
    for template in files("vault.console").joinpath("templates").iterdir():
        used |= set(re.findall(r"""\bt\(["']([a-z_]+\.[a-z_.0-9]*[a-z_0-9])["'][,)]""", template.read_text()))
    assert used and used <= set(i18n.catalog("en")), used - set(i18n.catalog("en"))


@pytest.mark.parametrize("header, lang", [("fr-FR,fr;q=0.9,en;q=0.8", "fr"), ("en-US,fr;q=0.5", "en"),
                                          ("de, fr;q=0.3", "fr"), ("de", None), ("", None), ("fr;q=bad, en", "en")])
def test_accept_language(header, lang):
    assert i18n.accepted(header) == lang


def test_sessions_end_after_the_idle_timeout():
    now = [0.0]
    store = SessionStore(1800, monotonic=lambda: now[0])
    session_id, session = store.open("digest")
    now[0] = 1799
    assert store.get(session_id) is session  # a request restarts the idle clock
    now[0] = 1799 + 1800
    assert store.get(session_id) is session
    now[0] += 1801
    assert store.get(session_id) is None and store.get(session_id) is None


@pytest.mark.parametrize("path, safe", [("/ui/search", "/ui/search"), ("//evil.example/ui/", "/ui/"),
                                        ("https://evil.example/", "/ui/"), ("/ui/\\evil", "/ui/"), (None, "/ui/")])
def test_sign_in_never_redirects_elsewhere(path, safe):
    assert safe_next(path) == safe


def _sign_in(client, key: str):
    form = client.get("/ui/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post("/ui/sign-in", data={"api_key": key, "csrf": token}, follow_redirects=False)


def test_sign_in_session_csrf_and_headers(vault, client):
    admin = Api(client, ADMIN_KEY)
    key = admin.new_key("archivist", "acme", holder="a@example.org")
    signed = _sign_in(client, key)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie and key not in cookie
    page = client.get("/ui/holds")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    body = {"case_ref": "C-1", "reason": "r", "reference": "R"}
    refused = client.post("/ui/holds", data={**body, "csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    done = client.post("/ui/holds", data={**body, "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/ui/holds?created=")
    client.post("/ui/sign-out", data={"csrf": csrf})
    assert client.get("/ui/holds", follow_redirects=False).status_code == 303


def test_a_sign_in_form_without_its_token_is_refused(client):
    answer = client.post("/ui/sign-in", data={"api_key": ADMIN_KEY, "csrf": "guessed"}, follow_redirects=False)
    assert answer.status_code == 400 and "vault_session" not in answer.headers.get("set-cookie", "")


def test_the_root_leads_to_the_console_and_the_api_keeps_its_problems(client):
    assert client.get("/", follow_redirects=False).headers["location"] == "/ui/"
    assert client.get("/v1/nowhere").headers["content-type"] == "application/problem+json"
    assert client.get("/ui/nowhere").headers["content-type"].startswith("text/html")
