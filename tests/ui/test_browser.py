"""The settings page in headless Chromium (Debian `chromium`, driven by Playwright for Python).

Skipped when Chromium or Playwright is missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.helpers import add_account, free_port

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("TRAYPROXY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def page(control: Any, controller: Any) -> Iterator[Any]:
    if not CHROMIUM:
        pytest.skip("Debian chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    add_account(controller)
    add_account(controller, "second.account@example.com").disabled = False
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        except Exception as e:  # a Chromium that Playwright cannot drive
            pytest.skip(f"cannot launch {CHROMIUM}: {e}")
        ctx = browser.new_context(viewport={"width": 1000, "height": 760}, color_scheme="light")
        origin = f"http://127.0.0.1:{control.port}"
        ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(control.url)
        pg.wait_for_selector("#status-text:has-text('Stopped')")
        yield pg
        assert errors == [], errors
        browser.close()


def test_settings_page_flow(page: Any, control: Any, controller: Any, clipboard: Any, artifacts: Path) -> None:
    # the token left the address bar (cookie + meta tag instead)
    assert "token" not in page.url
    page.screenshot(path=str(artifacts / "settings-overview-stopped.png"))

    # change the port while stopped
    page.click("[data-tab=settings]")
    new_port = free_port()
    page.fill("#port", str(new_port))
    page.click("#port-save")
    page.wait_for_selector("#toast:has-text('Port saved')")
    assert controller.config.port == new_port
    assert page.is_enabled("#port")

    # start: status running, port field disabled
    page.click("#toggle")
    try:
        page.wait_for_selector(f"#status-text:has-text('Running on port {new_port}')", timeout=5000)
    except Exception:
        page.screenshot(path=str(artifacts / "debug.png"))
        raise
    assert controller.status().running and controller.status().port == new_port
    assert page.is_disabled("#port") and page.is_disabled("#lan")
    assert page.inner_text("#toggle") == "Stop"
    assert "Stop the proxy" in page.inner_text("#port-hint")

    # an invalid key is rejected, the stored key is unchanged
    old_key = controller.api_key()
    page.click("#key-edit")
    page.fill("#api-key", "sk-short")
    page.click("#key-save")
    page.wait_for_selector("#key-error:visible")
    assert "sk-" in page.inner_text("#key-error")
    assert controller.api_key() == old_key
    page.screenshot(path=str(artifacts / "settings-key-error.png"))
    page.fill("#api-key", "sk-browser-test-key")
    page.click("#key-save")
    page.wait_for_selector("#toast:has-text('API key saved')")
    assert controller.api_key() == "sk-browser-test-key"
    assert page.input_value("#api-key") == "sk-browser-test-key"

    # copy a snippet (live URL and key in it)
    page.click("[data-tab=overview]")
    page.click("[data-snippet=openai]")
    page.click("#snippet-copy")
    page.wait_for_selector("#toast:has-text('copied')")
    copied = page.evaluate("navigator.clipboard.readText()") or (clipboard.texts[-1] if clipboard.texts else "")
    assert f'base_url="http://127.0.0.1:{new_port}/v1"' in copied
    assert 'api_key="sk-browser-test-key"' in copied
    page.screenshot(path=str(artifacts / "settings-overview-running.png"))

    # accounts with quota bars
    page.wait_for_selector("#toast", state="hidden")
    page.click("[data-tab=accounts]")
    page.wait_for_selector(".account[data-email='a@example.com'] .quota")
    assert page.locator(".account").count() == 2
    assert page.locator(".account .bar").count() == 6
    page.screenshot(path=str(artifacts / "settings-accounts.png"), full_page=True)

    page.click("[data-tab=settings]")
    page.screenshot(path=str(artifacts / "settings-proxy-running.png"), full_page=True)


def test_errors_show_on_the_page(page: Any, controller: Any, artifacts: Path) -> None:
    for acc in controller.store.all():
        controller.remove_account(acc.id)
    page.click("#toggle")
    page.wait_for_selector(".banner.error")
    assert "No available account" in page.inner_text(".banner.error")
    assert page.get_attribute("#status-pill", "data-state") == "error"
    page.click("[data-tab=settings]")
    page.check("#lan", force=True)
    page.select_option("#auth-mode", "off")
    page.wait_for_selector("#lan-warning:visible")
    page.wait_for_selector("#toast", state="hidden")
    page.screenshot(path=str(artifacts / "settings-errors.png"), full_page=True)


def test_remove_account_needs_confirmation(page: Any, controller: Any) -> None:
    page.click("[data-tab=accounts]")
    button = page.locator(".account[data-email='a@example.com'] [data-account]")
    button.click()
    assert "Remove a@example.com?" in button.inner_text()
    assert len(controller.store.all()) == 2
    page.wait_for_timeout(2500)  # a status poll happens meanwhile; the armed button must survive it
    assert "Remove a@example.com?" in button.inner_text()
    button.click()
    page.wait_for_selector(".account[data-email='a@example.com']", state="detached")
    assert [a.email for a in controller.store.all()] == ["second.account@example.com"]
