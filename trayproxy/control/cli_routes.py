"""The ControlServer's state API for other processes: `/api/cli/*`.

While an instance runs it owns config, accounts and secrets (control/local.py); the
CLI changes them through these routes, so every change is live in the running proxy and nothing
it holds in memory is written back over the change. The same token as the settings page guards
them (the ControlServer's middleware); the token only ever travels in a header, read from the
0600 instance file. Answers are JSON; errors are `{"error": message}` with a 4xx status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from trayproxy.control.server import ControlServer

__all__ = ["add_state_routes", "account_json"]


def account_json(acc: Any) -> dict[str, Any]:
    return {"id": acc.id, "email": acc.email, "tier": acc.tier, "project": acc.project,
            "disabled": acc.disabled, "disabled_reason": acc.disabled_reason,
            "onboarded_at": getattr(acc, "onboarded_at", None)}


def add_state_routes(app: web.Application, cs: ControlServer) -> None:
    from trayproxy.control.server import ApiError

    ctl = cs.controller

    def text(data: dict[str, Any], name: str) -> str:
        v = data.get(name)
        if not isinstance(v, str) or not v.strip():
            raise ApiError(f"{name} is missing")
        return v.strip()

    async def status(request: web.Request) -> web.StreamResponse:
        st = ctl.status().to_dict()
        st["kind"] = cs.kind
        st["bound_host"] = ctl.server.host
        return web.json_response(st)

    async def config(request: web.Request) -> web.StreamResponse:
        data = await cs._json(request)
        key = text(data, "key")
        problem = ctl.config_problem
        await cs._sync(lambda: ctl.set_config(key, data.get("value")))
        note = ctl.bound_note(key)
        if problem:
            note = ((note + " ") if note else "") + (
                "config.json could not be read before; it was written afresh from the settings in use "
                f"plus this change ({problem})")
        return web.json_response({"key": key, "note": note})

    async def key_set(request: web.Request) -> web.StreamResponse:
        value = text(await cs._json(request), "key")
        await cs._sync(lambda: ctl.set_api_key(value))
        return web.json_response({"ok": True})

    async def key_regenerate(request: web.Request) -> web.StreamResponse:
        await cs._sync(ctl.regenerate_api_key)
        return web.json_response({"key": ctl.api_key()})

    async def accounts(request: web.Request) -> web.StreamResponse:
        return web.json_response({"accounts": ctl.list_accounts()})

    async def add(request: web.Request) -> web.StreamResponse:
        token = text(await cs._json(request), "refresh_token")
        out: list[Any] = []

        async def run() -> None:
            out.append(await ctl.a_add_refresh_token(token))

        await cs._guarded(run())
        return web.json_response({"account": account_json(out[0])})

    def one_account(fn: Any) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            who = text(await cs._json(request), "account")
            out: list[Any] = []
            await cs._sync(lambda: out.append(fn(who)))
            return web.json_response({"account": account_json(out[0])})

        return handler

    async def retry(request: web.Request) -> web.StreamResponse:
        who = text(await cs._json(request), "account")
        out: list[Any] = []

        async def run() -> None:
            out.append(await ctl.a_retry_account(who))

        await cs._guarded(run())
        return web.json_response({"account": account_json(out[0]), "accounts": ctl.list_accounts()})

    async def refresh(request: web.Request) -> web.StreamResponse:
        out: list[Any] = []

        async def run() -> None:
            out.extend(await ctl.a_refresh_accounts())

        await cs._guarded(run())
        return web.json_response({"results": [{"email": a.email, "error": err} for a, err in out],
                                  "accounts": ctl.list_accounts()})

    async def zai_key(request: web.Request) -> web.StreamResponse:
        value = (await cs._json(request)).get("key")
        if value is not None and (not isinstance(value, str) or any(c.isspace() for c in value.strip())):
            raise ApiError("The z.ai API key must be text without spaces")
        await cs._sync(lambda: ctl.set_zai_key(value))
        return web.json_response({"key_set": ctl.has_zai_key()})

    r = app.router
    r.add_get("/api/cli/status", status)
    r.add_post("/api/cli/config", config)
    r.add_post("/api/cli/key", key_set)
    r.add_post("/api/cli/key/regenerate", key_regenerate)
    r.add_get("/api/cli/accounts", accounts)
    r.add_post("/api/cli/accounts/add", add)
    r.add_post("/api/cli/accounts/remove", one_account(ctl.remove_account))
    r.add_post("/api/cli/accounts/enable", one_account(lambda who: ctl.set_account_enabled(who, True)))
    r.add_post("/api/cli/accounts/disable", one_account(lambda who: ctl.set_account_enabled(who, False)))
    r.add_post("/api/cli/accounts/retry", retry)
    r.add_post("/api/cli/accounts/refresh", refresh)
    r.add_post("/api/cli/zai/key", zai_key)
