"""The request log: SQLite (WAL) in the data dir, written in batches by one thread.

`record()` never blocks and never raises: it drops bodies unless the user turned body storage
on and queues. The writer thread (writer.py) sleeps on the queue (no timers, so an idle app
stays idle), then redacts and writes up to 500 queued rows in one transaction. Retention (days and row count)
runs at start and then at most once an hour, triggered by writes; the row limit also holds at
every write. Requests the guards refuse are counted, not logged one by one (refused.py).
Client text (routes, user agents, model names, error messages that quote them) is stored with
its control characters escaped (redact.printable), and read that way too (rows an older version
stored raw): an `<img src>` GET from any web page must not plant escape sequences that
`trayproxy logs` would print to the user's terminal.
Queries open their own short-lived read connection, which WAL lets run beside the writer.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from trayproxy.monitor.record import COLUMNS, RequestRecord
from trayproxy.monitor.redact import (
    has_controls,
    needs_redaction,
    printable,
    redact_bytes,
    redact_known,
    secret_forms,
    utf8_safe,
)
from trayproxy.monitor.refused import REFUSED_SCHEMA, RefusedCounter
from trayproxy.monitor.report import to_csv, to_json
from trayproxy.monitor.writer import BatchWriter

__all__ = ["Monitor", "SCHEMA_VERSION", "ERROR_SQL"]

log = logging.getLogger("trayproxy.monitor")
SCHEMA_VERSION = 1
_LINGER = 0.05  # s: at one connection, a batch of ~20 requests instead of a commit each
_BATCH = 500
_RETENTION_EVERY = 3600.0
_MAX_TEXT = {"error": 1000, "user_agent": 300, "route": 500, "client_model": 200, "upstream_model": 200,
             "account_id": 200, "method": 16, "protocol": 16, "outcome": 32, "upstream": 32, "key_id": 64}
_COL_TYPES = {
    "id": "TEXT PRIMARY KEY", "ts": "REAL NOT NULL", "method": "TEXT", "route": "TEXT", "protocol": "TEXT",
    "client_model": "TEXT", "upstream_model": "TEXT", "account_id": "TEXT", "upstream": "TEXT",
    "status": "INTEGER", "outcome": "TEXT", "duration_ms": "REAL", "ttfb_ms": "REAL",
    "input_tokens": "INTEGER DEFAULT 0", "output_tokens": "INTEGER DEFAULT 0", "cached_tokens": "INTEGER DEFAULT 0",
    "reasoning_tokens": "INTEGER DEFAULT 0", "stream": "INTEGER DEFAULT 0", "error": "TEXT", "user_agent": "TEXT",
    "key_id": "TEXT",
}
# One index besides the id: `ts` orders every listing, pages it and finds the rows retention
# deletes. Indexes on status, account and model were dropped: each cost every insert (the three
# ~17k instructions a row, a tenth of the monitor's cost per request), while on 100,000 rows the
# status and model filters ran as fast without them (the model filter also matches client_model,
# which no index served) and a filter by a rare account takes 38 ms instead of 2 (the totals the
# page shows scan the table either way, ~100 ms).
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS requests ({", ".join(f"{c} {_COL_TYPES[c]}" for c in COLUMNS)});
CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts);
DROP INDEX IF EXISTS requests_status;
DROP INDEX IF EXISTS requests_account;
DROP INDEX IF EXISTS requests_model;
CREATE TABLE IF NOT EXISTS bodies (id TEXT PRIMARY KEY, request BLOB, response BLOB);
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
{REFUSED_SCHEMA}"""
_INSERT = f"INSERT OR REPLACE INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
# A request failed when it got an error status, or when a stream that had started with 200 broke
# off upstream or was cut by shutdown. A client hanging up is not the proxy's error.
ERROR_SQL = "(status >= 400 OR outcome IN ('error', 'shutdown'))"
_OUTCOMES = ("ok", "error", "client_disconnect", "shutdown", "rejected")
_GROUPS = ("account_id", "upstream_model", "client_model", "protocol", "upstream", "key_id")
_INT_MAX = 2**62
_VERDICTS = 256  # distinct row texts whose redaction verdict is remembered
_MAX_QUEUED_BODY_BYTES = 64 * 1024 * 1024  # beyond this backlog, rows are kept but their bodies dropped
_FLUSH_REFUSED = object()  # queued (at most one at a time) to fold the refused counts into the table


