"""The tray's Connect submenu: per client Connect / Check / Undo (Gemini CLI also "Connect and
trust folders under home"), a ✓ after the clients whose settings point at this proxy, a ⚠ after
those connect wrote that point at an old port or key, and "Update N clients to this proxy" that
connects those again (each with its own backup). Each action runs `connect.command.run_for` (or
`update_stale`) with the running Controller on a tray worker thread, like the settings page's
buttons (connect/routes.py); results arrive as notifications, in the tray's language
(connect/words.py).

Which clients are connected, or stale, is the Status the Controller pushes (`status.clients`,
read again after every connect / check / undo): the page's Connect card shows the same, and the
menu, built on the GUI thread, reads no client files for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pystray

from trayproxy.connect.command import backup_root, run_for, update_stale
from trayproxy.connect.service import CLIENTS, Result
from trayproxy.connect.words import ACTION_WORDS, notice

if TYPE_CHECKING:
    from trayproxy.ui.tray import TrayApp

__all__ = ["tray_menu"]

log = logging.getLogger("trayproxy.connect")


def _rows(app: TrayApp) -> dict[str, dict[str, Any]]:
    """The clients as the pushed Status says (the page's Connect card shows the same)."""
    return {r["client"]: r for r in getattr(app.status, "clients", None) or []}


def _can_undo(app: TrayApp, client: str) -> bool:
    return bool(_rows(app).get(client, {}).get("can_undo"))


def _notify(app: TrayApp, res: Result) -> None:
    title, body = notice(res, app.tr)
    app.notify(title, body)


def tray_menu(app: TrayApp) -> pystray.MenuItem:
    Item = pystray.MenuItem
    ctl = app.controller
    _ = app.tr._

    def refreshed() -> None:
        try:
            app.icon.update_menu()
        except Exception:
            log.debug("menu refresh failed", exc_info=True)

    def run(client: str, action: str, options: dict[str, str] | None = None) -> Callable[[], None]:
        def work() -> None:
            try:
                _notify(app, run_for(ctl, client, action, options=options))
            except Exception as e:
                log.exception("connect %s %s failed", client, action)
                title = CLIENTS[client].title
                app.notify(app.tr._("Could not connect {client}", client=title) if action == "connect"
                           else app.tr._("{client}: {action} failed", client=title,
                                         action=ACTION_WORDS[action](app.tr)), str(e))
            refreshed()

        return work

    def update() -> None:
        try:
            for res in update_stale(ctl.status().base_url, ctl.api_key(), backup_root(ctl.paths.data_dir)):
                _notify(app, res)
        except Exception as e:
            log.exception("updating the connected clients failed")
            app.notify(app.tr._("Could not update the connected clients"), str(e))
        finally:
            ctl.refresh_clients()
        refreshed()

    def client_menu(cid: str) -> pystray.Menu:
        items = [Item(lambda item: _("Fix: connect again") if _rows(app).get(cid, {}).get("stale") else _("Connect"),
                      app._act(run(cid, "connect")))]
        if cid == "gemini-cli":
            items.append(Item(_("Connect and trust folders under home"), app._act(run(cid, "connect", {"trust": "home"}))))
        items += [Item(_("Check"), app._act(run(cid, "check"))),
                  Item(_("Undo"), app._act(run(cid, "undo")), enabled=lambda item: _can_undo(app, cid))]
        return pystray.Menu(*items)

    def label(cid: str, title: str) -> Callable[[Any], str]:
        # a text mark rather than `checked`: GTK draws no check on an item that has a submenu
        def text(item: Any) -> str:
            row = _rows(app).get(cid, {})
            if row.get("stale") == "port":
                return _("{client}  ⚠ old port", client=title)
            if row.get("stale") == "key":
                return _("{client}  ⚠ old key", client=title)
            return f"{title}  ✓" if row.get("connected") else title

        return text

    def stale_count() -> int:
        return sum(1 for r in _rows(app).values() if r.get("stale"))

    return Item(_("Connect"), pystray.Menu(
        *(Item(label(cid, c.title), client_menu(cid)) for cid, c in CLIENTS.items()),
        pystray.Menu.SEPARATOR,
        Item(lambda item: app.tr.n_("Update {n} client to this proxy", "Update {n} clients to this proxy",
                                    stale_count()),
             app._act(update), visible=lambda item: stale_count() > 0),
    ))
