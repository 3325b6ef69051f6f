"""The tray's Connect submenu: per client Connect / Check / Undo, a ✓ after the clients whose
settings point at this proxy. Each action runs `connect.command.run_for` with the running
Controller on a tray worker thread, like the settings page's buttons (connect/routes.py);
results arrive as notifications."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pystray

from trayproxy.connect import backup
from trayproxy.connect.command import backup_root, run_for
from trayproxy.connect.service import CLIENTS
from trayproxy.connect.words import ACTION_WORDS, notice

if TYPE_CHECKING:
    from trayproxy.ui.tray import TrayApp

__all__ = ["tray_menu"]

log = logging.getLogger("trayproxy.connect")


def _connected(app: TrayApp, client: str) -> bool:
    """From the Status the tray was last given: the page's Connect card shows the same (the menu
    is built on the GUI thread, which reads no files and never waits for the engine loop)."""
    return any(r["client"] == client and r["connected"] for r in getattr(app.status, "clients", None) or [])


def _can_undo(app: TrayApp, client: str) -> bool:
    return backup.newest(backup_root(app.controller.paths.data_dir), client) is not None


def tray_menu(app: TrayApp) -> pystray.MenuItem:
    Item = pystray.MenuItem
    ctl = app.controller

    def run(client: str, action: str) -> Callable[[], None]:
        def work() -> None:
            try:
                res = run_for(ctl, client, action)
                title, body = notice(res, app.tr)
                app.notify(title, body)
            except Exception as e:
                log.exception("connect %s %s failed", client, action)
                app.notify(app.tr._("Could not connect {client}", client=CLIENTS[client].title) if action == "connect"
                           else app.tr._("{client}: {action} failed", client=CLIENTS[client].title,
                                         action=ACTION_WORDS[action](app.tr)), str(e))
            try:
                app.icon.update_menu()
            except Exception:
                log.debug("menu refresh failed", exc_info=True)

        return work

    _ = app.tr._

    def client_menu(cid: str) -> pystray.Menu:
        return pystray.Menu(
            Item(_("Connect"), app._act(run(cid, "connect"))),
            Item(_("Check"), app._act(run(cid, "check"))),
            Item(_("Undo"), app._act(run(cid, "undo")), enabled=lambda item: _can_undo(app, cid)),
        )

    def label(cid: str, title: str) -> Callable[[Any], str]:
        # a text mark rather than `checked`: GTK draws no check on an item that has a submenu
        return lambda item: f"{title}  ✓" if _connected(app, cid) else title

    return Item(_("Connect"), pystray.Menu(*(Item(label(cid, c.title), client_menu(cid)) for cid, c in CLIENTS.items())))
