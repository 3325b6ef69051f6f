"""`SharedState`: what the Controller starts on its engine loop when shared mode is configured.

1. Redis (`shared.redis_url`): the engine and the limiter that counts client keys across
   instances; the local limiter while it is down.
2. PostgreSQL (`shared.database_url`): the engine with its migrations, the secret key for
   refresh tokens (crypto.py, loaded in a worker thread), the replicas of the client keys and
   the accounts, and the shipper of the request log.
3. `start` returns once each engine was tried (a few seconds at most when one is down; the
   probes keep trying in the background); requests never wait for either.

Part 2 of #30 (the pool's live state in Redis: rests, sticky sessions, in-flight counts, the
access-token lock, the catalog cache, change events) hooks in here: `self.redis` is the engine
it shares.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from collections.abc import Callable
from typing import Any

from trayproxy.accounts.store import AccountStore
from trayproxy.clientkeys.limits import Limiter, LocalLimiter
from trayproxy.clientkeys.store import KeyStore
from trayproxy.config import SharedConfig
from trayproxy.monitor.store import Monitor
from trayproxy.shared.health import SharedHealth

__all__ = ["SharedState", "instance_name", "mask_url"]

log = logging.getLogger("trayproxy.shared")


def instance_name(data_dir: str, port: int) -> str:
    """Names this instance in the shared log and in change notices: host and data dir."""
    return f"{socket.gethostname()}:{port}:{hashlib.sha256(data_dir.encode()).hexdigest()[:6]}"


def mask_url(url: str) -> str:
    """A URL fit to show: its password replaced."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        p = urlsplit(url)
        if p.password:
            host = p.hostname or ""
            if p.port:
                host = f"{host}:{p.port}"
            return urlunsplit((p.scheme, f"{p.username or ''}:***@{host}", p.path, p.query, p.fragment))
    except ValueError:
        return "(not a URL)"
    return url


class SharedState:
    def __init__(self, cfg: SharedConfig, *, secrets: Any, store: AccountStore, keys: KeyStore,
                 monitor: Monitor | None, local_limiter: LocalLimiter, instance: str,
                 forget_token: Callable[[str], None] = lambda _id: None,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.cfg = cfg
        self.instance = instance
        self.health = SharedHealth()
        self.limiter: Limiter = local_limiter
        self._secrets = secrets
        self._store = store
        self._keys = keys
        self._monitor = monitor
        self._local = local_limiter
        self._forget = forget_token
        self._on_change = on_change
        self.redis: Any = None
        self.pg: Any = None
        self.accounts: Any = None
        self.key_replica: Any = None
        self.shipper: Any = None
        self.secret_key_source: str | None = None
        self.health.listeners.append(on_change)

    async def start(self) -> None:
        if self.cfg.redis_url:
            from trayproxy.shared.redis_engine import RedisEngine, RedisLimiter

            self.redis = RedisEngine(self.cfg.redis_url, self.health.engine("Redis"))
            self.limiter = RedisLimiter(self.redis, self._local)
        if self.cfg.database_url:
            from trayproxy.shared.crypto import TokenCipher, load_key
            from trayproxy.shared.pg_accounts import PgAccounts
            from trayproxy.shared.pg_engine import PgEngine
            from trayproxy.shared.pg_keys import PgKeys

            key, self.secret_key_source = await asyncio.to_thread(load_key, self._secrets)
            self.pg = PgEngine(self.cfg.database_url, self.health.engine("PostgreSQL"), self.instance)
            self.key_replica = PgKeys(self.pg, self._keys)
            self.accounts = PgAccounts(self.pg, self._store, TokenCipher(key), on_removed=self._forget,
                                       on_change=self._on_change)
            if self._monitor is not None:
                from trayproxy.shared.pg_log import LogShipper, PgMonitor

                self.shipper = LogShipper(self.pg, self._monitor)
                if isinstance(self._monitor, PgMonitor):
                    self._monitor.engine = self.pg
                    self._monitor.loop = asyncio.get_running_loop()
                    self._monitor.shipper = self.shipper
                await self.shipper.start()
        tries = []
        if self.redis is not None:
            tries.append(self.redis.start())
        if self.pg is not None:
            tries.append(self.pg.start())
        for r in await asyncio.gather(*tries, return_exceptions=True):
            if isinstance(r, BaseException):
                log.error("shared mode could not start: %s", r)
        if self.key_replica is not None:
            self.key_replica.start()
            self.accounts.start()

    def problem(self) -> str | None:
        if self.pg is not None and self.pg.fatal:
            return f"shared state: {self.pg.fatal}"
        if self.accounts is not None and self.accounts.problem:
            return f"shared state: {self.accounts.problem}"
        return self.health.problem()

    def status(self) -> dict[str, Any]:
        return {
            **self.health.to_dict(),
            "problem": self.problem(),
            "instance": self.instance,
            "redis_url": mask_url(self.cfg.redis_url) if self.cfg.redis_url else None,
            "database_url": mask_url(self.cfg.database_url) if self.cfg.database_url else None,
            "log_rows_waiting": self.shipper.pending if self.shipper is not None else 0,
            "secret_key": self.secret_key_source,
        }

    async def stop(self) -> None:
        for part in (self.key_replica, self.accounts, self.shipper):
            if part is not None:
                try:
                    await part.stop()
                except Exception:
                    log.debug("stopping %s failed", type(part).__name__, exc_info=True)
        for eng in (self.pg, self.redis):
            if eng is not None:
                await eng.stop()
