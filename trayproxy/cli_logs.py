"""`trayproxy logs`: recent requests and usage per client key, from the request log.

1. Which log: with `shared.database_url` set, the shared log in PostgreSQL (every instance's
   rows), read on a connection of this command's own; when PostgreSQL cannot be reached, this
   machine's SQLite log, with a note on stderr saying so. Embedded: the SQLite log.
2. `--keys`: requests, errors and tokens per client key (names from keys.json), today and in
   all; `--key ID_OR_NAME`: only that key's requests.
3. `--refused`: the guards' refusals (no or wrong API key, a web page, a foreign Host), counted
   per kind, origin and status; they are this machine's (never rows, so never in PostgreSQL).
   Every field's control characters are escaped by the monitor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

__all__ = ["add_parser", "cmd_logs", "open_log", "LogReader"]


def add_parser(sub: Any) -> None:
    lg = sub.add_parser("logs", help="recent requests from the monitor")
    lg.add_argument("-n", type=int, default=30, help="how many (default 30)")
    lg.add_argument("--errors", action="store_true", help="only failed requests")
    lg.add_argument("--refused", action="store_true",
                    help="requests the guards refused (no or wrong API key, a web page, a foreign Host), counted")
    lg.add_argument("--json", action="store_true", help="JSON instead of a table")
    lg.add_argument("--key", metavar="ID_OR_NAME", help="only the requests of this client key")
    lg.add_argument("--keys", action="store_true", help="usage per client key instead of requests")


class LogReader:
    """The reads `logs` and `keys list` need, from PostgreSQL or from the local Monitor."""

    def __init__(self, url: str | None, local: Any) -> None:
        self.url = url
        self.local = local
        self.note: str | None = None

    def _pg(self, fn: Any) -> Any:
        if not self.url:
            return None
        url = self.url

        async def run() -> Any:
            import asyncpg

            conn = await asyncpg.connect(url, timeout=3.0)
            try:
                return await fn(conn)
            finally:
                await conn.close()

        try:
            return asyncio.run(run())
        except Exception as e:
            from trayproxy.shared.state import mask_url

            self.note = (f"the shared log in PostgreSQL ({mask_url(url)}) cannot be read ({type(e).__name__}: {e}); "
                         "showing this machine's own log")
            self.url = None
            return None

    def recent(self, **f: Any) -> list[dict[str, Any]]:
        rows = self._pg(lambda conn: _queries().recent(conn, **f))
        if rows is not None:
            return list(rows)
        return list(self.local.recent(**f)) if self.local is not None else []

    def totals(self, by: str, since_ts: float | None = None) -> list[dict[str, Any]]:
        rows = self._pg(lambda conn: _queries().totals(conn, by, since_ts))
        if rows is not None:
            return list(rows)
        if self.local is None:
            return []
        if since_ts is None:
            return list(self.local.totals(by))
        return [r for r in self.local.totals_since(by, since_ts)]


def _queries() -> Any:
    from trayproxy.shared.pg_log import Queries  # shared mode only: it loads the PostgreSQL side

    return Queries


def open_log() -> LogReader:
    from trayproxy.config import load_config
    from trayproxy.monitor import Monitor
    from trayproxy.paths import app_paths

    paths = app_paths().ensure()
    url = load_config(paths.config_file).config.with_env().shared.database_url or None
    local = Monitor(paths.monitor_db) if paths.monitor_db.exists() else None
    return LogReader(url, local)


def _key_names() -> dict[str, str]:
    from trayproxy.clientkeys.store import KeyStore
    from trayproxy.paths import app_paths

    try:
        return {k.id: k.name for k in KeyStore(app_paths().keys_file).all()}
    except Exception:
        return {}


def _by_key(reader: LogReader) -> str:
    names = _key_names()
    now = time.time()
    today = {str(r["key"]): r for r in reader.totals("key_id", now - now % 86400) if r.get("key")}
    rows = [r for r in reader.totals("key_id") if r.get("key")]
    if not rows:
        return "No requests with a client key yet."
    lines = [f"{'key':<12} {'name':<20} {'requests':>9} {'errors':>7} {'tokens in':>11} {'tokens out':>11} "
             f"{'tokens today':>13}"]
    for r in rows:
        kid = str(r["key"])
        t = today.get(kid, {})
        lines.append(f"{kid:<12} {names.get(kid, '?')[:20]:<20} {int(r['requests']):>9,} {int(r['errors'] or 0):>7,} "
                     f"{int(r['input_tokens'] or 0):>11,} {int(r['output_tokens'] or 0):>11,} "
                     f"{int(t.get('input_tokens') or 0) + int(t.get('output_tokens') or 0):>13,}")
    return "\n".join(lines)


def cmd_logs(args: argparse.Namespace) -> int:
    import shutil

    from trayproxy.monitor.report import format_refused, format_table

    reader = open_log()
    if reader.local is None and not reader.url:
        print("[]" if args.json else "No requests recorded yet.")
        return 0
    width = shutil.get_terminal_size((120, 24)).columns
    if args.refused:
        refused = reader.local.refused(limit=args.n) if reader.local is not None else []
        if args.json:
            print(json.dumps(refused, indent=1))
        else:
            print(format_refused(refused, width=width) if refused else "No request was refused.")
        return 0
    if args.keys:
        text = _by_key(reader)
        if reader.note:
            print(f"trayproxy: note: {reader.note}", file=sys.stderr)
        print(text)
        return 0
    f: dict[str, Any] = {"limit": args.n}
    if args.errors:
        f["status"] = "error"
    if args.key:
        names = _key_names()
        f["key_id"] = args.key if args.key in names else next((i for i, n in names.items() if n == args.key), args.key)
    rows = reader.recent(**f)
    if reader.note:
        print(f"trayproxy: note: {reader.note}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=1, default=str))
        return 0
    print(format_table(list(reversed(rows)), width=width) if rows else "No requests recorded yet.")
    total = sum(int(r["count"]) for r in reader.local.refused(limit=1000)) if reader.local is not None else 0
    if total:
        print(f"\n{total} request{'s' if total != 1 else ''} refused by the guards (no or wrong API key, web "
              "pages, foreign Host): trayproxy logs --refused")
    return 0
