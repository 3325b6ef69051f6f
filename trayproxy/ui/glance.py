"""What the tray shows at a glance (pure): header, accounts summary, model in use (with both quota
windows of its group), the client version Google refuses, tooltip.

Built from the Controller's Status, its account list and the last request the monitor recorded,
so the tray does no I/O. Account rows may carry `status` (active / cooling / verify / disabled /
not_onboarded, the account view of the error-triage work) or only the older `active` flag with
`cooldowns` as a dict; both are read.
"""

from __future__ import annotations

import time
from typing import Any

from trayproxy.upstream.words import tray_line, weekly_suffix

__all__ = ["header", "accounts_line", "model_line", "tooltip", "problem_words", "problem_notice", "clock", "version_line"]


def clock(ts: float) -> str:
    return time.strftime("%H:%M", time.localtime(ts))


def _in(seconds: float) -> str:
    m = max(1, round(seconds / 60))
    if m < 60:
        return f"in {m} min"
    if m < 24 * 60:
        return f"in {m // 60} h {m % 60:02d} min"
    return time.strftime("on %b %d", time.localtime(time.time() + seconds))


def problem_words(p: dict[str, Any] | None) -> str | None:
    """Why Start failed, short, in the same words as the settings page banner."""
    if not p:
        return None
    if p.get("kind") == "port":
        if p.get("reason") == "in_use":
            return f"port {p.get('port')} is in use by {p.get('holder') or 'another program'}"
        if p.get("reason") == "denied":
            return f"port {p.get('port')} needs administrator rights"
        return f"port {p.get('port')} could not be opened"
    if p.get("kind") == "no_account":
        return "add a Google account first"
    return str(p.get("message") or "")


def problem_notice(p: dict[str, Any] | None) -> str | None:
    """The notification for a start problem: why, and the free port the menu offers."""
    why = problem_words(p)
    if not why or p is None:
        return None
    free = p.get("suggested_port")
    text = why[0].upper() + why[1:] + "." + (f" Port {free} is free: use it from the menu." if free else "")
    if p.get("holder_app") == "Antigravity-Manager":
        text += " (Antigravity-Manager listens on 8045 by default too.)"
    return text


def header(status: Any, starting: bool = False) -> str:
    if starting:
        return "Starting..."
    if status.running:
        return f"Running \u00b7 {status.base_url}"
    why = problem_words(getattr(status, "problem", None)) or status.error
    if why:
        return "Stopped: " + (why if len(why) <= 60 else why[:57] + "...")
    return "Stopped"


def _kind(row: dict[str, Any]) -> str:
    st = row.get("status")
    if st:
        return str(st)
    if row.get("active"):
        return "active"
    if row.get("disabled_reason"):
        return "disabled"
    cds = row.get("cooldowns") or {}
    if isinstance(cds, dict) and "*" in cds:
        return "cooling"
    return "not_onboarded"


def _whole_cooldown(row: dict[str, Any]) -> float | None:
    cds = row.get("cooldowns") or {}
    if isinstance(cds, dict):
        c = cds.get("*")
        return float(c["until"]) if c else None
    whole = [c["until"] for c in cds if c.get("model") == "*"]
    return float(min(whole)) if whole else None


def accounts_line(rows: list[dict[str, Any]], now: float) -> str:
    """ "2 active · 1 cooling, back 14:05 · 1 needs verification" """
    if not rows:
        return "No accounts yet"
    counts: dict[str, int] = {}
    for r in rows:
        k = _kind(r)
        counts[k] = counts.get(k, 0) + 1
    parts = [f"{counts.get('active', 0)} active"]
    if counts.get("cooling"):
        backs = [u for u in (_whole_cooldown(r) for r in rows if _kind(r) == "cooling") if u is not None and u > now]
        parts.append(f"{counts['cooling']} cooling" + (f", back {clock(min(backs))}" if backs else ""))
    if counts.get("verify"):
        parts.append(f"{counts['verify']} need{'s' if counts['verify'] == 1 else ''} verification")
    if counts.get("disabled"):
        parts.append(f"{counts['disabled']} disabled")
    if counts.get("not_onboarded"):
        parts.append(f"{counts['not_onboarded']} not set up")
    if len(parts) == 1:  # all well: say it in full
        n = counts.get("active", 0)
        return f"{n} active account{'' if n == 1 else 's'}"
    return " \u00b7 ".join(parts)


def model_line(last: dict[str, Any] | None, rows: list[dict[str, Any]], now: float) -> str | None:
    """The model the last request was served by, with what is left of its quota on that account
    (or the best account, when it came from elsewhere) and when it resets."""
    if not last or not last.get("upstream_model"):
        return None
    model = str(last["upstream_model"])
    if last.get("upstream") == "zai":
        return f"Model in use: {model} (z.ai)"
    quotas: list[tuple[Any, dict[str, Any]]] = []
    for r in rows:
        found = (r.get("models") or {}).get(model)
        if found:
            quotas.append((r.get("id"), found))
    mine = [q for i, q in quotas if i == last.get("account_id")]
    q: dict[str, Any] | None = None
    if mine:
        q = mine[0]
    elif quotas:
        q = max((q for _, q in quotas), key=lambda x: x.get("remaining") or 0.0)
    family = "gemini" if "gemini" in model.lower() else "3p"
    row = next((r for r in rows if r.get("id") == last.get("account_id")), None)
    group = next((w for w in (row or {}).get("windows") or [] if w.get("family") == family), None)
    weekly = ((group or {}).get("weekly") or {}).get("remaining")
    if not q or q.get("remaining") is None:
        return f"Model in use: {model}" + weekly_suffix(False, weekly)
    text = f"Model in use: {model} \u00b7 {round(float(q['remaining']) * 100)}% left" + weekly_suffix(True, weekly)
    until = q.get("cooldown_until")
    if until and until > now:
        return text + f", rate-limited until {clock(until)}"
    reset = q.get("reset_time")
    if reset and reset > now:
        text += f", resets {_in(reset - now)}"
    return text


def version_line(status: Any) -> str | None:
    """The line for a client version Google refuses (None while it accepts it)."""
    alarm = (getattr(status, "client_version", None) or {}).get("alarm")
    return tray_line(alarm) if alarm else None


def tooltip(status: Any, starting: bool = False, accounts: str | None = None) -> str:
    if starting:
        state = "starting..."
    elif status.running:
        state = "running"
    elif status.error:
        state = "stopped (error)"
    else:
        state = "stopped"
    lines = [f"trayproxy: {state}"]
    if status.running:
        lines.append(status.base_url)
    else:
        why = problem_words(getattr(status, "problem", None))
        if why:
            lines.append(why[0].upper() + why[1:])
    if accounts is None:
        n = status.active_accounts
        accounts = f"{n} active account{'' if n == 1 else 's'}"
    lines.append(accounts)
    if getattr(status, "config_problem", None):
        lines.append("Settings file cannot be read: API key required, LAN off until fixed")
    if (version := version_line(status)) is not None:
        lines.append(version.lstrip("\u26a0 "))
    return "\n".join(lines)
