"""The ProxyServer's aiohttp application: the front middleware, health routes, and the API routes."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from trayproxy import __version__
from trayproxy.proxy.aiohttp_private import install_safe_expect_handler
from trayproxy.proxy.context import CONTEXT, ProxyContext
from trayproxy.proxy.front import make_front
from trayproxy.proxy.guards import GuardSettings

__all__ = ["build_app"]

_HEALTH_BODY = orjson.dumps({"status": "ok", "version": __version__})


async def health(request: web.Request) -> web.Response:
    return web.Response(body=_HEALTH_BODY, content_type="application/json")


async def readyz(request: web.Request) -> web.Response:
    """For a load balancer: 200 while this instance can answer requests. Shared state being
    unreachable does not make it unready (it answers from its own state, and every instance
    shares the same engines: a 503 there would take the whole team offline); it is named in the
    body ("shared state unreachable since …") for people and probes that read it."""
    ctx = request.app[CONTEXT]
    shared = ctx.shared_status()
    usable = ctx.active_accounts() > 0 or (ctx.config().zai.enabled and ctx.config().zai.dispatch_mode != "off")
    ready = usable and not ctx.stopping.is_set()
    body: dict[str, Any] = {"ready": ready, "accounts_usable": ctx.active_accounts(),
            "shared": None if shared is None else {"up": shared["up"], "problem": shared["problem"]}}
    if not usable:
        body["problem"] = "no usable account"
    elif ctx.stopping.is_set():
        body["problem"] = "stopping"
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus' text format (proxy/metrics.py); the owner's key only, when a key is required."""
    from trayproxy.proxy.errors import ProxyError
    from trayproxy.proxy.exchange import EXCHANGE
    from trayproxy.proxy.metrics import CONTENT_TYPE

    ex = request[EXCHANGE]
    ex.recorded = True  # a scrape is no request of a client
    if ex.client_key is not None:
        raise ProxyError(403, "GET /metrics takes the owner's API key, not a client key.")
    ctx = request.app[CONTEXT]
    return web.Response(body=ctx.metrics.render(ctx), headers={"Content-Type": CONTENT_TYPE})


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


def build_app(ctx: ProxyContext) -> web.Application:
    install_safe_expect_handler()  # before any route is made (proxy/aiohttp_private.py)
    cfg = ctx.config()

    made: list[tuple[object, str, GuardSettings, object]] = []

    def guard_settings() -> GuardSettings:
        # Rebuilt only when the config object, the key or the client keys change (each change
        # makes a new config / ring), so a change is live on the next request without a
        # dataclass per request.
        c, key = ctx.config(), ctx.api_key()
        ring = ctx.keys.ring if ctx.keys is not None else None
        if made and made[0][0] is c and made[0][1] == key and made[0][3] is ring:
            return made[0][2]
        s = GuardSettings(auth_mode=c.effective_auth_mode, allow_lan=c.allow_lan_access, api_key=key,
                          ring=ring or None)
        made[:] = [(c, key, s, ring)]
        return s

    app = web.Application(
        middlewares=[make_front(guard_settings)],
        client_max_size=cfg.max_body_mb * 1024 * 1024,
        # bodies with a Content-Encoding are inflated by the front middleware, within the limit
        handler_args={"max_field_size": 64 * 1024, "max_line_size": 64 * 1024, "auto_decompress": False},
    )
    app[CONTEXT] = ctx
    app.router.add_get("/healthz", health, allow_head=True)
    app.router.add_get("/health", health, allow_head=True)
    app.router.add_get("/", root, allow_head=True)
    app.router.add_get("/readyz", readyz, allow_head=True)
    app.router.add_get("/metrics", metrics)
    from trayproxy.proxy.routes import register_routes  # the converters: imported at the first Start

    register_routes(app)
    return app
