"""The Models tab: the control API behind it (resolution table, mapping editor, test a name)
and the page itself in headless Chromium, with a screenshot to look at."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.catalog import CATALOG_2026, DEPRECATED_2026, FREE_TIER_2026
from tests.ui.conftest import chromium


def add_catalog_account(ctl: Any, email: str, ids: list[str] | tuple[str, ...], tier: str) -> Any:
    from trayproxy.accounts.store import Account, ModelQuota

    acc = Account.new(email, now=time.time())
    acc.project, acc.tier, acc.quota_updated = "proj-" + email.split("@")[0], tier, time.time()
    acc.models = {m: ModelQuota(remaining=0.6, reset_time=time.time() + 3600, display_name=CATALOG_2026[m].display_name,
                                max_output_tokens=CATALOG_2026[m].max_output_tokens, max_tokens=CATALOG_2026[m].max_tokens)
                  for m in ids}
    acc.deprecated_models = dict(DEPRECATED_2026)
    ctl.store.put(acc, refresh_token="rt-" + email)
    ctl.reload()
    return acc


@pytest.fixture
def two_accounts(controller: Any) -> None:
    add_catalog_account(controller, "ultra@example.com", list(CATALOG_2026), "g1-ultra-tier")
    add_catalog_account(controller, "free@example.com", FREE_TIER_2026, "free-tier")


def call(control: Any, path: str, body: Any = None) -> tuple[int, Any]:
    req = urllib.request.Request(f"http://127.0.0.1:{control.port}/api/{path}",
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"X-Trayproxy-Token": control.token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_models_api_table_test_and_mapping_edits(control: Any, controller: Any, two_accounts: None) -> None:
    status, data = call(control, "models")
    assert status == 200 and data["mapping"] == [] and data["warnings"] == []
    assert {m["id"] for m in data["served"]} == set(CATALOG_2026)
    lite = next(m for m in data["served"] if m["id"] == "gemini-3.5-flash-lite")
    assert sorted(lite["accounts"]) == ["free@example.com", "ultra@example.com"]
    row = next(r for r in data["names"] if r["name"] == "claude-opus-4-8")
    assert {p["email"]: p["target"] for p in row["accounts"]} == {
        "ultra@example.com": "claude-opus-4-6-thinking", "free@example.com": "gemini-3.1-pro-low"}

    status, t = call(control, "models/test", {"name": "models/gemini-3.1-pro-high"})
    assert status == 200 and t["row"]["served"]
    assert {p["how"] for p in t["row"]["accounts"]} == {"forwarded", "family"}
    assert call(control, "models/test", {"name": "../etc"})[0] == 400

    # add, refuse a duplicate and bad input, edit (rename), then remove
    status, data = call(control, "models/mapping", {"pattern": "gpt-*", "target": "gemini-3-pro-high"})
    assert status == 200 and data["mapping"] == [{"pattern": "gpt-*", "target": "gemini-3-pro-high"}]
    assert controller.config.model_mapping == {"gpt-*": "gemini-3-pro-high"}
    assert any("no account serves gemini-3-pro-high" in w for w in data["warnings"])
    codex = next(r for r in data["names"] if r["name"] == "gpt-5.1-codex")
    assert {p["how"] for p in codex["accounts"]} == {"mapping"}
    assert call(control, "models/mapping", {"pattern": "gpt-*", "target": "x"})[0] == 400
    status, err = call(control, "models/mapping", {"pattern": "gpt-?", "target": "gemini-pro-agent"})
    assert status == 400 and "not a model name or pattern" in err["error"]
    status, err = call(control, "models/mapping", {"pattern": "fast", "target": "gemini-*"})
    assert status == 400 and "not a model id" in err["error"]
    status, data = call(control, "models/mapping", {"pattern": "gpt-5*", "target": "gemini-pro-agent", "previous": "gpt-*"})
    assert status == 200 and controller.config.model_mapping == {"gpt-5*": "gemini-pro-agent"} and data["warnings"] == []
    status, data = call(control, "models/mapping", {"remove": "gpt-5*"})
    assert status == 200 and controller.config.model_mapping == {} and data["mapping"] == []
    assert call(control, "models/mapping", {"remove": "gpt-5*"})[0] == 404


@pytest.fixture
def page(control: Any, controller: Any, login_home: Path, two_accounts: None) -> Iterator[Any]:
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
