"""What a connect / check / undo says in the tray's notification and on the page's Connect card,
in the person's language (the CLI keeps service.summary's English lines, with paths and commands).

`notice(res, tr)` -> (title, body): the title says the outcome ("✓ Codex is connected: gemini-3-flash
answered"), the body what proved it and the notes. A problem the window can act on is said with
the window's buttons, not a command (not connected: press Connect; nothing to undo).
"""

from __future__ import annotations

from collections.abc import Callable

from trayproxy.connect.service import Result
from trayproxy.i18n import Translator

__all__ = ["notice", "ACTION_WORDS"]

ACTION_WORDS: dict[str, Callable[[Translator], str]] = {
    "connect": lambda tr: tr._("Connect"),
    "check": lambda tr: tr._("Check"),
    "undo": lambda tr: tr._("Undo"),
}


def _problem(res: Result, tr: Translator) -> str:
    if res.code == "not_connected":
        return tr._("{client} is not connected yet: press Connect.", client=res.title)
    if res.code == "no_backup":
        return tr._("There is nothing to undo for {client}: Connect was not run here, or was undone.",
                    client=res.title)
    return res.problem or tr._("unknown problem")


def notice(res: Result, tr: Translator) -> tuple[str, str]:
    _ = tr._
    body: list[str] = []
    if res.action == "undo":
        if res.ok:
            return _("✓ {client}: settings restored as they were before Connect", client=res.title), ""
        return _("✗ {client}: {problem}", client=res.title, problem=_problem(res, tr)), ""
    if res.unchanged:
        body.append(_("Settings already in place, nothing written."))
    if res.installed is not None and not res.installed.binary:
        body.append(_("{client} is not installed here: only the proxy was checked.", client=res.title))
    rt = res.round_trip
    if rt is not None and rt.ok:
        body.append(_("Round trip through the proxy: {model} answered.", model=rt.model or "?"))
    cr = res.client_run
    if cr is not None and cr.ok:
        body.append(_("{client} itself answered: {output}", client=res.title, output=(cr.output or "").strip()[:80]))
    body.extend(res.said[i].text(tr) if i in res.said else n for i, n in enumerate(res.notes[:2]))
    if res.ok:
        title = _("✓ {client} is connected: {model} answered", client=res.title, model=res.model or "?")
    else:
        title = _("✗ {client}: {problem}", client=res.title, problem=_problem(res, tr))
    return title, "\n".join(body[:3])
