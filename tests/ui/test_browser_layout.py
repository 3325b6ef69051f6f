"""The settings page in headless Chromium: the layout holds from 1200 down to 420 px, light and
dark (no horizontal overflow on any tab, snippet or pane), and a hidden page keeps nothing running."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.control.helpers import feed_monitor
from tests.ui.test_browser import docs_copy, expect

pytestmark = pytest.mark.browser


WIDTHS = (1200, 1000, 800, 640, 420)
TABS = ("overview", "accounts", "monitor", "models", "settings")


def overflow(page: Any) -> int:
    """How far the page is wider than the window (> 0: a horizontal scroll bar)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_layout_holds_at_every_width(page: Any, controller: Any, scheme: str, artifacts: Path) -> None:
    page.emulate_media(color_scheme=scheme)
    feed_monitor(controller, controller.store.all(), 30)
    # the widest things the page shows: banners with actions, long URLs, every snippet
    controller.set_config("allow_lan_access", True)
    controller.set_config("auth_mode", "off")
    controller.set_config("zai.base_url", "https://a-very-long-host-name.example.com/api/anthropic/with/a/long/path")
    snippet_ids = [s["id"] for s in control_state(page)["snippets"]]
    assert len(snippet_ids) >= 5
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        for tab in TABS:
            page.click(f"[data-tab={tab}]")
            if tab == "monitor":
                page.wait_for_selector("#mon-rows tr")
                # narrow: the table becomes a list of cards (no header row, no squeezed columns)
                cards = page.evaluate("getComputedStyle(document.querySelector('#mon-table thead')).display") == "none"
                assert cards == (width <= 900), (width, cards)
            assert overflow(page) <= 0, (scheme, width, tab, overflow(page))
            if tab == "overview":
                for sid in snippet_ids:
                    page.click(f"[data-snippet={sid}]")
                    assert overflow(page) <= 0, (scheme, width, sid, overflow(page))
                    # a long line scrolls inside its own box, which stays inside the card
                    box = page.locator(".snippet pre").bounding_box()
                    card = page.locator("#snippets-card").bounding_box()
                    assert box and card and box["x"] + box["width"] <= card["x"] + card["width"] + 0.5
                if width == 420:  # the OpenAI setup is wider than a phone-size window: its box scrolls
                    page.click("[data-snippet=openai]")
                    wide = page.evaluate("(() => { const p = document.querySelector('.snippet pre');"
                                         " return p.scrollWidth > p.clientWidth; })()")
                    assert wide
            # the tabs stay on screen when the page is scrolled
            page.mouse.wheel(0, 3000)
            tabs_box = page.locator("#tabs").bounding_box()
            assert tabs_box and 0 <= tabs_box["y"] < 140, (width, tab, tabs_box)
            page.evaluate("window.scrollTo(0, 0)")
        page.click("[data-tab=monitor]")
        page.click("#mon-rows tr[data-id=req-003]")
        page.wait_for_selector("#mon-detail .detail-facts")
        assert overflow(page) <= 0, (scheme, width, "detail", overflow(page))
        page.keyboard.press("Escape")
        page.click("[data-tab=overview]")
        page.click("[data-snippet=openai]")
        page.evaluate("window.scrollTo(0, 0)")
        name = f"layout-{scheme}-{width}"
        page.screenshot(path=str(artifacts / f"{name}-overview.png"))
        page.click("[data-tab=monitor]")
        page.wait_for_selector("#mon-rows tr")
        page.evaluate("document.getElementById('mon-filters').closest('.card').scrollIntoView()")
        page.screenshot(path=str(artifacts / f"{name}-monitor.png"))
        page.locator(".totals").screenshot(path=str(artifacts / f"{name}-totals.png"))
        labels = page.locator("#mon-by-account td.key").all_inner_texts()
        assert "z.ai" in labels and "not sent upstream" in labels and not any("refused" in t for t in labels)
        page.click("[data-tab=accounts]")
        page.screenshot(path=str(artifacts / f"{name}-accounts.png"))
        page.click("[data-tab=settings]")
        page.screenshot(path=str(artifacts / f"{name}-settings.png"), full_page=True)
    if scheme == "light":
        for src, dst in (("layout-light-420-overview.png", "settings-narrow.png"),
                         ("layout-light-640-monitor.png", "monitor-narrow.png")):
            shutil.copyfile(artifacts / src, artifacts / dst)
            docs_copy(artifacts / dst)
    else:
        shutil.copyfile(artifacts / "layout-dark-1000-overview.png", artifacts / "settings-dark.png")
        docs_copy(artifacts / "settings-dark.png")


def control_state(page: Any) -> Any:
    return page.evaluate("window.trayproxy.state")


def _wait(cond: Any, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def set_visibility(page: Any, state: str) -> None:
    page.evaluate("""(s) => {
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => s });
        document.dispatchEvent(new Event("visibilitychange"));
    }""", state)


def test_hidden_page_closes_its_stream_and_catches_up_when_shown(page: Any, control: Any, controller: Any) -> None:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    assert _wait(lambda: control.events.clients == 1)
    set_visibility(page, "hidden")
    expect(page.locator("body")).to_have_attribute("data-stream", "paused")
    assert page.evaluate("window.trayproxy.connected") is False  # its EventSource is closed
    mark = len(seen)
    controller.set_config("monitor.retention_days", 17)  # changes while hidden: the page does nothing
    assert page.input_value("#mon-retention") != "17"
    set_visibility(page, "visible")
    expect(page.locator("#mon-retention")).to_have_value("17")  # the first event after reconnecting
    assert [u for u in seen[mark:] if "/api/" in u] == [u for u in seen[mark:] if "/api/events" in u]
