"""The request log: SQLite (WAL) in the data dir, written in batches by one thread.

`record()` never blocks and never raises: it redacts, drops bodies unless the user turned
body storage on, and queues. The writer thread sleeps on the queue (no timers, so an idle app
stays idle), then writes everything queued in one transaction. Retention (days and row count)
runs at start and then at most once an hour, triggered by writes. Queries open their own
short-lived read connection, which WAL lets run beside the writer.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import astuple
from pathlib import Path
from typing import Any

from trayproxy.monitor.record import COLUMNS, RequestRecord
from trayproxy.monitor.redact import redact_bytes, redact_text

__all__ = ["Monitor"]

log = logging.getLogger("trayproxy.monitor")
SCHEMA_VERSION = 1
_BATCH = 500
_RETENTION_EVERY = 3600.0
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY, ts REAL NOT NULL, method TEXT, route TEXT, protocol TEXT,
    client_model TEXT, upstream_model TEXT, account_id TEXT, upstream TEXT,
    status INTEGER, outcome TEXT, duration_ms REAL, ttfb_ms REAL,
    input_tokens INTEGER DEFAULT 0, output_tokens INTEGER DEFAULT 0, cached_tokens INTEGER DEFAULT 0,
    reasoning_tokens INTEGER DEFAULT 0, stream INTEGER DEFAULT 0, error TEXT, user_agent TEXT
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts);
CREATE INDEX IF NOT EXISTS requests_status ON requests(status);
CREATE INDEX IF NOT EXISTS requests_account ON requests(account_id);
CREATE INDEX IF NOT EXISTS requests_model ON requests(upstream_model);
CREATE TABLE IF NOT EXISTS bodies (id TEXT PRIMARY KEY, request BLOB, response BLOB);
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
"""
_GROUPS = ("account_id", "upstream_model", "client_model", "protocol", "upstream")
_STOP = object()


