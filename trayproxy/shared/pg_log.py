"""The request log in PostgreSQL: shipped from each instance's SQLite log, read back for all.

1. Writing: nothing changes on the request path. Rows go to the local SQLite log as always
   (monitor/store.py); the `LogShipper` copies the rows after its mark (a rowid kept in the local
   log's meta table) to PostgreSQL in batches, on the engine loop (reads of the SQLite file in a
   worker thread), woken by each batch the monitor writes. The local log is the buffer: while
   PostgreSQL is down, or this instance is restarted, rows wait on disk, and trimming never
   removes a row that has not been shipped (`Monitor.hold`). Inserts are idempotent (ON
   CONFLICT DO NOTHING), so a batch shipped twice after a crash is still one row each: no row is
   lost and none is doubled.
2. Reading: `PgMonitor` is the Monitor with its reads (Monitor tab, stats, export) answered by
   PostgreSQL, the log of every instance; while PostgreSQL is unreachable they fall back to
   this instance's own log. `trayproxy logs` uses the same queries (`read`) on a connection of
   its own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from trayproxy.monitor.record import COLUMNS
from trayproxy.monitor.store import ERROR_SQL, Monitor
from trayproxy.shared.pg_engine import PgEngine

__all__ = ["LogShipper", "PgMonitor", "Queries", "MARK"]

log = logging.getLogger("trayproxy.shared")
T = TypeVar("T")
MARK = "shipped_rowid"
BATCH = 1000
READ_TIMEOUT = 5.0
SHIP_EVERY = 1.0  # s: under load, one shipment a second carries many requests (one wake-up, one round trip)
_PG_COLUMNS = ("instance", *COLUMNS)
_INSERT = (f"INSERT INTO requests ({', '.join(_PG_COLUMNS)}) VALUES "
           f"({', '.join(f'${i + 1}' for i in range(len(_PG_COLUMNS)))}) ON CONFLICT (id) DO NOTHING")
_INSERT_BODY = "INSERT INTO request_bodies (id, request, response) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING"
_GROUPS = ("account_id", "upstream_model", "client_model", "protocol", "upstream", "key_id")


class LogShipper:
    def __init__(self, engine: PgEngine, monitor: Monitor) -> None:
        self.engine = engine
        self.monitor = monitor
        self.mark: int | None = None
        self.pending = 0  # rows known to wait (for /metrics and doctor)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        monitor.hold = lambda: self.mark if self.mark is not None else 0
        monitor.subscribe(self._written)
        engine.on_back(self._back)

    def _written(self, batch: list[Any]) -> None:
        """(The monitor's writer thread.) New rows are on disk: wake the shipper."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def _back(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        raw = await asyncio.to_thread(self.monitor.meta, MARK)
        self.mark = int(raw) if raw and raw.isdigit() else 0
        self._task = asyncio.ensure_future(self._run())
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), 5.0)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if self.engine.health.up:
                try:
                    await self.ship()
                    await asyncio.sleep(SHIP_EVERY)
                except Exception as e:
                    log.warning("request log rows could not be shipped to PostgreSQL (%s); they wait on disk", e)

    async def ship(self) -> int:
        """Ship everything after the mark; rows shipped."""
        assert self.mark is not None
        total = 0
        while True:
            rows, last = await asyncio.to_thread(self.monitor.rows_after, self.mark, BATCH)
            if not rows:
                self.pending = 0
                return total
            instance = self.engine.instance
            values = [(instance, *[_pg_value(c, r[c]) for c in COLUMNS]) for r in rows]
            bodies = [(r["id"], _bytes(r["request_body"]), _bytes(r["response_body"])) for r in rows
                      if r["request_body"] is not None or r["response_body"] is not None]

            await self.engine.run(functools.partial(_write, values=values, bodies=bodies))
            self.mark = last
            total += len(rows)
            await asyncio.to_thread(self.monitor.set_meta, MARK, str(last))
            self.pending = max(0, await asyncio.to_thread(self.monitor.last_rowid) - last)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.engine.health.up and self.mark is not None:
            try:
                await asyncio.wait_for(self.ship(), 5.0)
            except Exception:
                pass


