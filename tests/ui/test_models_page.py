"""The Models tab in headless Chromium, with a screenshot to look at (its API:
tests/control/test_models_routes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.control.test_models_routes import two_accounts  # noqa: F401 (fixture)
from tests.fakes.catalog import CATALOG_2026
from tests.ui.conftest import chromium


@pytest.fixture
def page(control: Any, controller: Any, login_home: Path, two_accounts: None) -> Iterator[Any]:  # noqa: F811
    with chromium() as browser:
        pg = browser.new_context(viewport={"width": 1000, "height": 900}, color_scheme="light").new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
        pg.goto(control.url)
        pg.wait_for_selector("#status-text:has-text('Stopped')")
        yield pg
        assert errors == [], errors
        browser.close()


@pytest.mark.browser
def test_models_tab_editor_and_test_box(page: Any, controller: Any, artifacts: Path) -> None:
    from playwright.sync_api import expect

    page.click("[data-tab=models]")
    # the live resolution table: one column per account, the served ids with names and limits
    expect(page.locator("#models-table thead th")).to_have_count(3)
    opus = page.locator("#models-table tbody tr", has_text="claude-opus-4-8")
    expect(opus.locator("td").nth(0)).to_contain_text("claude-opus-4-6-thinking")
    expect(opus.locator("td").nth(1)).to_contain_text("gemini-3.1-pro-low")
    expect(page.locator("#models-served tbody tr")).to_have_count(len(CATALOG_2026))
    expect(page.locator("#models-served")).to_contain_text("Gemini 3.5 Flash Lite")

    # test a name
    page.fill("#models-test-name", "gemini-3.1-pro-high")
    page.click("#models-test-go")
    expect(page.locator("#models-test-result .verdict")).to_have_text("gemini-3.1-pro-high is served:")
    expect(page.locator("#models-test-result li").first).to_contain_text("Google forwards it")
    page.fill("#models-test-name", "llama3")
    page.click("#models-test-go")
    expect(page.locator("#models-test-result .verdict")).to_contain_text("not served by any account")

    # validation before saving, then add a wildcard entry whose target is retired
    page.fill("#models-map-pattern", "gpt-?")
    page.fill("#models-map-target", "gemini-pro-agent")
    expect(page.locator("#models-map-preview")).to_contain_text("not a model name or pattern")
    page.click("#models-map-save")
    expect(page.locator("#models-map-error")).to_be_visible()
    assert controller.config.model_mapping == {}
    page.fill("#models-map-pattern", "gpt-*")
    page.fill("#models-map-target", "gemini-3-pro-high")
    expect(page.locator("#models-map-preview")).to_contain_text("No account serves gemini-3-pro-high")
    page.click("#models-map-save")
    expect(page.locator("#toast")).to_contain_text("gpt-* now goes to gemini-3-pro-high")
    assert controller.config.model_mapping == {"gpt-*": "gemini-3-pro-high"}
    entry = page.locator("#models-mapping-list li[data-pattern='gpt-*']")
    expect(entry).to_contain_text("wildcard")
    expect(entry.locator(".warn-line")).to_contain_text("no account serves gemini-3-pro-high")
    codex = page.locator("#models-table tbody tr", has_text="gpt-5.1-codex")
    expect(codex.locator("td").nth(0)).to_contain_text("your mapping")
    page.fill("#models-map-pattern", "my-fast")
    page.fill("#models-map-target", "gemini-3.8-flash-low")
    expect(page.locator("#models-map-preview")).to_contain_text("is served by ultra, free")
    page.click("#models-map-save")
    expect(page.locator("#models-mapping-list li")).to_have_count(2)
    expect(page.locator("#models-table tbody tr", has_text="my-fast")).to_have_count(1)
    expect(page.locator("#toast")).to_be_hidden()
    shot = artifacts / "models-tab.png"
    page.screenshot(path=str(shot), full_page=True)
    from tests.ui.test_browser import docs_copy

    docs_copy(shot)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(artifacts / "models-tab-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")

    # edit: retarget the wildcard to a served id, the warning goes away
    entry.locator("button", has_text="Edit").click()
    expect(page.locator("#models-map-label")).to_have_text("Edit the mapping for gpt-*")
    page.fill("#models-map-target", "gemini-pro-agent")
    page.click("#models-map-save")
    expect(page.locator("#toast")).to_contain_text("Mapping for gpt-* saved")
    expect(entry.locator(".warn-line")).to_have_count(0)
    assert controller.config.model_mapping == {"gpt-*": "gemini-pro-agent", "my-fast": "gemini-3.8-flash-low"}

    # remove asks once more, then removes
    remove = page.locator("#models-mapping-list li[data-pattern='my-fast'] button", has_text="Remove")
    remove.click()
    expect(remove).to_have_text("Remove?")
    remove.click()
    expect(page.locator("#models-mapping-list li")).to_have_count(1)
    assert controller.config.model_mapping == {"gpt-*": "gemini-pro-agent"}
