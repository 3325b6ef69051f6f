"""What a person sees of each account (pure): one view shared by the settings page, the tray
menu and `trayproxy accounts list`, built from the record and the pool's cooldowns.

`status` is one of `active`, `cooling` (the whole account rests), `verify` (Google wants the
person to verify it; `verify.url` is the link), `disabled` (with the reason, who did it and what
to do), `not_eligible` (Google would not set it up for Code Assist: `setup_problem` says why) and
`not_onboarded` (no project yet, no reason known). The words for each (badge, line, reason, what
to do) are accounts/words.py's; `state` and `todo` here are its English, for logs and old readers. Per-model cooldowns (with kind, reason and the time they end) are
listed whatever the status. Quota is what the upstream reported: `remaining` None is "unknown".
`windows` are both quota windows per model group (5 hours and weekly, retrieveUserQuotaSummary),
with `spent_until` set while an empty one keeps the group's models from this account.
"""

from __future__ import annotations

import time
from typing import Any

from trayproxy.accounts.cooldown import VERIFY_PAUSE
from trayproxy.accounts.pool import Cooldown
from trayproxy.accounts.quota_windows import spent_until
from trayproxy.accounts.store import Account
from trayproxy.accounts.words import describe
from trayproxy.i18n import ENGLISH

__all__ = ["account_view", "clock_time", "short_left", "windows_view"]


def clock_time(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def short_left(seconds: float) -> str:
    s = max(0, int(seconds + 0.999))
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{(s + 59) // 60} min"
    if s < 48 * 3600:
        return f"{s // 3600} h {(s % 3600) // 60:02d} min"
    return f"{s // 86400} d {(s % 86400) // 3600} h"


def windows_view(acc: Account, now: float) -> list[dict[str, Any]]:
    """One entry per model group: its name, and its 5-hour and weekly windows (remaining None:
    "unknown"), `spent_until` while an empty window keeps its models from this account."""
    out: list[dict[str, Any]] = []
    for family in ("gemini", "3p"):
        mine = [w for w in acc.quota_windows if w.family == family]
        if not mine:
            continue
        by = {w.window: {"remaining": w.remaining, "reset_time": w.reset_time} for w in mine}
        probe = "gemini" if family == "gemini" else "claude"
        out.append({"family": family, "group": next((w.group for w in mine if w.group), ""),
                    "five_hour": by.get("5h"), "weekly": by.get("weekly"),
                    "spent_until": spent_until(acc.quota_windows, probe, now)})
    return out
def account_view(acc: Account, cooldowns: dict[str, Cooldown], now: float) -> dict[str, Any]:
    whole = cooldowns.get("")
    if acc.disabled:
        status = "disabled"
    elif acc.verify_at is not None:
        status = "verify"
    elif not acc.onboarded:
        status = "not_eligible" if acc.setup_problem else "not_onboarded"
    elif whole is not None:
        status = "cooling"
    else:
        status = "active"
    cds = [{"model": m or "*", "until": c.until, "left": max(0.0, c.until - now), "reason": c.reason, "kind": c.kind}
           for m, c in sorted(cooldowns.items(), key=lambda kv: kv[1].until)]
    models: dict[str, dict[str, Any]] = {}
    for name, q in sorted(acc.models.items()):
        c = cooldowns.get(name)
        models[name] = {
            "remaining": q.remaining,  # None: the upstream reported nothing ("unknown")
            "reset_time": q.reset_time,
            "display_name": q.display_name,
            "cooldown_until": c.until if c else None,
            "cooldown_reason": c.reason if c else None,
            "cooldown_kind": c.kind if c else None,
        }
    for name, c in cooldowns.items():  # a model cooling down that the snapshot does not list
        if name and name not in models:
            models[name] = {"remaining": None, "reset_time": None, "display_name": None, "cooldown_until": c.until,
                            "cooldown_reason": c.reason, "cooldown_kind": c.kind}
    view: dict[str, Any] = {
        "id": acc.id,
        "label": acc.label,
        "email": acc.email,
        "tier": acc.tier,
        "project": acc.project,
        "status": status,
        "active": status == "active",
        "setup_problem": acc.setup_problem if not acc.onboarded else None,
        "setup_link": acc.setup_link if not acc.onboarded else None,
        "disabled_reason": acc.disabled_reason if acc.disabled else None,
        "disabled_by": acc.disabled_by if acc.disabled else None,
        "disabled_link": acc.disabled_link if acc.disabled else None,
        "verify": None if acc.verify_at is None else {
            "url": acc.verify_url, "text": acc.verify_text or "Verify your account", "message": acc.verify_message,
            "since": acc.verify_at, "retry_at": acc.verify_at + VERIFY_PAUSE,
        },
        "onboarded_at": acc.onboarded_at,
        "quota_updated": acc.quota_updated,
        "models": models,
        "windows": windows_view(acc, now),
        "windows_updated": acc.windows_updated,
        "credits": acc.credits,
        "cooldowns": cds,
        "last_used": acc.last_used,
        "now": now,
    }
    words = describe(view, ENGLISH)
    view["state"] = words["line"] + (f": {words['reason']}" if words["reason"] else "")
    view["todo"] = words["todo"]
    return view
