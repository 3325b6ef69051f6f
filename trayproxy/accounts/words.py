"""What the tray, its notifications, the settings page and `trayproxy accounts list` say about the
accounts, in one place and one language at a time (pure).

1. `describe(view, tr, where)`: one account (an accounts/state.py view) as a badge, a tone, its
   line, its reason in full (Google's own words), what to do and the actions that do it. What to
   do is said for where the person is: the window's buttons ("press Retry now") or the CLI's
   commands (`trayproxy accounts retry ID`), never a command to a window user.
2. `summary(views, tr)`: the counts every view shows (ready, resting, needs verification,
   disabled, not eligible, not set up) and the one line that says them ("2 ready · 1 needs
   verification"). "Ready" is an account that can take requests now (per-model rests aside).
3. `model_words(model, tr, now)`: a model's quota and rest ("72 % left · resets at 16:40").
Times are clock times ("back at 14:05"), which stay true until the state changes; a countdown
belongs to the view that wants one (the page ticks only in the last minute).
"""

from __future__ import annotations

from typing import Any

from trayproxy.i18n import ENGLISH, Translator

__all__ = ["describe", "summary", "model_words", "STATUSES", "DISABLED_BY_YOU"]

# the record's reason when the person disabled the account (the line says it; an import's own
# reason, "off in CLIProxyAPI ...", is shown as the reason)
DISABLED_BY_YOU = "disabled by you (enable it to use it again)"
# every account status (accounts/state.py), in the order the summary counts them
STATUSES = ("active", "cooling", "verify", "disabled", "not_eligible", "not_onboarded")


def _whole(view: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in view.get("cooldowns") or () if c.get("model") == "*"), None)


def describe(view: dict[str, Any], tr: Translator = ENGLISH, where: str = "window") -> dict[str, Any]:
    """badge, tone (ok / warn / bad / off), line, reason, todo, actions for one account. The CLI
    (where="cli") speaks English and names its commands; the window names its buttons."""
    _ = tr._
    status, short = view["status"], view.get("label") or view["id"][:8]
    cli = where == "cli"
    retry_cmd = f"then run `trayproxy accounts retry {short}`."
    out: dict[str, Any] = {"reason": None, "todo": None, "actions": ["remove"], "link": None, "link_text": None}
    if status == "active":
        rests = [c for c in view.get("cooldowns") or () if c.get("model") != "*"]
        line = _("Ready") if not rests else tr.n_(
            "Ready · {n} model resting", "Ready · {n} models resting", len(rests))
        out.update(badge=_("Ready"), tone="ok", line=line,
                   actions=["retry", "disable", "remove"] if rests else ["disable", "remove"])
    elif status == "cooling":
        c = _whole(view)
        out.update(badge=_("Resting"), tone="warn",
                   line=_("Resting until {time}", time=tr.clock(c["until"])) if c else _("Resting"),
                   reason=c["reason"] if c else None, actions=["retry", "disable", "remove"],
                   todo=f"It comes back by itself; `trayproxy accounts retry {short}` checks it at once." if cli
                   else _("It comes back by itself; Retry now checks it at once."))
    elif status == "verify":
        v = view.get("verify") or {}
        email = view["email"]
        out.update(badge=_("Needs verification"), tone="warn", line=_("Google asks you to verify this account"),
                   reason=v.get("message") or _("Google asks you to verify this account in a browser."),
                   link=v.get("url"), link_text=_("Verify your account"),
                   actions=["open_link", "retry", "disable", "remove"],
                   todo=f"Open the link, sign in as {email} and follow Google's steps, {retry_cmd}" if cli else
                   _("Open the link, sign in as {email} and follow Google's steps, then press Retry now.", email=email))
    elif status == "disabled":
        by = view.get("disabled_by")
        reason = view.get("disabled_reason")
        if by == "user":
            out.update(badge=_("Disabled"), tone="off", line=_("Disabled by you"),
                       reason=reason if reason != DISABLED_BY_YOU else None,
                       actions=["enable", "remove"],
                       todo=f"Run `trayproxy accounts enable {short}` to use it again." if cli
                       else _("Enable it to use it again."))
        elif by == "sign-in" or (reason or "").startswith(("invalid_grant", "no refresh")):
            out.update(badge=_("Signed out"), tone="bad", line=_("Google no longer accepts this account's sign-in"),
                       reason=reason, actions=["sign_in", "remove"],
                       todo="Sign in again with `trayproxy accounts login`, which restores it." if cli
                       else _("Sign in again with this account (Sign in with Google), which restores it."))
        else:
            link = view.get("disabled_link")
            out.update(badge=_("Disabled"), tone="bad", line=_("Google refused this account"), reason=reason,
                       link=link, link_text=_("Fix it at Google"),
                       actions=(["open_link"] if link else []) + ["retry", "enable", "remove"])
            if link:
                out["todo"] = f"Open the link and fix it there, {retry_cmd}" if cli else _(
                    "Open the link and fix it there, then press Retry now.")
            else:
                out["todo"] = f"Fix the cause, {retry_cmd}" if cli else _("Fix the cause, then press Retry now.")
    elif status == "not_eligible":
        link = view.get("setup_link")
        out.update(badge=_("Not eligible"), tone="bad",
                   line=_("Google does not offer Gemini Code Assist to this account"),
                   reason=view.get("setup_problem"), link=link, link_text=_("Open Google's page"),
                   actions=(["open_link"] if link else []) + ["retry", "remove"],
                   todo=f"Use another Google account, or fix it at Google and {retry_cmd}" if cli else
                   _("Use another Google account, or fix it at Google and then press Retry now."))
    else:  # not_onboarded: no project yet, and Google gave no reason
        out.update(badge=_("Not set up"), tone="warn", line=_("Not set up for Gemini Code Assist yet"),
                   reason=view.get("setup_problem"), actions=["retry", "remove"],
                   todo=f"Open Antigravity or Gemini Code Assist once with this account, {retry_cmd}" if cli else
                   _("Open Antigravity or Gemini Code Assist once with this account, then press Retry now."))
    return out


