"""The settings page's Keys tab: client keys as ControlServer JSON routes (registered from
control/server.py in one line).

GET  /api/keys            every key (never a hash), its limits, state, usage from the request log
POST /api/keys/create     {"name", "models"?, "rpm"?, "tpm"?, "daily_tokens"?, "expires_at"?}
                          -> {"record", "key"}: the key is in this answer once and nowhere else
POST /api/keys/revoke     {"key": id or name} -> {"record"}
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from trayproxy.control._http import ApiError, guarded, read_json
from trayproxy.control.api import ControllerAPI
from trayproxy.control.cli_routes import key_limits

__all__ = ["add_keys_routes"]


def add_keys_routes(router: web.UrlDispatcher, ctl: ControllerAPI) -> None:
    async def keys(request: web.Request) -> web.StreamResponse:
        usage: dict[str, dict[str, Any]] = {}
        mon = ctl.monitor
        if mon is not None:
            rows = await asyncio.get_running_loop().run_in_executor(None, mon.totals, "key_id")
            usage = {str(r["key"]): r for r in rows if r.get("key")}
        return web.json_response({"keys": ctl.list_keys(), "usage": usage, "shared": ctl.shared_status()})

    async def create(request: web.Request) -> web.StreamResponse:
        data = await read_json(request)
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ApiError("Give the key a name (who or what will use it).")
        record, key = await guarded(ctl.a_create_key(name, **key_limits(data)))
        return web.json_response({"record": record, "key": key}, headers={"Cache-Control": "no-store"})

    async def revoke(request: web.Request) -> web.StreamResponse:
        data = await read_json(request)
        who = data.get("key")
        if not isinstance(who, str) or not who:
            raise ApiError("key is missing")
        return web.json_response({"record": await guarded(ctl.a_revoke_key(who))})

    router.add_get("/api/keys", keys)
    router.add_post("/api/keys/create", create)
    router.add_post("/api/keys/revoke", revoke)