async def _write(conn: Any, *, values: list[tuple[Any, ...]], bodies: list[tuple[Any, ...]]) -> None:
    async with conn.transaction():
        await conn.executemany(_INSERT, values)
        if bodies:
            await conn.executemany(_INSERT_BODY, bodies)


def _pg_value(col: str, v: Any) -> Any:
    if col == "stream":
        return bool(v)
    return v


def _bytes(v: Any) -> bytes | None:
    if v is None:
        return None
    return bytes(v) if not isinstance(v, str) else v.encode()


class Queries:
    """The Monitor's reads, in PostgreSQL's dialect, on a given connection."""

    @staticmethod
    def where(f: dict[str, Any]) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []

        def arg(v: Any) -> str:
            args.append(v)
            return f"${len(args)}"

        if f.get("before_ts") is not None:
            if f.get("before_id") is not None:
                t = arg(float(f["before_ts"]))
                clauses.append(f"(ts < {t} OR (ts = {t} AND id < {arg(str(f['before_id']))}))")
            else:
                clauses.append(f"ts < {arg(float(f['before_ts']))}")
        if f.get("since_ts") is not None:
            clauses.append(f"ts >= {arg(float(f['since_ts']))}")
        status = f.get("status")
        if status == "ok":
            clauses.append(f"NOT {ERROR_SQL} AND outcome = 'ok'")
        elif status == "error":
            clauses.append(ERROR_SQL)
        elif status in ("client_disconnect", "shutdown", "rejected"):
            clauses.append(f"outcome = {arg(status)}")
        elif status not in (None, ""):
            clauses.append(f"status = {arg(int(status))}")
        if f.get("model"):
            m = arg(f["model"])
            clauses.append(f"(upstream_model = {m} OR client_model = {m})")
        for col in ("account_id", "protocol", "key_id"):
            if f.get(col):
                clauses.append(f"{col} = {arg(f[col])}")
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args

    @staticmethod
    async def recent(conn: Any, *, limit: int = 100, **f: Any) -> list[dict[str, Any]]:
        where, args = Queries.where(f)
        rows = await conn.fetch(f"SELECT {', '.join(_PG_COLUMNS)} FROM requests {where} ORDER BY ts DESC, id DESC "
                                f"LIMIT {int(limit)}", *args)
        return [dict(r) for r in rows]

    @staticmethod
    async def get(conn: Any, rec_id: str) -> dict[str, Any] | None:
        r = await conn.fetchrow("SELECT r.*, b.request AS request_body, b.response AS response_body FROM requests r "
                                "LEFT JOIN request_bodies b ON b.id = r.id WHERE r.id = $1", rec_id)
        if r is None:
            return None
        d = dict(r)
        for k in ("request_body", "response_body"):
            if isinstance(d[k], (bytes, bytearray, memoryview)):
                d[k] = bytes(d[k]).decode("utf-8", "replace")
        return d

    @staticmethod
    async def hourly(conn: Any, hours: int, now: float) -> list[dict[str, Any]]:
        start = (int(now) // 3600 - hours + 1) * 3600
        rows = await conn.fetch(
            "SELECT (floor(ts / 3600) * 3600)::bigint AS hour_ts, COUNT(*) AS requests, "
            f"COUNT(*) FILTER (WHERE {ERROR_SQL}) AS errors, COALESCE(SUM(input_tokens), 0) AS input_tokens, "
            "COALESCE(SUM(output_tokens), 0) AS output_tokens FROM requests WHERE ts >= $1 GROUP BY 1 ORDER BY 1",
            float(start))
        by_hour = {int(r["hour_ts"]): r for r in rows}
        return [{"hour_ts": h, **{k: int(by_hour[h][k]) if h in by_hour else 0
                                  for k in ("requests", "errors", "input_tokens", "output_tokens")}}
                for h in range(start, start + hours * 3600, 3600)]

    @staticmethod
    async def totals(conn: Any, by: str, since_ts: float | None = None) -> list[dict[str, Any]]:
        if by not in _GROUPS:
            raise ValueError(f"totals can be grouped by {', '.join(_GROUPS)}")
        where = "WHERE ts >= $1" if since_ts is not None else ""
        rows = await conn.fetch(
            f"SELECT {by} AS key, COUNT(*) AS requests, COUNT(*) FILTER (WHERE {ERROR_SQL}) AS errors, "
            "COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens, "
            "COALESCE(SUM(cached_tokens), 0) AS cached_tokens, COALESCE(SUM(reasoning_tokens), 0) AS reasoning_tokens "
            f"FROM requests {where} GROUP BY {by} ORDER BY requests DESC", *([since_ts] if since_ts is not None else []))
        return [{k: (int(v) if k != "key" else v) for k, v in dict(r).items()} for r in rows]

    @staticmethod
    async def summary(conn: Any) -> dict[str, Any]:
        r = await conn.fetchrow(
            f"SELECT COUNT(*) AS requests, COUNT(*) FILTER (WHERE {ERROR_SQL}) AS errors, "
            "COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens, "
            "COALESCE(SUM(cached_tokens), 0) AS cached_tokens, COALESCE(SUM(reasoning_tokens), 0) AS reasoning_tokens "
            "FROM requests")
        return {k: int(v) for k, v in dict(r).items()}


class PgMonitor(Monitor):
    """The Monitor whose reads come from the shared log (see the module comment). Its reads are
    called from worker threads (the ControlServer runs them off the loop); each runs on the
    engine loop, where the pool lives, and falls back to the local log when PostgreSQL fails."""

    engine: PgEngine | None = None
    loop: asyncio.AbstractEventLoop | None = None
    shipper: LogShipper | None = None

    def __init__(self, db_path: Path, **kw: Any) -> None:
        super().__init__(db_path, **kw)

    def _shared(self, fn: Callable[[Any], Awaitable[T]]) -> T | None:
        eng, loop = self.engine, self.loop
        if eng is None or loop is None or not eng.health.up:
            return None
        try:
            if asyncio.get_running_loop() is loop:
                return None  # never wait for the loop on the loop
        except RuntimeError:
            pass
        try:
            return asyncio.run_coroutine_threadsafe(eng.run(fn), loop).result(READ_TIMEOUT)
        except Exception as e:
            log.debug("shared log read failed, reading this instance's log: %s", e)
            return None

    def recent(self, *, limit: int = 100, **f: Any) -> list[dict[str, Any]]:
        rows = self._shared(lambda conn: Queries.recent(conn, limit=limit, **f))
        return super().recent(limit=limit, **f) if rows is None else rows

    def get(self, rec_id: str) -> dict[str, Any] | None:
        found = self._shared(lambda conn: Queries.get(conn, rec_id))
        return found if found is not None else super().get(rec_id)

    def hourly(self, hours: int = 24, now: float | None = None) -> list[dict[str, Any]]:
        at = time.time() if now is None else now
        rows = self._shared(lambda conn: Queries.hourly(conn, hours, at))
        return super().hourly(hours, now) if rows is None else rows

    def totals(self, by: str) -> list[dict[str, Any]]:
        rows = self._shared(lambda conn: Queries.totals(conn, by))
        return super().totals(by) if rows is None else rows

    def summary(self) -> dict[str, Any]:
        found = self._shared(Queries.summary)
        return super().summary() if found is None else found

    def clear(self) -> int:
        """Clears the shared log too (every instance's rows): the owner's action on the page."""
        n = super().clear()
        if self.shipper is not None:  # the local log starts again from rowid 1
            self.shipper.mark = 0
            self.set_meta(MARK, "0")
        cleared = self._shared(_clear_shared)
        return int(cleared) if cleared is not None else n


async def _clear_shared(conn: Any) -> int:
    async with conn.transaction():
        n = await conn.fetchval("WITH d AS (DELETE FROM requests RETURNING 1) SELECT COUNT(*) FROM d")
        await conn.execute("DELETE FROM request_bodies")
    return int(n)


