"""The settings page in headless Chromium: error states tied to their cause (they go when it
does), the port-in-use offer, the first-run guide, and warnings that do not move the page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.control.helpers import add_account
from tests.ui.test_browser import docs_copy, expect

pytestmark = pytest.mark.browser


def test_no_account_error_clears_when_an_account_is_added(page: Any, controller: Any, artifacts: Path) -> None:
    for acc in controller.store.all():
        controller.remove_account(acc.id)
    page.click("#toggle")
    # no account yet is the normal first run: said calmly (no error colour), with what to do
    page.wait_for_selector(".banner.info[data-cause=no_account]")
    assert "Add a Google account first" in page.inner_text(".banner.info")
    assert page.locator(".banner.error").count() == 0
    assert page.get_attribute("#status-pill", "data-state") == "stopped"
    assert page.get_attribute("#logo", "src") == "/icon/stopped.png"
    assert page.is_hidden("#toast")  # said once, on the banner, not again in a toast
    add_account(controller)  # from elsewhere (the tray, the CLI): the page hears it
    page.wait_for_selector(".banner[data-cause=no_account]", state="detached")
    expect(page.locator("#status-pill")).to_have_attribute("data-state", "stopped")
    assert page.inner_text("#fact-accounts") == "1 account ready"


def test_port_in_use_explains_itself_and_offers_a_free_port(page: Any, controller: Any, artifacts: Path) -> None:
    import socket

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    try:
        controller.set_config("port", taken)
        page.click("#toggle")
        banner = page.locator(".banner.error[data-cause=port]")
        # the OS names the program holding it: here, this test's own process
        expect(banner).to_contain_text(f"Port {taken} is already in use by ")
        expect(banner).to_contain_text(f"(pid {os.getpid()}).")
        text = banner.inner_text()
        assert "Address already in use" not in text and "could not be bound" not in text  # not the OS text
        assert page.is_hidden("#toast")
        offer = page.locator("[data-use-port]")
        suggested = int(offer.get_attribute("data-use-port") or 0)
        assert suggested > taken and f"Use port {suggested} and start" in offer.inner_text()
        page.wait_for_selector("#toast", state="hidden")
        page.screenshot(path=str(artifacts / "settings-port-in-use.png"))
        docs_copy(artifacts / "settings-port-in-use.png")
        offer.click()
        page.wait_for_selector(f"#status-text:has-text('Running on port {suggested}')")
        assert page.locator(".banner.error").count() == 0
        assert controller.config.port == suggested and controller.status().running
    finally:
        blocker.close()


def test_port_error_clears_when_the_port_is_freed(page: Any, controller: Any) -> None:
    import socket

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    controller.set_config("port", taken)
    page.click("#toggle")
    page.wait_for_selector(".banner.error[data-cause=port]")
    blocker.close()
    page.wait_for_selector(".banner.error", state="detached", timeout=15000)
    expect(page.locator("#status-pill")).to_have_attribute("data-state", "stopped")


def test_port_error_names_the_new_port_after_a_change(page: Any, controller: Any) -> None:
    import socket

    blockers = []
    for _ in range(2):
        b = socket.socket()
        b.bind(("127.0.0.1", 0))
        b.listen()
        blockers.append(b)
    first, second = (b.getsockname()[1] for b in blockers)
    try:
        controller.set_config("port", first)
        page.click("#toggle")
        expect(page.locator(".banner.error")).to_contain_text(f"Port {first} is already")
        page.click("[data-tab=settings]")
        page.fill("#port", str(second))
        page.click("#port-save")
        page.wait_for_selector(".banner.error", state="detached")  # the old port's error went with it
        page.click("#toggle")
        expect(page.locator(".banner.error")).to_contain_text(f"Port {second} is already")
        assert str(first) not in page.inner_text("#banners")
    finally:
        for b in blockers:
            b.close()


def test_settings_file_warning_clears_once_the_settings_are_saved(page: Any, controller: Any) -> None:
    controller.paths.config_file.write_text("{ broken")
    controller.reload()  # a hand edit gone wrong
    page.wait_for_selector(".banner.warning[data-cause=config]")
    page.click("[data-tab=monitor]")
    page.fill("#mon-retention", "21")
    page.click("#mon-retention-save")
    page.wait_for_selector(".banner[data-cause=config]", state="detached")
    assert controller.status().config_problem is None


def test_warnings_do_not_move_what_is_under_the_pointer(page: Any, controller: Any) -> None:
    from trayproxy.controller import StartError

    page.click("[data-tab=settings]")
    target = page.locator("#zai-test")
    target.scroll_into_view_if_needed()
    page.mouse.wheel(0, 400)
    expect(page.locator("#zai-test")).to_be_in_viewport()
    before = target.bounding_box()
    for acc in controller.store.all():
        controller.remove_account(acc.id)
    with pytest.raises(StartError):
        controller.start()  # from the tray: a banner appears at the top of the page
    page.wait_for_selector(".banner[data-cause=no_account]")
    after = target.bounding_box()
    assert before and after and abs(after["y"] - before["y"]) < 1.5, (before, after)
    add_account(controller)
    page.wait_for_selector(".banner[data-cause=no_account]", state="detached")
    again = target.bounding_box()
    assert again and abs(again["y"] - before["y"]) < 1.5, (before, again)


def test_first_run_guide(page: Any, controller: Any, artifacts: Path) -> None:
    for acc in controller.store.all():
        controller.remove_account(acc.id)
    page.wait_for_selector("#guide:visible #guide-account[data-step=current]")
    assert "None yet" in page.inner_text("#fact-accounts")
    # sign in, or bring the accounts over from Antigravity-Manager / CLIProxyAPI (import.js)
    assert page.locator("#guide [data-step=current] .btn:visible").all_inner_texts() == [
        "Sign in with Google", "Import accounts"]
    assert page.locator("#guide [data-step=current] .btn.primary:visible").count() == 1
    page.screenshot(path=str(artifacts / "settings-first-run.png"))
    docs_copy(artifacts / "settings-first-run.png")
    page.set_viewport_size({"width": 420, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(artifacts / "settings-first-run-420.png"))
    page.set_viewport_size({"width": 1000, "height": 760})
    page.click("[data-tab=accounts]")
    # one primary action: the empty list points at the sign-in below it, which is the one button
    assert page.locator("#accounts-board .empty").count() == 1 and page.locator("#login.primary:visible").count() == 1
    assert page.locator("[data-panel=accounts] .btn.primary:visible").count() == 1
    assert page.is_hidden("#token-form")  # the second way is folded away
    page.click("[data-tab=overview]")

    add_account(controller)
    page.wait_for_selector("#guide-start[data-step=current]")
    assert page.get_attribute("#guide-account", "data-step") == "done"
    page.click("#guide-start-btn")
    page.wait_for_selector("#guide-connect[data-step=current]")
    assert controller.status().running
    page.click("#guide-connect-btn")
    page.wait_for_selector("#guide", state="hidden")
    expect(page.locator("#connect-card")).to_be_in_viewport()
