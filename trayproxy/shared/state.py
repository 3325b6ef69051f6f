"""`SharedState`: what the Controller starts on its engine loop when shared mode is configured.

1. Redis (`shared.redis_url`): the engine and the limiter that counts client keys across
   instances (the local limiter while it is down); the change bus (redis_bus.py) with the
   pool's live state (redis_pool.py: rests, account states, quota snapshots and catalogs, sticky
   sessions, in-flight counts), the access tokens under a lock (redis_tokens.py), and the
   client keys and the mapping (redis_changes.py). The pool, the stores and the service keep
   their memory; these mirror it out and apply the others' changes in.
2. PostgreSQL (`shared.database_url`): the engine with its migrations, the secret key for
   refresh tokens (crypto.py, loaded in a worker thread), the replicas of the client keys and
   the accounts, and the shipper of the request log.
3. `start` returns once each engine was tried (a few seconds at most when one is down; the
   probes keep trying in the background); requests never wait for either.
4. A store told of its changes by two mirrors (Redis and PostgreSQL) gets a `_Fanout` of both.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from collections.abc import Callable
from typing import Any

from trayproxy.accounts.pool import AccountPool
from trayproxy.accounts.store import AccountStore
from trayproxy.clientkeys.limits import Limiter, LocalLimiter
from trayproxy.clientkeys.record import ClientKey
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
                 on_change: Callable[[], None] = lambda: None, pool: AccountPool | None = None,
                 service: Any = None, mapping: Callable[[], dict[str, str]] = dict,
                 on_mapping: Callable[[dict[str, str]], None] = lambda _m: None) -> None:
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
        self.bus: Any = None
        self.live: Any = None  # RedisPool
        self.changes: Any = None  # RedisChanges
        self._pool = pool
        self._service = service
        self._mapping = mapping
        self._on_mapping = on_mapping
        self._inflight_task: asyncio.Task[None] | None = None
        self.health.listeners.append(on_change)

    async def start(self) -> None:
        from trayproxy.shared.crypto import TokenCipher, load_key

        key, self.secret_key_source = await asyncio.to_thread(load_key, self._secrets)
        if self.cfg.redis_url:
            self._start_redis(TokenCipher(key))
        if self.cfg.database_url:
            from trayproxy.shared.pg_accounts import PgAccounts
            from trayproxy.shared.pg_engine import PgEngine
            from trayproxy.shared.pg_keys import PgKeys

            self.pg = PgEngine(self.cfg.database_url, self.health.engine("PostgreSQL"), self.instance)
            self.key_replica = PgKeys(self.pg, self._keys)
            self.accounts = PgAccounts(self.pg, self._store, TokenCipher(key), on_removed=self._forget,
                                       on_change=self._accounts_changed)
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
        if self.live is not None:
            self._store.replica = _Fanout(self.live, self.accounts) if self.accounts is not None else self.live
            self._keys.replica = _Fanout(self.changes, self.key_replica) if self.key_replica is not None \
                else self.changes
            self.bus.start()
            self._inflight_task = asyncio.ensure_future(self._share_inflight())

    def _start_redis(self, cipher: Any) -> None:
        from trayproxy.shared.redis_bus import Bus
        from trayproxy.shared.redis_changes import RedisChanges
        from trayproxy.shared.redis_engine import RedisEngine, RedisLimiter
        from trayproxy.shared.redis_pool import RedisPool
        from trayproxy.shared.redis_tokens import RedisTokens

        self.redis = RedisEngine(self.cfg.redis_url, self.health.engine("Redis"))
        self.limiter = RedisLimiter(self.redis, self._local)
        self.bus = Bus(self.redis, self.instance)
        self.changes = RedisChanges(self.bus, self._keys, mapping=self._mapping, on_mapping=self._on_mapping,
                                    on_change=self._on_change)
        if self._pool is not None:
            self.live = RedisPool(self.bus, self._pool, self._store, on_change=self._on_change,
                                  on_accounts=self._pull_accounts)
        if self._service is not None:
            self._service.token_share = RedisTokens(self.bus, cipher)

    def _accounts_changed(self) -> None:
        """PostgreSQL brought accounts in: what Redis knows of them comes too."""
        if self.live is not None:
            self.live.changed()
        self._on_change()

    def _pull_accounts(self) -> None:
        """Another instance added or removed an account: PostgreSQL has it now."""
        if self.accounts is not None and self.pg is not None and self.pg.health.up:
            self.accounts.spawn_pull()

    async def _share_inflight(self) -> None:
        from trayproxy.shared.redis_pool import INFLIGHT_EVERY

        while True:
            await asyncio.sleep(INFLIGHT_EVERY)
            if self.bus.up:
                try:
                    await self.live.share_inflight() if self.live is not None else None
                except Exception:
                    log.debug("in-flight counts not shared", exc_info=True)

    def mapping_changed(self, mapping: dict[str, str]) -> None:
        """The Controller changed the model mapping here: the others take it."""
        if self.changes is not None:
            self.changes.mapping_changed(mapping)

    def problem(self) -> str | None:
        if self.pg is not None and self.pg.fatal:
            return f"shared state: {self.pg.fatal}"
        if self.accounts is not None and self.accounts.problem:
            return f"shared state: {self.accounts.problem}"
        return self.health.problem()

    def down(self) -> dict[str, Any] | None:
        """`problem()` as data for the tray and the page (they say it in their language): a
        problem that no reconnection fixes is {"kind": "problem", "since": None, "detail"}."""
        if self.pg is not None and self.pg.fatal:
            return {"kind": "problem", "since": None, "detail": self.pg.fatal}
        if self.accounts is not None and self.accounts.problem:
            return {"kind": "problem", "since": None, "detail": self.accounts.problem}
        return self.health.down()

    def status(self) -> dict[str, Any]:
        return {
            **self.health.to_dict(),
            "problem": self.problem(),
            "instance": self.instance,
            "redis_url": mask_url(self.cfg.redis_url) if self.cfg.redis_url else None,
            "database_url": mask_url(self.cfg.database_url) if self.cfg.database_url else None,
            "log_rows_waiting": self.shipper.pending if self.shipper is not None else 0,
            "secret_key": self.secret_key_source,
            "events_applied": self.bus.applied if self.bus is not None else 0,
        }

    async def stop(self) -> None:
        if self._inflight_task is not None:
            self._inflight_task.cancel()
        for part in (self.bus, self.key_replica, self.accounts, self.shipper):
            if part is not None:
                try:
                    await part.stop()
                except Exception:
                    log.debug("stopping %s failed", type(part).__name__, exc_info=True)
        for eng in (self.pg, self.redis):
            if eng is not None:
                await eng.stop()


class _Fanout:
    """One store's replica made of two mirrors (Redis's live state and PostgreSQL's records):
    each is told of every change."""

    def __init__(self, *parts: Any) -> None:
        self.parts = parts

    def changed(self) -> None:
        for p in self.parts:
            p.changed()

    def token(self, account_id: str, token: str) -> None:
        for p in self.parts:
            p.token(account_id, token)

    def removed(self, account_id: str) -> None:
        for p in self.parts:
            p.removed(account_id)

    def saved(self, key: ClientKey) -> None:
        for p in self.parts:
            p.saved(key)
