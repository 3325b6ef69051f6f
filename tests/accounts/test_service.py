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


def test_never_onboarded_account_is_onboarded_to_the_free_tier(world) -> None:
    fake, ctl, _ = world
    ctl.accounts.onboard_interval = 0.01
    acc = ctl.add_refresh_token("rt-lost@example.com")
    lost = fake.account("lost@example.com")
    assert acc.onboarded and acc.project == lost.project and acc.project
    assert acc.tier == "Gemini Code Assist for individuals" and acc.onboarded_at is not None
    calls = fake.calls_to("onboardUser")
    assert len(calls) == 2  # the operation said done: false once, then done: true
    assert calls[0].body == {"tierId": "free-tier", "metadata": {
        "ideType": "ANTIGRAVITY", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}}
    # and from then on loadCodeAssist knows the project
    assert {a.email: err for a, err in ctl.refresh_accounts()}["lost@example.com"] is None
    assert fake.calls_to("fetchAvailableModels")[-1].body == {"project": acc.project}


def test_ineligible_account_shows_googles_reason_and_link(world) -> None:
    fake, ctl, _ = world
    lost = fake.account("lost@example.com")
    lost.make_ineligible("This account is not eligible: verify your age first.",
                         validation_url="https://accounts.google.com/speedbump/ageverification")
    with pytest.raises(AccountError) as ei:
        ctl.add_refresh_token("rt-lost@example.com")
    msg = str(ei.value)
    assert "verify your age first" in msg and "https://accounts.google.com/speedbump/ageverification" in msg
    assert not fake.calls_to("onboardUser")  # the only tier left needs a Cloud project of the user's own
    row = {a["email"]: a for a in ctl.list_accounts()}["lost@example.com"]
    assert row["status"] == "verify" and row["verify"]["url"] == "https://accounts.google.com/speedbump/ageverification"


def test_unreachable_token_endpoint_is_a_network_error_not_a_rejection(world) -> None:
    from tests.conftest import free_port

    fake, _, clock = world
    env = {**fake.env(), "TRAYPROXY_OAUTH_TOKEN_URL": f"http://127.0.0.1:{free_port()}/token"}
    ctl = make_controller(env=env, clock=clock)
    try:
        with pytest.raises(AccountError) as ei:
            ctl.add_refresh_token("rt-a@example.com")
        msg = str(ei.value)
        assert "could not be reached" in msg and "rejected" not in msg and "not checked" in msg
        assert "internet connection" in msg or "refused" in msg
    finally:
        ctl.close()


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


def test_background_refresh_keeps_a_verification_pause_explicit_refresh_ends_it(world) -> None:
    _, ctl, _ = world
    acc = ctl.add_refresh_token("rt-a@example.com")
    ctl.pool.pause_for_verification(acc.id, link="https://accounts.google.com/v", link_text=None, message="verify")
    ctl.engine.call(ctl.accounts.refresh_all(resume=False))  # what the quota loop does
    assert ctl.store.get(acc.id).verify_at is not None  # type: ignore[union-attr]
    ctl.refresh_accounts()  # the person pressed Refresh after verifying
    assert ctl.store.get(acc.id).verify_at is None  # type: ignore[union-attr]
