"""The settings page's parts for Google's upstream (ui/web/upstream.js), in headless Chromium
against the fake Google of September 2026: the banner while Google refuses the client version
(with what to do), the Google upstream card (the version reported and where it came from, an
override, the AI-credits switch, off by default), both quota windows per model group on the
Accounts tab (a spent weekly window says until when). Screenshots at two sizes, light and dark,
in test-artifacts/; axe-core finds nothing on these parts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.helpers import make_controller
from tests.ui.conftest import chromium
from tests.ui.test_browser import expect

pytestmark = pytest.mark.browser
AXE = Path.home() / ".cache" / "trayproxy-axe" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def world(login_home: Path) -> Iterator[tuple[FakeCloudCode, Any, Any]]:
    from trayproxy.control.server import ControlServer

    fake = FakeCloudCode()
    fake.add_account("ada@example.com", tier="PRO")
    spent = fake.add_account("grace@example.com", tier="ULTRA")
    spent.set_window("gemini", "weekly", 0.0, reset_in=150 * 3600)
    spent.set_window("3p", "5h", 0.35, reset_in=3 * 3600)
    with fake:
        ctl = make_controller(env=fake.env())
        srv = ControlServer(ctl, copy=lambda text: True, open_url=lambda url: True)
        ctl.engine.call(srv.start())
        try:
            for email in fake.accounts:
                ctl.add_refresh_token(f"rt-{email}")
            ctl.start()
            yield fake, ctl, srv
        finally:
            ctl.engine.call(srv.stop())
            ctl.close()


def _refuse(fake: FakeCloudCode, ctl: Any) -> None:
    import openai

    fake.refuse_versions_below("3.0.0")
    oa = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    with pytest.raises(openai.APIStatusError):
        oa.chat.completions.create(model="gemini-3-flash", messages=[{"role": "user", "content": "hi"}])
    ctl.engine.call(ctl.identity.settled())


def _axe(pg: Any, selector: str) -> list[Any]:
    if not AXE.exists():
        pytest.skip("axe-core is not installed (~/.cache/trayproxy-axe)")
    pg.evaluate(AXE.read_text())
    found = pg.evaluate("sel => axe.run(document.querySelector(sel)).then(r => r.violations.map("
                        "v => ({id: v.id, nodes: v.nodes.map(n => n.target)})))", selector)
    return list(found)


@pytest.mark.parametrize("size,scheme", [((1000, 900), "light"), ((420, 900), "dark")])
def test_the_version_banner_the_upstream_card_and_both_windows(world: Any, artifacts: Path,
                                                               size: tuple[int, int], scheme: str) -> None:
    fake, ctl, srv = world
    _refuse(fake, ctl)
    with chromium() as browser:
        pg = browser.new_context(viewport={"width": size[0], "height": size[1]}, color_scheme=scheme,
                                 bypass_csp=True).new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(srv.url)
        banner = pg.locator("#upstream-banner .banner")
        expect(banner).to_contain_text("Google refuses trayproxy's client version")
        expect(banner).to_contain_text("no longer supported")
        expect(banner).to_contain_text("2.9.1")
        pg.screenshot(path=str(artifacts / f"upstream-banner-{size[0]}-{scheme}.png"))
        assert _axe(pg, "#upstream-banner") == []

        banner.locator("button").click()  # to the setting that fixes it
        expect(pg.locator("#client-version")).to_be_focused()
        card = pg.locator("#upstream-card")
        expect(card).to_contain_text("Reported now: 2.9.1")
        expect(pg.locator("#ai-credits")).not_to_be_checked()  # off by default
        card.scroll_into_view_if_needed()
        card.screenshot(path=str(artifacts / f"upstream-card-{size[0]}-{scheme}.png"))
        assert _axe(pg, "#upstream-card") == []
        pg.fill("#client-version", "3.0")
        expect(pg.locator("#client-version-error")).to_contain_text("three numbers")
        pg.fill("#client-version", "3.0.1")
        pg.click("#client-version-save")
        expect(pg.locator("#client-version-now")).to_contain_text("3.0.1 (your setting)")
        expect(banner).to_have_count(0)  # a new version: the alarm is over
        assert ctl.config.client_version == "3.0.1"
        pg.click("#ai-credits + .track")
        expect(pg.locator("#ai-credits")).to_be_checked()
        expect(pg.locator("#toast")).to_contain_text("AI credits may pay from now on")  # saved
        assert ctl.config.use_ai_credits is True
        pg.click("#client-version-clear")
        expect(pg.locator("#client-version-now")).to_contain_text("2.9.1")

        pg.click("button[data-tab='accounts']")
        grace = pg.locator(".account[data-email='grace@example.com']")
        expect(grace.locator(".acct-windows")).to_contain_text("Gemini Models")
        expect(grace.locator(".acct-windows .window.spent")).to_contain_text("0%")
        expect(grace.locator(".acct-windows")).to_contain_text("spent: none of these models until")
        expect(grace.locator(".acct-windows")).to_contain_text("35%")
        grace.scroll_into_view_if_needed()
        grace.screenshot(path=str(artifacts / f"upstream-windows-{size[0]}-{scheme}.png"))
        assert _axe(pg, ".account[data-email='grace@example.com'] .acct-windows-box") == []
        assert errors == [], errors
    state = json.loads(json.dumps(ctl.list_accounts(), default=str))
    assert next(a for a in state if a["email"] == "grace@example.com")["windows"][0]["spent_until"]
