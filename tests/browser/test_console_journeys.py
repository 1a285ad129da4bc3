"""The console in a real browser against a real server (issue #21): an archivist finds a case, opens its timeline
and downloads a proof (journaled like the API's read); holds are set and released; two archivists dispose of a
case's proofs through the notice period on the test clock. Every page passes axe-core and stays on its origin.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import pytest

from tests.browser.conftest import YEAR, copy_to_docs

pytestmark = pytest.mark.slow
CASE = "LRE-2026-000123"


@pytest.fixture(scope="module")
def tour(live):
    """The README tour's case: a deposit, its sending and its receipt, deposited by a depositor of acme."""
    depositor = live.key("depositor")["key"]
    sent = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    ids = [live.deposit(depositor, CASE, event, f"%PDF-1.7 {event}".encode(), event_time=sent,
                        sender="sender@example.org", recipient="recipient@example.org")["id"]
           for event in ("deposit", "sending", "receipt")]
    return {"ids": ids}


def test_a_new_user_is_led_to_the_sign_in_page(console, live):
    c = console()
    c.open("/")
    assert c.page.url == live.url + "/ui/sign-in"
    assert c.page.get_by_role("heading", level=1).inner_text() == "Sign in"
    c.check("sign-in")


def test_the_readme_tour_case_in_the_browser_with_the_admin_key(console, live, tour):
    """README: "open http://127.0.0.1:8000/ui/ and sign in with the admin key printed at start"."""
    from tests.browser.conftest import ADMIN

    started = time.monotonic()
    c = console()
    c.open("/")
    c.page.get_by_label("API key").fill(ADMIN)
    c.page.get_by_role("button", name="Sign in").click()
    c.page.get_by_label("Case reference").fill(CASE)
    c.page.get_by_role("button", name="Search").click()
    c.page.get_by_role("link", name=CASE).first.click()
    c.page.wait_for_url(f"**/ui/cases/{CASE}?tenant=acme")  # a platform key names the case's tenant
    assert c.page.locator("ol.timeline > li").count() == 3
    assert time.monotonic() - started < 60


def test_archivist_searches_a_case_opens_its_timeline_and_downloads_a_proof(console, live, tour):
    archivist = live.key("archivist", holder="alice@example.org")
    c = console()
    c.sign_in(archivist["key"])
    assert c.page.url.endswith("/ui/search")
    c.page.get_by_label("Case reference").fill(CASE)
    c.page.get_by_role("button", name="Search").click()
    c.page.wait_for_load_state()
    assert c.page.locator("table tbody tr").count() == 3
    c.check("search")
    c.page.get_by_role("link", name=CASE).first.click()
    c.page.wait_for_url(f"**/ui/cases/{CASE}")
    timeline = c.page.locator("ol.timeline > li")
    assert timeline.count() == 3
    assert [timeline.nth(i).locator("h3 a").inner_text() for i in range(3)] == ["deposit", "sending", "receipt"]
    assert "recipient@example.org" in timeline.nth(2).inner_text()
    assert c.page.locator(".status").inner_text().startswith("Complete")
    c.check("case")
    for body in ({"kind": "seal"}, {"kind": "timestamp-renewal"}):  # the server seals hourly: seal and renew now
        assert live.api.post("/v1/admin/reseal", json=body).status_code == 200
    assert live.api.post("/v1/admin/audits", json={}).json()["bad"] == []
    c.page.get_by_role("link", name="receipt").click()
    c.page.wait_for_url("**/ui/objects/*")
    object_id = c.page.url.rsplit("/", 1)[1]
    assert object_id == tour["ids"][2]
    chain = c.page.locator("table[aria-labelledby=chain] tbody tr")
    assert [chain.nth(i).locator("td").first.inner_text() for i in range(chain.count())] == [
        "Initial seal", "Timestamp renewal"]
    copies = c.page.locator("section[aria-labelledby=copies] table").first.locator("tbody tr")
    assert copies.count() >= 1 and "not audited yet" not in copies.first.inner_text()  # the audit re-read it
    c.check("object")
    with c.page.expect_download() as ers:
        c.page.get_by_role("link", name="Evidence record (.ers)").click()
    assert open(ers.value.path(), "rb").read() == live.api.get(f"/v1/objects/{object_id}/evidence-record").content
    exports = [e for e in live.journal(object=object_id, action="evidence_export") if e["actor"] == archivist["key_id"]]
    assert len(exports) == 1
    with c.page.expect_download() as download:
        c.page.get_by_role("link", name="Download").click()
    assert open(download.value.path(), "rb").read() == b"%PDF-1.7 receipt"
    reads = [e for e in live.journal(object=object_id, action="content_read") if e["actor"] == archivist["key_id"]]
    assert len(reads) == 1 and reads[0]["objects"] == [object_id]  # as GET /v1/objects/{id}/content journals it
    views = [e for e in live.journal(action="case_view") if e["actor"] == archivist["key_id"]]
    assert len(views) == 1 and set(views[0]["objects"]) == set(tour["ids"])
    c.open("/ui/search?lang=fr")
    assert c.page.locator("html").get_attribute("lang") == "fr"
    assert c.page.get_by_label("Référence du dossier").count() == 1
    c.check("search-fr")