def _int(v: Any) -> int:
    if type(v) is int and 0 <= v <= _INT_MAX:
        return v
    try:
        n = int(v or 0)
    except (TypeError, ValueError):
        return 0
    return max(0, min(n, _INT_MAX))


def _text(v: Any, name: str, forms: list[str]) -> str | None:
    """A text column: stored as UTF-8 SQLite accepts, its control characters escaped, without
    secrets, within its length."""
    if v is None:
        return None
    s = v if type(v) is str else str(v)
    if not s.isascii():
        s = utf8_safe(s)
    return redact_known(printable(s), forms)[: _MAX_TEXT[name]]


# The text columns, in the order `_prepare` reads them from a record.
_TEXTS = ("method", "route", "protocol", "client_model", "upstream_model", "account_id", "upstream", "outcome",
          "error", "user_agent", "key_id")
_CAPS = tuple(_MAX_TEXT[name] for name in _TEXTS)


def _clean_texts(texts: tuple[Any, ...], forms: list[str]) -> tuple[str | None, ...]:
    """The text columns within their lengths when they are text with nothing to redact, escape or
    mend (one look at all of them: nearly every row), else () (each needs its own look)."""
    for t in texts:
        if t is not None and type(t) is not str:
            return ()
    joined = " ".join([t for t in texts if t])
    if not joined.isascii() or has_controls(joined) or needs_redaction(joined, forms):
        return ()
    return tuple([t if t is None else t[:cap] for t, cap in zip(texts, _CAPS, strict=True)])


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """A row as read: text an older version stored raw gets its control characters escaped."""
    for k, v in row.items():
        if type(v) is str and has_controls(v):
            row[k] = printable(v)
    return row


