"""The request log as a terminal table (`trayproxy logs`)."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["format_table"]


def _ms(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v / 1000:.1f}s" if v >= 1000 else f"{v:.0f}ms"


def format_table(rows: list[dict[str, Any]], *, width: int = 120) -> str:
    head = f"{'time':<8} {'st':>3} {'proto':<9} {'model':<38} {'acct':<8} {'dur':>7} {'ttfb':>7} {'in':>7} {'out':>7}  error"
    lines = [head[:width]]
    for r in rows:
        model = r.get("client_model") or "-"
        if r.get("upstream_model") and r["upstream_model"] != model:
            model = f"{model}->{r['upstream_model']}"
        line = (
            f"{time.strftime('%H:%M:%S', time.localtime(r['ts'])):<8} {r['status']:>3} {str(r.get('protocol') or '-'):<9} "
            f"{model[:38]:<38} {str(r.get('account_id') or '-')[:8]:<8} {_ms(r.get('duration_ms')):>7} "
            f"{_ms(r.get('ttfb_ms')):>7} {r.get('input_tokens') or 0:>7} {r.get('output_tokens') or 0:>7}  "
            f"{(r.get('error') or ('(' + r['outcome'] + ')' if r.get('outcome') not in (None, 'ok') else ''))}"
        )
        lines.append(line[:width])
    return "\n".join(lines)
