"""Tray lines for accounts that need the person: verification (click opens Google's link),
disabled by Google (the reason; click opens the fix-it link), cooling down (until when)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.control.helpers import add_account
from tests.ui.helpers import make_fake_icon_class, menu_items
from trayproxy.i18n import ENGLISH, translator
from trayproxy.ui.tray import TrayApp
from trayproxy.ui.tray_accounts import attention_lines

VERIFY_URL = "https://accounts.google.com/signin/continue?sarp=1&scc=1"


@pytest.fixture
def tray(controller: Any, clipboard: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[TrayApp, list[str]]:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    app = TrayApp(controller, open_settings=lambda: None, begin_login=lambda: None, copy=clipboard,
                  notify=lambda t, m: None, spawn=lambda fn: fn(), icon_factory=make_fake_icon_class())
    return app, opened


def test_verification_link_in_the_tray_opens_googles_page(tray: Any, controller: Any) -> None:
    app, opened = tray
    acc = add_account(controller, "v@example.com")
    add_account(controller, "ok@example.com")
    assert not [t for t in menu_items(app.icon.menu) if "verify" in t]
    controller.pool.pause_for_verification(acc.id, link=VERIFY_URL, link_text="Verify your account",
                                           message="To continue, verify your account in a browser.")
    items = menu_items(app.icon.menu)
    line = items["\u26a0 v@example.com: Google asks you to verify this account"]
    assert line.enabled
    line(app.icon)
    assert opened == [VERIFY_URL]
    assert not [t for t in items if "ok@example.com" in t]  # healthy accounts add no line


def test_disabled_and_cooling_lines(controller: Any) -> None:
    a = add_account(controller, "d@example.com")
    b = add_account(controller, "c@example.com")
    controller.pool.disable(a.id, "Gemini for Google Cloud API is turned off for projects/1: turn it on, then press "
                                  "Retry", link="https://console.developers.google.com/apis/x", by="google")
    controller.pool.cool_down(b.id, "gemini-3-flash", 30, "rate-limited", kind="rate_limit")
    controller.pool.cool_down(b.id, "claude-sonnet-4-6", 300, "out of quota", kind="quota")
    lines = dict(attention_lines(controller.list_accounts()))
    disabled = next(t for t in lines if t.startswith("\u2298 d@example.com"))
    assert lines[disabled] == "https://console.developers.google.com/apis/x" and len(disabled) < 80
    cooling = next(t for t in lines if "c@example.com" in t)
    assert "gemini-3-flash and 1 more back at" in cooling and lines[cooling] is None


def test_menu_follows_account_state_changes(tray: Any, controller: Any) -> None:
    app, _ = tray
    acc = add_account(controller, "v@example.com")
    key = app._view_key()
    controller.pool.pause_for_verification(acc.id, link=VERIFY_URL, link_text=None, message="verify")
    assert app._view_key() != key  # the menu is rebuilt (pool -> controller -> tray notification)
    assert app._shown == app._view_key()


def test_a_spent_quota_window_has_a_line_saying_until_when() -> None:
    from trayproxy.ui.tray_accounts import attention_lines, view_key

    until = time.time() + 150 * 3600
    rows = [{"id": "x", "email": "grace@example.com", "status": "active", "cooldowns": [],
             "windows": [{"family": "gemini", "group": "Gemini Models", "five_hour": {"remaining": 1.0},
                          "weekly": {"remaining": 0.0}, "spent_until": until}]}]
    [(text, link)] = attention_lines(rows)
    assert text.startswith("\u25f7 grace@example.com: Gemini Models weekly quota spent, back ") and link is None
    assert ENGLISH.date(until) in text  # days away: the date is named
    [(german, _link)] = attention_lines(rows, translator("de"))
    assert "grace@example.com" in german and translator("de").date(until) in german and "spent" not in german
    assert view_key(rows) != view_key([{**rows[0], "windows": []}])
