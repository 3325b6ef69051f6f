"""Each triage verdict end to end: the running proxy, three real-flow accounts on the fake
Cloud Code + OAuth, and Google's own error bodies scripted on the fake (issue #15)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Reply
from tests.helpers import FakeClock, make_controller, request
from trayproxy.accounts.cooldown import BARE_COOLDOWN
from trayproxy.cli import format_accounts
from trayproxy.controller import Controller

MODEL = "gemini-3-flash"
EMAILS = ("a@example.com", "b@example.com", "c@example.com")
VERIFY_URL = "https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbtX"


@pytest.fixture()
def world() -> Iterator[tuple[FakeCloudCode, Controller, FakeClock]]:
    fake = FakeCloudCode()
    for email in EMAILS:
        fake.add_account(email, tier="PRO", quota={MODEL: 0.8, "claude-sonnet-4-6": 0.6})
    with fake:
        clock = FakeClock()
        ctl = make_controller(env=fake.env(), clock=clock)
        try:
            for email in EMAILS:
                ctl.add_refresh_token(f"rt-{email}")
            ctl.start()
            yield fake, ctl, clock
        finally:
            ctl.close()


def gen(ctl: Controller, text: str = "hello", *, model: str = MODEL) -> tuple[int, dict[str, str], bytes]:
    return request(ctl.status().port, "POST", f"/v1beta/models/{model}:generateContent",
                   body={"contents": [{"role": "user", "parts": [{"text": text}]}]})


def anthropic(ctl: Controller, text: str = "hello") -> tuple[int, dict[str, str], bytes]:
    return request(ctl.status().port, "POST", "/v1/messages", headers={"anthropic-version": "2023-06-01"},
                   body={"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": text}]})


def email_of(ctl: Controller, headers: dict[str, str]) -> str:
    acc = ctl.store.get(headers["x-trayproxy-account"])
    assert acc is not None
    return acc.email


def acc_id(ctl: Controller, email: str) -> str:
    acc = ctl.store.by_email(email)
    assert acc is not None
    return acc.id


def no_email(body: bytes) -> None:
    assert b"@example.com" not in body, body


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def test_bare_429_storm_that_stops_is_served_again_within_seconds(world) -> None:
    fake, ctl, clock = world
    for email in EMAILS:
        fake.account(email).script(*[Reply.bare_429()] * 2)
    calls0 = len(fake.calls_to())
    s, h, b = gen(ctl, "storm")
    assert s == 503, b  # not a 429: nobody is really out of quota
    assert "no quota details" in json.loads(b)["error"]["message"] and int(h["retry-after"]) <= BARE_COOLDOWN
    no_email(b)
    # one quick retry on each account, and the fan-out stops at two accounts
    assert len(fake.calls_to()) - calls0 == 4
    assert sum(fake.account(e).pending() == 0 for e in EMAILS) == 2
    s, h, b = anthropic(ctl, "storm again")  # the third account takes its share of the storm
    assert s == 503 and json.loads(b)["error"]["type"] == "overloaded_error", b
    # rests are short and flat: nobody is benched for minutes
    for email in EMAILS:
        assert 0 < ctl.pool.cooldown_left(acc_id(ctl, email), MODEL) <= BARE_COOLDOWN
    listed = format_accounts(ctl.list_accounts())
    assert "without details" in listed
    clock.advance(BARE_COOLDOWN + 0.5)  # the storm has stopped: seconds later, served
    s, h, b = gen(ctl, "after the storm")
    assert s == 200, b


def test_quota_exhausted_cools_until_reset_and_an_early_reset_frees_it(world) -> None:
    fake, ctl, clock = world
    s, h, _ = gen(ctl, "conv q")
    a = email_of(ctl, h)
    fake.account(a).set_quota(MODEL, 0.0, reset_in=5 * 3600)  # generation answers QUOTA_EXHAUSTED
    s, h, b = gen(ctl, "conv q")
    assert s == 200 and email_of(ctl, h) != a
    left = ctl.pool.cooldown_left(acc_id(ctl, a), MODEL)
    assert 5 * 3600 - 60 < left <= 5 * 3600  # until the reset Google gave, not an hour cap
    row = {r["email"]: r for r in ctl.list_accounts()}[a]
    assert row["models"][MODEL]["cooldown_kind"] == "quota"
    fake.account(a).set_quota(MODEL, 0.6)  # Google reset the quota early
    assert ctl.engine.call(ctl.accounts.recheck_quota()) >= 1
    assert ctl.pool.cooldown_left(acc_id(ctl, a), MODEL) == 0
    clock.advance(1)
    assert ctl.engine.call(ctl.accounts.recheck_quota()) == 0  # nothing cooling: nothing re-read


def test_short_rate_limit_retries_the_same_account(world) -> None:
    fake, ctl, _ = world
    s, h, _ = gen(ctl, "conv r")
    a = email_of(ctl, h)
    before = fake.account(a).calls
    fake.account(a).script(Reply.error(429, reason="RATE_LIMIT_EXCEEDED", reset_delay="0.3s"))
    s, h, b = gen(ctl, "conv r")
    assert s == 200 and email_of(ctl, h) == a, b
    assert fake.account(a).calls == before + 2


def test_all_accounts_really_limited_is_a_429_with_retry_after(world) -> None:
    fake, ctl, _ = world
    for email, delay in zip(EMAILS, ("50s", "20s", "35s"), strict=True):
        fake.account(email).script(Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay=delay))
    s, h, b = gen(ctl)
    assert s == 429 and int(h["retry-after"]) == 20, b
    no_email(b)
    s, h, b = gen(ctl)  # and while they cool down
    assert s == 429 and 1 <= int(h["retry-after"]) <= 20


def test_capacity_moves_to_the_next_base_url_without_a_cooldown(world) -> None:
    fake, ctl, _ = world
    s, h, _ = gen(ctl, "conv c")
    a = email_of(ctl, h)
    fake.account(a).script(Reply.error(503, reason="MODEL_CAPACITY_EXHAUSTED"))
    s, h, b = gen(ctl, "conv c")
    assert s == 200 and email_of(ctl, h) == a, b
    assert fake.last().host == "daily"
    assert ctl.pool.cooldown_left(acc_id(ctl, a), MODEL) == 0


def test_capacity_everywhere_is_a_503_naming_capacity(world) -> None:
    fake, ctl, _ = world
    for email in EMAILS:
        fake.account(email).script(*[Reply.error(503, reason="MODEL_CAPACITY_EXHAUSTED")] * 6)
    s, h, b = gen(ctl)
    assert s == 503 and "no capacity" in json.loads(b)["error"]["message"], b
    assert all(ctl.pool.cooldown_left(acc_id(ctl, e), MODEL) == 0 for e in EMAILS)


def test_verification_403_pauses_one_account_others_serve_and_the_link_is_shown(world) -> None:
    fake, ctl, clock = world
    s, h, _ = gen(ctl, "conv v")
    a = email_of(ctl, h)
    fake.account(a).require_verification(VERIFY_URL)
    for i in range(6):
        s, h, b = gen(ctl, "conv v" if i == 0 else f"q {i}")
        assert s == 200 and email_of(ctl, h) != a, b
    row = {r["email"]: r for r in ctl.list_accounts()}[a]
    assert row["status"] == "verify" and row["verify"]["url"] == VERIFY_URL and not row["active"]
    listed = format_accounts(ctl.list_accounts())
    assert f"verify: {VERIFY_URL}" in listed and "needs verification" in listed
    assert f"trayproxy accounts retry {acc_id(ctl, a)[:8]}" in listed
    assert ctl.status().active_accounts == 3  # paused, not disabled
    from trayproxy.ui.tray_accounts import attention_lines

    assert (f"\u26a0 {a}: verify the account\u2026", VERIFY_URL) in attention_lines(ctl.list_accounts())
    calls = fake.account(a).calls
    for i in range(3):
        gen(ctl, f"more {i}")
    assert fake.account(a).calls == calls  # paused: not tried again meanwhile
    # the person verifies and presses Retry: the account serves again
    fake.account(a).verify()
    acc = ctl.retry_account(a)
    assert acc.verify_at is None
    assert {r["email"]: r["status"] for r in ctl.list_accounts()}[a] == "active"
    used = {email_of(ctl, gen(ctl, f"after {i}")[1]) for i in range(9)}
    assert a in used


def test_only_accounts_needing_verification_left_is_a_403_with_the_link(world) -> None:
    fake, ctl, _ = world
    for email in EMAILS:
        fake.account(email).require_verification(VERIFY_URL)
    s, h, b = gen(ctl)
    assert s == 403, b
    msg = json.loads(b)["error"]["message"]
    assert VERIFY_URL in msg and "verif" in msg
    no_email(b)
    s, h, b = anthropic(ctl)  # and on the next request, from the pool's state alone
    assert s == 403 and json.loads(b)["error"]["type"] == "permission_error" and VERIFY_URL.encode() in b


def test_service_disabled_disables_with_the_activation_link(world) -> None:
    fake, ctl, _ = world
    s, h, _ = gen(ctl, "conv d")
    a = email_of(ctl, h)
    fake.account(a).script(Reply.error(403, reason="SERVICE_DISABLED"))
    s, h, b = gen(ctl, "conv d")
    assert s == 200 and email_of(ctl, h) != a
    row = {r["email"]: r for r in ctl.list_accounts()}[a]
    assert row["status"] == "disabled" and row["disabled_by"] == "google"
    assert row["disabled_link"].startswith("https://console.developers.google.com/apis/api/cloudaicompanion")
    assert "turned off" in row["state"] and "Retry" in row["todo"]
    ctl.retry_account(a)  # the person turned it on: Retry lifts Google's disable after a check
    assert {r["email"]: r["status"] for r in ctl.list_accounts()}[a] == "active"


def test_licence_refusal_disables_and_other_403_only_rests(world) -> None:
    fake, ctl, _ = world
    s, h, _ = gen(ctl, "conv l")
    a = email_of(ctl, h)
    fake.account(a).script(Reply.error(403, reason="LICENSE"))
    assert gen(ctl, "conv l")[0] == 200
    assert "licence" in {r["email"]: r for r in ctl.list_accounts()}[a]["state"]
    s, h, _ = gen(ctl, "conv m")
    b_email = email_of(ctl, h)
    fake.account(b_email).script(Reply.error(403))
    assert gen(ctl, "conv m")[0] == 200
    row = {r["email"]: r for r in ctl.list_accounts()}[b_email]
    assert row["status"] == "cooling" and "403" in row["state"]


def test_404_on_one_account_fails_over_and_refreshes_its_catalog(world) -> None:
    fake, ctl, _ = world
    s, h, _ = gen(ctl, "conv n")
    a = email_of(ctl, h)
    models_calls = len(fake.account(a).calls_to("fetchAvailableModels"))
    # this account's project lacks the model: every base URL says so
    fake.account(a).script(*[Reply.error(404, message="Requested entity was not found.")] * 3)
    s, h, b = gen(ctl, "conv n")
    assert s == 200 and email_of(ctl, h) != a, b
    assert ctl.pool.cooldown_left(acc_id(ctl, a), MODEL) > 0
    assert ctl.pool.cooldown_left(acc_id(ctl, a), "claude-sonnet-4-6") == 0  # only that model
    wait_for(lambda: len(fake.account(a).calls_to("fetchAvailableModels")) > models_calls)


def test_all_5xx_outage_never_answers_429(world) -> None:
    fake, ctl, clock = world
    for host in ("sandbox", "daily", "prod"):
        fake.host(host).fail_with(503)
    seen = []
    for i in range(4):
        s, h, b = gen(ctl, f"outage {i}") if i % 2 == 0 else anthropic(ctl, f"outage {i}")
        seen.append(s)
        no_email(b)
        assert s in (502, 503), (s, b)
        assert b"rate-limited" not in b and b"out of quota" not in b
        if i == 0:
            assert b"failing" in b or b"unavailable" in b.lower()
    assert 429 not in seen
    for host in ("sandbox", "daily", "prod"):
        fake.host(host).heal()
    clock.advance(61)
    assert gen(ctl, "healed")[0] == 200


def test_unreachable_upstream_is_a_network_error_not_a_429(world) -> None:
    fake, ctl, _ = world
    for host in ("sandbox", "daily", "prod"):
        fake.host(host).drop_connections()
    for _ in range(2):
        s, h, b = gen(ctl)
        assert s in (502, 503, 504) and (b"could not be reached" in b or b"failing" in b), (s, b)


def test_bad_signature_with_no_thinking_to_remove_goes_to_the_client(world) -> None:
    # The retry without earlier thinking (tests/proxy/test_claude_strict.py) only runs when there
    # is thinking to remove; otherwise the upstream's 400 reaches the client, once, unchanged.
    fake, ctl, _ = world
    s, h, _ = gen(ctl, "conv s")
    a = email_of(ctl, h)
    fake.account(a).script(Reply.bad_signature())
    before = len(fake.calls_to("streamGenerateContent"))
    s, h, b = gen(ctl, "conv s")
    assert s == 400 and b"signature" in b
    assert len(fake.calls_to("streamGenerateContent")) - before == 1


def test_never_onboarded_account_is_onboarded_at_add_and_serves_with_its_new_project(world, capsys) -> None:
    fake, ctl, _ = world
    fake.add_account("new@example.com", project=None, quota={MODEL: 0.9})
    ctl.accounts.onboard_interval = 0.01
    acc = ctl.add_refresh_token("rt-new@example.com")
    project = fake.account("new@example.com").project
    assert acc.project == project and project and acc.tier == "Gemini Code Assist for individuals"
    for email in EMAILS:
        ctl.set_account_enabled(email, False)
    s, h, b = gen(ctl, "first words")
    assert s == 200 and email_of(ctl, h) == "new@example.com", b
    assert fake.last().body["project"] == project
    assert "disabled by you" in format_accounts(ctl.list_accounts())


def test_unreachable_token_endpoint_is_reported_as_network_trouble(world) -> None:
    fake, ctl, _ = world
    fake.token_unreachable = True
    for acc in ctl.store.all():
        ctl.accounts.forget_token(acc.id)
    s, h, b = gen(ctl, "no tokens")
    assert s in (502, 503), b
    msg = json.loads(b)["error"]["message"]
    assert "token endpoint could not be reached" in msg and "revoked" not in msg and "rejected" not in msg
    no_email(b)
    assert all(not a.disabled for a in ctl.store.all())  # nothing is disabled for a network failure
    fake.token_unreachable = False
    ctl.pool.clear_cooldowns()
    assert gen(ctl, "tokens again")[0] == 200


def test_sdks_get_the_right_error_classes(world) -> None:
    import anthropic
    import openai

    fake, ctl, clock = world
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


def test_a_model_no_account_serves_stays_a_404(world) -> None:
    fake, ctl, _ = world
    for _ in range(3):
        s, h, b = gen(ctl, "x", model="gemini-9-missing")
        assert s == 404 and json.loads(b)["error"]["status"] == "NOT_FOUND", b


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
