"""Client keys counted across instances through Redis: exact rpm whatever the instances' clocks,
one round trip per request, and the local limiter while Redis is away."""

from __future__ import annotations

import asyncio
import inspect
import time

from tests.shared.engines import RedisServer
from trayproxy.clientkeys.limits import LocalLimiter
from trayproxy.clientkeys.record import ClientKey, generate
from trayproxy.shared.health import SharedHealth
from trayproxy.shared.redis_engine import RedisEngine, RedisLimiter


async def limiter(url: str) -> tuple[RedisEngine, RedisLimiter]:
    engine = RedisEngine(url, SharedHealth().engine("Redis"))
    await engine.start()
    return engine, RedisLimiter(engine, LocalLimiter())


async def admit(lim: RedisLimiter, key: ClientKey, now: float) -> bool:
    v = lim.admit(key, now)
    if inspect.isawaitable(v):
        v = await v
    return bool(v.ok)


async def test_rpm_is_exact_across_three_instances_with_skewed_clocks(redis_url: str) -> None:
    parts = [await limiter(redis_url) for _ in range(3)]
    try:
        key = ClientKey.new("team", generate(), rpm=25)
        # the instances' clocks disagree by minutes: the server's clock decides the window
        skew = [0.0, 75.0, -130.0]
        results = await asyncio.gather(*[admit(parts[i % 3][1], key, time.time() + skew[i % 3]) for i in range(90)])
        assert sum(results) == 25
        v = await parts[0][1].admit(key, time.time())  # type: ignore[misc]
        assert not v.ok and v.limit == "rpm" and 0 < v.retry_after <= 60
    finally:
        for engine, _ in parts:
            await engine.stop()


async def test_tokens_are_shared_and_a_key_without_limits_costs_no_round_trip(redis_url: str) -> None:
    (e1, l1), (e2, l2) = await limiter(redis_url), await limiter(redis_url)
    try:
        key = ClientKey.new("t", generate(), daily_tokens=1000)
        assert await admit(l1, key, time.time())
        l1.spend(key, 1500, time.time())
        await asyncio.gather(*l1._pending)
        v = await l2.admit(key, time.time())  # type: ignore[misc]
        assert not v.ok and v.limit == "daily_tokens"
        free = ClientKey.new("free", generate())
        assert not free.limited  # the guard does not even ask the limiter for it (guards.admit_key)
    finally:
        await e1.stop()
        await e2.stop()


async def test_redis_away_the_local_limiter_counts_and_redis_is_used_again_when_back(
        redis_server: RedisServer, redis_url: str) -> None:
    engine, lim = await limiter(redis_url)
    try:
        key = ClientKey.new("k", generate(), rpm=1000)
        assert await admit(lim, key, time.time()) and engine.health.up
        redis_server.kill()
        t0 = time.monotonic()
        assert await admit(lim, key, time.time())  # one call finds it gone: answered locally
        assert time.monotonic() - t0 < 2.0
        assert not engine.health.up and engine.health.down_since is not None
        for _ in range(20):  # no wait at all from now on: Redis is not asked
            assert lim.admit(key, time.time()).ok  # type: ignore[union-attr]
        redis_server.start()
        deadline = time.monotonic() + 10
        while not engine.health.up and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert engine.health.up
        assert await admit(lim, key, time.time())
    finally:
        await engine.stop()
        if redis_server.proc is None:
            redis_server.start()
