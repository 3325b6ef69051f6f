"""Tray menu lines for accounts that need the person, in the words of the page and `accounts
list` (accounts/words.py, upstream/words.py): needs verification (click: Google's link), disabled
or not eligible (click: Google's fix-it link when it gave one, else the settings window, where the
reason is shown in full with its buttons), a model group's quota window spent (which one, back
when), resting (until when). Built from the account views of the Status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trayproxy.accounts.words import describe
from trayproxy.i18n import ENGLISH, Translator
from trayproxy.upstream.words import spent_line

__all__ = ["attention_lines", "view_key", "menu_items"]

Line = tuple[str, str | None]  # menu text, link to open on click (None: open the settings window)
# marks the menu fonts have everywhere (DejaVu, Segoe UI, SF): no emoji, which GTK may draw as a box
MARK = {"verify": "\u26a0", "disabled": "\u2298", "not_eligible": "\u2298", "not_onboarded": "\u26a0",
        "cooling": "\u25f7"}


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def attention_lines(rows: list[dict[str, Any]], tr: Translator = ENGLISH) -> list[Line]:
    out: list[Line] = []
    for r in rows:
        status, email = r["status"], r["email"]
        spent = [w for w in r.get("windows") or [] if w.get("spent_until")]
        if status in MARK and (status != "cooling" or not spent):
            if status == "disabled" and r.get("disabled_by") == "user":
                continue  # the person did it: nothing to tell them
            w = describe(r, tr)
            out.append((f"{MARK[status]} {email}: {_short(w['line'], 56)}", w["link"]))
        elif spent:
            out.append((f"{MARK['cooling']} " + spent_line(email, spent[0], tr), None))
        elif r.get("cooldowns"):
            soonest = min(r["cooldowns"], key=lambda c: c["until"])
            n = len(r["cooldowns"])
            what = soonest["model"] if n == 1 else tr.n_("{model} and {n} more", "{model} and {n} more", n - 1,
                                                          model=soonest["model"])
            out.append((f"{MARK['cooling']} {email}: " + tr._("{what} back at {time}", what=what, time=tr.clock(soonest["until"])),
                        None))
    return out


def view_key(rows: list[dict[str, Any]]) -> tuple[Any, ...]:
    """What of the accounts the menu shows, to tell whether it must be rebuilt."""
    return tuple((r["id"], r["status"], (r.get("verify") or {}).get("url"), len(r.get("cooldowns") or ()),
                  min((c["until"] for c in r.get("cooldowns") or ()), default=None), r.get("disabled_reason"),
                  r.get("setup_problem"), tuple(w.get("spent_until") for w in r.get("windows") or ()))
                 for r in rows)


def menu_items(rows: list[dict[str, Any]], item: Callable[..., Any], opener: Callable[[str], Callable[..., Any]],
               settings: Callable[[], Callable[..., Any]] | None = None, tr: Translator = ENGLISH) -> list[Any]:
    """Menu items: a line with a link opens it; one without opens the settings (its Accounts tab
    says the rest and has the buttons)."""
    out = []
    for text, url in attention_lines(rows, tr):
        if url:
            out.append(item(text, opener(url)))
        elif settings is not None:
            out.append(item(text, settings()))
        else:
            out.append(item(text, None, enabled=False))
    return out
