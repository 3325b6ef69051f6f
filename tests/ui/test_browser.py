"""The settings page in headless Chromium (Debian `chromium`, driven by Playwright for Python):
the main flows of each tab. Errors and layout have their own files (test_browser_errors.py,
test_browser_layout.py). Skipped when Chromium or Playwright is missing. Screenshots go to
test-artifacts/ (and to docs/screenshots/ with TRAYPROXY_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.control.helpers import feed_monitor, free_port
from tests.ui.conftest import CHROMIUM, chromium  # noqa: F401  (other browser tests import CHROMIUM from here)

pytestmark = pytest.mark.browser
# the `page` fixture (a real ControlServer, two accounts, headless Chromium) is in conftest.py


def test_settings_page_flow(page: Any, control: Any, controller: Any, clipboard: Any, artifacts: Path) -> None:
    # the token left the address bar (sessionStorage + meta tag instead, never a cookie)
    assert "token" not in page.url
    page.screenshot(path=str(artifacts / "settings-overview-stopped.png"))

    # a port that does not exist: told inline, in the page's words; the hint never shows it
    page.click("[data-tab=settings]")
    page.fill("#port", "70000")
    page.wait_for_selector("#port-error:visible")
    assert "There is no port 70000" in page.inner_text("#port-error")
    assert "70000" not in page.inner_text("#port-hint") and page.is_disabled("#port-save")
    assert page.get_attribute("#port", "aria-invalid") == "true"
    page.fill("#port", "")
    assert "Enter a port" in page.inner_text("#port-error")

    # change the port while stopped
    new_port = free_port()
    page.fill("#port", str(new_port))
    assert page.is_hidden("#port-error") and f":{new_port}." in page.inner_text("#port-hint")
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
    page.wait_for_selector("#key-error:visible")  # inline, while typing
    assert "at least 10 characters (this one has 8)" in page.inner_text("#key-error")
    assert page.is_disabled("#key-save")
    page.fill("#api-key", "pk-something-long")
    assert "must start with sk-" in page.inner_text("#key-error")
    assert controller.api_key() == old_key
    page.screenshot(path=str(artifacts / "settings-key-error.png"))
    page.fill("#api-key", "sk-browser-test-key")
    assert page.is_hidden("#key-error")
    page.click("#key-save")
    page.wait_for_selector("#toast:has-text('API key saved')")
    assert controller.api_key() == "sk-browser-test-key"
    assert page.input_value("#api-key") == "sk-browser-test-key"
    assert page.get_attribute("#api-key", "type") == "password"  # masked again once saved

    # copy a snippet (live URL and key in it)
    page.click("[data-tab=overview]")
    page.click("[data-snippet=openai]")
    page.click("#snippet-copy")
    page.wait_for_selector("#toast:has-text('copied')")
    copied = page.evaluate("navigator.clipboard.readText()") or (clipboard.texts[-1] if clipboard.texts else "")
    assert f'base_url="http://127.0.0.1:{new_port}/v1"' in copied
    assert 'api_key="sk-browser-test-key"' in copied
    # on screen the key is masked until asked for, like on Settings
    shown = page.inner_text("#snippet-code")
    assert "sk-browser-test-key" not in shown and 'api_key="sk-\u2022' in shown
    page.click("#snippet-reveal")
    assert "sk-browser-test-key" in page.inner_text("#snippet-code")
    page.click("#snippet-reveal")
    assert "sk-browser-test-key" not in page.inner_text("#snippet-code")
    page.wait_for_selector("#toast", state="hidden")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "settings-overview-running.png"))
    shutil.copyfile(artifacts / "settings-overview-running.png", artifacts / "settings-window.png")
    docs_copy(artifacts / "settings-window.png")

    # accounts with quota bars
    page.wait_for_selector("#toast", state="hidden")
    page.click("[data-tab=accounts]")
    page.click(".account[data-email='a@example.com'] summary")  # folded to one line; it opens to its models
    page.wait_for_selector(".account[data-email='a@example.com'] .quota")
    assert page.locator(".account").count() == 2
    assert page.locator(".account .bar").count() == 6
    page.screenshot(path=str(artifacts / "settings-accounts.png"), full_page=True)
    docs_copy(artifacts / "settings-accounts.png")

    page.click("[data-tab=settings]")
    page.screenshot(path=str(artifacts / "settings-proxy-running.png"), full_page=True)
    docs_copy(artifacts / "settings-proxy-running.png")


def test_remove_account_needs_confirmation(page: Any, controller: Any) -> None:
    page.click("[data-tab=accounts]")
    page.click(".account[data-email='a@example.com'] summary")  # the account opens to its buttons
    button = page.locator(".account[data-email='a@example.com'] [data-action=remove]")
    button.click()
    assert "Remove a@example.com?" in button.inner_text()
    assert len(controller.store.all()) == 2
    controller.set_config("monitor.retention_days", 12)  # a state push lands meanwhile
    expect(page.locator("#mon-retention")).to_have_value("12")
    assert "Remove a@example.com?" in button.inner_text()  # the armed button survived it
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
    # "Live" only while requests can arrive: the proxy is stopped here
    expect(page.locator("#mon-live")).to_have_attribute("data-state", "stopped")
    controller.start()
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

    # nothing polls: with the tab hidden, a new row is announced but not fetched; back on the
    # tab, it is there
    page.click("[data-tab=overview]")
    mark = len(seen)
    events = int(page.get_attribute("body", "data-monitor-events") or 0)
    controller.monitor.record(RequestRecord(
        id="req-hidden", ts=time.time(), method="POST", route="/v1/messages", protocol="anthropic",
        client_model="claude-sonnet-4-6", upstream_model="claude-sonnet-4-6", account_id=accounts[0].id,
        upstream="google", status=200, outcome="ok", duration_ms=300.0, ttfb_ms=90.0, input_tokens=10, output_tokens=5))
    controller.monitor.flush()
    page.wait_for_selector(f"body[data-monitor-events='{events + 1}']")
    assert not [u for u in seen[mark:] if "/api/monitor/" in u or "/api/state" in u]
    page.click("[data-tab=monitor]")
    page.wait_for_selector("#mon-rows tr:first-child[data-id=req-hidden]")

    # clear, after a confirmation click
    page.wait_for_selector("#mon-rows tr")
    page.click("#mon-clear")
    assert "Click again" in page.inner_text("#mon-clear")
    assert len(controller.monitor.recent(limit=100)) == 32
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
    page.wait_for_selector("#mon-retention-error:visible")  # inline, before any Save
    assert "at least 1 day" in page.inner_text("#mon-retention-error") and page.is_disabled("#mon-retention-save")
    page.fill("#mon-retention", "5000")
    assert "at most 3650" in page.inner_text("#mon-retention-error")
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

        # one switch: turning it on picks a mode (Fallback); there is no separate "Off" mode
        assert page.locator("#zai-mode input[value=off]").count() == 0
        assert page.is_disabled("#zai-mode input[value=pooled]")
        page.check("#zai-enabled", force=True)
        page.wait_for_selector("#toast:has-text('z.ai on')")
        page.wait_for_selector("#zai-mode .choice.on input[value=fallback]")
        assert controller.config.zai.enabled and controller.config.zai.dispatch_mode == "fallback"
        assert "Kept in your system keychain" in page.inner_text("#zai-key-form")
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

    # Test connection first saves a base URL that was typed but not saved; a wrong one is
    # told inline and not tested (the server checks it too: tests/control/test_server.py)
    page.fill("#zai-base-url", "ftp://nowhere.example")
    page.wait_for_selector("#zai-url-error:has-text('must be a URL starting with http')")
    page.click("#zai-test")
    page.wait_for_selector("#zai-test-error:has-text('Fix the base URL')")
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
    from trayproxy.ui.launcher import write_launcher

    launcher = write_launcher(control.url, tmp_path / "launch")
    with chromium() as browser:
        pg = browser.new_page()
        seen: list[str] = []
        pg.on("framenavigated", lambda f: seen.append(f.url))
        pg.goto(launcher.as_uri())
        pg.wait_for_selector("#status-text:has-text('Stopped')")
        assert pg.url.startswith(f"http://127.0.0.1:{control.port}/") and "token" not in pg.url
        assert not any(control.token in u for u in seen), seen
        assert pg.context.cookies() == []
        browser.close()


AXE = Path.home() / ".cache" / "trayproxy-axe" / "node_modules" / "axe-core" / "axe.min.js"


def test_monitor_shows_refused_requests_per_kind_origin_and_status(page: Any, controller: Any,
                                                                   artifacts: Path) -> None:
    """Issue #27: 401/403 answers were counted but nowhere to be seen. The Monitor tab lists
    them per kind, origin and status; client text (an origin) is shown as text, its control
    characters escaped by the monitor."""
    now = time.time()
    mon = controller.monitor
    for _ in range(12):
        mon.count_refused("auth", None, 401, now - 30)
    mon.count_refused("auth", "http://localhost:5173", 401, now - 5)
    mon.count_refused("origin", "https://evil.example\x1b[31m<b>x</b>", 403, now - 600)
    mon.count_refused("host", "rebind.attacker.example:8045", 403, now - 7200)
    mon.flush()
    page.click("[data-tab=monitor]")
    rows = page.locator("#mon-refused tbody tr")
    expect(rows).to_have_count(4)
    auth = page.locator("#mon-refused tr[data-kind=auth]", has_text="(no origin sent)")
    assert "No or wrong API key" in auth.inner_text() and "12" in auth.inner_text() and "401" in auth.inner_text()
    text = page.inner_text("#mon-refused")
    assert "https://evil.example\\x1b[31m<b>x</b>" in text and page.locator("#mon-refused b").count() == 0
    assert "rebind.attacker.example:8045" in text and "(no origin sent)" in text
    card = page.locator("#mon-refused-card")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for width, height in ((1280, 860), (760, 900), (420, 900)):
            page.set_viewport_size({"width": width, "height": height})
            card.scroll_into_view_if_needed()
            card.screenshot(path=str(artifacts / f"monitor-refused-{scheme}-{width}.png"))
        if AXE.is_file():
            page.evaluate(AXE.read_text() + "\n;0")  # through DevTools: the page's CSP allows no added script
            found = page.evaluate("async () => (await axe.run('#mon-refused-card')).violations"
                                  ".map(v => v.id + ': ' + v.nodes.length)")
            assert found == [], found
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1000, "height": 760})
