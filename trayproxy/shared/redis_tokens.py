"""Access tokens shared through Redis, with a lock so one instance refreshes each account.

1. When an instance's own token for an account is due (accounts/service.py asks, off the request
   path's fast case: a valid token in memory needs no Redis at all), ONE round trip reads the
   shared token and tries the lock (`SET lock NX PX`).
2. A shared token that is still good (and is not the one the upstream just refused) is used as
   it is. Else the lock's holder refreshes with Google and writes the new token (encrypted with
   AES-GCM under the instance's secret key, with the key's fingerprint, until it expires) and
   drops the lock; the others poll for it every `POLL` for at most `WAIT`, then refresh on their
   own (a holder that died, Redis gone, tokens under another secret key). Nothing here can fail
   a request that its own refresh would have served.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from trayproxy.accounts.store import Account
from trayproxy.shared.crypto import CipherError, TokenCipher
from trayproxy.shared.redis_bus import Bus
from trayproxy.shared.redis_engine import PREFIX
from trayproxy.shared.redis_pool import account_key

__all__ = ["RedisTokens"]

LOCK_MS = 15_000
WAIT = 10.0
POLL = 0.1
SKEW = 300.0  # like the service's REFRESH_SKEW: a token this close to its end is not handed out
_UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

Fresh = Callable[[], Awaitable[tuple[str, float]]]


class RedisTokens:
    def __init__(self, bus: Bus, cipher: TokenCipher) -> None:
        self.bus = bus
        self.cipher = cipher
        self.refreshed = 0  # refreshes this instance made under the lock (tests, metrics)

    def _open(self, raw: Any, ak: str, stale: str | None) -> tuple[str, float] | None:
        if raw is None:
            return None
        try:
            d = json.loads(raw)
            if d.get("fp") != self.cipher.fingerprint():
                return None
            token = self.cipher.decrypt(base64.b64decode(d["t"]), ak + ":access")
        except (ValueError, KeyError, CipherError):
            return None
        expires = float(d["e"])
        if token == stale or expires - SKEW <= time.time():
            return None
        return token, expires

    async def refresh(self, account: Account, stale: str | None, fresh: Fresh) -> tuple[str, float]:
        if not self.bus.up:
            return await fresh()
        ak = account_key(account.email)
        tk, lk, me = f"{PREFIX}tok:{ak}", f"{PREFIX}lock:{ak}", os.urandom(8).hex()
        got = await self.bus.run(lambda p: (p.get(tk), p.set(lk, me, nx=True, px=LOCK_MS)))
        if got is None:
            return await fresh()
        shared = self._open(got[0], ak, stale)
        mine = bool(got[1])
        if shared is not None:
            if mine:
                self.bus.write(lambda p: p.eval(_UNLOCK, 1, lk, me))
            return shared
        if mine:
            try:
                token, expires = await fresh()
            except BaseException:
                self.bus.write(lambda p: p.eval(_UNLOCK, 1, lk, me))
                raise
            self.refreshed += 1
            value = json.dumps({"fp": self.cipher.fingerprint(), "e": expires,
                                "t": base64.b64encode(self.cipher.encrypt(token, ak + ":access")).decode()})
            ms = int((expires - time.time()) * 1000)
            await self.bus.run(lambda p: ((p.set(tk, value, px=ms) if ms > 0 else None), p.eval(_UNLOCK, 1, lk, me)))
            return token, expires
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:  # another instance refreshes: its token comes here
            await asyncio.sleep(POLL)
            got = await self.bus.run(lambda p: (p.get(tk), p.exists(lk)))
            if got is None:
                break
            shared = self._open(got[0], ak, stale)
            if shared is not None:
                return shared
            if not got[1]:
                break  # the holder gave up (its refresh failed) or wrote a token we cannot read
        return await fresh()
