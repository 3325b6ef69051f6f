"""Adding accounts the two ways users do (browser sign-in with PKCE, pasted refresh token),
against the fake Google OAuth + Cloud Code; tokens refreshed ahead of expiry, one at a time."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.helpers import FakeClock, make_controller
from trayproxy.accounts.service import AccountError
from trayproxy.controller import Controller
from trayproxy.secrets import refresh_token_name


@pytest.fixture()
def world() -> Iterator[tuple[FakeCloudCode, Controller, FakeClock]]:
    fake = FakeCloudCode()
    fake.add_account("a@example.com", tier="ULTRA", quota={"gemini-3-flash": 0.5, "claude-sonnet-4-6": 0.25})
    fake.add_account("lost@example.com", project=None)
    with fake:
        clock = FakeClock()
        ctl = make_controller(env=fake.env(), clock=clock)
        try:
            yield fake, ctl, clock
        finally:
            ctl.close()


def browser(url: str) -> None:
    """What the user's browser does: follow Google's redirect back to the loopback listener."""
    def go() -> None:
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                browser.page = r.read().decode()  # type: ignore[attr-defined]
        except urllib.error.HTTPError as e:
            browser.page = e.read().decode()  # type: ignore[attr-defined]

    threading.Thread(target=go, daemon=True).start()


def test_browser_sign_in_with_pkce(world) -> None:
    fake, ctl, _ = world
    fake.sign_in_as(fake.account("a@example.com"))
    opened: list[str] = []

    def open_url(url: str) -> None:
        opened.append(url)
        browser(url)

    acc = ctl.login(open_url, timeout=30)
    assert acc.email == "a@example.com" and acc.project == "proj-a" and acc.tier == "Google AI Ultra"
    assert acc.models["claude-sonnet-4-6"].remaining == pytest.approx(0.25)
    url = opened[0]
    for part in ("code_challenge_method=S256", "access_type=offline", "prompt=consent", "state=",
                 "redirect_uri=http%3A%2F%2F127.0.0.1%3A", "cloud-platform"):
        assert part in url
    assert ctl.store.refresh_token(acc.id) == "rt-a@example.com"
    assert ctl.status().active_accounts == 1
    token_calls = fake.calls_to("oauth.token")
    assert token_calls[0].body["grant_type"] == "authorization_code" and token_calls[0].body["code_verifier"]


def test_denied_sign_in_is_a_clear_error(world) -> None:
    fake, ctl, _ = world
    fake.deny_sign_in("access_denied")
    with pytest.raises(AccountError, match="access_denied"):
        ctl.login(browser, timeout=30)
    assert "Sign-in failed" in browser.page  # type: ignore[attr-defined]


def test_refresh_token_add_and_errors(world) -> None:
    fake, ctl, _ = world
    acc = ctl.add_refresh_token("rt-a@example.com")
    assert acc.email == "a@example.com"
    # the token lives in the keychain, never in accounts.json
    assert ctl.secrets.get(refresh_token_name(acc.id)) == "rt-a@example.com"
    assert "rt-a@example.com" not in ctl.paths.accounts_file.read_text()
    with pytest.raises(AccountError, match="rejected"):
        ctl.add_refresh_token("rt-nobody")
    with pytest.raises(AccountError, match="not onboarded"):
        ctl.add_refresh_token("rt-lost@example.com")
    lost = ctl.store.by_email("lost@example.com")
    assert lost is not None and not lost.onboarded
    assert "not onboarded" in {a["email"]: a["state"] for a in ctl.list_accounts()}["lost@example.com"]


def test_tokens_refresh_ahead_of_expiry_once_for_concurrent_callers(world) -> None:
    fake, ctl, clock = world
    acc = ctl.add_refresh_token("rt-a@example.com")
    n0 = len(fake.calls_to("oauth.token"))

    async def burst() -> set[str]:
        import asyncio

        return set(await asyncio.gather(*[ctl.accounts.access_token(acc) for _ in range(20)]))

    assert len(ctl.engine.call(burst())) == 1 and len(fake.calls_to("oauth.token")) == n0
    clock.advance(3599 - 200)  # inside the 5-minute refresh window
    tokens = ctl.engine.call(burst())
    assert len(tokens) == 1 and len(fake.calls_to("oauth.token")) == n0 + 1


def test_remove_deletes_record_and_secret(world) -> None:
    _, ctl, _ = world
    acc = ctl.add_refresh_token("rt-a@example.com")
    ctl.remove_account("a@example.com")
    assert ctl.store.all() == [] and ctl.secrets.get(refresh_token_name(acc.id)) is None
