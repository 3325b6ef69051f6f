"""The API routes: which adapter serves each generation route (every one runs the generic
handler, proxy/handler.py), and the small routes that read state: model lists, stored Responses,
Claude Code's telemetry sink."""

from __future__ import annotations

import orjson
from aiohttp import web

from trayproxy.protocols.errors import RequestError
from trayproxy.proxy import adapters, listing
from trayproxy.proxy.adapters import model_name
from trayproxy.proxy.context import CONTEXT
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.exchange import EXCHANGE
from trayproxy.proxy.handler import route
from trayproxy.proxy.resolve import not_served_error
from trayproxy.proxy.responses_ws import responses_socket

__all__ = ["register_routes"]

# every path is also served under /v1/v1 (a base URL with /v1 plus a client adding /v1) and bare
_PREFIXES = ("/v1", "/v1/v1", "")


def _speaks_gemini(request: web.Request) -> bool:
    """The Google SDKs also read /v1/models; they send their own headers or ?key=."""
    h = request.headers
    return "x-goog-api-client" in h or "x-goog-api-key" in h or "key" in request.query


def _named(request: web.Request, value: str) -> str:
    name = model_name(value)
    request[EXCHANGE].client_model = name
    return name


async def openai_models(request: web.Request) -> web.Response:
    """/v1/models: OpenAI's list, or Anthropic's / Gemini's when the caller speaks those."""
    ctx = request.app[CONTEXT]
    found = listing.entries(ctx)
    if _speaks_gemini(request):
        return web.json_response({"models": [listing.gemini_model(e) for e in found]})
    if "anthropic-version" in request.headers:
        data = [listing.anthropic_model(e) for e in found]
        return web.json_response({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None})
    body = {"object": "list", "data": [listing.openai_model(e) for e in found]}
    return web.json_response(body, dumps=lambda o: orjson.dumps(o).decode())


async def openai_model(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    name = _named(request, request.match_info["model"])
    found = listing.find(ctx, name)
    if found is None:
        raise not_served_error(ctx, name)
    if _speaks_gemini(request):
        return web.json_response(listing.gemini_model(found))
    if "anthropic-version" in request.headers:
        return web.json_response(listing.anthropic_model(found))
    return web.json_response(listing.openai_model(found))


async def gemini_models(request: web.Request) -> web.Response:
    found = listing.entries(request.app[CONTEXT])
    return web.json_response({"models": [listing.gemini_model(e) for e in found]})


async def gemini_model(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    name = _named(request, request.match_info["tail"])
    found = listing.find(ctx, name)
    if found is None:
        raise not_served_error(ctx, name)
    return web.json_response(listing.gemini_model(found))


# -- stored Responses ----------------------------------------------------------------------------


def _stored(request: web.Request) -> dict[str, object]:
    response_id = request.match_info["response_id"]
    record = request.app[CONTEXT].responses.get(response_id)
    if record is None:
        raise ProxyError(404, f"No response found with id '{response_id}'.", code="not_found")
    return record


async def get_response(request: web.Request) -> web.Response:
    return web.json_response(_stored(request)["response"])


async def list_input_items(request: web.Request) -> web.Response:
    stored = _stored(request).get("input_items")
    items = [dict(i) for i in stored] if isinstance(stored, list) else []
    if request.query.get("order", "desc") != "asc":
        items.reverse()
    try:
        limit = max(1, min(100, int(request.query.get("limit", "20"))))
    except ValueError:
        raise RequestError("limit must be an integer between 1 and 100", field="limit") from None
    page = items[:limit]
    return web.json_response({
        "object": "list",
        "data": page,
        "first_id": page[0].get("id") if page else None,
        "last_id": page[-1].get("id") if page else None,
        "has_more": len(items) > limit,
    })


async def telemetry_sink(request: web.Request) -> web.Response:
    """Claude Code's telemetry: taken (the front middleware read the body, within its deadline)
    and dropped."""
    return web.Response(status=200)


def register_routes(app: web.Application) -> None:
    r = app.router
    for prefix in _PREFIXES:
        r.add_get(f"{prefix}/models", openai_models)
        r.add_post(f"{prefix}/chat/completions", route(adapters.CHAT))
        r.add_post(f"{prefix}/completions", route(adapters.COMPLETIONS))
        r.add_post(f"{prefix}/messages", route(adapters.MESSAGES))
        r.add_post(f"{prefix}/messages/count_tokens", route(adapters.COUNT_TOKENS))
        r.add_post(f"{prefix}/responses", route(adapters.RESPONSES))
        r.add_post(f"{prefix}/responses/compact", route(adapters.COMPACT))
        r.add_get(f"{prefix}/responses", responses_socket)  # the Responses WebSocket
        r.add_get(f"{prefix}/responses/{{response_id}}", get_response)
        r.add_get(f"{prefix}/responses/{{response_id}}/input_items", list_input_items)
        r.add_post(f"{prefix}/images/generations", route(adapters.IMAGES))
    r.add_get("/v1/models/{model:[^/:]+}", openai_model)
    r.add_get("/v1beta/models", gemini_models)
    r.add_get("/v1beta/models/{tail:.+}", gemini_model)
    r.add_post("/v1beta/models/{tail:.+}", route(adapters.GEMINI))
    r.add_post("/v1/models/{tail:.+:.+}", route(adapters.GEMINI))
    r.add_post("/api/event_logging/batch", telemetry_sink)
    r.add_post("/v1/api/event_logging/batch", telemetry_sink)
