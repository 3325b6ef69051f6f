"""ControlServer: the settings page and its JSON API, on loopback, for the life of the app.

It runs on the Controller's engine loop, bound to 127.0.0.1 on an ephemeral port, so the proxy
port can be changed while the proxy is stopped (even when that port is taken). Every launch
draws a random token:

- Nothing that grants control is ever put in a cookie: browsers send 127.0.0.1's cookies to
  every port, so any other local web server would receive it. The token reaches the page only
  in the page itself (`GET /?token=T` from the settings window, or `POST /` with a `token` form
  field from the browser launcher file, see ui/launcher.py); session.js keeps it in
  sessionStorage, which only this origin (scheme, host and port) can read, and takes it out of
  the address bar. `GET /` without a token serves the page with no token in it.
- `/api/*` needs the token in `X-Trayproxy-Token` (or `?token=`). `/api/cli/*` (every setting,
  for the CLI; control/cli_routes.py) needs a second token instead, `cli_token`, which only the
  0600 instance file holds, in the header only.
- The Host must be a loopback name with our port and any Origin must be our own origin
  (DNS rebinding and cross-site requests are refused); the one exception is `POST /` from the
  launcher file (Origin `null`), which carries the token itself.
- Header bytes that are not UTF-8 and numbers like nan or inf in a query get a 400, never a 500.

Handlers await the Controller's `a_*` coroutines; they never call its blocking sync methods.
File and database work (the request log, start-at-login entries) runs in an executor thread so
the proxy on the same loop never waits for it. Secrets other than the proxy API key never go
to the page: for the z.ai key it only learns whether one is set.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import io
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from trayproxy.accounts.words import describe, summary
from trayproxy.control._http import ApiError, guarded, read_json, user_message
from trayproxy.control.api import ControllerAPI
from trayproxy.control.cli_routes import add_cli_routes, import_keys, import_path
from trayproxy.control.clipboard import Copier, copy_text
from trayproxy.control.events import EventHub
from trayproxy.control.login import LoginRunner
from trayproxy.control.models_routes import add_models_routes
from trayproxy.control.page_words import by_account, page_words
from trayproxy.control.snippets import client_urls, snippets
from trayproxy.i18n import Translator, translator

if TYPE_CHECKING:
    from trayproxy.monitor import Monitor

__all__ = ["ControlServer", "WEB_DIR", "TOKEN_HEADER", "COOKIE", "PAGE_SETTINGS"]

log = logging.getLogger("trayproxy.control.server")
# The page's files are package data under ui/ (the settings page is UI), served from there by
# path: no ui module is imported, so `trayproxy serve` loads no display code.
WEB_DIR = Path(__file__).resolve().parent.parent / "ui" / "web"
TOKEN_HEADER = "X-Trayproxy-Token"
COOKIE = "trayproxy_control"  # the old session cookie's name: nothing sets or reads it any more
# The page's own files: every .css / .js shipped in web/ (a new page module needs no entry here).
_STATIC_TYPES = {"css": "text/css", "js": "text/javascript"}
_LOOPBACK = ("127.0.0.1", "localhost")
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# config keys the settings page may set (other tabs/sections add theirs here)
PAGE_SETTINGS = {
    "port", "allow_lan_access", "auth_mode", "auto_start", "language",
    "monitor.enabled", "monitor.retention_days", "monitor.store_bodies",
    "zai.enabled", "zai.base_url", "zai.dispatch_mode", "zai.models",
    "client_version", "use_ai_credits",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")
# the request log's list: page size bounds, and the filters the page may pass through
MAX_PAGE = 500
_EXPORT_TYPES = {"csv": "text/csv", "json": "application/json"}


class ControlServer:
    def __init__(
        self,
        controller: ControllerAPI,
        *,
        login: LoginRunner | None = None,
        copy: Copier = copy_text,
        on_show: Callable[[], None] | None = None,
        web_dir: Path = WEB_DIR,
        token: str | None = None,
        autostart: Any = None,
        downloads_dir: Callable[[], Path] | None = None,
        kind: str = "tray",
        open_url: Callable[[str], Any] | None = None,
    ) -> None:
        self.controller = controller
        self.kind = kind  # "tray" or "serve": what the CLI is talking to
        self.login = login or LoginRunner(controller)
        self.copy = copy
        self.on_show = on_show
        self.web_dir = web_dir
        self.token = token or secrets.token_urlsafe(24)
        # A second token for the /api/cli/* state routes, kept in the 0600 instance file only: the
        # page (and anything that got hold of the page's token) cannot change every setting.
        self.cli_token = secrets.token_urlsafe(24)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._icons: dict[str, bytes] = {}
        if autostart is None:
            from trayproxy import autostart as autostart_module

            autostart = autostart_module
        # status() / enable() / disable() -> AutostartStatus; raise AutostartError
        self.autostart = autostart
        self.downloads_dir = downloads_dir or _downloads_dir
        self.open_url = open_url or _open_in_browser
        # pushes state and request-log changes to open pages (GET /api/events)
        self.events = EventHub(self.state)
        self._subscribed = False

    # -- lifecycle (on the engine loop) ---------------------------------------------------
    async def start(self) -> str:
        from trayproxy.proxy.aiohttp_private import install_safe_expect_handler

        install_safe_expect_handler()  # an Expect header that is not UTF-8: a 417, not a 500
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
        self._subscribe_events()
        asyncio.get_running_loop().call_soon(self._read_clients)
        return self.url

    def _read_clients(self) -> None:
        task = asyncio.ensure_future(self.controller.a_refresh_clients())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _subscribe_events(self) -> None:
        self.events.bind(asyncio.get_running_loop())
        if self._subscribed:
            return
        self._subscribed = True
        self.controller.subscribe(self.events.changed)
        if self.controller.monitor is not None:
            self.controller.monitor.subscribe(self.events.monitor_changed)

    async def stop(self) -> None:
        await self.login.cancel()
        self.events.close()
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
        return _same(candidate, self.token)

    def _host_ok(self, host: str | None) -> bool:
        return host in {f"{name}:{self.port}" for name in _LOOPBACK}

    def _origin_ok(self, origin: str | None) -> bool:
        return origin is None or origin in {f"http://{name}:{self.port}" for name in _LOOPBACK}

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if _has_undecodable(request):
            return web.json_response({"error": "Header values must be UTF-8 text"}, status=400)
        if not self._host_ok(request.headers.get("Host")):
            return web.json_response({"error": "This address only answers to 127.0.0.1"}, status=403)
        origin = request.headers.get("Origin")
        launcher = origin == "null" and request.method == "POST" and request.path == "/"
        if not launcher and not self._origin_ok(origin):
            return web.json_response({"error": "Cross-origin requests are not allowed"}, status=403)
        if request.path.startswith("/api/cli/"):  # the CLI's token only: not the page's
            if not _same(request.headers.get(TOKEN_HEADER), self.cli_token):
                return web.json_response({"error": "Missing or wrong CLI token"}, status=401)
        elif request.path.startswith("/api/"):
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
            resp = web.json_response({"error": f"Internal error: {user_message(e)}"}, status=500)
        if resp.prepared:  # a stream (the event stream) sent its own headers
            return resp
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    # -- routes ----------------------------------------------------------------------------
    def _routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/", self.index)
        r.add_post("/", self.index_post)
        r.add_get("/{name:[a-z][a-z0-9_-]*\\.(css|js)}", self.static)
        r.add_get("/icon/{state:[a-z]+}.png", self.icon)
        r.add_get("/api/state", self.get_state)
        r.add_get("/api/i18n", self.get_i18n)
        r.add_get("/api/events", self.events.stream)
        r.add_post("/api/start", self.post_start)
        r.add_post("/api/stop", self.post_stop)
        r.add_post("/api/config", self.post_config)
        r.add_post("/api/key", self.post_key)
        r.add_post("/api/key/regenerate", self.post_key_regenerate)
        r.add_post("/api/accounts/login", self.post_login)
        r.add_post("/api/accounts/token", self.post_refresh_token)
        r.add_post("/api/accounts/refresh", self.post_refresh_accounts)
        r.add_post("/api/accounts/remove", self.post_remove_account)
        r.add_post("/api/accounts/import/scan", self.post_import_scan)  # "Import accounts" (import.js)
        r.add_post("/api/accounts/import", self.post_import)
        self._account_action_routes(r)
        r.add_post("/api/copy", self.post_copy)
        r.add_post("/api/show", self.post_show)
        r.add_get("/api/monitor/requests", self.get_monitor_requests)
        r.add_get("/api/monitor/requests/{id}", self.get_monitor_request)
        r.add_get("/api/monitor/stats", self.get_monitor_stats)
        r.add_get("/api/monitor/export", self.get_monitor_export)
        r.add_post("/api/monitor/export/save", self.post_monitor_export_save)
        r.add_post("/api/monitor/clear", self.post_monitor_clear)
        r.add_post("/api/zai/key", self.post_zai_key)
        r.add_post("/api/zai/key/remove", self.post_zai_key_remove)
        r.add_post("/api/zai/test", self.post_zai_test)
        r.add_get("/api/autostart", self.get_autostart)
        r.add_post("/api/autostart", self.post_autostart)
        from trayproxy.connect.routes import add_connect_routes  # Connect buttons (connect/routes.py)

        add_models_routes(r, self.controller)  # the Models tab (control/models_routes.py)
        add_connect_routes(r, self.controller)
        add_cli_routes(r, self.controller, self.kind)  # the CLI's, behind cli_token (control/cli_routes.py)

    def _page(self, token: str) -> web.Response:
        html = (self.web_dir / "index.html").read_text("utf-8").replace("{{TOKEN}}", token)
        resp = web.Response(text=html, content_type="text/html")
        resp.headers["Content-Security-Policy"] = _CSP
        return resp

    async def index(self, request: web.Request) -> web.StreamResponse:
        """The page; with the right `?token=` it carries the token, otherwise it carries none
        (session.js then finds it in this origin's sessionStorage, or says how to open it)."""
        given = request.query.get("token")
        if given is not None and not self._token_ok(given):
            return web.Response(
                status=401,
                text="Open the settings from the trayproxy menu (this page needs the per-launch token).",
            )
        return self._page(self.token if given is not None else "")

    async def index_post(self, request: web.Request) -> web.StreamResponse:
        """The browser launcher's form post: the token travels in the body, never in a URL."""
        form = await request.post()
        if not self._token_ok(str(form.get("token") or "")):
            return web.Response(status=401, text="This settings link has expired; open the settings from the trayproxy menu.")
        return self._page(self.token)

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]  # the route allows [a-z0-9_-]+.(css|js) only: no path parts
        path = self.web_dir / name
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.Response(body=path.read_bytes(), content_type=_STATIC_TYPES[name.rsplit(".", 1)[1]],
                            charset="utf-8")

    async def icon(self, request: web.Request) -> web.StreamResponse:
        from trayproxy.icons import STATES, render_icon  # Pillow: only when the page asks

        state = request.match_info["state"]
        if state not in STATES:
            raise web.HTTPNotFound()
        if state not in self._icons:
            buf = io.BytesIO()
            render_icon(state, 64).save(buf, "PNG")
            self._icons[state] = buf.getvalue()
        return web.Response(body=self._icons[state], content_type="image/png")

    @property
    def tr(self) -> Translator:
        """The page's language: the one the tray speaks (the setting, or the OS's)."""
        return translator(self.controller.language)

    def state(self) -> dict[str, Any]:
        ctl = self.controller
        st = ctl.status()
        cfg = ctl.raw_config
        key = ctl.api_key()
        tr = translator(st.language)
        status = st.to_dict()
        views = status.pop("accounts")  # once, with their words, under "accounts"
        return {
            "status": status,
            "summary": summary(views, tr),
            "accounts": [{**v, "words": describe(v, tr)} for v in views],
            "language": {"setting": cfg.language, "lang": st.language},
            "config": {
                "language": cfg.language,
                "port": cfg.port,
                "allow_lan_access": cfg.allow_lan_access,
                "auth_mode": cfg.auth_mode,
                "auto_start": cfg.auto_start,
                "effective_auth_mode": cfg.effective_auth_mode,
                "client_version": cfg.client_version,
                "use_ai_credits": cfg.use_ai_credits,
                "overrides": sorted(ctl.overrides),
                "monitor": {
                    "enabled": cfg.monitor.enabled,
                    "retention_days": cfg.monitor.retention_days,
                    "store_bodies": cfg.monitor.store_bodies,
                },
                "zai": {
                    "enabled": cfg.zai.enabled,
                    "base_url": cfg.zai.base_url,
                    "effective_base_url": ctl.config.zai.base_url,  # TRAYPROXY_ZAI_BASE_URL wins
                    "dispatch_mode": cfg.zai.dispatch_mode,
                    "models": dict(cfg.zai.models),
                    "key_set": ctl.has_zai_key(),  # never the key itself
                },
            },
            "api_key": key,
            "secrets": {  # where the API key and the z.ai key really are
                "where": "file" if st.secrets_fallback else "keychain",
                "path": str(ctl.paths.secrets_file) if st.secrets_fallback else None,
                "reason": st.secrets_fallback,
            },
            "urls": client_urls(st.base_url),
            "snippets": [s.to_dict() for s in snippets(st.base_url, key)],
            "login": self.login.state(),
        }

    async def get_state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.state())

    async def get_i18n(self, request: web.Request) -> web.StreamResponse:
        """The page's catalog: the compiled gettext catalog of the language the app speaks, as
        JSON (trayproxy/i18n; the page keeps no dictionary of its own)."""
        return web.json_response(self.tr.page_catalog())

    async def _thread(self, fn: Callable[[], T]) -> T:
        """Run blocking work (SQLite, files) off the engine loop."""
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    async def post_start(self, request: web.Request) -> web.StreamResponse:
        try:
            await guarded(self.controller.a_start())
        except ApiError as e:  # the state rides along: its problem says why, and what to do
            return web.json_response({**self.state(), "error": str(e)}, status=e.status)
        return web.json_response(self.state())

    async def post_stop(self, request: web.Request) -> web.StreamResponse:
        await guarded(self.controller.a_stop())
        return web.json_response(self.state())

    async def post_config(self, request: web.Request) -> web.StreamResponse:
        data = await read_json(request)
        key, value = data.get("key"), data.get("value")
        if key not in PAGE_SETTINGS:
            raise ApiError(f"The settings page cannot change {key!r}")
        try:
            await guarded(self.controller.a_set_config(key, value))
        except ApiError as e:
            raise ApiError(page_words(str(e), key), e.status) from e
        return web.json_response(self.state())

    async def post_key(self, request: web.Request) -> web.StreamResponse:
        data = await read_json(request)
        key = data.get("key")
        if not isinstance(key, str):
            raise ApiError("The API key must be text")
        await guarded(self.controller.a_set_api_key(key))
        return web.json_response(self.state())

    async def post_key_regenerate(self, request: web.Request) -> web.StreamResponse:
        await guarded(self.controller.a_regenerate_api_key())
        return web.json_response(self.state())

    async def post_login(self, request: web.Request) -> web.StreamResponse:
        await self.login.begin()
        task = getattr(self.login, "_task", None)
        if task is not None:  # waiting -> done / error: the page hears it without asking
            task.add_done_callback(self.events.changed)
        self.events.changed()
        return web.json_response(self.state())

    async def post_refresh_token(self, request: web.Request) -> web.StreamResponse:
        token = (await read_json(request)).get("refresh_token")
        if not isinstance(token, str) or not token.strip():
            raise ApiError("Paste a refresh token first")
        await guarded(self.controller.a_add_refresh_token(token.strip()))
        return web.json_response(self.state())

    async def post_refresh_accounts(self, request: web.Request) -> web.StreamResponse:
        await guarded(self.controller.a_refresh_accounts())
        return web.json_response(self.state())

    async def post_remove_account(self, request: web.Request) -> web.StreamResponse:
        account_id = (await read_json(request)).get("id")
        if not isinstance(account_id, str) or not account_id:
            raise ApiError("Which account? (id missing)")
        await guarded(self.controller.a_remove_account(account_id))
        return web.json_response(self.state())

    async def post_import_scan(self, request: web.Request) -> web.StreamResponse:
        """What Antigravity-Manager's and CLIProxyAPI's folders (or a path) hold, each account
        checked with Google; no token reaches the page."""
        path = import_path(await read_json(request))
        return web.json_response(await guarded(self.controller.a_scan_imports(path)))

    async def post_import(self, request: web.Request) -> web.StreamResponse:
        data = await read_json(request)
        results = await guarded(self.controller.a_import_accounts(import_keys(data), import_path(data)))
        return web.json_response({**self.state(), "results": results})

    # -- account actions (#15): retry now, enable/disable, open Google's link --------------------
    def _account_action_routes(self, r: web.UrlDispatcher) -> None:
        r.add_post("/api/accounts/retry", self.post_account_retry)
        r.add_post("/api/accounts/enable", self.post_account_enable)
        r.add_post("/api/accounts/open", self.post_account_open)

    async def _account_id(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        data = await read_json(request)
        account_id = data.get("id")
        if not isinstance(account_id, str) or not account_id:
            raise ApiError("Which account? (id missing)")
        return account_id, data

    async def post_account_retry(self, request: web.Request) -> web.StreamResponse:
        """Retry now: clear cooldowns and the verification pause, then check the account. A check
        that fails is an error with Google's reason, and the state shows what is left."""
        account_id, _ = await self._account_id(request)
        await guarded(self.controller.a_retry_account(account_id))
        return web.json_response(self.state())

    async def post_account_enable(self, request: web.Request) -> web.StreamResponse:
        account_id, data = await self._account_id(request)
        enabled = data.get("enabled")
        if not isinstance(enabled, bool):
            raise ApiError("enabled must be true or false")
        await guarded(self.controller.a_set_account_enabled(account_id, enabled))
        return web.json_response(self.state())

    async def post_account_open(self, request: web.Request) -> web.StreamResponse:
        """Open the account's own verification (or fix-it) link in the system browser. Only links
        Google gave for that account can be opened this way, never a URL the page sends."""
        account_id, _ = await self._account_id(request)
        acc = self.controller.find_account(account_id)
        if acc is None:
            raise ApiError(f"No account matches {account_id!r}", status=404)
        link = acc.verify_url or (acc.disabled_link if acc.disabled else None)
        if not link or not link.startswith("https://"):
            raise ApiError("This account has no link to open", status=404)
        opened = await asyncio.get_running_loop().run_in_executor(None, self.open_url, link)
        return web.json_response({"ok": bool(opened), "url": link})

    async def post_copy(self, request: web.Request) -> web.StreamResponse:
        text = (await read_json(request)).get("text")
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

    # -- request log (Monitor tab) ---------------------------------------------------------
    def _monitor(self) -> Monitor:
        mon = self.controller.monitor
        if mon is None:
            raise ApiError("The request log is not available in this instance", status=404)
        return mon

    @staticmethod
    def _filters(q: Any) -> dict[str, Any]:
        """Monitor.recent() filters from the query string; empty values mean "any"."""
        out: dict[str, Any] = {}
        status = str(q.get("status") or "")
        if status:
            if status not in ("ok", "error") and not (status.isdigit() and len(status) == 3):
                raise ApiError("status must be ok, error or an HTTP status code")
            out["status"] = status
        for param, key in (("model", "model"), ("account", "account_id"), ("protocol", "protocol")):
            value = q.get(param) or ""
            if not isinstance(value, str):
                raise ApiError(f"{param} must be text")
            if value:
                out[key] = value
        return out

    @staticmethod
    def _number(q: Any, name: str, default: float | None = None) -> float | None:
        raw = q.get(name)
        if raw in (None, ""):
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ApiError(f"{name} must be a number") from None
        if not math.isfinite(value):
            raise ApiError(f"{name} must be a finite number")
        return value

    async def get_monitor_requests(self, request: web.Request) -> web.StreamResponse:
        """Newest first. `before=TS` pages back; `after=TS` keeps rows that started at TS or later
        (the page's live poll, which merges by id: a row lands when its request ends, so a long
        request can arrive behind newer ones)."""
        mon = self._monitor()
        q = request.query
        filters = self._filters(q)
        limit = int(self._number(q, "limit", 100) or 100)
        limit = max(1, min(MAX_PAGE, limit))
        before, after = self._number(q, "before"), self._number(q, "after")
        if before is not None:
            filters["before_ts"] = before
        if after is not None:
            filters["since_ts"] = after
        rows = await self._thread(functools.partial(mon.recent, limit=limit, **filters))
        return web.json_response({"requests": rows, "has_more": len(rows) == limit, "limit": limit})

    async def get_monitor_request(self, request: web.Request) -> web.StreamResponse:
        mon = self._monitor()
        row = await self._thread(functools.partial(mon.get, request.match_info["id"]))
        if row is None:
            raise ApiError("That request is no longer in the log", status=404)
        row["bodies_stored"] = row.get("request_body") is not None or row.get("response_body") is not None
        return web.json_response(row)

    async def get_monitor_stats(self, request: web.Request) -> web.StreamResponse:
        mon = self._monitor()
        hours = int(self._number(request.query, "hours", 24) or 24)
        hours = max(1, min(24 * 14, hours))

        def collect() -> dict[str, Any]:
            by_client = mon.totals("client_model")
            by_model = mon.totals("upstream_model")
            names = {r["key"] for r in by_model + by_client if r["key"]}
            by_upstream = mon.totals("upstream")
            return {
                "summary": mon.summary(),
                "hourly": mon.hourly(hours),
                "by_account": by_account(mon.totals("account_id"), by_upstream),
                "by_model": by_model,
                "by_upstream": by_upstream,
                "models": sorted(names),
                "protocols": sorted(r["key"] for r in mon.totals("protocol") if r["key"]),
                "refused": mon.refused(50),  # guard refusals, counted per kind and origin
            }

        return web.json_response(await self._thread(collect))

    def _export_args(self, q: Any) -> tuple[str, dict[str, Any]]:
        fmt = str(q.get("format") or "csv")
        if fmt not in _EXPORT_TYPES:
            raise ApiError("format must be csv or json")
        return fmt, self._filters(q)

    @staticmethod
    def _export_name(fmt: str) -> str:
        return time.strftime("trayproxy-requests-%Y%m%d-%H%M%S.") + fmt

    async def get_monitor_export(self, request: web.Request) -> web.StreamResponse:
        mon = self._monitor()
        fmt, filters = self._export_args(request.query)
        data = await self._thread(functools.partial(mon.export, fmt, **filters))
        resp = web.Response(body=data, content_type=_EXPORT_TYPES[fmt], charset="utf-8")
        resp.headers["Content-Disposition"] = f'attachment; filename="{self._export_name(fmt)}"'
        return resp

    async def post_monitor_export_save(self, request: web.Request) -> web.StreamResponse:
        """The settings window (pywebview) cannot download: write the export to Downloads."""
        mon = self._monitor()
        fmt, filters = self._export_args(await read_json(request))
        folder = self.downloads_dir()
        name = self._export_name(fmt)

        def save() -> Path:
            data = mon.export(fmt, **filters)
            folder.mkdir(parents=True, exist_ok=True)
            path, n = folder / name, 1
            while path.exists():
                path, n = folder / name.replace(".", f"-{n}.", 1), n + 1
            path.write_bytes(data)
            return path

        try:
            path = await self._thread(save)
        except OSError as e:
            raise ApiError(f"Could not save the export in {folder}: {e.strerror or e}") from e
        return web.json_response({"path": str(path)})

    async def post_monitor_clear(self, request: web.Request) -> web.StreamResponse:
        mon = self._monitor()
        n = await self._thread(mon.clear)
        return web.json_response({"cleared": n})

    # -- z.ai --------------------------------------------------------------------------------
    async def post_zai_key(self, request: web.Request) -> web.StreamResponse:
        key = (await read_json(request)).get("key")
        if not isinstance(key, str) or not key.strip():
            raise ApiError("Paste the z.ai API key first")
        key = key.strip()
        if any(c.isspace() for c in key) or len(key) > 1024:
            raise ApiError("The z.ai API key cannot contain spaces or line breaks")
        await guarded(self.controller.a_set_zai_key(key))
        return web.json_response(self.state())

    async def post_zai_key_remove(self, request: web.Request) -> web.StreamResponse:
        await guarded(self.controller.a_set_zai_key(None))
        return web.json_response(self.state())

    async def post_zai_test(self, request: web.Request) -> web.StreamResponse:
        from trayproxy.upstream.zai import ZaiError

        base_url = self.controller.config.zai.base_url
        if not self.controller.has_zai_key():
            raise ApiError("No z.ai API key is set yet: paste it in the API key field, save it, then test again.")
        try:
            models = await self.controller.a_zai_models()
        except ZaiError as e:
            msg = user_message(e)
            if msg.startswith(("z.ai answered 401", "z.ai answered 403")):
                msg = "z.ai refused the API key (" + msg.removeprefix("z.ai answered ") + ")"
            raise ApiError(msg, status=502) from e
        return web.json_response({"ok": True, "base_url": base_url, "models": models})

    # -- start at login ----------------------------------------------------------------------
    async def _autostart(self, fn: Callable[[], Any]) -> web.StreamResponse:
        from trayproxy.autostart import AutostartError

        try:
            st = await self._thread(fn)
        except AutostartError as e:
            raise ApiError(user_message(e), status=500) from e
        return web.json_response(st.to_dict())

    async def get_autostart(self, request: web.Request) -> web.StreamResponse:
        return await self._autostart(self.autostart.status)

    async def post_autostart(self, request: web.Request) -> web.StreamResponse:
        on = (await read_json(request)).get("enabled")
        if not isinstance(on, bool):
            raise ApiError("enabled must be true or false")
        return await self._autostart(self.autostart.enable if on else self.autostart.disable)


def _same(candidate: str | None, token: str) -> bool:
    if not candidate:
        return False
    return hmac.compare_digest(str(candidate).encode("utf-8", "surrogateescape"), token.encode())


def _has_undecodable(request: web.Request) -> bool:
    """aiohttp keeps header bytes that are not UTF-8 as lone surrogates; they cannot be echoed,
    logged as UTF-8 or compared safely, so such a request is refused up front."""
    for k, v in request.raw_headers:
        try:
            k.decode("utf-8")
            v.decode("utf-8")
        except UnicodeDecodeError:
            return True
    try:
        request.path_qs.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _downloads_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_downloads_dir())


def _open_in_browser(url: str) -> bool:
    import webbrowser

    return webbrowser.open(url)
