"""The request log for people and files: a terminal table (`trayproxy logs`), CSV and JSON, and
the guards' refusals counted per kind, origin and status (`trayproxy logs --refused`)."""

from __future__ import annotations

import csv
import io
import json
import textwrap
import time
from typing import Any

from trayproxy.monitor.record import COLUMNS

__all__ = ["format_table", "format_refused", "to_csv", "to_json"]


def _ms(v: Any) -> str:
    if v is None:
        return "-"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "-"
    return f"{v / 1000:.1f}s" if v >= 1000 else f"{v:.0f}ms"


def _clock(ts: Any) -> str:
    try:
        return time.strftime("%H:%M:%S", time.localtime(float(ts)))
    except (TypeError, ValueError, OverflowError, OSError):
        return "--:--:--"


def _one_line(s: str) -> str:
    return " ".join(s.split())


def _fit(s: str, n: int) -> str:
    """`s` in n characters: whole when it fits, else its start and end around an ellipsis (the
    end of a route or model name tells them apart more than the middle)."""
    if len(s) <= n:
        return s
    if n <= 1:
        return s[:n]
    head = (n - 1) // 2
    return s[:head] + "\u2026" + s[len(s) - (n - 1 - head):]


_FIXED = 8 + 1 + 3 + 1 + 9 + 1 + 8 + 1 + 7 + 1 + 7 + 1 + 7 + 1 + 7  # every column but route and model
_NARROW_FIXED = 8 + 1 + 3 + 1 + 9 + 1 + 7 + 1 + 7 + 1 + 7  # no route, account or ttfb columns
_INDENT = 8 + 1 + 3 + 1 + 9 + 1  # continuation lines start under the route (or the model)
_WIDE = 110  # from this width on, route, account and ttfb have columns; below, the line under


def _model(r: dict[str, Any]) -> str:
    model = str(r.get("client_model") or "-")
    up = r.get("upstream_model")
    return f"{model}->{up}" if up and up != model else model


def _route(r: dict[str, Any]) -> str:
    return str(r.get("route") or "-").split("?", 1)[0]


def format_table(rows: list[dict[str, Any]], *, width: int = 120) -> str:
    """One line per request: local time, status, protocol, route, client->upstream model, account
    (short), duration, time to first byte, tokens in/out; then the error (or the outcome when the
    request did not end normally) in full, wrapped to `width` under the route. Route and model get
    what `width` leaves (as much as they need). Below 110 columns the route and the account move
    to a line under the request and the time to first byte is left out."""
    wide = width >= _WIDE
    room = max(14, width - (_FIXED + 4 if wide else _NARROW_FIXED + 2))
    need_model = max([len(_model(r)) for r in rows] + [5])
    route_w = min(max([len(_route(r)) for r in rows] + [5]), max(12, room * 2 // 5), 40) if wide else 0
    model_w = max(14, min(need_model, room - route_w))
    wrap_w = max(20, width - _INDENT)
    if wide:
        head = (f"{'time':<8} {'st':>3} {'proto':<9} {'route':<{route_w}}  {'model':<{model_w}}  {'acct':<8} "
                f"{'dur':>7} {'ttfb':>7} {'in':>7} {'out':>7}")
    else:
        head = f"{'time':<8} {'st':>3} {'proto':<9} {'model':<{model_w}}  {'dur':>7} {'in':>7} {'out':>7}"
    lines = [head.rstrip()]
    for r in rows:
        outcome = r.get("outcome")
        err = _one_line(str(r.get("error") or (f"({str(outcome).replace('_', ' ')})" if outcome not in (None, "ok") else "")))
        acct = str(r.get("account_id") or ("z.ai" if r.get("upstream") == "zai" else "-"))
        route = _route(r)
        start = f"{_clock(r.get('ts')):<8} {r.get('status', ''):>3} {str(r.get('protocol') or '-'):<9} "
        tokens = f"{r.get('input_tokens') or 0:>7} {r.get('output_tokens') or 0:>7}"
        if wide:
            lines.append((f"{start}{_fit(route, route_w):<{route_w}}  {_fit(_model(r), model_w):<{model_w}}  "
                          f"{acct[:8]:<8} {_ms(r.get('duration_ms')):>7} {_ms(r.get('ttfb_ms')):>7} {tokens}").rstrip())
            if len(route) > route_w:  # the column cut it: whole here, before the error
                lines.append(" " * _INDENT + _fit(route, wrap_w))
        else:
            lines.append(f"{start}{_fit(_model(r), model_w):<{model_w}}  {_ms(r.get('duration_ms')):>7} {tokens}".rstrip())
            where = f"{route} \u00b7 {acct[:8]}"
            if len(where) <= wrap_w:
                lines.append(" " * _INDENT + where)
            else:  # the route alone on its line (cut only past the terminal's width), then the account
                lines += [" " * _INDENT + _fit(route, wrap_w), " " * _INDENT + f"\u00b7 {acct[:8]}"]
        for part in textwrap.wrap(err, wrap_w, break_long_words=True, break_on_hyphens=False):
            lines.append(" " * _INDENT + part)
    return "\n".join(lines)


_KINDS = {"auth": "no or wrong API key", "origin": "a web page", "host": "a Host that is not this machine"}


def format_refused(rows: list[dict[str, Any]], *, width: int = 120) -> str:
    """One line per (kind, origin, status): the kind, the status, how many, the last and first
    time, then the origin (or Host) that sent them, cut to `width`."""
    head = f"{'kind':<7} {'st':>3} {'count':>7}  {'last':<8} {'first':<8}  origin"
    lines = [head]
    for r in rows:
        line = (f"{str(r.get('kind') or '-'):<7} {r.get('status', ''):>3} {int(r.get('count') or 0):>7}  "
                f"{_clock(r.get('last_ts')):<8} {_clock(r.get('first_ts')):<8}  ")
        lines.append(line + _fit(str(r.get("origin") or "-"), max(10, width - len(line))))
    kinds = sorted({str(r.get("kind")) for r in rows if r.get("kind") in _KINDS})
    lines.append("")
    lines += [f"{k}: {_KINDS[k]}" for k in kinds]
    return "\n".join(lines)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", "replace")
    return v


def to_json(rows: list[dict[str, Any]]) -> bytes:
    """A JSON array of the rows (bodies, when present, as text)."""
    return json.dumps([{k: _jsonable(v) for k, v in r.items()} for r in rows], indent=1, ensure_ascii=False).encode()


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """CSV with a header of the record columns (in order), one line per row."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _jsonable(r.get(k)) for k in COLUMNS})
    return buf.getvalue().encode()
