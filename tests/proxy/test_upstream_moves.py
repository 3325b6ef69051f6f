"""Google's upstream as of September 2026 through the whole request path (issue #26): the proxy's
app in the test's loop over the fake Cloud Code (its default catalog is September 2026's), each
behaviour of upstream-as-it-is §7 asserted from what the fake received.

- tiered Flash ids get thinkingLevel (from the name, reasoning_effort, Anthropic's budget, a
  Gemini client's own config), never both fields;
- an account the quota summary shows weekly-spent gets no request at all; a quota rest ends early
  only when both windows have quota;
- a retired model's notice inside a 200 gives the client the replacement's answer; a refused
  client version is one alarm and an error in the client's own shape, never an answer;
- the daily host first, each host's catalog kept apart, capacity moves to the next host;
- the error variants, AI credits, countTokens' `models/<id>`, Claude's VALIDATED calling.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Reply
from tests.helpers import FakeClock
from tests.proxy.app_stack import AppStack, app_stack

EMAILS = ("a@example.com", "b@example.com")
HOUR = 3600.0


def fake_with(*emails: str) -> FakeCloudCode:
    fake = FakeCloudCode()
    for e in emails:
        fake.add_account(e, tier="PRO")
    return fake


@pytest.fixture()
async def world(tmp_path: Path) -> AsyncIterator[tuple[FakeCloudCode, AppStack]]:
    fake = fake_with(*EMAILS)
    async with app_stack(tmp_path, fake=fake, clock=FakeClock(), emails=EMAILS) as s:
        yield fake, s


def chat(model: str, text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def generations(fake: FakeCloudCode) -> list[Any]:
    return fake.calls_to(("streamGenerateContent", "generateContent"))


def thinking(rec: Any) -> dict[str, Any]:
    return dict(rec.body["request"].get("generationConfig", {}).get("thinkingConfig", {}))


# -- thinking levels ---------------------------------------------------------------------------------


async def test_tiered_ids_get_a_level_from_every_source_and_never_a_budget(world: Any) -> None:
    fake, s = world
    cases: list[tuple[str, dict[str, Any], str | None]] = [
        ("/v1/chat/completions", chat("gemini-3.8-flash-high"), "HIGH"),  # the name
        ("/v1/chat/completions", chat("gemini-3.8-flash-tiered", reasoning_effort="low"), "LOW"),
        ("/v1/chat/completions", chat("gemini-3.8-flash-high", reasoning_effort="low"), "HIGH"),  # name wins
        ("/v1/responses", {"model": "gemini-3.7-flash-tiered", "input": "hi", "reasoning": {"effort": "medium"}},
         "MEDIUM"),
        ("/v1/messages", {"model": "gemini-3.8-flash-tiered", "max_tokens": 32000, "messages": [
            {"role": "user", "content": "hi"}], "thinking": {"type": "enabled", "budget_tokens": 30000}}, "HIGH"),
        ("/v1beta/models/gemini-3.8-flash-tiered:generateContent", {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"thinkingConfig": {"thinkingLevel": "low", "thinkingBudget": 24576}}}, "LOW"),
        ("/v1/chat/completions", chat("gemini-3.8-flash-tiered"), None),  # nothing asked: Google's default
    ]
    for path, body, level in cases:
        st, h, b = await s.post(path, body)
        assert st == 200, (path, body, b)
        tc = thinking(fake.last())
        assert fake.last().body["model"].endswith("-tiered") and "thinkingBudget" not in tc, (body, tc)
        assert tc.get("thinkingLevel") == level, (body, tc)
    # a level a Gemini client sends to a model that takes a budget becomes a budget
    st, _, b = await s.post("/v1beta/models/gemini-3.1-pro-low:generateContent", {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"thinkingConfig": {"thinkingLevel": "HIGH"}}})
    assert st == 200, b
    assert thinking(fake.last()) == {"thinkingBudget": 24576}
    # never once was a suffixed id sent where only the tiered one exists
    assert not [r for r in generations(fake) if r.body["model"] in ("gemini-3.8-flash-high", "gemini-3.8-flash-low")]


# -- both quota windows ------------------------------------------------------------------------------


async def test_no_request_reaches_an_account_the_summary_shows_weekly_spent(tmp_path: Path) -> None:
    fake = fake_with(*EMAILS)
    spent = fake.account("a@example.com")
    spent.set_window("gemini", "weekly", 0.0, reset_in=150 * HOUR)  # fetchAvailableModels still says 100 %
    async with app_stack(tmp_path, fake=fake, clock=FakeClock(), emails=EMAILS) as s:
        for i in range(12):
            st, h, b = await s.post("/v1/chat/completions", chat("gemini-3-flash", f"conversation {i}"))
            assert st == 200 and s.store.get(h["x-trayproxy-account"]).email == "b@example.com", b  # type: ignore[union-attr]
        st, _, _ = await s.post("/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 100,
                                                  "messages": [{"role": "user", "content": "hi"}]})
        assert st == 200
        assert not [r for r in generations(fake) if r.account == "a@example.com" and "gemini" in r.body["model"]]
        assert spent.calls_to("retrieveUserQuotaSummary")[0].body == {"project": "proj-a"}
        view = next(v for v in s.account_views() if v["email"] == "a@example.com")
        gemini = next(w for w in view["windows"] if w["family"] == "gemini")
        assert gemini["weekly"]["remaining"] == 0.0 and gemini["five_hour"]["remaining"] == 1.0
        assert gemini["spent_until"] is not None and gemini["group"] == "Gemini Models"
        # the only account left spent too: a 429 naming the wait, still without a request to it
        fake.account("b@example.com").set_window("gemini", "5h", 0.0, reset_in=2 * HOUR)
        await s.accounts.refresh_all()
        before = len(generations(fake))
        st, h, b = await s.post("/v1/chat/completions", chat("gemini-3-flash"))
        assert st == 429 and len(generations(fake)) == before, b
        assert 1.9 * HOUR < int(h["retry-after"]) <= 2 * HOUR + 1


async def test_a_quota_rest_ends_early_only_when_both_windows_have_quota(tmp_path: Path) -> None:
    fake, clock = fake_with("a@example.com"), FakeClock()
    acc = fake.account("a@example.com")
    async with app_stack(tmp_path, fake=fake, clock=clock, emails=("a@example.com",)) as s:
        acc.set_window("gemini", "weekly", 0.0, reset_in=150 * HOUR)  # spent after the summary was read
        st, h, b = await s.post("/v1/chat/completions", chat("gemini-3-flash"))
        assert st == 429, b  # Google's 429 says days: the weekly window is learned spent
        me = s.store.all()[0]
        assert 149 * HOUR < s.pool.cooldown_left(me.id, "gemini-3-flash") <= 150 * HOUR
        calls = len(generations(fake))
        st, _, _ = await s.post("/v1/chat/completions", chat("gemini-3.1-pro-low"))  # a sibling of the group
        assert st == 429 and len(generations(fake)) == calls  # known spent: not tried
        clock.advance(700)
        assert await s.accounts.recheck_quota() == 1  # the catalog says 100 % (5 h) but weekly is empty
        assert s.pool.cooldown_left(me.id, "gemini-3-flash") > 100 * HOUR
        acc.set_window("gemini", "weekly", 0.4)  # Google reset it early
        clock.advance(700)
        assert await s.accounts.recheck_quota() == 1
        assert s.pool.cooldown_left(me.id, "gemini-3-flash") == 0
        st, _, b = await s.post("/v1/chat/completions", chat("gemini-3-flash"))
        assert st == 200, b


async def test_an_omitted_fraction_is_unknown_not_used_up(tmp_path: Path) -> None:
    fake = fake_with("free@example.com")
    free = fake.account("free@example.com")
    free.quota_unreported_fraction.add("claude-sonnet-4-6")
    free.set_window("3p", "5h", None)
    async with app_stack(tmp_path, fake=fake, clock=FakeClock(), emails=("free@example.com",)) as s:
        view = s.account_views()[0]
        assert view["models"]["claude-sonnet-4-6"]["remaining"] is None
        third = next(w for w in view["windows"] if w["family"] == "3p")
        assert third["five_hour"]["remaining"] is None and third["spent_until"] is None
        st, _, b = await s.post("/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 50,
                                                  "messages": [{"role": "user", "content": "hi"}]})
        assert st == 200, b


# -- refusals inside a 200 ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_a_retired_models_notice_gives_the_replacements_answer(world: Any, stream: bool) -> None:
    fake, s = world
    st, h, b = await s.post("/v1/chat/completions", chat("gemini-3.5-flash-low", "what is 2+2", stream=stream))
    assert st == 200 and h["x-trayproxy-model"] == "gemini-3.7-flash-tiered", b
    if stream:
        text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                       for line in b.decode().split("\n\n") if line.startswith("data: {"))
    else:
        text = json.loads(b)["choices"][0]["message"]["content"]
    assert text == "Echo: what is 2+2" and "no longer available" not in b.decode()
    sent = [r.body["model"] for r in generations(fake)]
    assert sent == ["gemini-3.5-flash-low", "gemini-3.7-flash-tiered"]
    assert fake.calls_to("fetchAvailableModels")[-1].time >= generations(fake)[0].time  # the catalog was re-read
    for acc in s.store.all():  # every account forwards it now, and lists it no more
        assert acc.retired == {"gemini-3.5-flash-low": "gemini-3.7-flash-tiered"}
        assert "gemini-3.5-flash-low" not in acc.models
    st, _, _ = await s.post("/v1/chat/completions", chat("gemini-3.5-flash-low", "again"))
    assert st == 200 and [r.body["model"] for r in generations(fake)][-1] == "gemini-3.7-flash-tiered"
    assert [r.body["model"] for r in generations(fake)].count("gemini-3.5-flash-low") == 1


@pytest.mark.parametrize("path,body,shape", [
    ("/v1/chat/completions", chat("gemini-3-flash", stream=True), "openai"),
    ("/v1/responses", {"model": "gemini-3-flash", "input": "hi", "stream": True}, "openai"),
    ("/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 50, "stream": True,
                      "messages": [{"role": "user", "content": "hi"}]}, "anthropic"),
    ("/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse",
     {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, "gemini"),
])
async def test_a_refused_version_is_one_alarm_and_an_error_in_the_clients_shape(
        world: Any, path: str, body: dict[str, Any], shape: str) -> None:
    fake, s = world
    fake.refuse_versions_below("3.0.0")
    st, h, b = await s.post(path, body)
    assert st == 503 and not h.get("content-type", "").startswith("text/event-stream"), b
    err = json.loads(b)
    text = json.dumps(err)
    assert "no longer supported" in text and "client version" in text and "2.9.1" in text
    if shape == "anthropic":
        assert err["type"] == "error" and err["error"]["type"]
    elif shape == "gemini":
        assert err["error"]["code"] == 503 and err["error"]["status"]
    else:
        assert err["error"]["message"]
    alarm = s.ctx.identity.alarm
    assert alarm is not None and alarm.kind == "refused" and alarm.version == "2.9.1"
    await s.post(path, body)
    assert s.ctx.identity.alarm is alarm  # one alarm, not one per request
    # the alarm looked for a newer version at once; the updater now has one: the next request works
    await s.ctx.identity.settled()
    assert [r for r in fake.requests if r.rpc == "updater.manifest"]
    fake.updater_version = "3.0.2"
    assert await s.ctx.identity.refresh() == "3.0.2"
    assert s.ctx.identity.alarm is None
    st, _, b = await s.post(path, body)
    assert st == 200 and b"no longer supported" not in b, b
    assert generations(fake)[-1].header("User-Agent") == "antigravity/hub/3.0.2 darwin/arm64"


async def test_the_newest_ids_gone_after_a_404_is_the_version_gate(world: Any) -> None:
    fake, s = world
    s.configure("client_version", "2.2.1")  # below Google's gate: the catalogs read before are stale now
    st, h, b = await s.post("/v1/chat/completions", chat("gemini-3.8-flash-high"))
    assert st == 200, b  # served by the newest flash this client version may use
    assert h["x-trayproxy-model"] not in ("gemini-3.8-flash-tiered", "gemini-3.7-flash-tiered")
    alarm = s.ctx.identity.alarm
    assert alarm is not None and alarm.kind == "gated" and alarm.model == "gemini-3.8-flash-tiered"
    assert generations(fake)[0].header("User-Agent") == "antigravity/hub/2.2.1 darwin/arm64"


# -- hosts -------------------------------------------------------------------------------------------


async def test_the_daily_host_first_and_each_hosts_catalog_kept_apart(tmp_path: Path) -> None:
    fake = fake_with("a@example.com")
    async with app_stack(tmp_path, fake=fake, clock=FakeClock(), emails=("a@example.com",)) as s:
        acc = s.store.all()[0]
        assert acc.catalog_host is not None and acc.catalog_host.endswith("/daily/v1internal")
        assert "gemini-3.8-flash-tiered" in acc.models  # served on daily first
        st, h, _ = await s.post("/v1/chat/completions", chat("gemini-3.8-flash-high"))
        assert st == 200 and fake.last().host == "daily" and h["x-trayproxy-model"] == "gemini-3.8-flash-tiered"
        # daily fails: the catalog comes from prod, as prod has it, and generation goes there first
        fake.host("daily").fail_with(503)
        await s.accounts.refresh_all()
        assert acc.catalog_host.endswith("/prod/v1internal") and "gemini-3.8-flash-tiered" not in acc.models
        st, h, b = await s.post("/v1/chat/completions", chat("gemini-3.8-flash-high"))
        assert st == 200 and h["x-trayproxy-model"] == "gemini-3.7-flash-tiered", b
        assert fake.last().host == "prod" and thinking(fake.last()) == {"includeThoughts": True, "thinkingLevel": "HIGH"}
        daily_calls = fake.host("daily").calls
        st, _, _ = await s.post("/v1/chat/completions", chat("gemini-3.8-flash-high", "again"))
        assert fake.host("daily").calls == daily_calls  # the catalog's host first: no detour through daily


async def test_the_host_order_is_configurable(tmp_path: Path) -> None:
    fake = fake_with("a@example.com")
    async with app_stack(tmp_path, fake=fake, clock=FakeClock(), hosts=("prod", "daily")) as s:
        await s.accounts.add_refresh_token("rt-a@example.com")
        assert s.store.all()[0].catalog_host.endswith("/prod/v1internal")  # type: ignore[union-attr]
        assert fake.calls_to("fetchAvailableModels")[0].host == "prod"


async def test_no_capacity_moves_to_the_next_host_before_it_rests_an_account(world: Any) -> None:
    fake, s = world
    st, h, _ = await s.post("/v1/chat/completions", chat("gemini-3-flash", "conv x"))
    email = s.store.get(h["x-trayproxy-account"]).email  # type: ignore[union-attr]
    fake.account(email).script(Reply.error(429, reason="MODEL_CAPACITY_EXCEEDED"))
    st, h, b = await s.post("/v1/chat/completions", chat("gemini-3-flash", "conv x"))
    assert st == 200 and s.store.get(h["x-trayproxy-account"]).email == email, b  # type: ignore[union-attr]
    assert [r.host for r in generations(fake)][-2:] == ["daily", "prod"]
    assert s.pool.cooldowns(h["x-trayproxy-account"]) == {}


# -- error variants, credits, small things -----------------------------------------------------------


@pytest.mark.parametrize("reply,kind,longer_than", [
    (Reply.zero_limit("gemini-3-flash"), "not_found", 5 * HOUR),
    (Reply.daily_quota(), "quota", HOUR),
    (Reply.error(429, reason="INSUFFICIENT_G1_CREDITS_BALANCE"), None, None),
])
async def test_error_variants_fail_over_with_the_right_rest(world: Any, reply: Reply, kind: str | None,
                                                            longer_than: float | None) -> None:
    fake, s = world
    st, h, _ = await s.post("/v1/chat/completions", chat("gemini-3-flash", "conv y"))
    first = h["x-trayproxy-account"]
    fake.account(s.store.get(first).email).script(reply)  # type: ignore[union-attr]
    st, h, b = await s.post("/v1/chat/completions", chat("gemini-3-flash", "conv y"))
    assert st == 200 and h["x-trayproxy-account"] != first, b
    rests = s.pool.cooldowns(first)
    if kind is None:
        assert rests == {}
    else:
        assert rests["gemini-3-flash"].kind == kind and s.pool.cooldown_left(first, "gemini-3-flash") > longer_than


async def test_499_is_retried_on_the_same_account(world: Any) -> None:
    fake, s = world
    st, h, _ = await s.post("/v1/chat/completions", chat("gemini-3-flash", "conv z"))
    fake.account(s.store.get(h["x-trayproxy-account"]).email).script(Reply.error(499))  # type: ignore[union-attr]
    st, h2, b = await s.post("/v1/chat/completions", chat("gemini-3-flash", "conv z"))
    assert st == 200 and h2["x-trayproxy-account"] == h["x-trayproxy-account"], b


async def test_ai_credits_pay_only_when_allowed_and_every_quota_is_spent(tmp_path: Path) -> None:
    fake = fake_with(*EMAILS)
    rich, poor = fake.account("a@example.com"), fake.account("b@example.com")
    rich.credits = 2
    for acc in (rich, poor):
        acc.set_window("3p", "5h", 0.0, reset_in=3 * HOUR)
    body = {"model": "claude-sonnet-4-6", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    async with app_stack(tmp_path, fake=fake, clock=FakeClock(), emails=EMAILS) as s:
        st, _, b = await s.post("/v1/messages", body)
        assert st == 429 and not generations(fake), b  # off by default: no request, a 429
        assert s.ctx.config().use_ai_credits is False
        s.configure("use_ai_credits", True)
        st, h, b = await s.post("/v1/messages", body)
        assert st == 200 and s.store.get(h["x-trayproxy-account"]).email == "a@example.com", b  # type: ignore[union-attr]
        paid = [r for r in generations(fake) if r.body.get("enabledCreditTypes") == ["GOOGLE_ONE_AI"]]
        assert paid and paid[-1].account == "a@example.com" and paid[-1].status == 200
        assert len(paid) == len(generations(fake))  # nothing was sent without credits
        assert s.store.get(h["x-trayproxy-account"]).credits == 2  # type: ignore[union-attr]  (loadCodeAssist)
        st, _, _ = await s.post("/v1/messages", body)
        tried_b = [r for r in generations(fake) if r.account == "b@example.com"]
        assert st == 200 and len(tried_b) <= 1  # b answered INSUFFICIENT_G1_CREDITS_BALANCE once: not asked again
        rich.credits = 0
        st, _, b = await s.post("/v1/messages", body)
        assert st == 429 and b"credits" in b, b


async def test_count_tokens_names_the_model_as_models_id_and_claude_calls_are_validated(world: Any) -> None:
    fake, s = world
    st, _, b = await s.post("/v1/messages/count_tokens", {"model": "claude-sonnet-4-6", "messages": [
        {"role": "user", "content": "count me"}]})
    assert st == 200, b
    counted = fake.last("countTokens").body
    assert counted["request"]["model"] == "models/claude-sonnet-4-6" and "model" not in {
        k for k in counted if k != "request"}
    st, _, b = await s.post("/v1/messages", {
        "model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "run ls"}],
        "tools": [{"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]})
    assert st == 200, b
    assert fake.last().body["request"]["toolConfig"]["functionCallingConfig"]["mode"] == "VALIDATED"
    st, _, b = await s.post("/v1/chat/completions", chat("gemini-3-flash", tools=[{"type": "function", "function": {
        "name": "lookup", "parameters": {"type": "object", "properties": {}}}}]))
    assert st == 200 and "toolConfig" not in fake.last().body["request"]  # only Claude
