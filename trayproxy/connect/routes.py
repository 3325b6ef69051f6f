"""The settings page's Connect buttons: the ControlServer's /api/connect routes (registered by
control/server.py in one line). They call `command.run_for` with the running Controller, like
the tray's Connect menu (ui/tray_connect.py) and `trayproxy connect`.

GET  /api/connect   per client: installed / version / connected / can_undo / stale (points at an
                    old port or key: the page offers Fix, which connects again)
POST /api/connect   {"client", "action": connect|check|undo, "options"?: {"trust": "home"}} -> the
                    result, with summary lines
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from aiohttp import web

from trayproxy.connect.command import ACTIONS, backup_root, run_for
from trayproxy.connect.service import CLIENTS, ConnectError, status, summary
from trayproxy.connect.words import notice
from trayproxy.i18n import translator

if TYPE_CHECKING:
    from trayproxy.control.api import ControllerAPI

__all__ = ["add_connect_routes"]

T = TypeVar("T")


def add_connect_routes(router: web.UrlDispatcher, controller: ControllerAPI) -> None:
    """Client files are read and written, and clients run, in a worker thread: never on the loop."""

    async def in_thread(fn: Callable[[], T]) -> T:
        return await asyncio.to_thread(fn)

    async def get_connect(request: web.Request) -> web.StreamResponse:
        base_url, root = controller.status().base_url, backup_root(controller.paths.data_dir)
        key = controller.api_key()
        rows = await in_thread(lambda: status(base_url=base_url, backup_root=root, api_key=key))
        await controller.a_refresh_clients()  # what the page sees, every view sees
        return web.json_response({"clients": rows})

    async def post_connect(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "The request body must be JSON"}, status=400)
        client = body.get("client") if isinstance(body, dict) else None
        action = body.get("action", "connect") if isinstance(body, dict) else None
        options = body.get("options") if isinstance(body, dict) else None
        if not isinstance(client, str) or client not in CLIENTS or action not in ACTIONS:
            return web.json_response({"error": f"client must be one of {', '.join(CLIENTS)}, "
                                               f"action one of {', '.join(ACTIONS)}"}, status=400)
        if options is not None and not (isinstance(options, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in options.items())):
            return web.json_response({"error": "options must be an object of strings"}, status=400)
        try:
            res = await in_thread(lambda: run_for(controller, client, str(action), options=options))
        except ConnectError as e:
            return web.json_response({"error": str(e)}, status=400)
        title, text = notice(res, translator(controller.language))
        return web.json_response({**res.to_dict(), "summary": summary(res), "notice": {"title": title, "body": text}})

    router.add_get("/api/connect", get_connect)
    router.add_post("/api/connect", post_connect)
