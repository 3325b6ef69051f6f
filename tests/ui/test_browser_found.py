"""The defects #28 found walking the page, each checked as a person or a screen reader meets it
(headless Chromium, the four-account world of tests/ui/world.py):

- one h1; every tab names its panel (`aria-controls`) and every panel is labelled by its tab;
- each account's buttons say which account they act on;
- a field's error is tied to the field (`aria-describedby` names it first, it is announced) and
  says why, not only "invalid";
- each tab opens at its top, not at the previous tab's scroll position;
- nothing the user must read is cut with "…": an account's reason, a resting model's reason,
  the Totals headers, at 1200 and 420 px;
- the Models resolution table fits at 1200 px or scrolls in a labelled, focusable region that
  shows it scrolls (an edge shadow);
- switches are told apart from their card: the off track's edge 3:1 against the card, light and dark.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui.world import four_accounts

pytestmark = pytest.mark.browser


@pytest.fixture
def world(page: Any, controller: Any) -> Any:
    four_accounts(controller)
    page.reload()
    page.wait_for_selector("#status-text:not(:empty)")
    return page


def test_headings_tabs_and_panels(world: Any) -> None:
    page = world
    assert page.locator("h1").count() == 1
    tabs = page.evaluate("""() => [...document.querySelectorAll('[role=tab][data-tab]')].map((t) => {
        const panel = document.getElementById(t.getAttribute('aria-controls') || '');
        return { tab: t.id, role: panel && panel.getAttribute('role'),
                 labelledby: panel && panel.getAttribute('aria-labelledby') };
    })""")
    assert len(tabs) == 5
    for t in tabs:
        assert t["role"] == "tabpanel" and t["labelledby"] == t["tab"], t
    page.click("[data-tab=accounts]")
    assert page.get_attribute("#tab-accounts", "aria-selected") == "true"
    assert page.get_attribute("#tab-overview", "aria-selected") == "false"
    # every panel has a heading of its own under the h1
    assert page.locator("#panel-accounts h2").count() >= 1


def test_each_accounts_buttons_name_the_account(world: Any) -> None:
    page = world
    page.click("[data-tab=accounts]")
    page.wait_for_selector(".acct[data-status=not_eligible]")
    names = page.evaluate("""() => [...document.querySelectorAll('.acct')].map((card) => ({
        email: card.dataset.email,
        buttons: [...card.querySelectorAll('button')].map((b) => b.getAttribute('aria-label') || b.textContent.trim()),
    }))""")
    assert len(names) == 6 and sum(len(n["buttons"]) for n in names) >= 10
    for n in names:
        for label in n["buttons"]:
            assert n["email"] in label, (n["email"], label)


def test_a_field_error_is_tied_to_its_field_and_says_why(world: Any) -> None:
    page = world
    page.click("[data-tab=settings]")
    page.fill("#port", "70000")
    port = page.locator("#port")
    assert port.get_attribute("aria-invalid") == "true"
    first = (port.get_attribute("aria-describedby") or "").split()[0]
    err = page.locator(f"#{first}")
    assert err.is_visible() and err.get_attribute("aria-live") == "polite"
    assert "65535" in err.inner_text()  # the reason, not "invalid"
    page.fill("#port", "8045")
    assert port.get_attribute("aria-invalid") is None
    assert first not in (port.get_attribute("aria-describedby") or "")


def test_each_tab_opens_at_its_top(world: Any) -> None:
    page = world
    page.set_viewport_size({"width": 420, "height": 700})
    page.click("[data-tab=accounts]")
    page.wait_for_selector(".acct[data-status=not_eligible]")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    assert page.evaluate("window.scrollY") > 200
    for tab in ("monitor", "models", "settings", "overview"):
        page.click(f"[data-tab={tab}]")
        assert page.evaluate("window.scrollY") == 0, tab
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")


CUT = """(sel) => [...document.querySelectorAll(sel)].filter((el) => el.getClientRects().length
    && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
    .map((el) => el.textContent.trim())"""


@pytest.mark.parametrize("width", [1200, 420])
def test_reasons_and_headers_are_readable_in_full(world: Any, controller: Any, width: int) -> None:
    page = world
    ids = {a.email: a.id for a in controller.store.all()}
    controller.pool.cool_down(ids["ada@example.com"], "claude-sonnet-4-6", 3600,
                              "out of quota for claude-sonnet-4-6: You have exhausted your capacity on this model. "
                              "Your quota will reset after 1h. " * 2, kind="quota")
    page.reload()  # a cooldown set on the pool directly is not pushed
    page.set_viewport_size({"width": width, "height": 800})
    page.click("[data-tab=accounts]")
    page.wait_for_selector(".acct-cd[data-model=claude-sonnet-4-6]", state="attached")
    for el in page.locator(".acct summary").all():
        if el.locator("xpath=..").get_attribute("open") is None:
            el.click()
    assert page.evaluate(CUT, ".acct-reason, .acct-todo, .acct-cd .why, .acct-line") == []
    why = page.locator(".acct-cd[data-model=claude-sonnet-4-6] .why")
    assert why.inner_text().rstrip().endswith("after 1h.")
    page.click("[data-tab=monitor]")
    page.wait_for_selector("#mon-by-account td")
    headers = page.evaluate(CUT, ".totals th")
    assert headers == [], headers


def test_models_table_fits_or_shows_that_it_scrolls(world: Any) -> None:
    page = world
    page.set_viewport_size({"width": 1200, "height": 800})
    page.click("[data-tab=models]")
    page.wait_for_selector("#models-table tbody tr")
    wrap = page.locator("#models-table").locator("xpath=..")
    sizes = wrap.evaluate("(w) => ({ scroll: w.scrollWidth, client: w.clientWidth })")
    if sizes["scroll"] > sizes["client"]:
        assert wrap.get_attribute("tabindex") == "0" and wrap.get_attribute("role") == "region"
        assert wrap.get_attribute("aria-label")
        assert "gradient" in wrap.evaluate("(w) => getComputedStyle(w).backgroundImage")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _luminance(css: str) -> float:
    r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])

    def lin(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_off_switches_stand_out_from_their_card(world: Any, scheme: str) -> None:
    page = world
    page.emulate_media(color_scheme=scheme)
    page.click("[data-tab=settings]")
    colours = page.evaluate("""() => [...document.querySelectorAll('.switch input:not(:checked) + .track')]
        .filter((t) => t.getClientRects().length).map((t) => {
            let card = t.closest('.card');
            return { edge: getComputedStyle(t).borderTopColor, knob: getComputedStyle(t, '::after').backgroundColor,
                     card: getComputedStyle(card).backgroundColor };
        })""")
    assert colours, "no switch that is off on the Settings tab"
    for c in colours:
        assert _contrast(c["edge"], c["card"]) >= 3.0, (scheme, c)
        assert _contrast(c["knob"], c["card"]) >= 3.0, (scheme, c)
