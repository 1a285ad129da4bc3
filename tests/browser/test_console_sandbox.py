"""A sandbox's console says so on every page (issue #23): a banner "SANDBOX — no probative value" in the page's
header landmark, which axe-core finds accessible; a real archive's console shows none."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ADMIN, Console, Live
from tests.server_process import ServerProcess
from vault.sandbox import NOTICE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sandbox_live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console-sandbox")
    with ServerProcess(tmp / "data", admin_key=ADMIN, env={"VAULT_SANDBOX": "true"}) as server:
        yield Live(server, tmp / "unused-clock")


def test_every_sandbox_page_shows_the_banner_and_passes_axe(chromium, sandbox_live):
    c = Console(chromium, sandbox_live)
    try:
        for name, path in (("sandbox-sign-in", "/ui/sign-in"), ("sandbox-search", "/ui/search"),
                           ("sandbox-not-found", "/ui/nowhere")):
            if name == "sandbox-search":
                c.sign_in(ADMIN)
            answer = c.open(path)
            assert answer.headers["vault-sandbox"] == "true", name
            banner = c.page.get_by_role("banner").get_by_role("note")
            assert banner.is_visible() and banner.inner_text().startswith(NOTICE), name
            c.check(name)
        assert c.foreign_requests() == []
    finally:
        c.close()


def test_a_real_archive_shows_no_banner(console, live):
    c = console()
    answer = c.open("/ui/sign-in")
    assert "vault-sandbox" not in answer.headers
    assert c.page.locator(".sandbox-banner").count() == 0 and NOTICE not in c.page.content()
