"""PostgreSQL: one asyncpg pool on the engine loop, versioned migrations, change notices.

1. Why asyncpg: it is asyncio-native (nothing blocks the engine loop), ships a connection pool
   and LISTEN/NOTIFY in the one package, speaks the binary protocol and bulk-inserts with COPY
   (the request log ships in batches); psycopg 3 needs psycopg_pool beside it for the same.
2. Migrations: migrations/NNNN_name.sql, applied in order inside one transaction each, under an
   advisory lock (two instances starting together never run one twice); `schema_version` lists
   what ran. A database newer than this trayproxy is refused by name, never written to.
3. Health: every caller reports success or failure (EngineHealth); while PostgreSQL is down a
   probe tries every `PROBE_EVERY` seconds and, once it answers, the listeners' `on_back`
   callbacks re-sync (accounts, keys) and the log shipper catches up.
4. LISTEN: one dedicated connection listens on the channels the replicas name; a change made by
   another instance arrives within a second (NOTIFY is sent in the same transaction as the
   change). When that connection drops, the probe restores it and everything re-syncs.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from trayproxy.shared.health import EngineHealth

__all__ = ["PgEngine", "Mirror", "migrations", "SchemaTooNew"]

log = logging.getLogger("trayproxy.shared")
PROBE_EVERY = 1.0
CALL_TIMEOUT = 5.0
_LOCK_ID = 0x74726179  # "tray": the advisory lock migrations run under


class SchemaTooNew(RuntimeError):
    pass


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql), in order."""
    out = []
    for f in resources.files("trayproxy.shared.migrations").iterdir():
        m = re.fullmatch(r"(\d{4})_(\w+)\.sql", f.name)
        if m:
            out.append((int(m.group(1)), m.group(2), f.read_text("utf-8")))
    return sorted(out)