def summary(views: list[dict[str, Any]], tr: Translator = ENGLISH) -> dict[str, Any]:
    """The counts and the line every view shows."""
    _ = tr._
    counts = {s: 0 for s in STATUSES}
    for v in views:
        counts[v["status"] if v["status"] in counts else "not_onboarded"] += 1
    if not views:
        line = _("No account yet")
    elif counts["active"] == len(views):
        line = tr.n_("{n} account ready", "{n} accounts ready", counts["active"])
    else:
        parts = [tr.n_("{n} ready", "{n} ready", counts["active"])]
        if counts["cooling"]:
            backs = [c["until"] for v in views if v["status"] == "cooling" for c in [_whole(v)] if c]
            part = tr.n_("{n} resting", "{n} resting", counts["cooling"])
            parts.append(_("{part} until {time}", part=part, time=tr.clock(min(backs))) if backs else part)
        if counts["verify"]:
            parts.append(tr.n_("{n} needs verification", "{n} need verification", counts["verify"]))
        if counts["disabled"]:
            parts.append(tr.n_("{n} disabled", "{n} disabled", counts["disabled"]))
        if counts["not_eligible"]:
            parts.append(tr.n_("{n} not eligible", "{n} not eligible", counts["not_eligible"]))
        if counts["not_onboarded"]:
            parts.append(tr.n_("{n} not set up", "{n} not set up", counts["not_onboarded"]))
        line = _(" · ").join(parts)
    return {"counts": counts, "total": len(views), "ready": counts["active"], "line": line}


def model_words(model: dict[str, Any], tr: Translator = ENGLISH, now: float = 0.0) -> str:
    """A model's quota and rest on one account, in a few words."""
    _ = tr._
    rem, until = model.get("remaining"), model.get("cooldown_until")
    left = _("quota unknown") if rem is None else _("{percent} left", percent=tr.percent(float(rem)))
    if until and until > now:
        if model.get("cooldown_kind") == "quota":
            return _("out of quota until {time}", time=tr.clock(until))
        return _("{left}, but rate-limited until {time}", left=left, time=tr.clock(until))
    reset = model.get("reset_time")
    if rem is not None and reset and reset > now:
        when = tr.clock(reset) if reset - now < 20 * 3600 else tr.date(reset)
        return _("{left} · resets at {time}", left=left, time=when)
    return left
