"""Issue 3's scenario end to end: three real-flow accounts on the fake Cloud Code + OAuth
server, quota failover, cooldown until reset, invalid_grant, stickiness under concurrency,
mid-stream failure, all accounts limited. The proxy's app and the fake run in the test's loop."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Reply
from tests.helpers import FakeClock
from tests.proxy.app_stack import AppStack, app_stack
from trayproxy.cli import format_accounts

MODEL = "gemini-3-flash"
QUOTA = {MODEL: 0.8, "claude-sonnet-4-6": 0.6, "gemini-2.5-flash": 0.9}


@pytest.fixture()
async def world(tmp_path: Path) -> AsyncIterator[tuple[FakeCloudCode, AppStack, FakeClock]]:
    fake = FakeCloudCode()
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        fake.add_account(email, tier="PRO", quota=QUOTA)
    clock = FakeClock()
    async with app_stack(tmp_path, fake=fake, clock=clock) as s:
        for email in ("a@example.com", "b@example.com", "c@example.com"):
            acc = await s.accounts.add_refresh_token(f"rt-{email}")
            assert acc.email == email and acc.project == f"proj-{email.split('@')[0]}"
            assert acc.models[MODEL].remaining == pytest.approx(0.8)
        yield fake, s, clock


async def gen(s: AppStack, text: str, *, stream: bool = False) -> tuple[int, dict[str, str], bytes]:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return await s.post(f"/v1beta/models/{MODEL}:{method}", {"contents": [{"role": "user", "parts": [{"text": text}]}]})


def email_of(s: AppStack, headers: dict[str, str]) -> str:
    acc = s.store.get(headers["x-trayproxy-account"])
    assert acc is not None
    return acc.email


async def test_quota_429_fails_over_then_account_returns_after_reset(world) -> None:
    fake, s, clock = world
    st, h, _ = await gen(s, "conversation one")
    a = email_of(s, h)
    fake.account(a).script(Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay="30s"))
    st, h, b = await gen(s, "conversation one")
    assert st == 200, b
    b_email = email_of(s, h)
    assert b_email != a
    assert json.loads(b)["candidates"][0]["content"]["parts"][-1]["text"].startswith("Echo: conversation one")
    calls_a = fake.account(a).calls
    for i in range(9):
        assert (await gen(s, f"other {i}"))[0] == 200
    assert fake.account(a).calls == calls_a, "a cooling account was used"
    listed = format_accounts(s.account_views())
    assert "resting until" in listed
    clock.advance(31)
    used = Counter([email_of(s, (await gen(s, f"after reset {i}"))[1]) for i in range(9)])
    assert used[a] > 0


async def test_invalid_grant_disables_with_reason_and_others_serve(world) -> None:
    fake, s, clock = world
    fake.account("c@example.com").revoke()
    for svc_acc in s.store.all():
        s.accounts.forget_token(svc_acc.id)
    for i in range(9):
        st, h, _ = await gen(s, f"q {i}")
        assert st == 200 and email_of(s, h) != "c@example.com"
    listed = format_accounts(s.account_views())
    assert "c@example.com" in listed and "sign-in" in listed and "why: invalid_grant" in listed
    assert s.pool.active_count() == 2


async def test_fifty_concurrent_conversations_spread_and_stick(world) -> None:
    fake, s, _ = world
    first: dict[int, str] = {}
    errors: list[str] = []

    async def conversation(i: int) -> None:
        for turn in range(3):
            st, h, b = await gen(s, f"conversation {i}")
            if st != 200:
                errors.append(f"{i}/{turn}: {st} {b[:100]!r}")
                return
            e = email_of(s, h)
            if first.setdefault(i, e) != e:
                errors.append(f"conversation {i} moved from {first[i]} to {e}")

    await asyncio.gather(*(conversation(i) for i in range(50)))
    assert not errors, errors
    spread = Counter(first.values())
    assert len(spread) == 3 and min(spread.values()) >= 10, spread


async def test_mid_stream_failure_ends_with_error_event_and_is_not_retried(world) -> None:
    fake, s, _ = world
    st, h, _ = await gen(s, "streamy", stream=True)
    e = email_of(s, h)
    before = len(fake.calls_to())
    fake.account(e).script(Reply.fail_after(2))
    st, h, body = await gen(s, "streamy", stream=True)
    assert st == 200
    frames = [json.loads(f[6:]) for f in body.split(b"\r\n\r\n") if f.startswith(b"data: ")]
    assert frames[0]["candidates"][0]["content"]["parts"]
    assert "error" in frames[-1] and frames[-1]["error"]["status"] == "UNAVAILABLE"
    assert len(fake.calls_to()) == before + 1


async def test_all_accounts_limited_gives_429_with_shortest_retry_after(world) -> None:
    fake, s, _ = world
    for email, delay in (("a@example.com", "50s"), ("b@example.com", "20s"), ("c@example.com", "35s")):
        fake.account(email).script(Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay=delay))
    st, h, b = await gen(s, "anything")
    assert st == 429, b
    assert int(h["retry-after"]) == 20
    assert json.loads(b)["error"]["status"] == "RESOURCE_EXHAUSTED"


async def test_host_failover_and_cli_listing(world, capsys) -> None:
    fake, s, _ = world
    fake.host("sandbox").fail_with(503)
    fake.host("daily").drop_connections()
    st, _, _ = await gen(s, "via prod")
    assert st == 200
    assert fake.last().host == "prod"
    print(format_accounts(s.account_views()))
    out = capsys.readouterr().out
    assert "tier: Google AI Pro" in out and f"{MODEL}" in out and "80%" in out