async def migrate(conn: Any) -> int:
    """Apply what is missing; the schema version after."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, name text NOT NULL, "
                           "applied_at timestamptz NOT NULL DEFAULT now())")
        have = {r["version"] for r in await conn.fetch("SELECT version FROM schema_version")}
        known = migrations()
        newest = max((v for v, _, _ in known), default=0)
        if have and max(have) > newest:
            raise SchemaTooNew(f"the database's schema is version {max(have)}, newer than this trayproxy knows "
                               f"({newest}); upgrade trayproxy on this machine")
        for version, name, sql in known:
            if version not in have:
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_version (version, name) VALUES ($1, $2)", version, name)
                log.info("PostgreSQL schema: applied migration %04d_%s", version, name)
        return newest


class PgEngine:
    def __init__(self, url: str, health: EngineHealth, instance: str) -> None:
        self.url = url
        self.health = health
        self.instance = instance  # who made a change (NOTIFY payloads; own notices are skipped)
        self.pool: Any = None
        self._listen_conn: Any = None
        self._channels: dict[str, Callable[[str], None]] = {}
        self._on_back: list[Callable[[], Awaitable[None]]] = []
        self._probe: asyncio.Task[None] | None = None
        self.fatal: str | None = None  # a problem no retry fixes (schema too new)
        self._stopped = False

    def listen(self, channel: str, fn: Callable[[str], None]) -> None:
        """fn(payload) on the loop for each NOTIFY on `channel` from another instance."""
        self._channels[channel] = fn

    def on_back(self, fn: Callable[[], Awaitable[None]]) -> None:
        """fn() after every (re)connection: re-sync what may have changed meanwhile."""
        self._on_back.append(fn)

    async def start(self) -> None:
        if not await self._connect():
            self.watch()

    async def _connect(self) -> bool:
        import asyncpg

        try:
            if self.pool is None:
                self.pool = await asyncio.wait_for(
                    asyncpg.create_pool(self.url, min_size=1, max_size=4, command_timeout=CALL_TIMEOUT,
                                        timeout=2.0), 5.0)
            async with self.pool.acquire(timeout=2.0) as conn:
                await migrate(conn)
            await self._listen()
        except SchemaTooNew as e:
            self.fatal = str(e)
            self.health.failed(str(e))
            return True  # no probe: nothing changes until trayproxy is upgraded
        except Exception as e:
            self.health.failed(e)
            return False
        self.health.ok()
        for fn in list(self._on_back):
            try:
                await fn()
            except Exception as e:
                log.warning("re-sync with PostgreSQL failed: %s", e)
                self.health.failed(e)
                return False
        return True

    async def _listen(self) -> None:
        if self._listen_conn is not None and not self._listen_conn.is_closed():
            return
        import asyncpg

        conn = await asyncpg.connect(self.url, timeout=2.0)  # its own: a pooled one would be reused
        conn.add_termination_listener(lambda c: self.lost(ConnectionError("the LISTEN connection closed")))
        for channel, fn in self._channels.items():
            await conn.add_listener(channel, self._notice(fn))
        self._listen_conn = conn

    def _notice(self, fn: Callable[[str], None]) -> Callable[..., None]:
        def on_notify(conn: Any, pid: int, channel: str, payload: str) -> None:
            if payload != self.instance:
                fn(payload)

        return on_notify

    def lost(self, e: BaseException) -> None:
        if self._stopped:
            return
        if self.health.up:
            log.warning("PostgreSQL is unreachable (%s); this instance goes on from its own state", e)
        self.health.failed(e)
        conn, self._listen_conn = self._listen_conn, None
        if conn is not None:
            asyncio.ensure_future(self._close(conn))
        self.watch()

    @staticmethod
    async def _close(conn: Any) -> None:
        try:
            await asyncio.wait_for(conn.close(), 1.0)
        except Exception:
            try:
                conn.terminate()
            except Exception:
                pass

    def watch(self) -> None:
        if self.fatal is None and (self._probe is None or self._probe.done()):
            self._probe = asyncio.ensure_future(self._wait_back())

    async def _wait_back(self) -> None:
        while True:
            await asyncio.sleep(PROBE_EVERY)
            if await self._connect():
                log.warning("PostgreSQL answers again; re-synced")
                return

    async def run(self, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        """fn(conn) on a pooled connection; a failure marks PostgreSQL down and is raised."""
        if self.pool is None or not self.health.up:
            raise ConnectionError(self.health.error or "PostgreSQL is not connected")
        try:
            async with self.pool.acquire(timeout=2.0) as conn:
                return await fn(conn)
        except Exception as e:
            if _connection_trouble(e):
                self.lost(e)
            raise

    async def stop(self) -> None:
        self._stopped = True
        if self._probe is not None:
            self._probe.cancel()
        conn, self._listen_conn = self._listen_conn, None
        if conn is not None:
            await self._close(conn)
        if self.pool is not None:
            try:
                await asyncio.wait_for(self.pool.close(), 3.0)
            except Exception:
                self.pool.terminate()


def _connection_trouble(e: BaseException) -> bool:
    import asyncpg

    if isinstance(e, (OSError, asyncio.TimeoutError, ConnectionError, asyncpg.exceptions.InterfaceError,
                      asyncpg.exceptions.ConnectionDoesNotExistError)):
        return True
    return isinstance(e, asyncpg.PostgresError) and str(getattr(e, "sqlstate", "")).startswith(("08", "57"))


class Mirror:
    """What the replicas of the stores share (pg_accounts.py, pg_keys.py): a NOTIFY on their
    channel from another instance, every (re)connection (`sync`) and every `every` seconds bring
    the shared rows in (`pull`); work started from callbacks is kept until it ends."""

    what = "rows"

    def __init__(self, engine: PgEngine, channel: str, every: float) -> None:
        self.engine = engine
        self._every_s = every
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.Task[None] | None = None
        engine.listen(channel, lambda payload: self._spawn(self.pull()))
        engine.on_back(self.sync)

    async def pull(self) -> None:
        raise NotImplementedError

    async def sync(self) -> None:
        raise NotImplementedError

    def spawn_pull(self) -> None:
        """Read the shared rows now, in the background (a change event on Redis said so)."""
        self._spawn(self.pull())

    def _spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def start(self) -> None:
        self._timer = asyncio.ensure_future(self._every())

    async def _every(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            if self.engine.health.up:
                try:
                    await self.pull()
                except Exception as e:
                    log.debug("%s re-sync failed: %s", self.what, e)

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
