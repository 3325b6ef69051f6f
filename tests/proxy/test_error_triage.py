"""Each triage verdict end to end: the proxy's app in the test's loop, three real-flow accounts on
the fake Cloud Code + OAuth (served in the same loop), and Google's own error bodies scripted on
the fake (issue #15). The proxy's clock is a FakeClock: its waits before retrying the same
account move that clock instead of taking real time. The SDK and Claude Code tests run against
the real running proxy (they need a port)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Reply
from tests.helpers import FakeClock, make_controller
from tests.proxy.app_stack import AppStack, app_stack
from trayproxy.accounts.cooldown import BARE_COOLDOWN, BARE_RETRY_DELAY
from trayproxy.cli import format_accounts
from trayproxy.controller import Controller

MODEL = "gemini-3-flash"
EMAILS = ("a@example.com", "b@example.com", "c@example.com")
VERIFY_URL = "https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbtX"


def make_fake() -> FakeCloudCode:
    fake = FakeCloudCode()
    for email in EMAILS:
        fake.add_account(email, tier="PRO", quota={MODEL: 0.8, "claude-sonnet-4-6": 0.6})
    return fake


@pytest.fixture()
async def world(tmp_path: Path) -> AsyncIterator[tuple[FakeCloudCode, AppStack, FakeClock]]:
    fake, clock = make_fake(), FakeClock()
    async with app_stack(tmp_path, fake=fake, clock=clock, emails=EMAILS) as s:
        yield fake, s, clock


@pytest.fixture()
def running_world() -> Iterator[tuple[FakeCloudCode, Controller, FakeClock]]:
    """The same world on a started Controller, for clients that need a port."""
    fake = make_fake()
    with fake:
        clock = FakeClock()
        ctl = make_controller(env=fake.env(), clock=clock)
        ctl.ctx.sleep = clock.sleep  # the waits before retrying an account move the clock
        try:
            for email in EMAILS:
                ctl.add_refresh_token(f"rt-{email}")
            ctl.start()
            yield fake, ctl, clock
        finally:
            ctl.close()


async def gen(s: AppStack, text: str = "hello", *, model: str = MODEL) -> tuple[int, dict[str, str], bytes]:
    return await s.post(f"/v1beta/models/{model}:generateContent",
                        {"contents": [{"role": "user", "parts": [{"text": text}]}]})


async def anthropic(s: AppStack, text: str = "hello") -> tuple[int, dict[str, str], bytes]:
    return await s.post("/v1/messages", {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": text}]},
                        headers={"anthropic-version": "2023-06-01"})


def email_of(s: AppStack, headers: dict[str, str]) -> str:
    acc = s.store.get(headers["x-trayproxy-account"])
    assert acc is not None
    return acc.email


def acc_id(s: AppStack, email: str) -> str:
    return s.account(email).id


def no_email(body: bytes) -> None:
    assert b"@example.com" not in body, body


async def test_bare_429_storm_that_stops_is_served_again_within_seconds(world) -> None:
    fake, s, clock = world
    for email in EMAILS:
        fake.account(email).script(*[Reply.bare_429()] * 2)
    calls0 = len(fake.calls_to())
    st, h, b = await gen(s, "storm")
    assert st == 503, b  # not a 429: nobody is really out of quota
    assert "no quota details" in json.loads(b)["error"]["message"] and int(h["retry-after"]) <= BARE_COOLDOWN
    no_email(b)
    # one quick retry on each account, and the fan-out stops at two accounts
    assert len(fake.calls_to()) - calls0 == 4
    assert clock.slept == [BARE_RETRY_DELAY] * 2
    assert sum(fake.account(e).pending() == 0 for e in EMAILS) == 2
    st, h, b = await anthropic(s, "storm again")  # the third account takes its share of the storm
    assert st == 503 and json.loads(b)["error"]["type"] == "overloaded_error", b
    # rests are short and flat: nobody is benched for minutes
    for email in EMAILS:
        assert 0 < s.pool.cooldown_left(acc_id(s, email), MODEL) <= BARE_COOLDOWN
    listed = format_accounts(s.account_views())
    assert "without details" in listed
    clock.advance(BARE_COOLDOWN + 0.5)  # the storm has stopped: seconds later, served
    st, h, b = await gen(s, "after the storm")
    assert st == 200, b


async def test_quota_exhausted_cools_until_reset_and_an_early_reset_frees_it(world) -> None:
    fake, s, clock = world
    st, h, _ = await gen(s, "conv q")
    a = email_of(s, h)
    fake.account(a).set_quota(MODEL, 0.0, reset_in=5 * 3600)  # generation answers QUOTA_EXHAUSTED
    st, h, b = await gen(s, "conv q")
    assert st == 200 and email_of(s, h) != a
    left = s.pool.cooldown_left(acc_id(s, a), MODEL)
    assert 5 * 3600 - 60 < left <= 5 * 3600  # until the reset Google gave, not an hour cap
    row = {r["email"]: r for r in s.account_views()}[a]
    assert row["models"][MODEL]["cooldown_kind"] == "quota"
    fake.account(a).set_quota(MODEL, 0.6)  # Google reset the quota early
    # what the Controller's re-check loop runs every minute
    assert await s.accounts.recheck_quota() >= 1
    assert s.pool.cooldown_left(acc_id(s, a), MODEL) == 0
    clock.advance(1)
    assert await s.accounts.recheck_quota() == 0  # nothing cooling: nothing re-read


async def test_short_rate_limit_retries_the_same_account(world) -> None:
    fake, s, clock = world
    st, h, _ = await gen(s, "conv r")
    a = email_of(s, h)
    before = fake.account(a).calls
    fake.account(a).script(Reply.error(429, reason="RATE_LIMIT_EXCEEDED", reset_delay="0.3s"))
    st, h, b = await gen(s, "conv r")
    assert st == 200 and email_of(s, h) == a, b
    assert fake.account(a).calls == before + 2
    assert clock.slept == [0.3]  # after the delay Google asked for


async def test_all_accounts_really_limited_is_a_429_with_retry_after(world) -> None:
    fake, s, _ = world
    for email, delay in zip(EMAILS, ("50s", "20s", "35s"), strict=True):
        fake.account(email).script(Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay=delay))
    st, h, b = await gen(s)
    assert st == 429 and int(h["retry-after"]) == 20, b
    no_email(b)
    st, h, b = await gen(s)  # and while they cool down
    assert st == 429 and 1 <= int(h["retry-after"]) <= 20


async def test_capacity_moves_to_the_next_base_url_without_a_cooldown(world) -> None:
    fake, s, _ = world
    st, h, _ = await gen(s, "conv c")
    a = email_of(s, h)
    fake.account(a).script(Reply.error(503, reason="MODEL_CAPACITY_EXHAUSTED"))
    st, h, b = await gen(s, "conv c")
    assert st == 200 and email_of(s, h) == a, b
    assert fake.last().host == "prod"  # daily (first) had no capacity
    assert s.pool.cooldown_left(acc_id(s, a), MODEL) == 0


async def test_capacity_everywhere_is_a_503_naming_capacity(world) -> None:
    fake, s, _ = world
    for email in EMAILS:
        fake.account(email).script(*[Reply.error(503, reason="MODEL_CAPACITY_EXHAUSTED")] * 6)
    st, h, b = await gen(s)
    assert st == 503 and "no capacity" in json.loads(b)["error"]["message"], b
    assert all(s.pool.cooldown_left(acc_id(s, e), MODEL) == 0 for e in EMAILS)


async def test_verification_403_pauses_one_account_others_serve_and_the_link_is_shown(world) -> None:
    fake, s, clock = world
    st, h, _ = await gen(s, "conv v")
    a = email_of(s, h)
    fake.account(a).require_verification(VERIFY_URL)
    for i in range(6):
        st, h, b = await gen(s, "conv v" if i == 0 else f"q {i}")
        assert st == 200 and email_of(s, h) != a, b
    row = {r["email"]: r for r in s.account_views()}[a]
    assert row["status"] == "verify" and row["verify"]["url"] == VERIFY_URL and not row["active"]
    listed = format_accounts(s.account_views())
    assert f"verify: {VERIFY_URL}" in listed and "needs verification" in listed
    assert f"trayproxy accounts retry {acc_id(s, a)[:8]}" in listed
    assert s.pool.active_count() == 3  # paused, not disabled
    from trayproxy.ui.tray_accounts import attention_lines

    assert (f"\u26a0 {a}: Google asks you to verify this account", VERIFY_URL) in attention_lines(s.account_views())
    calls = fake.account(a).calls
    for i in range(3):
        await gen(s, f"more {i}")
    assert fake.account(a).calls == calls  # paused: not tried again meanwhile
    # the person verifies and presses Retry: the account serves again
    fake.account(a).verify()
    acc = await s.accounts.retry(s.account(a))
    assert acc.verify_at is None
    assert {r["email"]: r["status"] for r in s.account_views()}[a] == "active"
    used = {email_of(s, (await gen(s, f"after {i}"))[1]) for i in range(9)}
    assert a in used


async def test_only_accounts_needing_verification_left_is_a_403_with_the_link(world) -> None:
    fake, s, _ = world
    for email in EMAILS:
        fake.account(email).require_verification(VERIFY_URL)
    st, h, b = await gen(s)
    assert st == 403, b
    msg = json.loads(b)["error"]["message"]
    assert VERIFY_URL in msg and "verif" in msg
    no_email(b)
    st, h, b = await anthropic(s)  # and on the next request, from the pool's state alone
    assert st == 403 and json.loads(b)["error"]["type"] == "permission_error" and VERIFY_URL.encode() in b


async def test_service_disabled_disables_with_the_activation_link(world) -> None:
    fake, s, _ = world
    st, h, _ = await gen(s, "conv d")
    a = email_of(s, h)
    fake.account(a).script(Reply.error(403, reason="SERVICE_DISABLED"))
    st, h, b = await gen(s, "conv d")
    assert st == 200 and email_of(s, h) != a
    row = {r["email"]: r for r in s.account_views()}[a]
    assert row["status"] == "disabled" and row["disabled_by"] == "google"
    assert row["disabled_link"].startswith("https://console.developers.google.com/apis/api/cloudaicompanion")
    assert "turned off" in row["state"] and "Retry" in row["todo"]
    await s.accounts.retry(s.account(a))  # the person turned it on: Retry lifts Google's disable after a check
    assert {r["email"]: r["status"] for r in s.account_views()}[a] == "active"


async def test_licence_refusal_disables_and_other_403_only_rests(world) -> None:
    fake, s, _ = world
    st, h, _ = await gen(s, "conv l")
    a = email_of(s, h)
    fake.account(a).script(Reply.error(403, reason="LICENSE"))
    assert (await gen(s, "conv l"))[0] == 200
    assert "licence" in {r["email"]: r for r in s.account_views()}[a]["state"]
    st, h, _ = await gen(s, "conv m")
    b_email = email_of(s, h)
    fake.account(b_email).script(Reply.error(403))
    assert (await gen(s, "conv m"))[0] == 200
    row = {r["email"]: r for r in s.account_views()}[b_email]
    assert row["status"] == "cooling" and "403" in row["state"]


async def test_404_on_one_account_fails_over_and_refreshes_its_catalog(world) -> None:
    fake, s, _ = world
    st, h, _ = await gen(s, "conv n")
    a = email_of(s, h)
    models_calls = len(fake.account(a).calls_to("fetchAvailableModels"))
    # this account's project lacks the model: every base URL says so
    fake.account(a).script(*[Reply.error(404, message="Requested entity was not found.")] * 3)
    st, h, b = await gen(s, "conv n")
    assert st == 200 and email_of(s, h) != a, b
    assert s.pool.cooldown_left(acc_id(s, a), MODEL) > 0
    assert s.pool.cooldown_left(acc_id(s, a), "claude-sonnet-4-6") == 0  # only that model
    # the catalog was re-read before the request went on to the next account
    assert len(fake.account(a).calls_to("fetchAvailableModels")) > models_calls


async def test_all_5xx_outage_never_answers_429(world) -> None:
    fake, s, clock = world
    for host in ("sandbox", "daily", "prod"):
        fake.host(host).fail_with(503)
    seen = []
    for i in range(4):
        st, h, b = await gen(s, f"outage {i}") if i % 2 == 0 else await anthropic(s, f"outage {i}")
        seen.append(st)
        no_email(b)
        assert st in (502, 503), (st, b)
        assert b"rate-limited" not in b and b"out of quota" not in b
        if i == 0:
            assert b"failing" in b or b"unavailable" in b.lower()
    assert 429 not in seen
    for host in ("sandbox", "daily", "prod"):
        fake.host(host).heal()
    clock.advance(61)
    assert (await gen(s, "healed"))[0] == 200


async def test_unreachable_upstream_is_a_network_error_not_a_429(world) -> None:
    fake, s, _ = world
    for host in ("sandbox", "daily", "prod"):
        fake.host(host).drop_connections()
    for _ in range(2):
        st, h, b = await gen(s)
        assert st in (502, 503, 504) and (b"could not be reached" in b or b"failing" in b), (st, b)


async def test_bad_signature_with_no_thinking_to_remove_goes_to_the_client(world) -> None:
    # The retry without earlier thinking (tests/proxy/test_claude_strict.py) only runs when there
    # is thinking to remove; otherwise the upstream's 400 reaches the client, once, unchanged.
    fake, s, _ = world
    st, h, _ = await gen(s, "conv s")
    a = email_of(s, h)
    fake.account(a).script(Reply.bad_signature())
    before = len(fake.calls_to("streamGenerateContent"))
    st, h, b = await gen(s, "conv s")
    assert st == 400 and b"signature" in b
    assert len(fake.calls_to("streamGenerateContent")) - before == 1


async def test_never_onboarded_account_is_onboarded_at_add_and_serves_with_its_new_project(world) -> None:
    fake, s, clock = world
    fake.add_account("new@example.com", project=None, quota={MODEL: 0.9})
    acc = await s.accounts.add_refresh_token("rt-new@example.com")
    project = fake.account("new@example.com").project
    assert acc.project == project and project and acc.tier == "Gemini Code Assist for individuals"
    for email in EMAILS:
        s.accounts.set_enabled(s.account(email), False)
    st, h, b = await gen(s, "first words")
    assert st == 200 and email_of(s, h) == "new@example.com", b
    assert fake.last().body["project"] == project
    assert "Disabled by you" in format_accounts(s.account_views())


async def test_unreachable_token_endpoint_is_reported_as_network_trouble(world) -> None:
    fake, s, _ = world
    fake.token_unreachable = True
    for acc in s.store.all():
        s.accounts.forget_token(acc.id)
    st, h, b = await gen(s, "no tokens")
    assert st in (502, 503), b
    msg = json.loads(b)["error"]["message"]
    assert "token endpoint could not be reached" in msg and "revoked" not in msg and "rejected" not in msg
    no_email(b)
    assert all(not a.disabled for a in s.store.all())  # nothing is disabled for a network failure
    fake.token_unreachable = False
    s.pool.clear_cooldowns()
    assert (await gen(s, "tokens again"))[0] == 200


def test_sdks_get_the_right_error_classes(running_world) -> None:
    import anthropic
    import openai

    fake, ctl, clock = running_world
    base = ctl.status().base_url
    ant = anthropic.Anthropic(base_url=base, api_key="sk-unused-local", max_retries=0)
    oai = openai.OpenAI(base_url=base + "/v1", api_key="sk-unused-local", max_retries=0)
    msgs = [{"role": "user", "content": "hi"}]
    # an outage is a server error, never a rate limit
    for host in ("sandbox", "daily", "prod"):
        fake.host(host).fail_with(500)
    with pytest.raises(anthropic.InternalServerError):
        ant.messages.create(model=MODEL, max_tokens=32, messages=msgs)  # type: ignore[arg-type]
    with pytest.raises(openai.InternalServerError):
        oai.chat.completions.create(model=MODEL, messages=msgs)  # type: ignore[arg-type]
    for host in ("sandbox", "daily", "prod"):
        fake.host(host).heal()
    clock.advance(61)
    # every account really out of quota: a rate limit with Retry-After
    for email in EMAILS:
        fake.account(email).script(Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay="40s"))
    with pytest.raises(openai.RateLimitError) as rl:
        oai.chat.completions.create(model=MODEL, messages=msgs)  # type: ignore[arg-type]
    assert 1 <= int(rl.value.response.headers["retry-after"]) <= 40
    clock.advance(41)
    # only accounts needing verification left: permission denied, with the link
    for email in EMAILS:
        fake.account(email).require_verification(VERIFY_URL)
    with pytest.raises(anthropic.PermissionDeniedError) as pd:
        ant.messages.create(model=MODEL, max_tokens=32, messages=msgs)  # type: ignore[arg-type]
    assert VERIFY_URL in str(pd.value) and "@example.com" not in str(pd.value)


async def test_a_model_no_account_serves_stays_a_404(world) -> None:
    fake, s, _ = world
    for _ in range(3):
        st, h, b = await gen(s, "x", model="gemini-9-missing")
        assert st == 404 and json.loads(b)["error"]["status"] == "NOT_FOUND", b


@pytest.mark.npm
def test_claude_code_rides_out_a_bare_429_storm(tmp_path) -> None:
    """Claude Code itself, through a storm of bare 429s on every account that then stops: the
    accounts rest seconds, not minutes, and the same `claude -p` run gets its answer."""
    import os
    import subprocess

    from tests.clients import find_cli

    claude = find_cli("claude")
    fake = FakeCloudCode()
    fake.strict_models = False
    for email in ("a@example.com", "b@example.com"):
        fake.add_account(email, quota={MODEL: 0.9, "claude-sonnet-4-6": 0.9})
    with fake:
        ctl = make_controller(env=fake.env())  # the real clock: rests really pass
        try:
            for email in ("a@example.com", "b@example.com"):
                ctl.add_refresh_token(f"rt-{email}")
                fake.account(email).script(*[Reply.bare_429()] * 3)
            ctl.start()
            home, work = tmp_path / "claude-home", tmp_path / "work"
            home.mkdir()
            work.mkdir()
            env = {**os.environ, "HOME": str(home), "ANTHROPIC_BASE_URL": ctl.status().base_url,
                   "ANTHROPIC_API_KEY": ctl.api_key(), "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1",
                   "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "NO_COLOR": "1"}
            started = time.monotonic()
            p = subprocess.run([claude, "-p", "Say storm-over", "--output-format", "json"], cwd=work, env=env,
                               capture_output=True, text=True, timeout=240)
            elapsed = time.monotonic() - started
            out = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
            assert p.returncode == 0 and not out.get("is_error"), (p.stdout[-2000:], p.stderr[-2000:])
            assert "storm-over" in out["result"]
            bare = [r for r in fake.calls_to() if r.status == 429]
            assert len(bare) >= 4  # the client's first tries met the storm on both accounts, then it was served
            assert elapsed < 120, elapsed  # seconds of rest, where doubling cooldowns took minutes
            print(f"claude -p through the storm: {elapsed:.1f} s, {len(bare)} bare 429s")
            assert all(not a.disabled for a in ctl.store.all())
        finally:
            ctl.close()