def _float(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


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
        self._refused = RefusedCounter()
        self._rows: int | None = None  # rows in the table, known after the first count
        self._writer: BatchWriter[Any] = BatchWriter(
            self._write, batch=_BATCH, on_stop=self._close_writer, on_done=self._release, linger=_LINGER
        )
        self._conn: sqlite3.Connection | None = None
        self._last_retention = 0.0
        self._started = False
        self._closed = False
        self._dropped = 0
        self._schema_ok = False
        self._body_lock = threading.Lock()
        self._queued_body_bytes = 0
        self._listeners: list[Callable[[list[RequestRecord]], None]] = []
        # shared mode: the highest rowid the shared log has (rows after it are never trimmed)
        self.hold: Callable[[], int | None] | None = None
        # a row's text columns as stored, per distinct text (empty: it needs redaction or
        # mending), for the secrets' spellings of the batch (the writer thread's own)
        self._verdicts: tuple[list[str], dict[tuple[Any, ...], tuple[str | None, ...]]] = ([], {})

    def subscribe(self, fn: Callable[[list[RequestRecord]], None]) -> None:
        """fn(batch) runs on the writer thread after each batch of records is written (the settings
        page is told to fetch new rows instead of polling; the tray learns the model in use).
        It must not block."""
        self._listeners.append(fn)

    @property
    def dropped(self) -> int:
        """Rows that could not be recorded (backlog full, unwritable database, bad record)."""
        return self._dropped + self._writer.dropped

    # -- lifecycle ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=5.0)
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA secure_delete=ON")  # cleared / expired rows do not linger in free pages
        # WAL + NORMAL: no fsync per commit (a power cut may lose the last rows, never corrupts)
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _ensure_schema(self) -> None:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            have = {r[1] for r in conn.execute("PRAGMA table_info(requests)")}
            for c in COLUMNS:  # forward-compatible: add columns an older file lacks
                if c not in have:
                    conn.execute(f"ALTER TABLE requests ADD COLUMN {c} {_COL_TYPES[c].replace(' PRIMARY KEY', '')}")
            conn.commit()
        finally:
            conn.close()
        for suffix in ("", "-wal", "-shm"):
            try:
                Path(str(self.db_path) + suffix).chmod(0o600)
            except OSError:
                pass

    def start(self) -> None:
        """Open the database (WAL), create the schema, apply retention once, start the writer.
        A disabled monitor creates no file; an unopenable one is logged, not raised, and the
        writer tries again with the next batch."""
        if self._started or self._closed:
            return
        self._started = True
        try:
            if self.enabled or self.db_path.exists():
                self._ensure_schema()
                self._schema_ok = True
                self.apply_retention()
        except (sqlite3.Error, OSError) as e:
            log.error("the request log at %s could not be opened (%s)", self.db_path, e)
        self._writer.start()

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
        self._last_retention = 0.0  # the next write applies the new limits

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything recorded so far is on disk."""
        self._writer.flush(timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.stop()  # writes everything queued first

    # -- writing -----------------------------------------------------------------------------
    def record(self, rec: RequestRecord) -> None:
        """Queue one request. Never blocks, never raises; redaction happens on the writer thread."""
        try:
            if not self.enabled or self._closed:
                return
            if not self.store_bodies:
                rec.request_body = rec.response_body = None
            elif rec.request_body is not None or rec.response_body is not None:
                size = len(rec.request_body or b"") + len(rec.response_body or b"")
                with self._body_lock:
                    if self._queued_body_bytes + size > _MAX_QUEUED_BODY_BYTES:
                        rec.request_body = rec.response_body = None
                    else:
                        self._queued_body_bytes += size
            self._writer.put(rec)
        except Exception:  # never let logging break a request
            self._dropped += 1

    def count_refused(self, kind: str, origin: str | None, status: int, ts: float | None = None) -> None:
        """Count one request the guards refused (`kind`: host, origin or auth). Never blocks."""
        try:
            if not self.enabled or self._closed:
                return
            if self._refused.add(kind, origin, status, time.time() if ts is None else ts):
                self._writer.put(_FLUSH_REFUSED)
        except Exception:
            self._dropped += 1

    def refused(self, limit: int = 100) -> list[dict[str, Any]]:
        """Refused requests per kind, origin and status, most recent first."""
        if not self.db_path.is_file():
            return []
        conn = self._connect()
        try:
            return RefusedCounter.rows(conn, limit)
        except sqlite3.Error:
            return []
        finally:
            conn.close()

    def _prepare(self, rec: RequestRecord, forms: list[str], bodies: bool) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
        """One row, redacted (`forms`: the secrets' spellings, from `secret_forms`). Written for
        the common row (text of the right types, nothing to redact, numbers in range) without a
        function call per column: it runs for every request on the writer thread."""
        raw_route = rec.route
        path = raw_route if type(raw_route) is str and "?" not in raw_route else str(raw_route or "").split("?", 1)[0]
        texts = (rec.method, path, rec.protocol, rec.client_model, rec.upstream_model, rec.account_id, rec.upstream,
                 rec.outcome, rec.error, rec.user_agent, rec.key_id)
        seen_forms, verdicts = self._verdicts
        if seen_forms is not forms:
            if seen_forms != forms:  # the secrets changed: what was clean may not be now
                verdicts = {}
            self._verdicts = (forms, verdicts)
        # Rows repeat their text (route, models, account, user agent): what the text columns
        # become is remembered per distinct text, when nothing in it is redacted or mended.
        try:
            capped = verdicts.get(texts)
        except TypeError:  # a value that is no text at all (unhashable): mended below
            capped = ()
        if capped is None:
            capped = _clean_texts(texts, forms)
            if len(verdicts) >= _VERDICTS:
                verdicts.clear()
            verdicts[texts] = capped
        cols = capped or [_text(t, name, forms) for t, name in zip(texts, _TEXTS, strict=True)]
        (method, route, protocol, client_model, upstream_model, account_id, upstream, outcome, error, user_agent,
         key_id) = cols
        status, tin, tout, tcached, treason = (rec.status, rec.input_tokens, rec.output_tokens, rec.cached_tokens,
                                               rec.reasoning_tokens)
        ts, duration, ttfb = rec.ts, rec.duration_ms, rec.ttfb_ms
        row = (
            rec.id if type(rec.id) is str else str(rec.id),
            ts if type(ts) is float else float(ts),
            method, route, protocol, client_model, upstream_model, account_id, upstream,
            status if type(status) is int and 0 <= status <= _INT_MAX else _int(status),
            outcome,
            duration if type(duration) is float else (_float(duration) or 0.0),
            ttfb if ttfb is None or type(ttfb) is float else _float(ttfb),
            tin if type(tin) is int and 0 <= tin <= _INT_MAX else _int(tin),
            tout if type(tout) is int and 0 <= tout <= _INT_MAX else _int(tout),
            tcached if type(tcached) is int and 0 <= tcached <= _INT_MAX else _int(tcached),
            treason if type(treason) is int and 0 <= treason <= _INT_MAX else _int(treason),
            1 if rec.stream else 0,
            error, user_agent, key_id,
        )
        if bodies and (rec.request_body is not None or rec.response_body is not None):
            return row, self._body(rec, forms, bodies)
        return row, None

    def _body(self, rec: RequestRecord, forms: list[str], bodies: bool) -> tuple[Any, ...] | None:
        if bodies and (rec.request_body is not None or rec.response_body is not None):
            return (
                str(rec.id),
                None if rec.request_body is None else redact_bytes(bytes(rec.request_body), forms=forms, cap=self.body_cap),
                None if rec.response_body is None else redact_bytes(bytes(rec.response_body), forms=forms,
                                                                    cap=self.body_cap),
            )
        return None

    def _release(self, batch: list[Any]) -> None:
        size = sum(len(r.request_body or b"") + len(r.response_body or b"") for r in batch if r is not _FLUSH_REFUSED)
        if size:
            with self._body_lock:
                self._queued_body_bytes = max(0, self._queued_body_bytes - size)
        for fn in list(self._listeners):
            try:
                fn(batch)
            except Exception:
                log.debug("monitor listener failed", exc_info=True)

    def _writer_conn(self) -> sqlite3.Connection:
        """The writer thread's own connection, opened at its first batch (raises when it cannot)."""
        if self._conn is None:
            if not self._schema_ok or not self.db_path.exists():
                self._ensure_schema()
                self._schema_ok = True
            self._conn = self._connect()
        return self._conn

    def _close_writer(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _write(self, batch: list[Any]) -> int:
        """Runs on the writer thread: redact, then write the batch in one transaction, keeping
        the table within max_rows as it goes (not only at the hourly retention)."""
        conn = self._writer_conn()
        flush_refused = any(r is _FLUSH_REFUSED for r in batch)
        batch = [r for r in batch if r is not _FLUSH_REFUSED]
        try:
            forms = secret_forms(str(s) for s in self._secrets() if s)
        except Exception:
            log.debug("could not read the secrets to redact; patterns only", exc_info=True)
            forms = []
        bodies = self.store_bodies
        rows, blobs = [], []
        for r in batch:
            row, body = self._prepare(r, forms, bodies)
            rows.append(row)
            if body is not None:
                blobs.append(body)
        with conn:
            if flush_refused:
                self._refused.write(conn)
            if rows:
                known = self._rows  # clear() / retention may reset it from another thread
                if known is None:
                    known = int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
                conn.executemany(_INSERT, rows)
                known += len(rows)
                if blobs:
                    conn.executemany("INSERT OR REPLACE INTO bodies (id, request, response) VALUES (?, ?, ?)", blobs)
                if known > self.max_rows:
                    known -= self._trim(conn, known - self.max_rows)
                self._rows = known
        if time.monotonic() - self._last_retention > _RETENTION_EVERY or not self._last_retention:
            try:
                self._retention(conn, time.time())
            except sqlite3.Error as e:
                log.warning("request log retention failed (%s); will retry later", e)
        return 0

    # -- retention ---------------------------------------------------------------------------
    def _held(self) -> str:
        """A condition on rowid that keeps rows not yet shipped to the shared log (shared mode:
        `hold` says up to which rowid rows are shipped) out of reach of trimming and retention.
        The row at the mark stays too, so SQLite never hands out a rowid at or below it again."""
        hold = self.hold() if self.hold is not None else None
        return "" if hold is None else f" AND rowid < {int(hold)}"

    def _trim(self, conn: sqlite3.Connection, n: int) -> int:
        """Delete the n oldest rows and their bodies (inside the caller's transaction)."""
        ids = [r[0] for r in conn.execute(f"SELECT id FROM requests WHERE 1{self._held()} ORDER BY ts ASC, id ASC "
                                          "LIMIT ?", (n,))]
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            conn.execute(f"DELETE FROM requests WHERE id IN ({marks})", chunk)
            conn.execute(f"DELETE FROM bodies WHERE id IN ({marks})", chunk)
        return len(ids)

    def _retention(self, conn: sqlite3.Connection, now: float) -> int:
        self._last_retention = time.monotonic()
        cutoff = now - self.retention_days * 86400
        self._rows = None  # recounted at the next write
        with conn:
            conn.execute("DELETE FROM refused WHERE last_ts < ?", (cutoff,))
            held = self._held()
            n = conn.execute(f"DELETE FROM requests WHERE ts < ?{held}", (cutoff,)).rowcount
            count = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            if count > self.max_rows:
                n += conn.execute(
                    f"DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE 1{held} ORDER BY ts ASC, id ASC "
                    "LIMIT ?)",
                    (count - self.max_rows,),
                ).rowcount
            conn.execute("DELETE FROM bodies WHERE id NOT IN (SELECT id FROM requests)")
        return int(n)

    def apply_retention(self, now: float | None = None) -> int:
        """Delete rows older than retention_days, then the oldest beyond max_rows; rows deleted."""
        if not self.db_path.is_file():
            return 0
        conn = self._connect()
        try:
            return self._retention(conn, time.time() if now is None else now)
        finally:
            conn.close()

    # -- shipping (shared mode: shared/pg_log.py) ----------------------------------------------
    def meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """(Worker thread.)"""
        if not self.db_path.is_file():
            return
        conn = self._connect()
        try:
            with conn:
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        finally:
            conn.close()

    def rows_after(self, rowid: int, limit: int = 1000) -> tuple[list[dict[str, Any]], int]:
        """(Worker thread.) Rows written after `rowid` (oldest first, bodies included) and the
        last rowid among them."""
        cols = ", ".join(f"r.{c}" for c in COLUMNS)
        rows = self._read(f"SELECT r.rowid AS _rowid, {cols}, b.request AS request_body, b.response AS response_body "
                          "FROM requests r LEFT JOIN bodies b ON b.id = r.id WHERE r.rowid > ? ORDER BY r.rowid LIMIT ?",
                          [rowid, limit])
        last = rows[-1]["_rowid"] if rows else rowid
        return rows, int(last)

    def last_rowid(self) -> int:
        rows = self._read("SELECT COALESCE(MAX(rowid), 0) AS m FROM requests")
        return int(rows[0]["m"]) if rows else 0

    # -- queries -----------------------------------------------------------------------------
    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Read on the caller's thread with a short-lived connection; an unreadable log reads as empty."""
        if not self.db_path.is_file():
            return []
        try:
            conn = self._connect()
        except sqlite3.Error as e:
            log.warning("the request log could not be read (%s)", e)
            return []
        conn.row_factory = sqlite3.Row
        try:
            return [_shown(dict(r)) for r in conn.execute(sql, tuple(args))]
        except sqlite3.OperationalError as e:
            log.debug("request log query failed (%s)", e)
            return []
        finally:
            conn.close()

    @staticmethod
    def _where(
        *, before_ts: float | None = None, before_id: str | None = None, status: str | int | None = None,
        model: str | None = None, account_id: str | None = None, protocol: str | None = None,
        since_ts: float | None = None, key_id: str | None = None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if before_ts is not None:
            if before_id is not None:  # keyset: rows with the same ts as the last one seen are not skipped
                clauses.append("(ts < ? OR (ts = ? AND id < ?))")
                args += [before_ts, before_ts, before_id]
            else:
                clauses.append("ts < ?")
                args.append(before_ts)
        if since_ts is not None:
            clauses.append("ts >= ?")
            args.append(since_ts)
        if status == "ok":
            clauses.append(f"NOT {ERROR_SQL} AND outcome = 'ok'")
        elif status == "error":
            clauses.append(ERROR_SQL)
        elif status in _OUTCOMES:
            clauses.append("outcome = ?")
            args.append(status)
        elif status not in (None, ""):
            try:
                code = int(status)
            except (TypeError, ValueError):
                raise ValueError(f"unknown status filter {status!r}") from None
            clauses.append("status = ?")
            args.append(code)
        if model:
            clauses.append("(upstream_model = ? OR client_model = ?)")
            args += [model, model]
        if account_id:
            clauses.append("account_id = ?")
            args.append(account_id)
        if protocol:
            clauses.append("protocol = ?")
            args.append(protocol)
        if key_id:
            clauses.append("key_id = ?")
            args.append(key_id)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args

    def recent(
        self, *, limit: int = 100, before_ts: float | None = None, status: str | int | None = None,
        model: str | None = None, account_id: str | None = None, protocol: str | None = None,
        before_id: str | None = None, since_ts: float | None = None, key_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first. Page with `before_ts=last["ts"], before_id=last["id"]`."""
        where, args = self._where(before_ts=before_ts, before_id=before_id, status=status, model=model,
                                  account_id=account_id, protocol=protocol, since_ts=since_ts, key_id=key_id)
        cols = ", ".join(COLUMNS)
        rows = self._read(f"SELECT {cols} FROM requests {where} ORDER BY ts DESC, id DESC LIMIT ?", [*args, int(limit)])
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
            f"SUM({ERROR_SQL}) AS errors, SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens "
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
            f"SELECT {by} AS key, COUNT(*) AS requests, SUM({ERROR_SQL}) AS errors, "
            "SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, "
            "SUM(cached_tokens) AS cached_tokens, SUM(reasoning_tokens) AS reasoning_tokens "
            f"FROM requests GROUP BY {by} ORDER BY requests DESC"
        )

    def totals_since(self, by: str, since_ts: float) -> list[dict[str, Any]]:
        """`totals(by)` of the requests since `since_ts`."""
        if by not in _GROUPS:
            raise ValueError(f"totals can be grouped by {', '.join(_GROUPS)}")
        return self._read(
            f"SELECT {by} AS key, COUNT(*) AS requests, SUM({ERROR_SQL}) AS errors, "
            "SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens "
            f"FROM requests WHERE ts >= ? GROUP BY {by} ORDER BY requests DESC", [since_ts])

    def key_tokens_since(self, ts: float) -> dict[str, int]:
        """Tokens per client key in requests since `ts` (a restart seeds today's counts)."""
        rows = self._read("SELECT key_id, SUM(input_tokens + output_tokens) AS t FROM requests WHERE ts >= ? AND "
                          "key_id IS NOT NULL GROUP BY key_id", [ts])
        return {str(r["key_id"]): int(r["t"] or 0) for r in rows}

    def summary(self) -> dict[str, Any]:
        rows = self._read(
            f"SELECT COUNT(*) AS requests, COALESCE(SUM({ERROR_SQL}), 0) AS errors, "
            "COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens, "
            "COALESCE(SUM(cached_tokens), 0) AS cached_tokens, COALESCE(SUM(reasoning_tokens), 0) AS reasoning_tokens "
            "FROM requests"
        )
        return rows[0] if rows else {"requests": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0,
                                     "cached_tokens": 0, "reasoning_tokens": 0}

    def clear(self) -> int:
        """Delete every row (overwritten on disk, WAL truncated); the number of requests deleted."""
        self.flush()
        if not self.db_path.is_file():
            return 0
        conn = self._connect()
        try:
            with conn:
                n = conn.execute("DELETE FROM requests").rowcount
                conn.execute("DELETE FROM bodies")
                conn.execute("DELETE FROM refused")
            self._rows = None
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            return int(n)
        finally:
            conn.close()

    def export(self, fmt: str, **filters: Any) -> bytes:
        """All matching rows (newest first) as CSV or JSON; filters as for `recent`."""
        if fmt not in ("csv", "json"):
            raise ValueError("export format must be csv or json")
        filters.setdefault("limit", 10_000_000)
        rows = self.recent(**filters)
        return to_json(rows) if fmt == "json" else to_csv(rows)
