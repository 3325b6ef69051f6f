"""The Accounts tab in headless Chromium against the fake Google: every account state the triage
produces (active, cooling down per model with a live countdown, needs verification with the link,
disabled by Google with the fix-it link, quota "unknown") and the actions (open the link, Retry
now, Disable/Enable, Remove). Screenshots: test-artifacts/ (docs/screenshots/ with
TRAYPROXY_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Reply
from tests.helpers import make_controller
from tests.ui.conftest import chromium
from tests.ui.test_browser import docs_copy, expect

pytestmark = pytest.mark.browser

VERIFY_URL = "https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbtX"
QUOTA = {"gemini-3-flash": 0.72, "claude-sonnet-4-6": 0.18, "gemini-3.1-pro-high": 0.4}


@pytest.fixture
def world(login_home: Path) -> Iterator[tuple[FakeCloudCode, Any, Any, list[str]]]:
    from trayproxy.control.server import ControlServer

    fake = FakeCloudCode()
    fake.models = {k: v for k, v in fake.models.items() if k in QUOTA}
    for email in ("ada@example.com", "grace@example.com", "linus@example.com", "margaret@example.com"):
        fake.add_account(email, tier="PRO", quota=QUOTA)
    fake.account("ada@example.com").quota_unreported.add("gemini-3.1-pro-high")
    fake.add_account("alan@example.com", project=None, quota=QUOTA)  # never used Code Assist
    with fake:
        ctl = make_controller(env=fake.env())
        opened: list[str] = []
        srv = ControlServer(ctl, copy=lambda text: True, open_url=lambda url: opened.append(url) or True)
        ctl.engine.call(srv.start())
        ctl.accounts.onboard_interval = 0.01
        try:
            for email in fake.accounts:
                ctl.add_refresh_token(f"rt-{email}")
            ctl.start()
            yield fake, ctl, srv, opened
        finally:
            ctl.engine.call(srv.stop())
            ctl.close()


@pytest.fixture
def page(world: Any) -> Iterator[Any]:
    _, _, srv, _ = world
    with chromium() as browser:
        pg = browser.new_context(viewport={"width": 1000, "height": 900}, color_scheme="light").new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text
              and "status of 5" not in m.text else None)
        pg.goto(srv.url)
        pg.wait_for_selector("#status-text:has-text('Running')")
        yield pg
        assert errors == [], errors
        browser.close()


def card(page: Any, email: str) -> Any:
    return page.locator(f".acct[data-email='{email}']")


def wait_until(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_accounts_tab_states_and_actions(page: Any, world: Any, artifacts: Path) -> None:
    fake, ctl, _, opened = world
    ids = {a.email: a.id for a in ctl.store.all()}
    # the states come from Google's answers through the proxy: grace must verify her account,
    # margaret's project has the API turned off; linus's cooldowns are set on the pool directly
    fake.account("grace@example.com").require_verification(VERIFY_URL)
    fake.account("margaret@example.com").script(Reply.error(403, reason="SERVICE_DISABLED"))
    ctl.pool.cool_down(ids["linus@example.com"], "gemini-3-flash", 50,
                       "rate-limited for gemini-3-flash: Resource has been exhausted (e.g. check quota).",
                       kind="rate_limit")
    ctl.pool.cool_down(ids["linus@example.com"], "claude-sonnet-4-6", 5 * 3600 + 60,
                       "out of quota for claude-sonnet-4-6: You have exhausted your capacity on this model.",
                       kind="quota")
    from tests.helpers import request

    def hit() -> bool:
        s, _, _ = request(ctl.status().port, "POST", "/v1beta/models/gemini-3-flash:generateContent",
                          body={"contents": [{"role": "user", "parts": [{"text": f"hi {time.monotonic()}"}]}]})
        assert s == 200
        grace, margaret = ctl.store.get(ids["grace@example.com"]), ctl.store.get(ids["margaret@example.com"])
        return bool(grace and grace.verify_at and margaret and margaret.disabled)

    wait_until(hit)

    page.click("[data-tab=accounts]")
    expect(card(page, "grace@example.com")).to_have_attribute("data-status", "verify")
    expect(card(page, "margaret@example.com")).to_have_attribute("data-status", "disabled")
    # an account that needs the person is open; the others are one line that opens to its models
    assert card(page, "grace@example.com").get_attribute("open") is not None
    assert card(page, "ada@example.com").get_attribute("open") is None
    for el in page.locator(".acct summary").all():
        if el.locator("xpath=..").get_attribute("open") is None:
            el.click()
    expect(card(page, "ada@example.com")).to_have_attribute("data-status", "active")
    expect(card(page, "linus@example.com").locator(".acct-cd")).to_have_count(2)
    assert "(5)" in page.inner_text("#accounts-count")
    alan = card(page, "alan@example.com")
    assert "Onboarded by trayproxy to Gemini Code Assist for individuals" in alan.inner_text()
    assert (fake.account("alan@example.com").project or "-") in alan.inner_text()

    # needs verification: Google's link, clickable, opened by the app in the system browser
    g = card(page, "grace@example.com")
    link = g.locator("a.acct-link")
    assert link.get_attribute("href") == VERIFY_URL and "Verify your account" in link.inner_text()
    assert VERIFY_URL in g.inner_text()
    # disabled by Google: the reason, what to do, and the activation link
    m = card(page, "margaret@example.com")
    assert "turned off" in m.inner_text() and "Retry" in m.inner_text()
    assert "cloudaicompanion.googleapis.com" in (m.locator("a.acct-link").get_attribute("href") or "")
    # quota is what Google said, "unknown" where it said nothing
    a = card(page, "ada@example.com")
    assert "72%" in a.inner_text() and "unknown" in a.locator(".quota").inner_text()
    # cooling down per model, with the reason and a live countdown
    lin = card(page, "linus@example.com")
    cd = lin.locator(".acct-cd[data-model='gemini-3-flash'] .acct-countdown")
    assert "rate-limited" in lin.inner_text() and "5 hr" in lin.inner_text()
    first = cd.inner_text()
    expect(cd).not_to_have_text(first, timeout=5000)  # in its last minute a countdown ticks each second
    hours = lin.locator(".acct-cd[data-model='claude-sonnet-4-6'] .acct-countdown")
    assert "(in 5 hr" in hours.inner_text()  # hours away: a clock time and a coarse "in", no seconds
    page.screenshot(path=str(artifacts / "settings-accounts.png"), full_page=True)
    docs_copy(artifacts / "settings-accounts.png")

    # open the link: the app opens exactly Google's link
    link.click()
    wait_until(lambda: opened == [VERIFY_URL])

    # the person verified; Retry now puts the account back
    fake.account("grace@example.com").verify()
    g.locator("[data-action=retry]").click()
    expect(g).to_have_attribute("data-status", "active")
    assert ctl.store.get(ids["grace@example.com"]).verify_at is None  # type: ignore[union-attr]

    # Retry now on the cooling account clears its cooldowns
    lin.locator("[data-action=retry]").click()
    expect(lin.locator(".acct-cd")).to_have_count(0)
    assert ctl.pool.cooldowns(ids["linus@example.com"]) == {}

    # disable and enable by hand
    a.locator("[data-action=disable]").click()
    expect(a).to_have_attribute("data-status", "disabled")
    assert "Disabled by you" in a.inner_text()
    page.screenshot(path=str(artifacts / "settings-accounts-disabled.png"), full_page=True)
    a.locator("[data-action=enable]").click()
    expect(a).to_have_attribute("data-status", "active")
    assert not ctl.store.get(ids["ada@example.com"]).disabled  # type: ignore[union-attr]

    # the person turned the API on: Retry lifts Google's disable after a clean check
    m.locator("[data-action=retry]").click()
    expect(m).to_have_attribute("data-status", "active")
    page.screenshot(path=str(artifacts / "settings-accounts-after.png"), full_page=True)


def test_accounts_tab_dark_and_narrow(page: Any, world: Any, artifacts: Path) -> None:
    _, ctl, _, _ = world
    ids = {a.email: a.id for a in ctl.store.all()}
    ctl.pool.pause_for_verification(ids["grace@example.com"], link=VERIFY_URL, link_text="Verify your account",
                                    message="To continue, verify your account in a browser.")
    ctl.pool.cool_down(ids["linus@example.com"], "gemini-3-flash", 40, "rate-limited for gemini-3-flash: slow down",
                       kind="rate_limit")
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 640, "height": 900})
    page.click("[data-tab=accounts]")
    expect(card(page, "grace@example.com")).to_have_attribute("data-status", "verify")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(artifacts / "settings-accounts-dark-640.png"), full_page=True)
    docs_copy(artifacts / "settings-accounts-dark-640.png")
