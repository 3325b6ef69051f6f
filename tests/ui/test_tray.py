"""Every tray menu action, driven through a real Controller on pystray's dummy backend."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.control.helpers import add_account
from tests.ui.helpers import make_fake_icon_class, menu_items
from trayproxy.controller import NO_ACCOUNT_ERROR
from trayproxy.ui.tray import TrayApp, tooltip


class Recorder:
    def __init__(self) -> None:
        self.notes: list[tuple[str, str]] = []
        self.settings = 0
        self.logins = 0

    def notify(self, title: str, message: str) -> None:
        self.notes.append((title, message))

    def open_settings(self) -> None:
        self.settings += 1

    def begin_login(self) -> None:
        self.logins += 1


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def tray(controller: Any, clipboard: Any, rec: Recorder) -> TrayApp:
    return TrayApp(
        controller,
        open_settings=rec.open_settings,
        begin_login=rec.begin_login,
        copy=clipboard,
        notify=rec.notify,
        spawn=lambda fn: fn(),  # run actions inline so the test sees their effect
        icon_factory=make_fake_icon_class(),
    )


def click(tray: TrayApp, text: str) -> None:
    items = menu_items(tray.icon.menu)
    assert text in items, f"{text!r} not in menu: {sorted(items)}"
    item = items[text]
    assert item.enabled, f"{text!r} is disabled"
    item(tray.icon)


def test_menu_when_stopped(tray: TrayApp, controller: Any) -> None:
    items = menu_items(tray.icon.menu)
    port = controller.config.port
    assert "Start" in items and items["Start"].default
    assert "Stop" not in items
    assert "Stopped" in items and not items["Stopped"].enabled
    assert f"OpenAI clients: http://127.0.0.1:{port}/v1" in items
    assert f"Anthropic / Claude Code: http://127.0.0.1:{port}" in items
    assert f"Gemini: http://127.0.0.1:{port}" in items
    for text in ("Copy base URL", "Copy Claude Code setup", "Open Settings…", "Add Account…", "Quit"):
        assert text in items
    assert tray.state == "stopped"


def test_start_without_account_notifies_and_shows_error(tray: TrayApp, controller: Any, rec: Recorder) -> None:
    click(tray, "Start")
    assert not controller.status().running and controller.status().error == NO_ACCOUNT_ERROR
    assert rec.notes == [("trayproxy could not start", "Add a Google account first.")]
    assert tray.state == "stopped"  # no account yet is the normal first run: no error colour
    items = menu_items(tray.icon.menu)
    assert "Stopped: Add a Google account first" in items and "No account yet" in items
    assert "trayproxy: stopped\n" in tray.icon.title and "Add a Google account first" in tray.icon.title


def test_no_account_error_clears_everywhere_when_an_account_is_added(
        tray: TrayApp, controller: Any, rec: Recorder) -> None:
    withdrawn: list[bool] = []
    tray.icon.remove_notification = lambda: withdrawn.append(True)  # type: ignore[method-assign]
    tray.icon.HAS_NOTIFICATION = True  # type: ignore[misc]
    click(tray, "Start")
    assert "Add a Google account first" in tray.icon.title
    add_account(controller)  # from the page or the CLI: the tray hears it
    assert tray.state == "stopped"
    items = menu_items(tray.icon.menu)
    assert "Stopped" in items and not any(t.startswith("Stopped:") for t in items)
    assert "1 account ready" in items
    assert "error" not in tray.icon.title and "account first" not in tray.icon.title
    assert withdrawn == [True]  # the notification about it is taken back


def test_start_and_stop_through_menu(tray: TrayApp, controller: Any, rec: Recorder) -> None:
    add_account(controller)
    click(tray, "Start")
    st = controller.status()
    assert st.running and rec.notes == []
    assert tray.state == "running"
    items = menu_items(tray.icon.menu)
    assert "Stop" in items and items["Stop"].default and "Start" not in items
    assert f"Running \u00b7 {st.base_url}" in items  # state and base URL at a glance
    assert "1 account ready" in items
    assert tray.icon.title == f"trayproxy: running\n{st.base_url}\n1 account ready"
    click(tray, "Stop")
    assert not controller.status().running
    assert tray.state == "stopped" and "Start" in menu_items(tray.icon.menu)


def test_default_action_toggles(tray: TrayApp, controller: Any) -> None:
    add_account(controller)
    tray.icon()  # a left click runs the default item
    assert controller.status().running
    tray.icon()
    assert not controller.status().running


def test_port_taken_is_notified(tray: TrayApp, controller: Any, rec: Recorder) -> None:
    import socket

    add_account(controller)
    with socket.socket() as s:
        s.bind(("127.0.0.1", controller.config.port))
        s.listen()
        click(tray, "Start")
    assert not controller.status().running
    title, message = rec.notes[-1]
    port = controller.config.port
    free = controller.status().problem["suggested_port"]
    assert title == "trayproxy could not start"
    holder = controller.status().problem["holder"]  # this test's own process holds it: the OS says so
    assert holder.endswith(f"(pid {os.getpid()})")
    assert message == f"Port {port} is in use by {holder}. Port {free} is free: use it from the menu."
    assert tray.state == "error"
    # the socket is closed now; the menu offers the free port, which starts there
    click(tray, f"Use port {free} and start")
    assert controller.status().running and controller.status().port == free and tray.state == "running"


def test_copy_entries(tray: TrayApp, controller: Any, clipboard: Any) -> None:
    port = controller.config.port
    click(tray, f"OpenAI clients: http://127.0.0.1:{port}/v1")
    click(tray, f"Anthropic / Claude Code: http://127.0.0.1:{port}")
    click(tray, f"Gemini: http://127.0.0.1:{port}")
    click(tray, "Copy Claude Code setup")
    base = f"http://127.0.0.1:{port}"
    assert clipboard.texts[:3] == [f"{base}/v1", base, base]
    assert clipboard.texts[3] == (
        f"export ANTHROPIC_BASE_URL={base}\nexport ANTHROPIC_API_KEY={controller.api_key()}\n"
    )


def test_copy_confirms_with_a_notification_without_the_key(tray: TrayApp, controller: Any, rec: Recorder) -> None:
    port = controller.config.port
    click(tray, f"OpenAI clients: http://127.0.0.1:{port}/v1")
    assert rec.notes[-1] == ("OpenAI base URL copied", f"http://127.0.0.1:{port}/v1")
    click(tray, "Copy Claude Code setup")
    title, message = rec.notes[-1]
    assert title == "Claude Code setup copied" and controller.api_key() not in message


def test_copy_failure_is_notified(controller: Any, rec: Recorder) -> None:
    tray = TrayApp(controller, open_settings=rec.open_settings, begin_login=rec.begin_login,
                   copy=lambda text: False, notify=rec.notify, spawn=lambda fn: fn(),
                   icon_factory=make_fake_icon_class())
    click(tray, "Copy Claude Code setup")
    assert rec.notes and rec.notes[0][0] == "Could not copy"
    assert controller.api_key() not in rec.notes[0][1]  # notices are logged: no secret in them


def test_open_settings_and_add_account(tray: TrayApp, rec: Recorder) -> None:
    click(tray, "Open Settings…")
    click(tray, "Add Account…")
    assert rec.settings == 1 and rec.logins == 1


def test_menu_follows_controller_events(tray: TrayApp, controller: Any) -> None:
    """State changes made elsewhere (settings page, CLI) reach the tray via subscribe()."""
    add_account(controller)
    tray.icon.calls.clear()
    controller.start()
    assert tray.state == "running"
    assert "Stop" in menu_items(tray.icon.menu)
    assert "menu" in tray.icon.calls  # update_menu() reached the backend
    controller.stop()
    assert tray.state == "stopped"


def test_quit_stops_proxy_and_loop(tray: TrayApp, controller: Any) -> None:
    add_account(controller)
    controller.start()

    def setup(icon: Any) -> None:
        tray.setup(icon)
        assert icon.visible
        menu_items(icon.menu)["Quit"](icon)

    tray.icon.run(setup=setup)  # returns once Quit stopped the loop
    assert "stop" in tray.icon.calls
    assert not controller.status().running


def test_worker_thread_keeps_tray_thread_free(controller: Any, rec: Recorder, clipboard: Any) -> None:
    import threading

    seen: list[str] = []
    done = threading.Event()

    def slow_copy(text: str) -> bool:
        seen.append(threading.current_thread().name)
        done.set()
        return True

    tray = TrayApp(controller, open_settings=rec.open_settings, begin_login=rec.begin_login, copy=slow_copy,
                   notify=rec.notify, icon_factory=make_fake_icon_class())
    click(tray, "Copy Claude Code setup")
    assert done.wait(5)
    assert seen == ["tray-action"]


def test_tooltip_texts(controller: Any) -> None:
    st = controller.status()
    assert tooltip(st) == "trayproxy: stopped\nNo account yet"
    assert tooltip(st, accounts="2 ready \u00b7 1 resting") == "trayproxy: stopped\n2 ready \u00b7 1 resting"
    assert tooltip(st, starting=True).startswith("trayproxy: starting\u2026")


def test_menu_shows_accounts_and_the_model_in_use(tray: TrayApp, controller: Any) -> None:
    import time

    from trayproxy.monitor import RequestRecord

    a = add_account(controller)
    b = add_account(controller, "b@example.com")
    from trayproxy.i18n import ENGLISH

    controller.pool.cool_down(b.id, None, 3600, "rate limited")
    until = controller.pool.cooldowns(b.id)[""].until
    controller.reload()
    items = menu_items(tray.icon.menu)
    assert f"1 ready \u00b7 1 resting until {ENGLISH.clock(until)}" in items, sorted(items)
    controller.monitor.record(RequestRecord(
        id="r1", ts=time.time(), method="POST", route="/v1/chat/completions", protocol="openai",
        client_model="gpt-4o", upstream_model="gemini-2.5-flash", account_id=a.id, upstream="google",
        status=200, outcome="ok", duration_ms=100.0, ttfb_ms=50.0))
    controller.monitor.flush()
    items = menu_items(tray.icon.menu)
    line = [t for t in items if t.startswith("Model in use:")]
    assert line and line[0].startswith("Model in use: gemini-2.5-flash \u00b7 35% left \u00b7 resets at "), line
    assert not items[line[0]].enabled  # information, not an action
