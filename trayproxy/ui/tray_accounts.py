"""Tray menu lines for accounts that need the person: needs verification (click: open Google's
link), disabled (the reason; click opens the fix-it link when Google gave one), cooling down
(until when), a model group's quota window spent (which one, back when). Built from the same
account view as the settings page and `accounts list`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trayproxy.accounts.state import clock_time
from trayproxy.upstream.words import spent_line

__all__ = ["attention_lines", "view_key"]

Line = tuple[str, str | None]  # menu text, link to open on click (None: not clickable)


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def attention_lines(rows: list[dict[str, Any]]) -> list[Line]:
    out: list[Line] = []
    for r in rows:
        email, status = r["email"], r["status"]
        if status == "verify":
            v = r.get("verify") or {}
            out.append((f"\u26a0 {email}: verify the account\u2026", v.get("url")))
        elif status == "disabled":
            out.append((f"\u26d4 {email}: {_short(r.get('disabled_reason') or 'disabled', 48)}",
                        r.get("disabled_link")))
        elif status == "not_onboarded":
            out.append((f"\u26a0 {email}: not onboarded", None))
        elif spent := [w for w in r.get("windows") or [] if w.get("spent_until")]:
            out.append((spent_line(email, spent[0]), None))
        elif r.get("cooldowns"):
            soonest = min(r["cooldowns"], key=lambda c: c["until"])
            what = "all models" if soonest["model"] == "*" else soonest["model"]
            more = f" +{len(r['cooldowns']) - 1}" if len(r["cooldowns"]) > 1 else ""
            out.append((f"\u23f3 {email}: {what}{more} back at {clock_time(soonest['until'])}", None))
    return out


def view_key(rows: list[dict[str, Any]]) -> tuple[Any, ...]:
    """What of the accounts the menu shows, to tell whether it must be rebuilt."""
    return tuple((r["id"], r["status"], (r.get("verify") or {}).get("url"), len(r.get("cooldowns") or ()),
                  min((c["until"] for c in r.get("cooldowns") or ()), default=None), r.get("disabled_reason"),
                  tuple(w.get("spent_until") for w in r.get("windows") or ()))
                 for r in rows)


def menu_items(rows: list[dict[str, Any]], item: Callable[..., Any], opener: Callable[[str], Callable[..., Any]]
               ) -> list[Any]:
    return [item(text, opener(url) if url else None, enabled=bool(url)) for text, url in attention_lines(rows)]
