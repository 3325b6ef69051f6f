"""ControlServer: the settings page and its JSON API, on loopback, for the life of the app.

It runs on the Controller's engine loop, bound to 127.0.0.1 on an ephemeral port, so the proxy
port can be changed while the proxy is stopped (even when that port is taken). Every launch
draws a random token:

- `GET /?token=T` sets an HttpOnly SameSite=Strict cookie and redirects to `/` (the token
  leaves the address bar); the page carries the token in a <meta> tag for its API calls.
- `/api/*` needs the token in `X-Trayproxy-Token` (or `?token=`); the cookie alone is not
  enough, so another site cannot drive the API with the user's cookie.
- The Host must be a loopback name with our port and any Origin must be our own origin
  (DNS rebinding and cross-site requests are refused).

Handlers await the Controller's `a_*` coroutines; they never call its blocking sync methods.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from trayproxy.ui.clipboard import Copier, copy_text
from trayproxy.ui.icons import STATES, render_icon
from trayproxy.ui.login import LoginRunner
from trayproxy.ui.snippets import client_urls, snippets

__all__ = ["ControlServer", "WEB_DIR", "TOKEN_HEADER", "COOKIE", "PAGE_SETTINGS"]

log = logging.getLogger("trayproxy.ui.control")
WEB_DIR = Path(__file__).with_name("web")
TOKEN_HEADER = "X-Trayproxy-Token"
COOKIE = "trayproxy_control"
_STATIC = {"app.css": "text/css", "app.js": "text/javascript"}
_LOOPBACK = ("127.0.0.1", "localhost")
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# config keys the settings page may set (other tabs/sections add theirs here)
PAGE_SETTINGS = {"port", "allow_lan_access", "auth_mode", "auto_start"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _user_message(e: BaseException) -> str:
    return str(e.args[0]) if e.args else (str(e) or type(e).__name__)


class ControlServer:
    def __init__(
        self,
        controller: Any,
        *,
        login: LoginRunner | None = None,
        copy: Copier = copy_text,
        on_show: Callable[[], None] | None = None,
        web_dir: Path = WEB_DIR,
        token: str | None = None,
    ) -> None:
        self.controller = controller
        self.login = login or LoginRunner(controller)
        self.copy = copy
        self.on_show = on_show
        self.web_dir = web_dir
        self.token = token or secrets.token_urlsafe(24)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._icons: dict[str, bytes] = {}

    # -- lifecycle (on the engine loop) ---------------------------------------------------
    async def start(self) -> str:
        app = web.Application(middlewares=[self._guard], client_max_size=1024 * 1024)
        self._routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self.url

    async def stop(self) -> None:
        await self.login.cancel()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def origin(self) -> str:
        if self.port is None:
            raise RuntimeError("the ControlServer is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The settings page URL with the token (opened by the app; never logged)."""
        return f"{self.origin}/?token={self.token}"

    # -- guard -----------------------------------------------------------------------------
    def _token_ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(str(candidate).encode(), self.token.encode())

    def _host_ok(self, host: str | None) -> bool:
        return host in {f"{name}:{self.port}" for name in _LOOPBACK}

    def _origin_ok(self, origin: str | None) -> bool:
        return origin is None or origin in {f"http://{name}:{self.port}" for name in _LOOPBACK}

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._host_ok(request.headers.get("Host")):
            return web.json_response({"error": "This address only answers to 127.0.0.1"}, status=403)
        if not self._origin_ok(request.headers.get("Origin")):
            return web.json_response({"error": "Cross-origin requests are not allowed"}, status=403)
        if request.path.startswith("/api/"):
            given = request.headers.get(TOKEN_HEADER) or request.query.get("token")
            if not self._token_ok(given):
                return web.json_response({"error": "Missing or wrong control token"}, status=401)
        try:
            resp = await handler(request)
        except ApiError as e:
            resp = web.json_response({"error": str(e)}, status=e.status)
        except web.HTTPException:
            raise
        except Exception as e:
            log.exception("control API %s %s failed", request.method, request.path)
            resp = web.json_response({"error": f"Internal error: {_user_message(e)}"}, status=500)
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    # -- routes ----------------------------------------------------------------------------
    def _routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/", self.index)
        r.add_get("/{name:app\\.(css|js)}", self.static)
        r.add_get("/icon/{state:[a-z]+}.png", self.icon)
        r.add_get("/api/state", self.get_state)
        r.add_post("/api/start", self.post_start)
        r.add_post("/api/stop", self.post_stop)
        r.add_post("/api/config", self.post_config)
        r.add_post("/api/key", self.post_key)
        r.add_post("/api/key/regenerate", self.post_key_regenerate)
        r.add_post("/api/accounts/login", self.post_login)
        r.add_post("/api/accounts/token", self.post_refresh_token)
        r.add_post("/api/accounts/refresh", self.post_refresh_accounts)
        r.add_post("/api/accounts/remove", self.post_remove_account)
        r.add_post("/api/copy", self.post_copy)
        r.add_post("/api/show", self.post_show)

    async def index(self, request: web.Request) -> web.StreamResponse:
        query_token = request.query.get("token")
        if self._token_ok(query_token):
            found = web.HTTPFound("/")
            found.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path="/")
            raise found
        if not self._token_ok(request.cookies.get(COOKIE)):
            return web.Response(
                status=401,
                text="Open the settings from the trayproxy menu (this page needs the per-launch token).",
            )
        html = (self.web_dir / "index.html").read_text("utf-8").replace("{{TOKEN}}", self.token)
        resp = web.Response(text=html, content_type="text/html")
        resp.headers["Content-Security-Policy"] = _CSP
        return resp

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        return web.Response(body=(self.web_dir / name).read_bytes(), content_type=_STATIC[name], charset="utf-8")

    async def icon(self, request: web.Request) -> web.StreamResponse:
        state = request.match_info["state"]
        if state not in STATES:
            raise web.HTTPNotFound()
        if state not in self._icons:
            buf = io.BytesIO()
            render_icon(state, 64).save(buf, "PNG")
            self._icons[state] = buf.getvalue()
        return web.Response(body=self._icons[state], content_type="image/png")

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            raise ApiError("The request body must be JSON") from None
        if not isinstance(data, dict):
            raise ApiError("The request body must be a JSON object")
        return data

    def state(self) -> dict[str, Any]:
        ctl = self.controller
        st = ctl.status()
        cfg = ctl.raw_config
        key = ctl.api_key()
        return {
            "status": st.to_dict(),
            "config": {
                "port": cfg.port,
                "allow_lan_access": cfg.allow_lan_access,
                "auth_mode": cfg.auth_mode,
                "auto_start": cfg.auto_start,
                "effective_auth_mode": cfg.effective_auth_mode,
                "overrides": sorted(ctl.overrides),
            },
            "api_key": key,
            "urls": client_urls(st.base_url),
            "snippets": [s.to_dict() for s in snippets(st.base_url, key)],
            "accounts": ctl.list_accounts(),
            "login": self.login.state(),
        }

    async def get_state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.state())

    async def _guarded(self, coro: Awaitable[Any]) -> None:
        from trayproxy.accounts.service import AccountError
        from trayproxy.config import ConfigError
        from trayproxy.proxy.server import StartError
        from trayproxy.secrets import SecretStoreError

        try:
            await coro
        except (StartError, ConfigError, SecretStoreError, AccountError, KeyError, ValueError) as e:
            raise ApiError(_user_message(e)) from e

    async def _sync(self, fn: Callable[[], Any]) -> None:
        async def run() -> None:
            fn()

        await self._guarded(run())

    async def post_start(self, request: web.Request) -> web.StreamResponse:
        await self._guarded(self.controller.a_start())
        return web.json_response(self.state())

    async def post_stop(self, request: web.Request) -> web.StreamResponse:
        await self._guarded(self.controller.a_stop())
        return web.json_response(self.state())

    async def post_config(self, request: web.Request) -> web.StreamResponse:
        data = await self._json(request)
        key, value = data.get("key"), data.get("value")
        if key not in PAGE_SETTINGS:
            raise ApiError(f"The settings page cannot change {key!r}")
        await self._sync(lambda: self.controller.set_config(key, value))
        return web.json_response(self.state())

    async def post_key(self, request: web.Request) -> web.StreamResponse:
        data = await self._json(request)
        key = data.get("key")
        if not isinstance(key, str):
            raise ApiError("The API key must be text")
        await self._sync(lambda: self.controller.set_api_key(key))
        return web.json_response(self.state())

    async def post_key_regenerate(self, request: web.Request) -> web.StreamResponse:
        await self._sync(self.controller.regenerate_api_key)
        return web.json_response(self.state())

    async def post_login(self, request: web.Request) -> web.StreamResponse:
        await self.login.begin()
        return web.json_response(self.state())

    async def post_refresh_token(self, request: web.Request) -> web.StreamResponse:
        token = (await self._json(request)).get("refresh_token")
        if not isinstance(token, str) or not token.strip():
            raise ApiError("Paste a refresh token first")
        await self._guarded(self.controller.a_add_refresh_token(token.strip()))
        return web.json_response(self.state())

    async def post_refresh_accounts(self, request: web.Request) -> web.StreamResponse:
        await self._guarded(self.controller.a_refresh_accounts())
        return web.json_response(self.state())

    async def post_remove_account(self, request: web.Request) -> web.StreamResponse:
        account_id = (await self._json(request)).get("id")
        if not isinstance(account_id, str) or not account_id:
            raise ApiError("Which account? (id missing)")
        await self._sync(lambda: self.controller.remove_account(account_id))
        return web.json_response(self.state())

    async def post_copy(self, request: web.Request) -> web.StreamResponse:
        text = (await self._json(request)).get("text")
        if not isinstance(text, str):
            raise ApiError("Nothing to copy")
        ok = await asyncio.get_running_loop().run_in_executor(None, self.copy, text)
        if not ok:
            raise ApiError("No clipboard helper found (install xclip, xsel or wl-clipboard)")
        return web.json_response({"ok": True})

    async def post_show(self, request: web.Request) -> web.StreamResponse:
        if self.on_show is None:
            raise ApiError("This instance has no settings window", status=404)
        await asyncio.get_running_loop().run_in_executor(None, self.on_show)
        return web.json_response({"ok": True})
