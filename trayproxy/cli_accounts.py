"""`trayproxy accounts ...` output and the person's account actions: `accounts list` shows each
account's state (active / cooling down per model with the time and reason / needs verification
with the link / disabled with the reason and what to do), both quota windows per model group and
each model's quota as reported ("unknown" where Google reports nothing); the `accounts retry`
parser (cli_state runs it with the other changes).
"""

from __future__ import annotations

import time
from typing import Any

from trayproxy.accounts.state import clock_time, short_left
from trayproxy.upstream.words import windows_line

__all__ = ["format_accounts", "add_retry_parser"]


def _fmt_time(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def format_accounts(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No accounts yet. Add one with `trayproxy accounts login` or `trayproxy accounts add` (asks for a refresh token)."
    lines: list[str] = []
    for r in rows:
        lines.append(f"{r['email']}  [{r['id'][:8]}]  tier: {r['tier'] or 'unknown'}  state: {r['state']}")
        verify = r.get("verify")
        if verify and verify.get("url"):
            lines.append(f"    verify: {verify['url']}")
        if r.get("disabled_link"):
            lines.append(f"    link: {r['disabled_link']}")
        if r.get("todo"):
            lines.append(f"    what to do: {r['todo']}  (then `trayproxy accounts retry {r['id'][:8]}`)"
                         if "Retry" in r["todo"] else f"    what to do: {r['todo']}")
        now = r.get("now") or time.time()
        whole = next((c for c in r.get("cooldowns", []) if c["model"] == "*"), None)
        if whole is not None and r.get("status") != "cooling":
            lines.append(f"    whole account cooling down until {clock_time(whole['until'])}: {whole['reason']}")
        lines.extend(windows_line(w) for w in r.get("windows") or [])
        if not r["models"] and r.get("status") in ("active", "cooling"):
            lines.append("    quota: unknown (not reported yet; `trayproxy accounts refresh`)")
        for name, m in r["models"].items():
            rem = "unknown" if m["remaining"] is None else f"{round(m['remaining'] * 100):3d}%"
            extra = f"  resets {_fmt_time(m['reset_time'])}" if m["reset_time"] else ""
            if m["cooldown_until"]:
                extra += (f"  cooling down until {clock_time(m['cooldown_until'])}"
                          f" ({short_left(m['cooldown_until'] - now)}): {m['cooldown_reason']}")
            lines.append(f"    {name:<32} {rem:>7}{extra}")
    return "\n".join(lines)


def add_retry_parser(asub: Any) -> None:
    """`accounts retry ID`: the state-changing commands run in cli_state (through the running
    instance when one runs, which holds the live cooldowns)."""
    r = asub.add_parser("retry", help="retry an account now: clear its cooldowns and verification pause, re-check it")
    r.add_argument("account", metavar="ID_OR_EMAIL")
