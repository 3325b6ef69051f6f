"""Issue 3's scenario end to end: three real-flow accounts on the fake Cloud Code + OAuth
server, quota failover, cooldown until reset, invalid_grant, stickiness under concurrency,
mid-stream failure, all accounts limited."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Reply
from tests.helpers import FakeClock, make_controller, request
from trayproxy.cli import format_accounts
from trayproxy.controller import Controller

MODEL = "gemini-3-flash"
QUOTA = {MODEL: 0.8, "claude-sonnet-4-6": 0.6, "gemini-2.5-flash": 0.9}


@pytest.fixture()
def world() -> Iterator[tuple[FakeCloudCode, Controller, FakeClock]]:
    fake = FakeCloudCode()
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        fake.add_account(email, tier="PRO", quota=QUOTA)
    with fake:
        clock = FakeClock()
        ctl = make_controller(env=fake.env(), clock=clock)
        try:
            for email in ("a@example.com", "b@example.com", "c@example.com"):
                acc = ctl.add_refresh_token(f"rt-{email}")
                assert acc.email == email and acc.project == f"proj-{email.split('@')[0]}"
                assert acc.models[MODEL].remaining == pytest.approx(0.8)
            ctl.start()
            yield fake, ctl, clock
        finally:
            ctl.close()


def gen(ctl: Controller, text: str, *, stream: bool = False) -> tuple[int, dict[str, str], bytes]:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return request(ctl.status().port, "POST", f"/v1beta/models/{MODEL}:{method}",
                   body={"contents": [{"role": "user", "parts": [{"text": text}]}]})


def email_of(ctl: Controller, headers: dict[str, str]) -> str:
    acc = ctl.store.get(headers["x-trayproxy-account"])
    assert acc is not None
    return acc.email


def test_quota_429_fails_over_then_account_returns_after_reset(world) -> None:
    fake, ctl, clock = world
    s, h, _ = gen(ctl, "conversation one")
    a = email_of(ctl, h)
    fake.account(a).script(Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay="30s"))
    s, h, b = gen(ctl, "conversation one")
    assert s == 200, b
    b_email = email_of(ctl, h)
    assert b_email != a
    assert json.loads(b)["candidates"][0]["content"]["parts"][-1]["text"].startswith("Echo: conversation one")
    calls_a = fake.account(a).calls
    for i in range(9):
        assert gen(ctl, f"other {i}")[0] == 200
    assert fake.account(a).calls == calls_a, "a cooling account was used"
    listed = format_accounts(ctl.list_accounts())
    assert "cooling down until" in listed
    clock.advance(31)
    used = Counter(email_of(ctl, gen(ctl, f"after reset {i}")[1]) for i in range(9))
    assert used[a] > 0


def test_invalid_grant_disables_with_reason_and_others_serve(world) -> None:
    fake, ctl, clock = world
    fake.account("c@example.com").revoke()
    for svc_acc in ctl.store.all():
        ctl.accounts.forget_token(svc_acc.id)
    for i in range(9):
        s, h, _ = gen(ctl, f"q {i}")
        assert s == 200 and email_of(ctl, h) != "c@example.com"
    listed = format_accounts(ctl.list_accounts())
    assert "c@example.com" in listed and "disabled: invalid_grant" in listed
    assert ctl.status().active_accounts == 2


def test_fifty_concurrent_conversations_spread_and_stick(world) -> None:
    fake, ctl, _ = world
    first: dict[int, str] = {}
    errors: list[str] = []

    def conversation(i: int) -> None:
        for turn in range(3):
            s, h, b = gen(ctl, f"conversation {i}")
            if s != 200:
                errors.append(f"{i}/{turn}: {s} {b[:100]!r}")
                return
            e = email_of(ctl, h)
            if first.setdefault(i, e) != e:
                errors.append(f"conversation {i} moved from {first[i]} to {e}")

    threads = [threading.Thread(target=conversation, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    spread = Counter(first.values())
    assert len(spread) == 3 and min(spread.values()) >= 10, spread


def test_mid_stream_failure_ends_with_error_event_and_is_not_retried(world) -> None:
    fake, ctl, _ = world
    s, h, _ = gen(ctl, "streamy", stream=True)
    e = email_of(ctl, h)
    before = len(fake.calls_to())
    fake.account(e).script(Reply.fail_after(2))
    s, h, body = gen(ctl, "streamy", stream=True)
    assert s == 200
    frames = [json.loads(f[6:]) for f in body.split(b"\r\n\r\n") if f.startswith(b"data: ")]
    assert frames[0]["candidates"][0]["content"]["parts"]
    assert "error" in frames[-1] and frames[-1]["error"]["status"] == "UNAVAILABLE"
    assert len(fake.calls_to()) == before + 1


def test_all_accounts_limited_gives_429_with_shortest_retry_after(world) -> None:
    fake, ctl, _ = world
    for email, delay in (("a@example.com", "50s"), ("b@example.com", "20s"), ("c@example.com", "35s")):
        fake.account(email).script(Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay=delay))
    s, h, b = gen(ctl, "anything")
    assert s == 429, b
    assert int(h["retry-after"]) == 20
    assert json.loads(b)["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_host_failover_and_cli_listing(world, capsys) -> None:
    fake, ctl, _ = world
    fake.host("sandbox").fail_with(503)
    fake.host("daily").drop_connections()
    s, _, _ = gen(ctl, "via prod")
    assert s == 200
    assert fake.last().host == "prod"
    print(format_accounts(ctl.list_accounts()))
    out = capsys.readouterr().out
    assert "tier: Google AI Pro" in out and f"{MODEL}" in out and "80%" in out