def test_french_from_accept_language_and_every_page_stays_on_its_origin(console, live, tour):
    c = console(locale="fr-FR")
    c.open("/ui/sign-in")
    assert c.page.locator("html").get_attribute("lang") == "fr"
    assert c.page.get_by_role("button", name="Se connecter").count() == 1
    c.page.get_by_label("Clé d’API").fill(live.key("archivist", holder="ann@example.org")["key"])
    c.page.get_by_role("button", name="Se connecter").click()
    for path in ("/ui/search?case_ref=" + CASE, f"/ui/cases/{CASE}", f"/ui/objects/{tour['ids'][0]}", "/ui/holds",
                 "/ui/disposal"):
        response = c.open(path)
        assert response.status == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        # the stylesheet loaded from the origin (style-src 'self'): the skip link is moved off screen
        assert c.page.eval_on_selector("a.skip", "a => getComputedStyle(a).position") == "absolute"
    assert any(url.endswith("/ui/static/console.css") for url in c.requests)
    assert not c.foreign_requests()


def test_sign_in_refuses_an_unknown_key_and_sign_out_ends_the_session(console, live):
    c = console()
    c.open("/ui/sign-in")
    c.page.get_by_label("API key").fill("vault_" + "x" * 43)
    c.page.get_by_role("button", name="Sign in").click()
    assert c.page.get_by_role("alert").inner_text() == "This API key is unknown, revoked or expired."
    key = live.key("archivist", holder="ann@example.org")
    c.sign_in(key["key"])
    cookie = next(k for k in c.context.cookies() if k["name"] == "vault_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert key["key"] not in cookie["value"]
    c.sign_out()
    c.open("/ui/search")
    assert "/ui/sign-in" in c.page.url
    c.sign_in(key["key"])  # a revoked key ends the session at the next request
    assert live.api.delete(f"/v1/keys/{key['key_id']}").status_code == 200
    time.sleep(4.5)  # the key ring's cache (4 s)
    c.open("/ui/search")
    assert "/ui/sign-in" in c.page.url


def test_archivist_sets_and_releases_a_hold(console, live, tour):
    c = console()
    c.sign_in(live.key("archivist", holder="hilda@example.org")["key"])
    c.open("/ui/holds")
    c.page.get_by_label("Case reference").fill(CASE)
    c.page.get_by_label("Reference (dispute, court case)").fill("TJ-Paris-2026-42")
    c.page.get_by_label("Reason").fill("dispute over the receipt")
    c.page.get_by_role("button", name="Set the hold").click()
    c.page.wait_for_url("**/ui/holds?created=*")
    row = c.page.locator("tbody tr", has_text="TJ-Paris-2026-42")
    assert row.count() == 1
    c.check("holds")
    c.open(f"/ui/objects/{tour['ids'][1]}")
    assert "TJ-Paris-2026-42" in c.page.locator("main").inner_text()
    c.open("/ui/holds")
    c.page.get_by_role("button", name="Release the hold TJ-Paris-2026-42").click()
    c.page.wait_for_url("**/ui/holds?released=*")
    assert c.page.locator("tbody tr", has_text="TJ-Paris-2026-42").count() == 0
    actions = [e["action"] for e in live.journal() if e.get("action", "").startswith("hold")]
    assert "hold_set" in actions and "hold_released" in actions, actions


def test_two_archivists_dispose_of_a_case_after_the_notice_period(console, live, tour):
    """Runs last in this module: it moves the server's clock eleven years on."""
    alice = live.key("archivist", holder="alice@example.org")["key"]
    bob = live.key("archivist", holder="bob@example.org")["key"]
    live.advance(11 * YEAR)  # ten years of retention are over; both keys are old enough to dispose
    c = console()
    c.sign_in(alice)
    c.open("/ui/disposal")
    due = c.page.locator("input[name=object_id]")
    assert due.count() >= 3
    c.check("disposal")
    c.page.get_by_role("button", name="Propose for destruction").click()
    c.page.wait_for_url("**/ui/disposal/batches/*")
    batch_url = c.page.url
    assert c.page.locator("dd.status").inner_text() == "proposed"
    c.page.get_by_role("button", name="Approve").click()  # the proposer may not approve: four eyes
    assert c.page.get_by_role("heading", level=1).inner_text() == "Not allowed"
    c.sign_out()
    c.sign_in(bob)
    c.page.goto(batch_url)
    c.page.get_by_role("button", name="Approve").click()
    c.page.wait_for_url(batch_url)
    assert c.page.locator("dd.status").inner_text() == "approved"
    c.check("batch")
    c.open("/ui/disposal")
    listed = c.page.locator("section[aria-labelledby=batches] tbody tr", has_text=batch_url.rsplit("/", 1)[1])
    assert "approved, in the notice period" in listed.inner_text()
    c.check("disposal-batches")
    c.page.goto(batch_url)
    c.page.get_by_role("button", name="Destroy now").click()  # within the notice period
    assert c.page.get_by_role("heading", level=1).inner_text() == "Not possible now"
    live.advance(8 * 86400)  # the notice period (P7D) is over
    c.page.goto(batch_url)
    c.page.get_by_role("button", name="Destroy now").click()
    c.page.wait_for_url(batch_url)
    assert c.page.locator("dd.status").inner_text() == "executed"
    assert c.page.get_by_role("heading", name="Destruction certificate").count() == 1
    c.check("certificate")
    c.open(f"/ui/objects/{tour['ids'][0]}")
    assert c.page.get_by_role("link", name="Download").count() == 0
    if os.environ.get("VAULT_UPDATE_DOCS_SCREENSHOTS"):
        copy_to_docs(["sign-in", "search", "case", "object", "holds", "disposal", "batch", "disposal-batches",
                      "certificate", "search-fr"])
