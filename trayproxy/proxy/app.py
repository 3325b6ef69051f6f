"""The ProxyServer's aiohttp application: the front middleware, health routes, and the API routes."""

from __future__ import annotations

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
        middlewares=[make_front(guard_settings)],
        client_max_size=cfg.max_body_mb * 1024 * 1024,
        # bodies with a Content-Encoding are inflated by the front middleware, within the limit
        handler_args={"max_field_size": 64 * 1024, "max_line_size": 64 * 1024, "auto_decompress": False},
    )
    app[CONTEXT] = ctx
    app.router.add_get("/healthz", health, allow_head=True)
    app.router.add_get("/health", health, allow_head=True)
    app.router.add_get("/", root, allow_head=True)
    from trayproxy.proxy.routes import register_routes  # the converters: imported at the first Start

    register_routes(app)
    return app
