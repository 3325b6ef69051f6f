"""The tray's Connect submenu: per client Connect / Check / Undo (Gemini CLI also "Connect and
trust folders under home"), a ✓ after the clients whose settings point at this proxy, a ⚠ after
those connect wrote that point at an old port or key, and "Update N clients to this proxy" that
connects those again (each with its own backup). Each action runs `connect.command.run_for` (or
`update_stale`) with the running Controller on a tray worker thread, like the settings page's
buttons (connect/routes.py); results arrive as notifications."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pystray

from trayproxy.connect import backup
from trayproxy.connect.command import backup_root, run_for, update_stale
from trayproxy.connect.service import CLIENTS, Result, status, summary

if TYPE_CHECKING:
    from trayproxy.ui.tray import TrayApp

__all__ = ["tray_menu"]

log = logging.getLogger("trayproxy.connect")
_ROWS_FOR = 2.0  # seconds one reading of the clients' files serves the menu's labels


class _Rows:
    """The clients' state for the menu's labels, read once per menu drawing (the menu is built on
    the GUI thread, which never waits for the engine loop: the Status the tray was last given and
    the key, which is only ever replaced whole, are read directly)."""

    def __init__(self, app: TrayApp) -> None:
        self.app = app
        self.at = 0.0
        self.rows: dict[str, dict[str, Any]] = {}

    def get(self) -> dict[str, dict[str, Any]]:
        if time.monotonic() - self.at > _ROWS_FOR:
            try:
                rows = status(base_url=self.app.status.base_url,
                              backup_root=backup_root(self.app.controller.paths.data_dir), versions=False,
                              api_key=self.app.controller.api_key())
                self.rows = {r["client"]: r for r in rows}
            except Exception:
                log.debug("reading the clients' settings failed", exc_info=True)
                self.rows = {}
            self.at = time.monotonic()
        return self.rows

    def forget(self) -> None:
        self.at = 0.0


def _can_undo(app: TrayApp, client: str) -> bool:
    return backup.newest(backup_root(app.controller.paths.data_dir), client) is not None


def _notify(app: TrayApp, res: Result) -> None:
    lines = [ln.strip() for ln in summary(res)]
    # the title says it all; the body: what proved it, and notes (paths are in the CLI)
    body = [ln for ln in lines[1:] if not ln.startswith(("wrote ", "backup in ", "restored ", "installed: "))]
    app.notify(lines[0], "\n".join(body[:3]))


def tray_menu(app: TrayApp) -> pystray.MenuItem:
    Item = pystray.MenuItem
    ctl = app.controller
    rows = _Rows(app)

    def refreshed() -> None:
        rows.forget()
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
                app.notify(f"Could not {action} {CLIENTS[client].title}", str(e))
            refreshed()

        return work

    def update() -> None:
        try:
            for res in update_stale(ctl.status().base_url, ctl.api_key(), backup_root(ctl.paths.data_dir)):
                _notify(app, res)
        except Exception as e:
            log.exception("updating the connected clients failed")
            app.notify("Could not update the connected clients", str(e))
        refreshed()

    def client_menu(cid: str) -> pystray.Menu:
        items = [Item(lambda item: "Fix: connect again" if rows.get().get(cid, {}).get("stale") else "Connect",
                      app._act(run(cid, "connect")))]
        if cid == "gemini-cli":
            items.append(Item("Connect and trust folders under home", app._act(run(cid, "connect", {"trust": "home"}))))
        items += [Item("Check", app._act(run(cid, "check"))),
                  Item("Undo", app._act(run(cid, "undo")), enabled=lambda item: _can_undo(app, cid))]
        return pystray.Menu(*items)

    def label(cid: str, title: str) -> Callable[[Any], str]:
        # a text mark rather than `checked`: GTK draws no check on an item that has a submenu
        def text(item: Any) -> str:
            row = rows.get().get(cid, {})
            if row.get("stale") == "port":
                return f"{title}  ⚠ old port"
            if row.get("stale") == "key":
                return f"{title}  ⚠ old key"
            return f"{title}  ✓" if row.get("connected") else title

        return text

    def stale_count() -> int:
        return sum(1 for r in rows.get().values() if r.get("stale"))

    return Item("Connect", pystray.Menu(
        *(Item(label(cid, c.title), client_menu(cid)) for cid, c in CLIENTS.items()),
        pystray.Menu.SEPARATOR,
        Item(lambda item: f"Update {stale_count()} client{'s' if stale_count() != 1 else ''} to this proxy",
             app._act(update), visible=lambda item: stale_count() > 0),
    ))
