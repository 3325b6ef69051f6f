"""Access tokens through Redis (shared/redis_tokens.py): one instance refreshes each account, the
others take its token; a token the upstream refused is refreshed, not handed out again; the
token is stored encrypted; without Redis every instance refreshes on its own."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import redis.asyncio as redis

from tests.shared.engines import RedisServer
from tests.shared.nodes import account
from trayproxy.shared.crypto import TokenCipher
from trayproxy.shared.health import SharedHealth
from trayproxy.shared.redis_bus import Bus
from trayproxy.shared.redis_engine import PREFIX, RedisEngine
from trayproxy.shared.redis_pool import account_key
from trayproxy.shared.redis_tokens import RedisTokens

KEY = bytes(range(32))


async def tokens(url: str, name: str, key: bytes = KEY) -> tuple[RedisEngine, RedisTokens]:
    engine = RedisEngine(url, SharedHealth().engine("Redis"))
    await engine.start()
    return engine, RedisTokens(Bus(engine, name), TokenCipher(key))


class Google:
    """Counts refreshes; each takes a while, like the real token endpoint."""

    def __init__(self) -> None:
        self.calls = 0

    async def refresh(self) -> tuple[str, float]:
        self.calls += 1
        await asyncio.sleep(0.2)
        return f"ya29.token-{self.calls}", time.time() + 3600


async def test_one_instance_refreshes_and_the_others_take_its_token(tmp_path: Path, redis_url: str) -> None:
    acc = account("x@example.com")
    nodes = [await tokens(redis_url, n) for n in ("a", "b", "c")]
    google = Google()
    try:
        got = await asyncio.gather(*(t.refresh(acc, None, google.refresh) for _, t in nodes for _ in range(3)))
        assert google.calls == 1 and {tok for tok, _ in got} == {"ya29.token-1"}
        # stored encrypted: the token's text is nowhere in Redis
        r = redis.Redis.from_url(redis_url)
        try:
            raw = await r.get(f"{PREFIX}tok:{account_key(acc.email)}")
        finally:
            await r.aclose()
        assert raw is not None and b"ya29" not in raw
        # the upstream refused token-1 (401): it is refreshed once more, not handed out again
        again = await asyncio.gather(*(t.refresh(acc, "ya29.token-1", google.refresh) for _, t in nodes))
        assert google.calls == 2 and {tok for tok, _ in again} == {"ya29.token-2"}
    finally:
        for engine, _ in nodes:
            await engine.stop()


async def test_a_token_under_another_secret_key_is_not_used(tmp_path: Path, redis_url: str) -> None:
    acc = account("x@example.com")
    (ea, a), (eb, b) = await tokens(redis_url, "a"), await tokens(redis_url, "b", key=bytes(32))
    google = Google()
    try:
        assert (await a.refresh(acc, None, google.refresh))[0] == "ya29.token-1"
        assert (await b.refresh(acc, None, google.refresh))[0] == "ya29.token-2"
    finally:
        await ea.stop()
        await eb.stop()


async def test_without_redis_each_refreshes_on_its_own(tmp_path: Path, redis_server: RedisServer,
                                                       redis_url: str) -> None:
    acc = account("x@example.com")
    engine, t = await tokens(redis_url, "a")
    google = Google()
    try:
        redis_server.kill()
        # the first call finds Redis gone (it costs that call one timeout at most), then none asks it
        assert (await t.refresh(acc, None, google.refresh))[0] == "ya29.token-1"
        assert not engine.health.up
        assert (await t.refresh(acc, "ya29.token-1", google.refresh))[0] == "ya29.token-2"
    finally:
        redis_server.start()
        await engine.stop()
