"""What trayproxy says about the client version Google refused, in one place: the error a client
gets in its own protocol, the line the tray shows, the page's banner text and `doctor`'s lines
(the page adds only its title). Built from the alarm and the identity's state
(upstream/client_version.py: `ClientIdentity.to_dict()`)."""

from __future__ import annotations

from typing import Any

__all__ = ["client_error", "tray_line", "banner_text", "doctor_lines", "what_to_do"]


def what_to_do(state: dict[str, Any]) -> str:
    if state.get("source") == "override":
        return ("Your setting fixes the version (client_version): clear it in Settings to let trayproxy learn "
                "the version, or set a newer one.")
    return ("trayproxy is looking for a newer version (Antigravity's updater, the Antigravity installed on this "
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


def banner_text(alarm: dict[str, Any], state: dict[str, Any]) -> str:
    """The page's banner under its title ("Google refuses trayproxy's client version:")."""
    if alarm.get("kind") == "gated":
        said = f"it serves its newest models ({alarm.get('model')}) only to clients newer than {alarm.get('version')}."
    else:
        said = f"version {alarm.get('version')} was answered \"{alarm.get('text')}\""
    return f"{said} {what_to_do(state)}"


def tray_line(alarm: dict[str, Any]) -> str:
    return f"\u26a0 Google refuses client version {alarm.get('version')}: see Settings"


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
