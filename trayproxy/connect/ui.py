"""The Connect actions in the tray (a "Connect" submenu) and on the settings page (the
ControlServer's /api/connect routes). Both call `command.run_for` with the running Controller;
this module keeps them out of tray.py and control.py, which only register them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from trayproxy.connect.command import ACTIONS, backup_root, run_for
from trayproxy.connect.service import CLIENTS, ConnectError, status, summary

__all__ = ["tray_menu", "add_control_routes"]

log = logging.getLogger("trayproxy.connect")


# -- tray --------------------------------------------------------------------------------------


def _connected(ctl: Any, client: str) -> bool:
    try:
        rows = status(base_url=ctl.status().base_url, backup_root=backup_root(ctl.paths.data_dir), versions=False)
    except Exception:
        return False
    return any(r["client"] == client and r["connected"] for r in rows)


def _can_undo(ctl: Any, client: str) -> bool:
    from trayproxy.connect import backup

    return backup.newest(backup_root(ctl.paths.data_dir), client) is not None


def tray_menu(app: Any) -> Any:
    """The Connect submenu for TrayApp: per client Connect / Check / Undo, a ✓ after the clients
    whose settings point at this proxy. Results arrive as notifications."""
    import pystray

    Item = pystray.MenuItem
    ctl = app.controller

    def run(client: str, action: str) -> Callable[[], None]:
        def work() -> None:
            try:
                res = run_for(ctl, client, action)
                lines = [ln.strip() for ln in summary(res)]
                # the title says it all; the body: what proved it, and notes (paths are in the CLI)
                body = [ln for ln in lines[1:] if not ln.startswith(("wrote ", "backup in ", "restored ", "installed: "))]
                app.notify(lines[0], "\n".join(body[:3]))
            except Exception as e:
                log.exception("connect %s %s failed", client, action)
                app.notify(f"Could not {action} {CLIENTS[client].title}", str(e))
            try:
                app.icon.update_menu()
            except Exception:
                log.debug("menu refresh failed", exc_info=True)

        return work

    def client_menu(cid: str) -> Any:
        return pystray.Menu(
            Item("Connect", app._act(run(cid, "connect"))),
            Item("Check", app._act(run(cid, "check"))),
            Item("Undo", app._act(run(cid, "undo")), enabled=lambda item: _can_undo(ctl, cid)),
        )

    def label(cid: str, title: str) -> Callable[[Any], str]:
        # a text mark rather than `checked`: GTK draws no check on an item that has a submenu
        return lambda item: f"{title}  ✓" if _connected(ctl, cid) else title

    return Item("Connect", pystray.Menu(*(Item(label(cid, c.title), client_menu(cid)) for cid, c in CLIENTS.items())))


# -- settings page -----------------------------------------------------------------------------


def add_control_routes(router: web.UrlDispatcher, controller: Any) -> None:
    """GET /api/connect: per client installed/version/connected/can_undo.
    POST /api/connect {"client", "action": connect|check|undo}: the result, with summary lines."""

    async def in_thread(fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    async def get_connect(request: web.Request) -> web.StreamResponse:
        rows = await in_thread(lambda: status(base_url=controller.status().base_url,
                                              backup_root=backup_root(controller.paths.data_dir)))
        return web.json_response({"clients": rows})

    async def post_connect(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "The request body must be JSON"}, status=400)
        client = body.get("client") if isinstance(body, dict) else None
        action = body.get("action", "connect") if isinstance(body, dict) else None
        if client not in CLIENTS or action not in ACTIONS:
            return web.json_response({"error": f"client must be one of {', '.join(CLIENTS)}, "
                                               f"action one of {', '.join(ACTIONS)}"}, status=400)
        try:
            res = await in_thread(lambda: run_for(controller, client, action))
        except ConnectError as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response({**res.to_dict(), "summary": summary(res)})

    router.add_get("/api/connect", get_connect)
    router.add_post("/api/connect", post_connect)
