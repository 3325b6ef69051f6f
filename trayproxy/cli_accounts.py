"""`trayproxy accounts ...` output and the person's account actions: `accounts list` shows each
account's state in the words of the tray and the page (accounts/words.py: ready, resting,
needs verification with the link, disabled, not eligible, each with Google's reason and the
command that resolves it), both quota windows per model group (upstream/words.py), per-model rests
and quota as reported ("unknown" where Google reports nothing); the `accounts retry` parser
(cli_state runs it with the other changes).
"""

from __future__ import annotations

import time
from typing import Any

from trayproxy.accounts.state import clock_time, short_left
from trayproxy.accounts.words import describe, summary
from trayproxy.upstream.words import windows_line

__all__ = ["format_accounts", "add_retry_parser"]


def _fmt_time(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def format_accounts(rows: list[dict[str, Any]]) -> str:
    """The accounts as the tray and the page say them (accounts/words.py), in English, with the
    commands that act on them."""
    if not rows:
        return "No accounts yet. Add one with `trayproxy accounts login` or `trayproxy accounts add` (asks for a refresh token)."
    lines: list[str] = [summary(rows)["line"]]
    for r in rows:
        w = describe(r, where="cli")
        lines.append(f"{r['email']}  [{r['id'][:8]}]  tier: {r['tier'] or 'unknown'}  state: {w['line']}")
        if w["reason"]:
            lines.append(f"    why: {w['reason']}")
        if w["link"]:
            lines.append(f"    {'verify' if r['status'] == 'verify' else 'link'}: {w['link']}")
        if w["todo"]:
            lines.append(f"    what to do: {w['todo']}")
        now = r.get("now") or time.time()
        lines.extend(windows_line(g) for g in r.get("windows") or [])
        if not r["models"] and r.get("status") in ("active", "cooling"):
            lines.append("    quota: unknown (not reported yet; `trayproxy accounts refresh`)")
        for name, m in r["models"].items():
            rem = "unknown" if m["remaining"] is None else f"{round(m['remaining'] * 100):3d}%"
            extra = f"  resets {_fmt_time(m['reset_time'])}" if m["reset_time"] else ""
            if m["cooldown_until"] and m["cooldown_until"] > now:
                extra += (f"  resting until {clock_time(m['cooldown_until'])}"
                          f" ({short_left(m['cooldown_until'] - now)}): {m['cooldown_reason']}")
            lines.append(f"    {name:<32} {rem:>7}{extra}")
    return "\n".join(lines)


def add_retry_parser(asub: Any) -> None:
    """`accounts retry ID`: the state-changing commands run in cli_state (through the running
    instance when one runs, which holds the live cooldowns)."""
    r = asub.add_parser("retry", help="retry an account now: clear its cooldowns and verification pause, re-check it")
    r.add_argument("account", metavar="ID_OR_EMAIL")
