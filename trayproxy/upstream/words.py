"""What trayproxy says about Google's upstream, in one place: the client version Google refused
(the error a client gets in its own protocol, the tray's line, the page's banner text, `doctor`'s
lines; built from the alarm and `ClientIdentity.to_dict()`, upstream/client_version.py) and the
quota windows (the tray's line for a spent window, the weekly number beside the model in use,
`accounts list`'s line per group; built from the account view, accounts/state.py).

What a person reads in the tray or the page (the banner, the tray's version line, the spent-window
line, the weekly suffix) takes a Translator (i18n/: the catalogs the page reads too; the page draws
the windows themselves in ui/web/upstream.js). What goes to an API client and the CLI's lines
(`client_error`, `doctor_lines`, `windows_line`) stay English: the CLI speaks English (README).
"""

from __future__ import annotations

import time
from typing import Any

from trayproxy.i18n import ENGLISH, Translator

__all__ = ["client_error", "tray_line", "banner", "doctor_lines", "what_to_do", "spent_line",
           "weekly_suffix", "windows_line"]


def what_to_do(state: dict[str, Any], tr: Translator = ENGLISH) -> str:
    if state.get("source") == "override":
        return tr._("Your setting fixes the version (client_version): clear it in Settings to let trayproxy learn "
                    "the version, or set a newer one.")
    return tr._("trayproxy is looking for a newer version (Antigravity's updater, the Antigravity installed on this "
                "computer). If it persists: install or update Antigravity on this computer, or set the version "
                "Antigravity reports in Settings (client_version, e.g. 2.9.1).")


def _what(alarm: dict[str, Any]) -> str:
    if alarm.get("kind") == "gated":
        return (f"Google stopped serving its newest models ({alarm.get('model')}) to the client version trayproxy "
                f"reports ({alarm.get('version')}): it serves them only to newer clients.")
    said = f' ("{alarm["text"]}")' if alarm.get("text") else ""
    return f"Google refused the client version trayproxy reports ({alarm.get('version')}){said}."


def client_error(alarm: dict[str, Any], state: dict[str, Any]) -> str:
    """What an API client hears instead of Google's refusal."""
    return f"{_what(alarm)} {what_to_do(state)}"


def banner(alarm: dict[str, Any], state: dict[str, Any], tr: Translator = ENGLISH) -> dict[str, str | None]:
    """The page's banner under its title ("Google refuses trayproxy's client version:"): what
    happened, Google's own words (None for a gate; the page shows them as quoted English) and
    what to do."""
    if alarm.get("kind") == "gated":
        said = tr._("it serves its newest models ({model}) only to clients newer than {version}.",
                    model=alarm.get("model"), version=alarm.get("version"))
        return {"said": said, "quote": None, "todo": what_to_do(state, tr)}
    said = tr._("Google answered version {version} with:", version=alarm.get("version"))
    return {"said": said, "quote": str(alarm.get("text") or "") or None, "todo": what_to_do(state, tr)}


def tray_line(alarm: dict[str, Any], tr: Translator = ENGLISH) -> str:
    return "\u26a0 " + tr._("Google refuses client version {version}: see Settings", version=alarm.get("version"))


def doctor_lines(state: dict[str, Any]) -> list[str]:
    source = {"override": "your setting", "installation": "the Antigravity installed here",
              "updater": "Antigravity's updater", "floor": "trayproxy's built-in minimum"}.get(
        str(state.get("source")), str(state.get("source")))
    lines = [f"client:       {state.get('user_agent')} (from {source})"]
    if state.get("check_error"):
        lines.append(f"              the updater could not be read: {state['check_error']}")
    alarm = state.get("alarm")
    if alarm:
        lines.append(f"client:       PROBLEM: {_what(alarm)}")
        lines.append(f"              -> {what_to_do(state)}")
    return lines


# -- quota windows -----------------------------------------------------------------------------------


def _when(ts: float, tr: Translator) -> str:
    return tr.clock(ts) if ts - time.time() < 20 * 3600 else f"{tr.date(ts)} {tr.clock(ts)}"


def spent_line(email: str, group: dict[str, Any], tr: Translator = ENGLISH) -> str:
    """The tray's line for a model group whose window is spent on an account."""
    name = group.get("group") or group.get("family")
    args = {"email": email, "group": name, "time": _when(group["spent_until"], tr)}
    if (group.get("weekly") or {}).get("remaining") == 0:
        return tr._("{email}: {group} weekly quota spent, back {time}", **args)
    return tr._("{email}: {group} 5-hour quota spent, back {time}", **args)


def weekly_suffix(five_hour_known: bool, weekly: float | None, tr: Translator = ENGLISH) -> str:
    """What the tray's model line adds for the weekly window ("" when nobody reported it)."""
    if weekly is None:
        return ""
    if five_hour_known:
        return " " + tr._("(5 h), weekly {percent}", percent=tr.percent(weekly))
    return " " + tr._("· 5 h unknown, weekly {percent}", percent=tr.percent(weekly))


def _pct(w: dict[str, Any] | None) -> str:
    if not w:
        return "unknown"
    rem = "unknown" if w.get("remaining") is None else f"{round(w['remaining'] * 100)}%"
    return rem + (f" (resets {time.strftime('%Y-%m-%d %H:%M', time.localtime(w['reset_time']))})"
                  if w.get("reset_time") else "")


def windows_line(group: dict[str, Any]) -> str:
    """`accounts list`'s line for one model group: both windows, and until when it is spent."""
    spent = group.get("spent_until")
    return (f"    {(group.get('group') or group.get('family') or '') + ':':<32} 5 h {_pct(group.get('five_hour'))}  "
            f"weekly {_pct(group.get('weekly'))}"
            + (f"  (spent: none of its models until {time.strftime('%Y-%m-%d %H:%M', time.localtime(spent))})"
               if spent else ""))
