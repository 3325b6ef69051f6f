"""The ControlServer's state API for other processes: `/api/cli/*`.

While an instance runs it owns config, accounts and secrets (control/local.py); the CLI changes
them through these routes, so every change is live in the running proxy and nothing it holds in
memory is written back over the change. The ControlServer's middleware lets only the CLI's token
in (`cli_token`, from the 0600 instance file, in a header). Answers are JSON; errors are
`{"error": message}` with a 4xx status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from trayproxy.accounts.store import Account
from trayproxy.control._http import ApiError, guarded, read_json
from trayproxy.control.api import ControllerAPI

__all__ = ["add_cli_routes", "account_json", "import_path", "import_keys"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def account_json(acc: Account) -> dict[str, Any]:
    return {"id": acc.id, "email": acc.email, "tier": acc.tier, "project": acc.project,
            "disabled": acc.disabled, "disabled_reason": acc.disabled_reason,
            "onboarded_at": acc.onboarded_at}


def _text(data: dict[str, Any], name: str) -> str:
    v = data.get(name)
    if not isinstance(v, str) or not v.strip():
        raise ApiError(f"{name} is missing")
    return v.strip()


def import_path(data: dict[str, Any]) -> str | None:
    """The folder or file to import from ("" or missing: the tools' own folders); absolute,
    since the instance's working directory is not the caller's."""
    v = data.get("path")
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if not isinstance(v, str) or "\0" in v:
        raise ApiError("path must be text")
    if not v.strip().startswith(("/", "~")) and not (len(v) > 2 and v[1] == ":"):
        raise ApiError("path must be absolute (or start with ~)")
    return v.strip()


def import_keys(data: dict[str, Any]) -> list[str]:
    keys = data.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise ApiError("Choose at least one account to import (keys from a scan)")
    return keys


def add_cli_routes(router: web.UrlDispatcher, ctl: ControllerAPI, kind: str) -> None:
    """`kind`: "tray" or "serve", what the CLI is talking to (it says so after a change)."""

    async def status(request: web.Request) -> web.StreamResponse:
        st = ctl.status().to_dict()
        st["kind"] = kind
        st["bound_host"] = ctl.bound_host
        return web.json_response(st)

    async def config(request: web.Request) -> web.StreamResponse:
        data = await read_json(request)
        key = _text(data, "key")
        problem = ctl.config_problem
        await guarded(ctl.a_set_config(key, data.get("value")))
        note = ctl.bound_note(key)
        if problem:
            note = ((note + " ") if note else "") + (
                "config.json could not be read before; it was written afresh from the settings in use "
                f"plus this change ({problem})")
        return web.json_response({"key": key, "note": note})

    async def key_set(request: web.Request) -> web.StreamResponse:
        value = _text(await read_json(request), "key")
        await guarded(ctl.a_set_api_key(value))
        return web.json_response({"ok": True})

    async def key_regenerate(request: web.Request) -> web.StreamResponse:
        return web.json_response({"key": await guarded(ctl.a_regenerate_api_key())})

    async def accounts(request: web.Request) -> web.StreamResponse:
        return web.json_response({"accounts": ctl.list_accounts()})

    async def add(request: web.Request) -> web.StreamResponse:
        token = _text(await read_json(request), "refresh_token")
        acc = await guarded(ctl.a_add_refresh_token(token))
        return web.json_response({"account": account_json(acc)})

    def one_account(change: Callable[[str], Awaitable[Account]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            who = _text(await read_json(request), "account")
            acc = await guarded(change(who))
            return web.json_response({"account": account_json(acc)})

        return handler

    async def retry(request: web.Request) -> web.StreamResponse:
        who = _text(await read_json(request), "account")
        acc = await guarded(ctl.a_retry_account(who))
        return web.json_response({"account": account_json(acc), "accounts": ctl.list_accounts()})

    async def refresh(request: web.Request) -> web.StreamResponse:
        results = await guarded(ctl.a_refresh_accounts())
        return web.json_response({"results": [{"email": a.email, "error": err} for a, err in results],
                                  "accounts": ctl.list_accounts()})

    async def import_scan(request: web.Request) -> web.StreamResponse:
        return web.json_response(await guarded(ctl.a_scan_imports(import_path(await read_json(request)))))

    async def import_accounts(request: web.Request) -> web.StreamResponse:
        data = await read_json(request)
        results = await guarded(ctl.a_import_accounts(import_keys(data), import_path(data)))
        return web.json_response({"results": results, "accounts": ctl.list_accounts()})

    async def zai_key(request: web.Request) -> web.StreamResponse:
        value = (await read_json(request)).get("key")
        if value is not None and (not isinstance(value, str) or any(c.isspace() for c in value.strip())):
            raise ApiError("The z.ai API key must be text without spaces")
        await guarded(ctl.a_set_zai_key(value))
        return web.json_response({"key_set": ctl.has_zai_key()})

    r = router
    r.add_get("/api/cli/status", status)
    r.add_post("/api/cli/config", config)
    r.add_post("/api/cli/key", key_set)
    r.add_post("/api/cli/key/regenerate", key_regenerate)
    r.add_get("/api/cli/accounts", accounts)
    r.add_post("/api/cli/accounts/add", add)
    r.add_post("/api/cli/accounts/remove", one_account(ctl.a_remove_account))
    r.add_post("/api/cli/accounts/enable", one_account(lambda who: ctl.a_set_account_enabled(who, True)))
    r.add_post("/api/cli/accounts/disable", one_account(lambda who: ctl.a_set_account_enabled(who, False)))
    r.add_post("/api/cli/accounts/retry", retry)
    r.add_post("/api/cli/accounts/refresh", refresh)
    r.add_post("/api/cli/accounts/import/scan", import_scan)
    r.add_post("/api/cli/accounts/import", import_accounts)
    r.add_post("/api/cli/zai/key", zai_key)
