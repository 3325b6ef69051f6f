"""Redis: the connection, its health, and client keys' limits counted across instances.

1. One `redis.asyncio` client on the engine loop, with short timeouts: a Redis that hangs costs
   a request at most `CALL_TIMEOUT`, once; then the engine is marked down and every request is
   counted locally (clientkeys/limits.py) without touching Redis, while a probe (PING every
   second) waits for it to come back; then the `on_back` callbacks re-sync what was missed
   (shared/redis_bus.py).
2. `RedisLimiter.admit` is ONE round trip (EVALSHA of `_ADMIT`, EVAL on a fresh server): the
   script reads the server's clock, so every instance agrees on the minute and the day whatever
   its own clock says, checks the key's requests and tokens against its limits and counts the
   request, atomically. That makes rpm exact across instances.
3. `spend` adds an answer's tokens in the background (fire and forget, one round trip); the
   local limiter counts them too, so an outage starts from what this instance knows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from trayproxy.clientkeys.limits import ADMITTED, LocalLimiter, Verdict, refusal
from trayproxy.clientkeys.record import ClientKey
from trayproxy.shared.health import EngineHealth

__all__ = ["RedisEngine", "RedisLimiter", "PREFIX"]

log = logging.getLogger("trayproxy.shared")
PREFIX = "trayproxy:"
CALL_TIMEOUT = 0.5
PROBE_EVERY = 1.0

# KEYS[1]: the key's base name. ARGV: rpm, tpm, daily tokens (-1: no limit).
# Returns {0, 0} when admitted (and counted), else {n, ms}: n = 1 rpm, 2 tpm, 3 tokens per day;
# ms until the window ends, by the server's clock.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1])
local minute = math.floor(now / 60)
local day = math.floor(now / 86400)
local base = KEYS[1]
local rpm, tpm, daily = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ms_minute = (60 - now % 60) * 1000 - math.floor(tonumber(t[2]) / 1000)
local rk = base .. ':r:' .. minute
if rpm >= 0 and tonumber(redis.call('GET', rk) or '0') >= rpm then return {1, ms_minute} end
if tpm >= 0 and tonumber(redis.call('GET', base .. ':t:' .. minute) or '0') >= tpm then return {2, ms_minute} end
if daily >= 0 and tonumber(redis.call('GET', base .. ':d:' .. day) or '0') >= daily then
  return {3, (86400 - now % 86400) * 1000}
end
redis.call('INCR', rk)
redis.call('EXPIRE', rk, 120)
return {0, 0}
"""
# KEYS[1]: the key's base name. ARGV[1]: tokens.
_SPEND = """
local t = redis.call('TIME')
local now = tonumber(t[1])
local tk = KEYS[1] .. ':t:' .. math.floor(now / 60)
local dk = KEYS[1] .. ':d:' .. math.floor(now / 86400)
redis.call('INCRBY', tk, ARGV[1])
redis.call('EXPIRE', tk, 120)
redis.call('INCRBY', dk, ARGV[1])
redis.call('EXPIRE', dk, 172800)
return 0
"""
_LIMITS = ("rpm", "tpm", "daily_tokens")


class RedisEngine:
    def __init__(self, url: str, health: EngineHealth) -> None:
        self.url = url
        self.health = health
        self.client: Any = None
        self._probe: asyncio.Task[None] | None = None
        self._stopped = False
        self.on_back: list[Callable[[], None]] = []  # called each time Redis answers again

    async def start(self) -> None:
        import redis.asyncio as redis

        self.client = redis.Redis.from_url(self.url, socket_timeout=CALL_TIMEOUT, socket_connect_timeout=1.0,
                                           retry_on_timeout=False, health_check_interval=0)
        await self.check()
        if not self.health.up:
            self.watch()

    async def check(self) -> bool:
        try:
            await asyncio.wait_for(self.client.ping(), CALL_TIMEOUT * 2)
        except Exception as e:
            self.health.failed(e)
            return False
        was_up = self.health.up
        self.health.ok()
        if not was_up:
            for fn in list(self.on_back):
                fn()
        return True

    def lost(self, e: BaseException) -> None:
        """A call failed: mark Redis down and probe until it answers again."""
        if self.health.up:
            log.warning("Redis is unreachable (%s); client keys are counted on this instance until it is back", e)
        self.health.failed(e)
        self.watch()

    def watch(self) -> None:
        if not self._stopped and (self._probe is None or self._probe.done()):
            self._probe = asyncio.ensure_future(self._wait_back())

    async def _wait_back(self) -> None:
        while not await self.check():
            await asyncio.sleep(PROBE_EVERY)
        log.warning("Redis answers again")

    async def stop(self) -> None:
        self._stopped = True
        if self._probe is not None:
            self._probe.cancel()
        if self.client is not None:
            try:
                await self.client.aclose()
            except Exception:
                pass


class RedisLimiter:
    """clientkeys.limits.Limiter across instances; LocalLimiter while Redis is down."""

    def __init__(self, engine: RedisEngine, local: LocalLimiter | None = None) -> None:
        self.engine = engine
        self.local = local or LocalLimiter()
        self._admit: Any = None
        self._spend: Any = None
        self._pending: set[asyncio.Task[None]] = set()

    def _scripts(self) -> None:
        if self._admit is None:
            self._admit = self.engine.client.register_script(_ADMIT)
            self._spend = self.engine.client.register_script(_SPEND)

    def admit(self, key: ClientKey, now: float) -> Verdict | Awaitable[Verdict]:
        if not self.engine.health.up or self.engine.client is None:
            return self.local.admit(key, now)
        return self._shared_admit(key, now)

    async def _shared_admit(self, key: ClientKey, now: float) -> Verdict:
        self._scripts()
        args = [-1 if v is None else v for v in (key.rpm, key.tpm, key.daily_tokens)]
        try:
            code, ms = await asyncio.wait_for(self._admit(keys=[f"{PREFIX}key:{{{key.id}}}"], args=args),
                                              CALL_TIMEOUT)
        except Exception as e:
            self.engine.lost(e)
            return self.local.admit(key, now)
        if int(code) == 0:
            self.local.admit(key, now)  # keep the local count warm for an outage (never refuses here)
            return ADMITTED
        v = refusal(key, _LIMITS[int(code) - 1], now)
        return Verdict(False, v.limit, max(0.001, int(ms) / 1000), _with_wait(v.message, int(ms) / 1000))

    def spend(self, key: ClientKey, tokens: int, now: float) -> None:
        if tokens <= 0:
            return
        self.local.spend(key, tokens, now)
        if not self.engine.health.up or self.engine.client is None:
            return
        self._scripts()
        task = asyncio.ensure_future(self._shared_spend(key, tokens))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _shared_spend(self, key: ClientKey, tokens: int) -> None:
        try:
            await asyncio.wait_for(self._spend(keys=[f"{PREFIX}key:{{{key.id}}}"], args=[tokens]), CALL_TIMEOUT * 4)
        except Exception as e:
            self.engine.lost(e)


def _with_wait(message: str, wait: float) -> str:
    head, sep, _ = message.rpartition("; try again in ")
    return f"{head}; try again in {int(wait + 0.999)} s." if sep else message
