""""Import accounts" on the settings page in headless Chromium: from the first-run guide, the
sample Antigravity-Manager and CLIProxyAPI folders are listed one row per file (importable ones
ticked, the others with why), the person unticks one, imports, and reads one result per
account; another folder can be given. Screenshots at 1000 and 420 px, light and dark."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.accounts.import_samples import Samples, sample_world
from tests.helpers import make_controller
from tests.ui.conftest import chromium
from tests.ui.test_browser import docs_copy, expect

pytestmark = pytest.mark.browser


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, login_home: Path) -> Iterator[tuple[Any, Any, Samples]]:
    from trayproxy.control.server import ControlServer

    with sample_world(tmp_path / "user", monkeypatch) as (fake, samples):
        ctl = make_controller(env=fake.env())
        srv = ControlServer(ctl, copy=lambda text: True)
        ctl.engine.call(srv.start())
        try:
            yield ctl, srv, samples
        finally:
            ctl.engine.call(srv.stop())
            ctl.close()


def _page(browser: Any, srv: Any, width: int, scheme: str) -> tuple[Any, list[str]]:
    pg = browser.new_context(viewport={"width": width, "height": 1000}, color_scheme=scheme).new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.goto(srv.url)
    pg.wait_for_selector("#status-text:has-text('Stopped')")
    return pg, errors


def test_import_from_the_first_run_guide(world: tuple[Any, Any, Samples], artifacts: Path) -> None:
    ctl, srv, samples = world
    with chromium() as browser:
        page, errors = _page(browser, srv, 1000, "light")
        guide_button = page.locator("#guide-account [data-import]")
        expect(guide_button).to_have_text("Import accounts")
        guide_button.click()
        expect(page.locator("#import-card")).to_be_visible()
        rows = page.locator("#import-list .import-row")
        expect(rows).to_have_count(13)
        expect(page.locator("#import-sources li")).to_have_count(2)
        assert "~/.antigravity_tools: 6 files" in page.inner_text("#import-sources")
        ready = page.locator("#import-list .import-row.ready")
        expect(ready).to_have_count(6)
        assert page.locator("#import-list input:checked").count() == 6
        assert page.locator("#import-list input:disabled").count() == 7
        dead = page.locator(".import-row", has_text="dead@example.com")
        expect(dead).to_contain_text("Google refused its refresh token (revoked or expired)")
        expect(page.locator(".import-row", has_text="notes.json")).to_contain_text("not valid JSON")
        off = page.locator(".import-row.ready", has_text="off@example.com")
        expect(off).to_contain_text("it stays disabled here")
        page.screenshot(path=str(artifacts / "settings-import-found.png"), full_page=True)
        page.locator("#import-card").screenshot(path=str(artifacts / "settings-import.png"))
        docs_copy(artifacts / "settings-import.png")

        page.locator(".import-row.ready", has_text="carol@example.com").locator("input").uncheck()
        go = page.locator("#import-go")
        expect(go).to_have_text("Import 5 selected")
        go.click()
        results = page.locator("#import-results li")
        expect(results).to_have_count(5)
        expect(page.locator("#import-results [data-result=imported_disabled]")).to_contain_text(
            "imported, disabled as it was in Antigravity-Manager")
        expect(page.locator("#accounts-count")).to_contain_text("5")
        emails = sorted(a.email for a in ctl.account_records())
        assert emails == ["alice@example.com", "bob@example.com", "eve@example.com", "mine@example.com",
                          "off@example.com"]
        page.screenshot(path=str(artifacts / "settings-import-done.png"), full_page=True)

        # another folder: the CLIProxyAPI one alone, where carol is still importable
        page.fill("#import-path", "relative/path")
        page.click("#import-look")
        expect(page.locator("#import-error")).to_have_text("Give the full path (starting with / or ~).")
        page.fill("#import-path", str(samples.cpa))
        page.click("#import-look")
        expect(page.locator("#import-list .import-row.ready")).to_have_count(1)
        expect(page.locator("#import-list .import-row.ready")).to_contain_text("carol@example.com")
        assert samples.current() == samples.before
        assert errors == [], errors

        for width, scheme in ((420, "light"), (1000, "dark")):
            pg, errs = _page(browser, srv, width, scheme)
            pg.click("[data-tab=accounts]")
            pg.locator(".add-account [data-import]").click()
            expect(pg.locator("#import-list .import-row")).to_have_count(13)
            overflow = pg.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
            assert not overflow, f"horizontal overflow at {width} px"
            pg.screenshot(path=str(artifacts / f"settings-import-{width}-{scheme}.png"), full_page=True)
            assert errs == [], errs
