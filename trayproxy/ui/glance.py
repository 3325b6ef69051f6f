"""What the tray shows at a glance (pure): header, accounts summary, model in use (with both quota
windows of its group), the client version Google refuses, tooltip.

Built from the Status the Controller pushes (its account views are the page's and `accounts
list`'s: the summary line and each account's words come from accounts/words.py) and the last
request the monitor recorded, in the tray's language (a Translator), so the tray does no I/O and
says what the page says.
"""

from __future__ import annotations

from typing import Any

from trayproxy.accounts.words import model_words, summary
from trayproxy.i18n import ENGLISH, Translator
from trayproxy.upstream.words import tray_line, weekly_suffix

__all__ = ["header", "accounts_line", "model_line", "tooltip", "problem_words", "problem_notice", "version_line"]


def problem_words(p: dict[str, Any] | None, tr: Translator = ENGLISH) -> str | None:
    """Why Start failed, short, in the same words as the settings page banner."""
    if not p:
        return None
    _ = tr._
    if p.get("kind") == "port":
        if p.get("reason") == "in_use":
            holder = p.get("holder")
            if holder:
                return _("Port {port} is in use by {holder}", port=p.get("port"), holder=holder)
            return _("Port {port} is in use by another program", port=p.get("port"))
        if p.get("reason") == "denied":
            return _("Port {port} needs administrator rights", port=p.get("port"))
        return _("Port {port} could not be opened", port=p.get("port"))
    if p.get("kind") == "no_account":
        return _("Add a Google account first")
    return str(p.get("message") or "")


def problem_notice(p: dict[str, Any] | None, tr: Translator = ENGLISH) -> str | None:
    """The notification for a start problem: why, and the free port the menu offers."""
    why = problem_words(p, tr)
    if not why or p is None:
        return None
    _ = tr._
    sentences = [_("{why}.", why=why)]
    free = p.get("suggested_port")
    if free:
        sentences.append(_("Port {port} is free: use it from the menu.", port=free))
    if p.get("holder_app") == "Antigravity-Manager":
        sentences.append(_("(Antigravity-Manager listens on 8045 by default too.)"))
    return " ".join(sentences)


def header(status: Any, starting: bool = False, tr: Translator = ENGLISH) -> str:
    _ = tr._
    if starting:
        return _("Starting…")
    if status.running:
        return _("Running · {url}", url=status.base_url)
    why = problem_words(getattr(status, "problem", None), tr) or status.error
    if why:
        return _("Stopped: {why}", why=why if len(why) <= 60 else why[:59] + "…")
    return _("Stopped")


def accounts_line(rows: list[dict[str, Any]], tr: Translator = ENGLISH) -> str:
    """ "2 ready · 1 resting until 14:05 · 1 needs verification": the page's summary, word for word."""
    return str(summary(rows, tr)["line"])


def model_line(last: dict[str, Any] | None, rows: list[dict[str, Any]], now: float,
               tr: Translator = ENGLISH) -> str | None:
    """The model the last request was served by, with what is left of its quota on that account
    (or the best account, when it came from elsewhere): the page's quota words."""
    if not last or not last.get("upstream_model"):
        return None
    _ = tr._
    model = str(last["upstream_model"])
    if last.get("upstream") == "zai":
        return _("Model in use: {model} (z.ai)", model=model)
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
        q = max((q for _i, q in quotas), key=lambda x: x.get("remaining") or 0.0)
    family = "gemini" if "gemini" in model.lower() else "3p"
    row = next((r for r in rows if r.get("id") == last.get("account_id")), None)
    group = next((w for w in (row or {}).get("windows") or [] if w.get("family") == family), None)
    weekly = ((group or {}).get("weekly") or {}).get("remaining")
    if not q or (q.get("remaining") is None and not q.get("cooldown_until")):
        return _("Model in use: {model}", model=model) + weekly_suffix(False, weekly, tr)
    return (_("Model in use: {model} · {quota}", model=model, quota=model_words(q, tr, now))
            + weekly_suffix(q.get("remaining") is not None, weekly, tr))


def version_line(status: Any, tr: Translator = ENGLISH) -> str | None:
    """The line for a client version Google refuses (None while it accepts it)."""
    alarm = (getattr(status, "client_version", None) or {}).get("alarm")
    return tray_line(alarm, tr) if alarm else None


def tooltip(status: Any, starting: bool = False, accounts: str | None = None, tr: Translator = ENGLISH) -> str:
    _ = tr._
    if starting:
        state = _("starting…")
    elif status.running:
        state = _("running")
    elif status.error and (getattr(status, "problem", None) or {}).get("kind") != "no_account":
        state = _("stopped (error)")
    else:
        state = _("stopped")
    lines = [_("trayproxy: {state}", state=state)]
    if status.running:
        lines.append(status.base_url)
    else:
        why = problem_words(getattr(status, "problem", None), tr)
        if why:
            lines.append(why)
    lines.append(accounts if accounts is not None else accounts_line(getattr(status, "accounts", []) or [], tr))
    if getattr(status, "config_problem", None):
        lines.append(_("Settings file cannot be read: API key required, LAN off until fixed"))
    if (version := version_line(status, tr)) is not None:
        lines.append(version.lstrip("\u26a0 "))
    return "\n".join(lines)
