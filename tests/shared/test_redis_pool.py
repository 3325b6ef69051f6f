"""The pool's live state through Redis, between two instances' state in one loop (shared/redis_pool.py):
rests, account states, quota snapshots, sticky sessions and in-flight counts learned by one are
known by the other within a second; a Redis that restarts empty gets them back from the
instances. Each instance knows the account under an id of its own (they meet by e-mail).

Every wait polls for its condition with a generous bound; none sleeps to pass."""

from __future__ import annotations

import json
import time
from pathlib import Path

import redis.asyncio as redis

from tests.shared.engines import RedisServer
from tests.shared.nodes import Node, account, two, until
from trayproxy.accounts.catalog import Catalog, apply_catalog
from trayproxy.accounts.pool import Unavailable
from trayproxy.accounts.quota_windows import learn_spent
from trayproxy.accounts.store import Account, ModelQuota
from trayproxy.shared.redis_pool import RESTS, account_key

MODEL = "gemini-3-flash"


def acc_of(n: Node, email: str) -> Account:
    a = n.store.by_email(email)
    assert a is not None
    return a


async def synced(*nodes: Node) -> None:
    for n in nodes:
        await until(lambda n=n: n.shared.bus.synced.is_set())


async def test_a_rest_learned_by_one_is_honoured_by_the_other(tmp_path: Path, redis_url: str) -> None:
    shared, other = account("shared@example.com"), account("other@example.com")
    async with two(tmp_path, (shared, other), redis_url=redis_url) as (a, b):
        await synced(a, b)
        a_shared, b_shared = acc_of(a, "shared@example.com"), acc_of(b, "shared@example.com")
        assert a_shared.id != b_shared.id
        t0 = time.monotonic()
        a.pool.cool_down(a_shared.id, MODEL, 3600, "QUOTA_EXHAUSTED: weekly", kind="quota")
        await until(lambda: b.pool.cooldown_left(b_shared.id, MODEL) > 3500, 5)
        assert time.monotonic() - t0 < 1.0
        c = b.pool.cooldowns(b_shared.id)[MODEL]
        assert (c.kind, c.reason) == ("quota", "QUOTA_EXHAUSTED: weekly")
        # b picks only the other account now, and says why when that one rests too
        for _ in range(4):
            pick = b.pool.select(MODEL)
            assert isinstance(pick, Account) and pick.email == "other@example.com"
            b.pool.release(pick.id)
        # a rest ended early (the quota came back) ends everywhere
        a.pool.clear_cooldowns(a_shared.id, MODEL, kinds=frozenset({"quota"}))
        await until(lambda: b.pool.cooldown_left(b_shared.id, MODEL) == 0, 5)


async def test_a_shorter_rest_never_shortens_a_longer_one(tmp_path: Path, redis_url: str) -> None:
    async with two(tmp_path, (account("x@example.com"),), redis_url=redis_url) as (a, b):
        await synced(a, b)
        ax, bx = acc_of(a, "x@example.com"), acc_of(b, "x@example.com")
        a.pool.cool_down(ax.id, None, 600, "server error", kind="server")
        await until(lambda: b.pool.cooldown_left(bx.id) > 500)
        b.pool.cool_down(bx.id, None, 10, "network", kind="network")
        assert b.pool.cooldown_left(bx.id) > 500
        r = redis.Redis.from_url(redis_url)
        try:
            stored = json.loads(await r.hget(RESTS, f"{account_key('x@example.com')}|"))
        finally:
            await r.aclose()
        assert stored["r"] == "server error" and stored["u"] > time.time() + 500


async def test_disable_pause_and_resume_reach_the_other(tmp_path: Path, redis_url: str) -> None:
    async with two(tmp_path, (account("x@example.com"),), redis_url=redis_url) as (a, b):
        await synced(a, b)
        ax, bx = acc_of(a, "x@example.com"), acc_of(b, "x@example.com")
        a.pool.disable(ax.id, "Google disabled the API for this project", link="https://console", by="google")
        await until(lambda: bx.disabled)
        assert (bx.disabled_by, bx.disabled_link) == ("google", "https://console")
        assert isinstance(b.pool.select(MODEL), Unavailable) and b.pool.active_count() == 0
        a.pool.resume(ax.id, enable=True)
        await until(lambda: not bx.disabled)
        b.pool.pause_for_verification(bx.id, link="https://verify", link_text="Verify", message="verify it")
        await until(lambda: ax.verify_url == "https://verify")
        assert a.pool.paused(ax)


