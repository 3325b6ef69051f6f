"""Requests the guards refuse (wrong Host, foreign Origin, missing or wrong key), counted.

A web page can make thousands of refused requests a second; one log row each would flood the
request log and push real requests out. They are counted per (kind, origin, status) instead:
in memory at once (no I/O on the request path), then folded into the `refused` table by the
monitor's writer thread, at most one pending flush at a time. Distinct origins are bounded too:
past `MAX_KEYS`, new ones are counted under "(other origins)".
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from trayproxy.monitor.redact import printable, utf8_safe

__all__ = ["RefusedCounter", "REFUSED_SCHEMA", "MAX_KEYS", "OTHER"]

MAX_KEYS = 1000
OTHER = "(other origins)"
REFUSED_SCHEMA = """
CREATE TABLE IF NOT EXISTS refused (kind TEXT NOT NULL, origin TEXT NOT NULL, status INTEGER NOT NULL,
    count INTEGER NOT NULL, first_ts REAL NOT NULL, last_ts REAL NOT NULL, PRIMARY KEY (kind, origin, status));
"""
_UPSERT = (
    "INSERT INTO refused (kind, origin, status, count, first_ts, last_ts) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (kind, origin, status) DO UPDATE SET count = count + excluded.count, "
    "first_ts = MIN(first_ts, excluded.first_ts), last_ts = MAX(last_ts, excluded.last_ts)"
)
Key = tuple[str, str, int]


def _clean(text: str | None, cap: int = 200) -> str:
    """Header text as stored: never lone surrogates (bytes that were not UTF-8), control
    characters escaped, bounded."""
    if not text:
        return "-"
    return printable(utf8_safe(text))[:cap]


class RefusedCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Key, list[float]] = {}  # key -> [count, first_ts, last_ts]
        self._queued = False

    def add(self, kind: str, origin: str | None, status: int, ts: float) -> bool:
        """Count one; True when the caller should queue a flush (none is pending)."""
        key = (kind, _clean(origin), int(status))
        with self._lock:
            c = self._counts.get(key)
            if c is None and len(self._counts) >= MAX_KEYS:
                key = (kind, OTHER, int(status))
                c = self._counts.get(key)
            if c is None:
                self._counts[key] = [1, ts, ts]
            else:
                c[0] += 1
                c[2] = max(c[2], ts)
            if self._queued:
                return False
            self._queued = True
            return True

    def take(self) -> dict[Key, list[float]]:
        with self._lock:
            counts, self._counts = self._counts, {}
            self._queued = False
            return counts

    def write(self, conn: sqlite3.Connection) -> int:
        """Fold what was counted into the table (the writer thread, inside its transaction)."""
        counts = self.take()
        if counts:
            conn.executemany(_UPSERT, [(k, o, s, int(c[0]), c[1], c[2]) for (k, o, s), c in counts.items()])
        return len(counts)

    @staticmethod
    def rows(conn: sqlite3.Connection, limit: int = 100) -> list[dict[str, Any]]:
        cur = conn.execute(
            "SELECT kind, origin, status, count, first_ts, last_ts FROM refused ORDER BY last_ts DESC LIMIT ?",
            (limit,),
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
