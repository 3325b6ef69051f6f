"""Everything a request handler needs, in one typed object stored under an aiohttp AppKey."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from trayproxy.config import Config

if TYPE_CHECKING:
    from trayproxy.accounts.pool import AccountPool
    from trayproxy.monitor import Monitor
    from trayproxy.proxy.memory import ResponseStore, SignatureStore
    from trayproxy.upstream.cloudcode import CloudCodeClient
    from trayproxy.upstream.zai import ZaiClient

__all__ = ["ProxyContext", "CONTEXT", "new_id"]


def new_id(prefix: str) -> str:
    """Ids for things the client protocol needs and the upstream did not give (unique, not
    secret: no system call for randomness per id)."""
    return f"{prefix}{_rand.getrandbits(96):024x}"


_rand = random.Random()  # seeded from os.urandom once


@dataclass
class ProxyContext:
    config: Callable[[], Config]
    api_key: Callable[[], str]
    pool: AccountPool
    upstream: CloudCodeClient
    signatures: SignatureStore
    responses: ResponseStore
    monitor: Monitor | None = None
    zai: ZaiClient | None = None
    zai_key: Callable[[], str | None] = lambda: None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    clock: Callable[[], float] = time.time
    new_id: Callable[[str], str] = new_id
    extra: dict[str, Any] = field(default_factory=dict)

    def active_accounts(self) -> int:
        return self.pool.active_count()


CONTEXT = web.AppKey("trayproxy_context", ProxyContext)
