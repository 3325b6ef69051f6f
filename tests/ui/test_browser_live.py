"""One status, pushed to every view: what the tray does reaches an open settings page within a
second, without a reload (the Controller's Status -> the ControlServer's event stream)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.ui.test_browser import expect

pytestmark = pytest.mark.browser


def test_a_tray_connect_reaches_the_open_page_within_a_second(page: Any, controller: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from trayproxy.connect.command import run_for

    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    row = page.locator(".connect-row[data-client=claude-code] .connect-badge").first
    expect(row).to_have_text("Not connected")
    # the tray's Connect runs run_for on a worker thread, as here; nothing is clicked on the page
    worker = threading.Thread(target=lambda: run_for(controller, "claude-code", "connect", run_client=False))
    worker.start()
    expect(row).to_have_text("✓ Connected", timeout=1000)  # within a second, no reload
    worker.join(30)
    assert [c["connected"] for c in controller.status().clients if c["client"] == "claude-code"] == [True]


def test_the_page_and_the_tray_say_the_same(page: Any, controller: Any) -> None:
    from trayproxy.accounts.words import summary
    from trayproxy.i18n import ENGLISH
    from trayproxy.ui.glance import accounts_line

    a = controller.store.by_email("a@example.com")
    controller.pool.pause_for_verification(a.id, link="https://accounts.google.com/x", link_text=None,
                                           message="verify it")
    st = controller.status()
    line = accounts_line(st.accounts, ENGLISH)  # the tray's line
    assert line == summary(st.accounts)["line"] == "1 ready \u00b7 1 needs verification"
    expect(page.locator("#fact-accounts")).to_have_text(line, timeout=1000)
    page.click("[data-tab=accounts]")
    expect(page.locator("#accounts-summary")).to_have_text(line)
    assert st.active_accounts == 1  # the paused account is not counted as active anywhere
