"""The settings page in headless Chromium (Debian `chromium`, driven by Playwright for Python).

Skipped when Chromium or Playwright is missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.helpers import add_account, feed_monitor, free_port

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("TRAYPROXY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def page(control: Any, controller: Any, login_home: Path) -> Iterator[Any]:
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
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text
              and "status of 5" not in m.text else None)
        pg.goto(control.url)
        pg.wait_for_selector("#status-text:has-text('Stopped')")
        yield pg
        assert errors == [], errors
        browser.close()


def test_settings_page_flow(page: Any, control: Any, controller: Any, clipboard: Any, artifacts: Path) -> None:
    # the token left the address bar (sessionStorage + meta tag instead, never a cookie)
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


def expect(locator: Any) -> Any:
    # auto-waiting assertions (the page's CSP forbids the string evaluation wait_for_function uses)
    return pytest.importorskip("playwright.sync_api").expect(locator)


def rows_count(page: Any, n: int) -> None:
    expect(page.locator("#mon-rows tr")).to_have_count(n)


def docs_copy(artifact: Path) -> None:
    """The README shows these. A normal run leaves the tracked copies alone; run with
    TRAYPROXY_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/ from the tests."""
    if not os.environ.get("TRAYPROXY_UPDATE_SCREENSHOTS"):
        return
    docs = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(artifact, docs / artifact.name)


def test_monitor_tab(page: Any, control: Any, controller: Any, artifacts: Path) -> None:
    from trayproxy.monitor import RequestRecord

    accounts = controller.store.all()
    feed_monitor(controller, accounts, 30)
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))

    page.click("[data-tab=monitor]")
    rows_count(page, 30)
    expect(page.locator("#mon-live")).to_have_attribute("data-state", "on")
    first = page.locator("#mon-rows tr").first
    assert first.get_attribute("data-id") == "req-000"
    assert "a@example.com" in first.inner_text() and "google" in first.inner_text()
    assert page.locator("#mon-rows tr .badge.up-zai").count() == 6
    assert page.locator("#mon-rows tr.st-bad").count() == 3  # 502s
    expect(page.locator("#mon-t-requests")).to_have_text("30")
    assert page.locator("#chart-requests rect.col").count() > 0 and page.locator("#chart-tokens rect.col").count() > 0
    assert "second.account@example.com" in page.inner_text("#mon-by-account")
    page.screenshot(path=str(artifacts / "monitor-list.png"))

    # live: a new request shows up at the top without a reload
    controller.monitor.record(RequestRecord(
        id="req-live", ts=time.time(), method="POST", route="/v1/chat/completions", protocol="openai",
        client_model="gpt-4.1", upstream_model="gemini-2.5-flash", account_id=accounts[0].id, upstream="google",
        status=200, outcome="ok", duration_ms=640.0, ttfb_ms=120.0, input_tokens=1500, output_tokens=220))
    controller.monitor.flush()
    page.wait_for_selector("#mon-rows tr:first-child[data-id=req-live]")
    expect(page.locator("#mon-t-requests")).to_have_text("31")

    # filter by status: errors only
    page.click("#mon-status [data-status=error]")
    rows_count(page, 12)
    statuses = [int(x) for x in page.locator("#mon-rows tr").evaluate_all("rows => rows.map(r => r.dataset.status)")]
    assert all(s >= 400 for s in statuses)
    page.select_option("#mon-protocol", "anthropic")
    rows_count(page, 6)
    page.select_option("#mon-protocol", "")
    rows_count(page, 12)

    # the detail pane: every field, the error, bodies as text (never HTML)
    page.click("#mon-rows tr[data-id=req-003]")
    page.wait_for_selector("#mon-detail .detail-facts")
    detail = page.inner_text("#mon-detail").lower()
    for text in ("429", "gpt-5", "gemini-3-pro-high", "second.account@example.com", "rate limited",
                 "claude-cli/2.0.3", "req-003", "Request body", "Response body"):
        assert text.lower() in detail, text
    assert "<b>not bold</b>" in page.inner_text("#mon-detail pre >> nth=0")
    assert page.locator("#mon-detail pre b").count() == 0
    page.set_viewport_size({"width": 1280, "height": 860})
    page.screenshot(path=str(artifacts / "monitor-tab.png"))
    docs_copy(artifacts / "monitor-tab.png")
    page.set_viewport_size({"width": 1000, "height": 760})
    page.keyboard.press("Escape")
    page.wait_for_selector("#mon-detail", state="hidden")
    page.click('#mon-status [data-status=""]')
    rows_count(page, 31)
    page.click("#mon-rows tr[data-id=req-001]")
    page.wait_for_selector("#mon-detail:has-text('Bodies were not stored')")
    page.click("#mon-detail-close")

    # export: a CSV download of what is in the log
    with page.expect_download() as dl:
        page.click("#mon-export-csv")
    download = dl.value
    assert download.suggested_filename.startswith("trayproxy-requests-") and download.suggested_filename.endswith(".csv")
    assert (Path(download.path()).read_text().count("\n")) == 32  # header + 31 rows
    with page.expect_download() as dl:
        page.click("#mon-export-json")
    assert dl.value.suggested_filename.endswith(".json")

    # hidden tab: the list is no longer polled (two status polls pass without a monitor request)
    page.click("[data-tab=overview]")
    with page.expect_request("**/api/state"):
        pass
    mark = len(seen)
    for _ in range(2):
        with page.expect_request("**/api/state"):
            pass
    assert not [u for u in seen[mark:] if "/api/monitor/" in u]

    # clear, after a confirmation click
    page.click("[data-tab=monitor]")
    page.wait_for_selector("#mon-rows tr")
    page.click("#mon-clear")
    assert "Click again" in page.inner_text("#mon-clear")
    assert len(controller.monitor.recent(limit=100)) == 31
    page.click("#mon-clear")
    page.wait_for_selector("#mon-empty:has-text('No requests yet')")
    assert controller.monitor.recent(limit=100) == []
    assert page.inner_text("#mon-clear") == "Clear log"


def test_monitor_settings(page: Any, controller: Any) -> None:
    page.click("[data-tab=monitor]")
    page.wait_for_selector("#mon-empty:has-text('No requests yet')")
    page.uncheck("#mon-enabled", force=True)
    page.wait_for_selector("#mon-disabled:visible")
    assert controller.monitor.enabled is False
    page.wait_for_selector("#mon-live[data-state=disabled]")
    page.check("#mon-bodies", force=True)
    page.wait_for_selector("#toast:has-text('Bodies of new requests')")
    assert controller.monitor.store_bodies is True
    page.fill("#mon-retention", "0")
    page.click("#mon-retention-save")
    page.wait_for_selector("#mon-retention-error:visible")
    page.fill("#mon-retention", "14")
    page.click("#mon-retention-save")
    page.wait_for_selector("#toast:has-text('Retention saved')")
    assert controller.monitor.retention_days == 14 and controller.config.monitor.retention_days == 14


def test_zai_section(page: Any, controller: Any, artifacts: Path) -> None:
    from tests.fakes.anthropic_api import ZAI_KEY, FakeAnthropic
    from tests.fakes.runner import ServerThread

    bodies: list[str] = []
    page.on("response", lambda r: bodies.append(r.text()) if "/api/" in r.url else None)
    fake = FakeAnthropic()
    with ServerThread(fake.app()) as url:
        page.click("[data-tab=settings]")
        page.fill("#zai-base-url", url + "/api/anthropic")
        page.click("#zai-url-save")
        page.wait_for_selector("#toast:has-text('Base URL saved')")
        assert controller.config.zai.base_url == url + "/api/anthropic"

        page.check("#zai-enabled", force=True)
        page.wait_for_selector("#toast:has-text('z.ai on')")
        page.check("#zai-mode input[value=exclusive]", force=True)
        page.wait_for_selector("#zai-mode .choice.on input[value=exclusive]")
        assert controller.config.zai.enabled and controller.config.zai.dispatch_mode == "exclusive"
        page.wait_for_selector("#zai-enabled-hint:has-text('no API key')")

        page.fill("#zai-key", ZAI_KEY)
        page.click("#zai-key-save")
        page.wait_for_selector("#zai-key-state.ok")
        assert controller.has_zai_key() and page.input_value("#zai-key") == ""
        assert page.inner_text("#zai-key-save") == "Replace key"

        page.click("#zai-test")
        page.wait_for_selector("#zai-test-models li")
        assert page.locator("#zai-test-models li").all_inner_texts() == ["glm-4.7", "glm-4.5-air"]
        assert "2 models" in page.inner_text("#zai-test-status")

        page.fill("#zai-model-opus", "glm-4.5-air")
        page.click("#zai-models-save")
        page.wait_for_selector("#toast:has-text('Model map saved')")
        assert controller.config.zai.models == {"opus": "glm-4.5-air", "sonnet": "glm-4.7", "haiku": "glm-4.5-air"}
        page.wait_for_selector("#toast", state="hidden")
        page.set_viewport_size({"width": 1000, "height": 2600})  # the whole card, the top bar out of the way
        page.locator("#zai-card").screenshot(path=str(artifacts / "settings-zai.png"))
        docs_copy(artifacts / "settings-zai.png")
        page.set_viewport_size({"width": 1000, "height": 760})

        # a wrong key: the error is shown, the model list goes
        page.fill("#zai-key", "zai-wrong-key")
        page.click("#zai-key-save")
        page.wait_for_selector("#toast:has-text('z.ai key saved')")
        page.click("#zai-test")
        page.wait_for_selector("#zai-test-error:has-text('401')")
        assert page.is_hidden("#zai-test-models")

        page.click("#zai-key-remove")
        page.click("#zai-key-remove")
        page.wait_for_selector("#zai-key-state.warn")
        assert not controller.has_zai_key()
    assert page.locator("#zai-key-state").inner_text() == "not set"

    # Test connection first saves a base URL that was typed but not saved (checked server-side)
    page.fill("#zai-base-url", "ftp://nowhere.example")
    page.click("#zai-test")
    page.wait_for_selector("#zai-url-error:has-text('must be a URL')")
    assert "Fix the base URL" in page.inner_text("#zai-test-error")
    assert controller.config.zai.base_url == url + "/api/anthropic"
    assert not any(ZAI_KEY in b for b in bodies)


def test_start_at_login_switch(page: Any, login_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = login_home / "trayproxy.desktop"
    page.click("[data-tab=settings]")
    page.wait_for_selector("#login-start:not([disabled])")
    assert str(entry) in page.inner_text("#login-start-hint") and not page.is_checked("#login-start")
    page.check("#login-start", force=True)
    page.wait_for_selector("#login-start-hint:has-text('On:')")
    assert entry.is_file()
    page.uncheck("#login-start", force=True)
    page.wait_for_selector("#login-start-hint:has-text('Off.')")
    assert not entry.exists()

    blocker = login_home.parent.parent / "not-a-dir"
    blocker.write_text("a file where the config folder should be")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))
    page.click("label:has(#login-start)")  # the switch flips back when the change fails
    page.wait_for_selector("#login-start-error:has-text('cannot write')")
    assert "Could not turn on start at login" in page.inner_text("#login-start-error")
    page.wait_for_selector("#login-start:not([disabled])")
    assert not page.is_checked("#login-start")


def test_session_lives_in_this_origins_storage_not_a_cookie(page: Any, control: Any) -> None:
    """Regression (attack run): the token was in a cookie, which 127.0.0.1's other ports receive."""
    assert page.context.cookies() == []
    assert page.evaluate("sessionStorage.getItem('trayproxy-control-token')") == control.token
    page.reload()  # a plain GET / carries no token: session.js finds it in sessionStorage
    page.wait_for_selector("#status-text:has-text('Stopped')")
    assert page.context.cookies() == [] and "token" not in page.url


def test_browser_fallback_launcher_opens_the_page_without_the_token_in_a_url(control: Any, controller: Any,
                                                                             tmp_path: Path) -> None:
    if not CHROMIUM:
        pytest.skip("Debian chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    from trayproxy.ui.launcher import write_launcher

    launcher = write_launcher(control.url, tmp_path / "launch")
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        except Exception as e:
            pytest.skip(f"cannot launch {CHROMIUM}: {e}")
        pg = browser.new_page()
        seen: list[str] = []
        pg.on("framenavigated", lambda f: seen.append(f.url))
        pg.goto(launcher.as_uri())
        pg.wait_for_selector("#status-text:has-text('Stopped')")
        assert pg.url.startswith(f"http://127.0.0.1:{control.port}/") and "token" not in pg.url
        assert not any(control.token in u for u in seen), seen
        assert pg.context.cookies() == []
        browser.close()