async def test_a_quota_snapshot_read_by_one_serves_the_other(tmp_path: Path, redis_url: str) -> None:
    async with two(tmp_path, (account("x@example.com"),), redis_url=redis_url) as (a, b):
        await synced(a, b)
        ax, bx = acc_of(a, "x@example.com"), acc_of(b, "x@example.com")
        reset = time.time() + 7200
        apply_catalog(ax, Catalog(models={MODEL: ModelQuota(remaining=0.0, reset_time=reset, display_name="Flash")},
                                  deprecated={"gemini-2.5-flash": MODEL}, default_model=MODEL), time.time())
        a.store.save()
        await until(lambda: MODEL in bx.models and bx.models[MODEL].remaining == 0.0)
        assert bx.deprecated_models == {"gemini-2.5-flash": MODEL} and bx.default_model == MODEL
        assert not b.pool.ready(bx, MODEL)  # out of quota until the reset: no request spent to find out
        assert (await until_saved(b, "x@example.com"))["models"][MODEL]["remaining"] == 0.0


async def until_saved(n: Node, email: str) -> dict[str, object]:
    await n.store.a_flush()
    data = json.loads(n.store.path.read_text())
    return next(d for d in data["accounts"] if d["email"] == email)


async def test_sessions_and_in_flight_counts_are_shared(tmp_path: Path, redis_url: str) -> None:
    async with two(tmp_path, (account("x@example.com"), account("y@example.com")), redis_url=redis_url) as (a, b):
        await synced(a, b)
        pick = a.pool.select(MODEL, session="conv-1")
        assert isinstance(pick, Account)
        await until(lambda: b.pool.session_account("conv-1") is not None)
        assert b.store.get(b.pool.session_account("conv-1") or "").email == pick.email  # type: ignore[union-attr]
        # a's request is still in flight: b counts it when balancing
        await until(lambda: b.pool.remote_inflight.get(acc_of(b, pick.email).id) == 1, 5)
        a.pool.release(pick.id)
        await until(lambda: not b.pool.remote_inflight, 5)


async def test_a_restarted_redis_gets_the_state_back_and_misses_nothing(
        tmp_path: Path, redis_server: RedisServer, redis_url: str) -> None:
    async with two(tmp_path, (account("x@example.com"),), redis_url=redis_url) as (a, b):
        await synced(a, b)
        ax, bx = acc_of(a, "x@example.com"), acc_of(b, "x@example.com")
        a.pool.cool_down(ax.id, MODEL, 900, "rate limited", kind="rate_limit")
        await until(lambda: b.pool.cooldown_left(bx.id, MODEL) > 0)
        redis_server.kill()
        await until(lambda: not a.shared.health.up and not b.shared.health.up, 10)
        # learned while Redis is away: only a knows, and nothing fails
        a.pool.cool_down(ax.id, "claude-sonnet-4-5", 900, "server error", kind="server")
        assert b.pool.cooldown_left(bx.id, "claude-sonnet-4-5") == 0
        redis_server.start()  # empty: it keeps nothing across a kill
        await until(lambda: b.pool.cooldown_left(bx.id, "claude-sonnet-4-5") > 0, 15)
        r = redis.Redis.from_url(redis_url)
        try:
            fields = {k.decode() for k in await r.hkeys(RESTS)}
        finally:
            await r.aclose()
        ak = account_key("x@example.com")
        assert {f"{ak}|{MODEL}", f"{ak}|claude-sonnet-4-5"} <= fields


async def test_a_weekly_window_learned_by_one_rests_the_group_on_the_other(tmp_path: Path, redis_url: str) -> None:
    async with two(tmp_path, (account("x@example.com"),), redis_url=redis_url) as (a, b):
        await synced(a, b)
        ax, bx = acc_of(a, "x@example.com"), acc_of(b, "x@example.com")
        apply_catalog(ax, Catalog(models={"gemini-3-pro-high": ModelQuota(remaining=1.0)}), time.time())
        a.store.save()
        await until(lambda: b.pool.ready(bx, "gemini-3-pro-high"))
        # a met a 429 with a reset days away: the weekly bucket of the Gemini group is spent
        ax.quota_windows = learn_spent(ax.quota_windows, MODEL, time.time() + 3 * 86400)
        a.store.save()
        await until(lambda: not b.pool.ready(bx, "gemini-3-pro-high"))  # a sibling id: no request spent on it
        assert "gemini-3-pro-high" in b.pool.resting(bx)


async def test_no_ai_credits_learned_by_one_is_known_by_the_other(tmp_path: Path, redis_url: str) -> None:
    async with two(tmp_path, (account("x@example.com"),), redis_url=redis_url) as (a, b):
        await synced(a, b)
        ax, bx = acc_of(a, "x@example.com"), acc_of(b, "x@example.com")
        assert b.pool.may_pay(bx)
        a.pool.no_credits(ax.id, 3600)
        await until(lambda: not b.pool.may_pay(bx))
        assert b.pool.cooldowns(bx.id) == {}  # not a model's rest: only the credits are out
