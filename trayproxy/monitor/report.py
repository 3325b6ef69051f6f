"""The request log for people and files: a terminal table (`trayproxy logs`), CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

from trayproxy.monitor.record import COLUMNS

__all__ = ["format_table", "to_csv", "to_json"]


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


def format_table(rows: list[dict[str, Any]], *, width: int = 120) -> str:
    """One line per request: local time, status, protocol, client->upstream model, account
    (short), duration, time to first byte, tokens in/out, and the error (or the outcome when
    the request did not end normally)."""
    head = f"{'time':<8} {'st':>3} {'proto':<9} {'model':<38} {'acct':<8} {'dur':>7} {'ttfb':>7} {'in':>7} {'out':>7}  error"
    lines = [head[:width]]
    for r in rows:
        model = str(r.get("client_model") or "-")
        up = r.get("upstream_model")
        if up and up != model:
            model = f"{model}->{up}"
        outcome = r.get("outcome")
        err = r.get("error") or (f"({outcome})" if outcome not in (None, "ok") else "")
        line = (
            f"{_clock(r.get('ts')):<8} {r.get('status', ''):>3} {str(r.get('protocol') or '-'):<9} "
            f"{model[:38]:<38} {str(r.get('account_id') or '-')[:8]:<8} {_ms(r.get('duration_ms')):>7} "
            f"{_ms(r.get('ttfb_ms')):>7} {r.get('input_tokens') or 0:>7} {r.get('output_tokens') or 0:>7}  "
            f"{_one_line(str(err))}"
        )
        lines.append(line[:width])
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
