"""A real server (tests/server_process.py) and Debian's chromium driven by Playwright, for the console's journeys.

Nothing downloads a browser: Playwright launches ``/usr/bin/chromium`` (scripts/test installs it, and sets
``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1``). Every page a journey reaches goes through :meth:`Console.check`: axe-core
(``node_modules``, from ``package-lock.json``; ``npm ci`` in scripts/test) finds no serious or critical WCAG
2.1 A/AA violation, the answer carried the strict CSP, and a screenshot goes to ``$VAULT_ARTIFACTS_DIR/screenshots``
(default ``artifacts/screenshots``, kept by CI). Every request a page makes is recorded, and must stay on the
server's origin.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.server_process import ROOT, ServerProcess

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("VAULT_ARTIFACTS_DIR") or ROOT / "artifacts") / "screenshots"
ADMIN = "live-admin-key-" + "y" * 20
YEAR = 365 * 86400

pytestmark = pytest.mark.slow


def pytest_collection_modifyitems(items):
    missing = [what for what, there in (("/usr/bin/chromium (apt-get install chromium)", CHROMIUM.exists()),
                                        ("axe-core (npm ci in tests/browser)", AXE.exists())) if not there]
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[test]')")
    for item in items:
        if missing and "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason="browser tests need " + ", ".join(missing)))


class Live:
    """The running server, its moving clock (``VAULT_TEST_CLOCK_FILE``) and an admin API client."""

    def __init__(self, server: ServerProcess, clock_file: Path):
        self.server, self.url, self.clock_file = server, server.url, clock_file
        self.api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)

    def advance(self, seconds: float) -> None:
        ahead = float(self.clock_file.read_text() or 0) + seconds
        self.clock_file.write_text(str(ahead))

    def key(self, role: str, tenant: str = "acme", holder: str | None = None) -> dict:
        body = {"role": role, "tenant": tenant, **({"holder": holder} if holder else {})}
        answer = self.api.post("/v1/keys", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def deposit(self, key: str, case_ref: str, event_type: str, content: bytes, **meta) -> dict:
        import json

        metadata = {"case_ref": case_ref, "policy": "lre-proof", "event_type": event_type, **meta}
        answer = httpx.post(f"{self.url}/v1/objects", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                            files={"file": ("proof.pdf", content, "application/pdf"),
                                   "metadata": (None, json.dumps(metadata), "application/json")})
        assert answer.status_code == 201, answer.text
        return answer.json()

    def journal(self, **params) -> list[dict]:
        answer = self.api.get("/v1/journal/entries", params={"limit": 1000, **params})
        assert answer.status_code == 200, answer.text
        return answer.json()["entries"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    clock_file = tmp / "clock-offset"
    clock_file.write_text("0")
    env = {"VAULT_TEST_CLOCK_FILE": str(clock_file), "VAULT_SEAL_INTERVAL": "3600"}
    with ServerProcess(tmp / "data", admin_key=ADMIN, env=env) as server:
        yield Live(server, clock_file)


@pytest.fixture(scope="module")  # not session: Playwright's sync API keeps an event loop running while it lives,
def chromium():                  # and later tests that call asyncio.run (pyHanko) would fail
    from playwright.sync_api import sync_playwright

    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


class Console:
    """One browser context (its own cookies) on the live server, recording every request its pages make."""

    def __init__(self, browser, live: Live, locale: str = "en-GB"):
        self.live = live
        self.context = browser.new_context(locale=locale, accept_downloads=True)
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()

    def open(self, path: str):
        response = self.page.goto(self.live.url + path)
        assert response is not None
        return response

    def sign_in(self, key: str) -> None:
        self.open("/ui/")
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()
        assert "/ui/sign-in" not in self.page.url, self.page.content()

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        self.page.wait_for_url("**/ui/sign-in")

    def check(self, name: str) -> None:
        """axe-core on the page: no serious or critical violation; then a full-page screenshot."""
        # CDP evaluation, not a <script> element: the page's own CSP (script-src 'self') rightly refuses inline
        # scripts, so Playwright's add_script_tag would be blocked; evaluation is the DevTools protocol's.
        self.page.evaluate(AXE.read_text() + "\n;0")
        result = self.page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})""")
        bad = [(v["id"], v["impact"], v["help"], [n["html"][:120] for n in v["nodes"][:3]])
               for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: {bad}"
        assert len(result["passes"]) > 10, f"{name}: axe checked nothing"
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(self.live.url + "/")]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(chromium, live):
    opened = []

    def new(locale: str = "en-GB") -> Console:
        opened.append(Console(chromium, live, locale))
        return opened[-1]

    yield new
    for c in opened:
        assert not c.foreign_requests(), f"requests left the origin: {c.foreign_requests()}"
        c.close()


def copy_to_docs(names: list[str]) -> None:
    """Keep ``docs/console/`` in step with the pages (docs/console.md shows them)."""
    target = ROOT / "docs" / "console"
    target.mkdir(exist_ok=True)
    for name in names:
        if (SHOTS / f"{name}.png").exists():
            shutil.copyfile(SHOTS / f"{name}.png", target / f"{name}.png")