class Monitor:
    def __init__(
        self,
        db_path: Path,
        *,
        enabled: bool = True,
        retention_days: int = 30,
        max_rows: int = 100_000,
        store_bodies: bool = False,
        body_cap: int = 64 * 1024,
        secrets: Callable[[], Iterable[str]] = lambda: (),
    ) -> None:
        self.db_path = Path(db_path)
        self.enabled = enabled
        self.retention_days = retention_days
        self.max_rows = max_rows
        self.store_bodies = store_bodies
        self.body_cap = body_cap
        self._secrets = secrets
        self.dropped = 0
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pending = 0
        self._cond = threading.Condition()
        self._last_retention = 0.0
        self._closed = False
        self._warned = False

    # -- lifecycle ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=5.0, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def start(self) -> None:
        if self._thread is not None:
            return
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            conn.commit()
        finally:
            conn.close()
        try:
            self.db_path.chmod(0o600)
        except OSError:
            pass
        self.apply_retention()
        self._thread = threading.Thread(target=self._writer, name="trayproxy-monitor", daemon=True)
        self._thread.start()

    def configure(
        self,
        *,
        enabled: bool | None = None,
        retention_days: int | None = None,
        store_bodies: bool | None = None,
        max_rows: int | None = None,
    ) -> None:
        if enabled is not None:
            self.enabled = enabled
        if retention_days is not None:
            self.retention_days = retention_days
        if store_bodies is not None:
            self.store_bodies = store_bodies
        if max_rows is not None:
            self.max_rows = max_rows
        self._last_retention = 0.0

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything recorded so far is on disk."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending and self._thread is not None and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        if self._thread is not None:
            self._q.put(_STOP)
            self._thread.join(5)
            self._thread = None

    # -- writing -----------------------------------------------------------------------------
    def record(self, rec: RequestRecord) -> None:
        if not self.enabled or self._closed:
            return
        try:
            secrets = [s for s in self._secrets() if s]
            rec.error = redact_text(rec.error, secrets)[:1000] if rec.error else None
            rec.user_agent = redact_text(rec.user_agent, secrets)[:300] if rec.user_agent else None
            rec.route = rec.route.split("?", 1)[0]
            if self.store_bodies:
                if rec.request_body is not None:
                    rec.request_body = redact_bytes(rec.request_body, secrets, cap=self.body_cap)
                if rec.response_body is not None:
                    rec.response_body = redact_bytes(rec.response_body, secrets, cap=self.body_cap)
            else:
                rec.request_body = rec.response_body = None
            with self._cond:
                self._pending += 1
            self._q.put(rec)
        except Exception:  # never let logging break a request
            self.dropped += 1
            log.exception("could not queue a monitor record")

    def _writer(self) -> None:
        conn = self._connect()
        try:
            while True:
                item = self._q.get()
                batch: list[RequestRecord] = []
                stop = item is _STOP
                if not stop:
                    batch.append(item)
                while len(batch) < _BATCH:
                    try:
                        nxt = self._q.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop = True
                        break
                    batch.append(nxt)
                if batch:
                    self._write(conn, batch)
                    with self._cond:
                        self._pending -= len(batch)
                        self._cond.notify_all()
                if stop:
                    return
        finally:
            conn.close()

    def _write(self, conn: sqlite3.Connection, batch: list[RequestRecord]) -> None:
        rows = [astuple(r)[: len(COLUMNS)] for r in batch]
        rows = [(*r[:17], int(bool(r[17])), *r[18:]) for r in rows]
        bodies = [(r.id, r.request_body, r.response_body) for r in batch
                  if r.request_body is not None or r.response_body is not None]
        try:
            with conn:
                conn.executemany(
                    f"INSERT OR REPLACE INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    rows,
                )
                if bodies:
                    conn.executemany("INSERT OR REPLACE INTO bodies (id, request, response) VALUES (?, ?, ?)", bodies)
        except sqlite3.Error as e:
            self.dropped += len(batch)
            if not self._warned:
                self._warned = True
                log.error("the request log could not be written (%s); %d rows dropped", e, len(batch))
            return
        if time.monotonic() - self._last_retention > _RETENTION_EVERY:
            self._retention(conn, time.time())

    # -- retention ---------------------------------------------------------------------------
    def _retention(self, conn: sqlite3.Connection, now: float) -> int:
        self._last_retention = time.monotonic()
        cutoff = now - self.retention_days * 86400
        with conn:
            n = conn.execute("DELETE FROM requests WHERE ts < ?", (cutoff,)).rowcount
            count = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            if count > self.max_rows:
                n += conn.execute(
                    "DELETE FROM requests WHERE id IN (SELECT id FROM requests ORDER BY ts ASC LIMIT ?)",
                    (count - self.max_rows,),
                ).rowcount
            conn.execute("DELETE FROM bodies WHERE id NOT IN (SELECT id FROM requests)")
        return int(n)

    def apply_retention(self, now: float | None = None) -> int:
        if not self.db_path.exists():
            return 0
        conn = self._connect()
        try:
            return self._retention(conn, time.time() if now is None else now)
        finally:
            conn.close()

    # -- queries -----------------------------------------------------------------------------
    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[dict[str, Any]]:
        if not self.db_path.exists():
            return []
        conn = self._connect()
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, tuple(args))]
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    @staticmethod
    def _where(
        *, before_ts: float | None = None, status: str | None = None, model: str | None = None,
        account_id: str | None = None, protocol: str | None = None, since_ts: float | None = None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if before_ts is not None:
            clauses.append("ts < ?")
            args.append(before_ts)
        if since_ts is not None:
            clauses.append("ts >= ?")
            args.append(since_ts)
        if status == "ok":
            clauses.append("status < 400")
        elif status == "error":
            clauses.append("status >= 400")
        elif status:
            clauses.append("status = ?")
            args.append(int(status))
        if model:
            clauses.append("(upstream_model = ? OR client_model = ?)")
            args += [model, model]
        if account_id:
            clauses.append("account_id = ?")
            args.append(account_id)
        if protocol:
            clauses.append("protocol = ?")
            args.append(protocol)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args

    def recent(self, *, limit: int = 100, **filters: Any) -> list[dict[str, Any]]:
        where, args = self._where(**filters)
        rows = self._read(f"SELECT * FROM requests {where} ORDER BY ts DESC, rowid DESC LIMIT ?", [*args, int(limit)])
        for r in rows:
            r["stream"] = bool(r["stream"])
        return rows

    def get(self, rec_id: str) -> dict[str, Any] | None:
        rows = self._read(
            "SELECT r.*, b.request AS request_body, b.response AS response_body FROM requests r "
            "LEFT JOIN bodies b ON b.id = r.id WHERE r.id = ?",
            [rec_id],
        )
        if not rows:
            return None
        r = rows[0]
        r["stream"] = bool(r["stream"])
        for k in ("request_body", "response_body"):
            if isinstance(r[k], bytes):
                r[k] = r[k].decode("utf-8", "replace")
        return r

    def hourly(self, hours: int = 24, now: float | None = None) -> list[dict[str, Any]]:
        now = time.time() if now is None else now
        start = (int(now) // 3600 - hours + 1) * 3600
        rows = self._read(
            "SELECT CAST(ts / 3600 AS INTEGER) * 3600 AS hour_ts, COUNT(*) AS requests, "
            "SUM(status >= 400) AS errors, SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens "
            "FROM requests WHERE ts >= ? GROUP BY hour_ts ORDER BY hour_ts",
            [start],
        )
        by_hour = {int(r["hour_ts"]): r for r in rows}
        return [
            {"hour_ts": h, "requests": int(by_hour.get(h, {}).get("requests") or 0),
             "errors": int(by_hour.get(h, {}).get("errors") or 0),
             "input_tokens": int(by_hour.get(h, {}).get("input_tokens") or 0),
             "output_tokens": int(by_hour.get(h, {}).get("output_tokens") or 0)}
            for h in range(start, start + hours * 3600, 3600)
        ]

    def totals(self, by: str) -> list[dict[str, Any]]:
        if by not in _GROUPS:
            raise ValueError(f"totals can be grouped by {', '.join(_GROUPS)}")
        return self._read(
            f"SELECT {by} AS key, COUNT(*) AS requests, SUM(status >= 400) AS errors, "
            "SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, "
            "SUM(cached_tokens) AS cached_tokens, SUM(reasoning_tokens) AS reasoning_tokens "
            f"FROM requests GROUP BY {by} ORDER BY requests DESC"
        )

    def summary(self) -> dict[str, Any]:
        rows = self._read(
            "SELECT COUNT(*) AS requests, COALESCE(SUM(status >= 400), 0) AS errors, "
            "COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens, "
            "COALESCE(SUM(cached_tokens), 0) AS cached_tokens, COALESCE(SUM(reasoning_tokens), 0) AS reasoning_tokens "
            "FROM requests"
        )
        return rows[0] if rows else {"requests": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0,
                                     "cached_tokens": 0, "reasoning_tokens": 0}

    def clear(self) -> int:
        self.flush()
        if not self.db_path.exists():
            return 0
        conn = self._connect()
        try:
            with conn:
                n = conn.execute("DELETE FROM requests").rowcount
                conn.execute("DELETE FROM bodies")
            return int(n)
        finally:
            conn.close()

    def export(self, fmt: str, **filters: Any) -> bytes:
        rows = self.recent(limit=10_000_000, **filters)
        if fmt == "json":
            return json.dumps(rows, indent=1).encode()
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(COLUMNS))
            w.writeheader()
            for r in rows:
                w.writerow({k: r.get(k) for k in COLUMNS})
            return buf.getvalue().encode()
        raise ValueError("export format must be csv or json")
