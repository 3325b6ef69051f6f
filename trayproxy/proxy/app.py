"""The ProxyServer's aiohttp application: middlewares, health routes, and the API routes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from trayproxy import __version__
from trayproxy.protocols.errors import RequestError
from trayproxy.proxy.body import decode_body_middleware
from trayproxy.proxy.context import CONTEXT, ProxyContext
from trayproxy.proxy.errors import ProxyError, error_response, protocol_for
from trayproxy.proxy.guards import REFUSED, GuardSettings, make_guard_middleware
from trayproxy.proxy.pipeline import CLIENT_MODEL, STREAM_STARTED, record_request

__all__ = ["build_app"]

log = logging.getLogger("trayproxy.proxy")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HEALTH_BODY = orjson.dumps({"status": "ok", "version": __version__})


async def health(request: web.Request) -> web.Response:
    return web.Response(body=_HEALTH_BODY, content_type="application/json")


async def root(request: web.Request) -> web.Response:
    if request.method == "HEAD":
        return web.Response(status=200)
    ctx = request.app[CONTEXT]
    base = f"http://{request.host}"
    return web.json_response(
        {
            "name": "trayproxy",
            "version": __version__,
            "openai_base_url": f"{base}/v1",
            "anthropic_base_url": base,
            "gemini_base_url": base,
            "accounts_active": ctx.active_accounts(),
        }
    )


def _not_found_message(request: web.Request) -> str:
    base = f"http://{request.host}"
    return (
        f"Unknown route {request.method} {request.path}. trayproxy serves OpenAI clients at "
        f"{base}/v1 (e.g. POST /v1/chat/completions), Anthropic clients such as Claude Code at {base} "
        f"(POST /v1/messages) and Gemini clients at {base} (POST /v1beta/models/MODEL:generateContent). "
        "Check that the base URL ends in /v1 only for OpenAI clients."
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ProxyError as e:
        return error_response(
            protocol_for(request.path, request.headers),
            e.status,
            e.message,
            code=e.code,
            retry_after=e.retry_after,
            headers=e.headers,
        )
    except RequestError as e:
        return error_response(protocol_for(request.path, request.headers), e.status, str(e), code="invalid_request")
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[CONTEXT].config().max_body_mb
        return error_response(
            protocol_for(request.path, request.headers),
            413,
            f"The request body is too large; the limit is {limit} MiB "
            "(setting max_body_mb).",
            code="request_too_large",
        )
    except web.HTTPNotFound:
        return error_response(protocol_for(request.path, request.headers), 404, _not_found_message(request))
    except web.HTTPMethodNotAllowed as e:
        return error_response(
            protocol_for(request.path, request.headers),
            405,
            f"{request.method} is not allowed on {request.path}; use {', '.join(sorted(e.allowed_methods))}.",
        )
    except web.HTTPException:
        raise
    except (ConnectionResetError, ConnectionError):
        raise
    except Exception:
        log.exception("Unexpected error while serving %s %s", request.method, request.path)
        if request.get(STREAM_STARTED):
            raise  # headers are out: a second response would corrupt the stream
        return error_response(
            protocol_for(request.path, request.headers),
            500,
            "trayproxy hit an internal error while serving this request; details are in its log.",
        )


def _error_text(resp: web.StreamResponse) -> str | None:
    if resp.status < 400 or not isinstance(resp, web.Response) or not isinstance(resp.body, bytes):
        return None
    try:
        data = orjson.loads(resp.body)
    except orjson.JSONDecodeError:
        return resp.body[:300].decode("utf-8", "replace")
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return str(err.get("message", ""))[:500]
    return None


@web.middleware
async def monitor_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: every API request is recorded, whatever happens further in (bad input,
    upstream error, client gone, proxy stopping). Requests the guards refuse (wrong Host,
    foreign Origin, missing key) are counted per kind and origin instead, so a web page
    hammering the port cannot flood the log."""
    path = request.path
    if request.method == "OPTIONS" or path in ("/healthz", "/health", "/") or "event_logging" in path:
        return await handler(request)
    started_wall, started_mono = time.time(), time.monotonic()
    status, error, body = 500, None, None
    try:
        resp = await handler(request)
        status = resp.status
        error = _error_text(resp)
        if isinstance(resp, web.Response) and isinstance(resp.body, bytes):
            body = resp.body
        return resp
    except asyncio.CancelledError:
        status, error = 499, "the client closed the connection"
        raise
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        try:
            refused = request.get(REFUSED)
            mon = request.app[CONTEXT].monitor
            if refused is not None:
                if mon is not None:
                    mon.count_refused(refused[0], refused[1], status, started_wall)
            else:
                record_request(
                    request, status, started_wall, started_mono, request.get(CLIENT_MODEL),
                    protocol_for(path, request.headers), error, body,
                )
        except Exception:
            log.exception("monitor record failed")


def build_app(ctx: ProxyContext) -> web.Application:
    cfg = ctx.config()

    made: list[tuple[object, str, GuardSettings]] = []

    def guard_settings() -> GuardSettings:
        # Rebuilt only when the config object or the key changes (each change makes a new config),
        # so a change is live on the next request without a dataclass per request.
        c, key = ctx.config(), ctx.api_key()
        if made and made[0][0] is c and made[0][1] == key:
            return made[0][2]
        s = GuardSettings(auth_mode=c.effective_auth_mode, allow_lan=c.allow_lan_access, api_key=key)
        made[:] = [(c, key, s)]
        return s

    app = web.Application(
        middlewares=[monitor_middleware, error_middleware, make_guard_middleware(guard_settings),
                     decode_body_middleware],
        client_max_size=cfg.max_body_mb * 1024 * 1024,
        # bodies with a Content-Encoding are inflated by decode_body_middleware, within the limit
        handler_args={"max_field_size": 64 * 1024, "max_line_size": 64 * 1024, "auto_decompress": False},
    )
    app[CONTEXT] = ctx
    app.router.add_get("/healthz", health, allow_head=True)
    app.router.add_get("/health", health, allow_head=True)
    app.router.add_get("/", root, allow_head=True)
    from trayproxy.proxy import images_route, responses_route, responses_ws
    from trayproxy.proxy.routes import register_routes

    register_routes(app)
    responses_route.register(app)
    responses_ws.register(app)  # Responses over WebSocket (Codex's built-in OpenAI provider)
    images_route.register(app)
    return app
