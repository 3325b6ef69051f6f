"""The settings page's Models section: the live resolution table, the model_mapping editor and
"test a name", as ControlServer JSON routes (registered from control/server.py in one line).

GET  /api/models           names -> per-account resolution, the mapping, served ids, warnings
POST /api/models/test      {"name"} -> that name's row
POST /api/models/mapping   {"pattern", "target", "previous"?} adds or edits one entry (a changed
                           pattern replaces `previous`); {"remove": pattern} removes one
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from trayproxy.accounts.catalog import pool_models
from trayproxy.accounts.model_report import (
    check_mapping_entry,
    default_names,
    mapping_warnings,
    resolution_rows,
)
from trayproxy.accounts.models import VALID_MODEL_RE
from trayproxy.control._http import ApiError, guarded, read_json
from trayproxy.control.api import ControllerAPI

__all__ = ["add_models_routes", "models_state"]


def models_state(ctl: ControllerAPI) -> dict[str, Any]:
    accounts = ctl.account_records()
    mapping = dict(ctl.raw_config.model_mapping)
    effective = ctl.config.model_mapping
    usable = [a for a in accounts if not a.disabled and a.onboarded]
    served = pool_models(usable)
    return {
        "mapping": [{"pattern": k, "target": v} for k, v in mapping.items()],
        "names": resolution_rows(accounts, default_names(effective), effective),
        "served": [{"id": mid, "display_name": q.display_name, "input_limit": q.max_tokens,
                    "output_limit": q.max_output_tokens,
                    "accounts": [a.email for a in usable if mid in a.models]} for mid, q in served.items()],
        "accounts": [{"id": a.id, "email": a.email, "tier": a.tier, "catalog_read": a.quota_updated,
                      "served": len(a.models), "forwarding": dict(a.deprecated_models)} for a in usable],
        "warnings": mapping_warnings(accounts, effective),
    }


def add_models_routes(router: web.UrlDispatcher, ctl: ControllerAPI) -> None:
    async def get_models(request: web.Request) -> web.StreamResponse:
        return web.json_response(models_state(ctl))

    async def post_test(request: web.Request) -> web.StreamResponse:
        name = str((await read_json(request)).get("name") or "").strip()
        if name.startswith("models/"):
            name = name[7:]
        if not name or not VALID_MODEL_RE.match(name) or ".." in name:
            raise ApiError("Type a model name, such as gemini-3-flash or claude-sonnet-4-5")
        row = resolution_rows(ctl.account_records(), [name], ctl.config.model_mapping)[0]
        return web.json_response({"row": row})

    async def post_mapping(request: web.Request) -> web.StreamResponse:
        data = await read_json(request)
        mapping = dict(ctl.raw_config.model_mapping)
        if "remove" in data:
            pattern = str(data["remove"])
            if pattern not in mapping:
                raise ApiError(f"There is no mapping for {pattern!r}", status=404)
            del mapping[pattern]
        else:
            pattern = str(data.get("pattern") or "").strip()
            target = str(data.get("target") or "").strip()
            problem = check_mapping_entry(pattern, target)
            if problem:
                raise ApiError(problem[0].upper() + problem[1:])
            previous = data.get("previous")
            if isinstance(previous, str) and previous != pattern:
                if pattern in mapping:
                    raise ApiError(f"{pattern!r} is already mapped (to {mapping[pattern]}); edit that entry instead")
                mapping.pop(previous, None)
            elif previous is None and pattern in mapping:
                raise ApiError(f"{pattern!r} is already mapped (to {mapping[pattern]}); edit that entry instead")
            mapping[pattern] = target
        await guarded(ctl.a_set_config("model_mapping", mapping))
        return web.json_response(models_state(ctl))

    router.add_get("/api/models", get_models)
    router.add_post("/api/models/test", post_test)
    router.add_post("/api/models/mapping", post_mapping)
