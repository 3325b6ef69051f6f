"""The Controller: the one API the tray, the settings page and the CLI call (control/api.py).

Who owns what, and on which thread:

1. The engine thread (engine.py) runs one asyncio loop: the ProxyServer, the ControlServer, the
   upstream connections and the background tasks live on it, and it alone changes the app's
   state (the config, the account pool and store, the start problem). None of that is locked.
2. Every change is an `a_*` coroutine that runs there. What blocks (keychain calls, the fsync'd
   writes of config.json and accounts.json, reading files again) runs in a worker thread
   (asyncio.to_thread) while the loop goes on serving; then the loop applies the new state in
   memory in one step and tells the listeners. Config changes take turns (each builds on the
   last); the store writes its file one write at a time, newest state last.
3. Other threads call the synchronous twin, which runs the coroutine on the loop (engine.call)
   and returns its result or raises its error in the caller's thread; on the loop it refuses.
4. Reads of loop-owned state (`status`, `list_accounts`, `find_account`, ...) are computed on
   the loop: on the engine thread at once, from another thread through engine.call (a fresh
   answer, one loop turn later). The tray's GUI thread makes no such call: it draws the Status
   pushed to its listener and the account rows its last refresh read. The config is an
   immutable value replaced whole, and the SecretStore remembers the API key and the z.ai key:
   any thread reads those directly.
5. The constructor reads its files and the keychain in the caller's thread, before the loop
   serves anything; `close` waits for the last accounts.json write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from trayproxy import applog
from trayproxy.accounts.store import Account, AccountStore
from trayproxy.config import Config, LoadResult, load_config, save_config, set_value
from trayproxy.control.api import ControllerAPI, Status
from trayproxy.engine import Engine
from trayproxy.i18n import translator
from trayproxy.paths import AppPaths
from trayproxy.problems import NO_ACCOUNT, OTHER, StartProblem, bind_problem, port_problem
from trayproxy.proxy.context import assemble
from trayproxy.proxy.server import ProxyServer, StartError
from trayproxy.secrets import ZAI_KEY, SecretStore
from trayproxy.upstream.client_version import REFRESH_INTERVAL, ClientIdentity, install_candidates
from trayproxy.upstream.transport import AiohttpTransport, Transport
from trayproxy.upstream.words import banner

__all__ = ["Controller", "Engine", "Status", "StartError", "NO_ACCOUNT_ERROR"]

if TYPE_CHECKING:
    from trayproxy.monitor import Monitor

log = logging.getLogger("trayproxy.controller")
T = TypeVar("T")
NO_ACCOUNT_ERROR = "No available account, please add an account first"
READ_TIMEOUT = 30.0  # a read from another thread waits at most this long for the loop


class Controller:
    def __init__(
        self,
        paths: AppPaths,
        *,
        env: dict[str, str] | None = None,
        secrets_backend: Any = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        engine: Engine | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        self.paths = paths.ensure()
        self.env = env
        # Session-only settings (e.g. `serve --port`): applied over config.json, never saved.
        self.overrides: dict[str, Any] = dict(overrides or {})
        self.clock = clock
        loaded: LoadResult = load_config(paths.config_file)
        self.config_problem = loaded.message
        if self.config_problem:
            log.error("%s", self.config_problem)
        self._config = loaded.config
        self._effective: tuple[Config, Config] | None = None
        self.secrets = SecretStore(paths.secrets_file, backend=secrets_backend)
        self.secrets.api_key()  # generated and stored on first run
        self.secrets.cached(ZAI_KEY)  # requests read both from memory from now on
        applog.known_secrets(self._known_secrets)  # no log line shows them
        self.store = AccountStore(paths.accounts_file, self.secrets)
        eff = self.config
        self.transport = transport or AiohttpTransport(proxy=eff.upstream_proxy or None)
        self.monitor: Monitor | None = self._make_monitor()
        # What trayproxy says it is to Google: learned, refreshed in the background (upstream/client_version.py).
        self.identity = ClientIdentity(
            self.transport, override=lambda: self.config.client_version,
            manifest_url=lambda: self.config.client_version_url, state_file=paths.client_version_file,
            install_files=lambda: install_candidates(self.env), clock=clock)
        self.ctx = assemble(config=lambda: self.config, secrets=self.secrets, store=self.store,
                            transport=self.transport, clock=clock, monitor=self.monitor, identity=self.identity)
        self.pool, self.accounts, self.upstream = self.ctx.pool, self.ctx.accounts, self.ctx.upstream
        self.pool.on_change = lambda: self._notify()  # paused / disabled / resumed: tray and page
        self.server = ProxyServer(self.ctx)
        # How the user restarts the proxy, for messages about settings that need a restart.
        self.restart_hint = "Stop and Start the proxy (tray menu or settings page)"
        # why the last Start failed; shown only while its cause stands (trayproxy/problems.py)
        self.start_problem: StartProblem | None = None
        self._port_watch: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[Status], None]] = []
        self._clients: list[dict[str, Any]] = []  # connected clients, as a_refresh_clients read them
        self._bg: list[asyncio.Task[Any]] = []
        self._config_turn = asyncio.Lock()  # one config change (or reload) at a time, on the loop
        self._owns_engine = engine is None
        self.engine = engine or Engine()
        self.store.bind(self.engine.loop)  # its saves on the loop go to a worker thread
        self.engine.call(self.identity.load(), timeout=10)  # the version learned last time, before any request
        self.identity.on_change = lambda: self._notify()  # a new version, or Google refusing it
        if self.monitor is not None:
            self.monitor.start()
        self._config_stamp = _stamp(paths.config_file)
        self._watch: asyncio.Task[None] | None = None
        if self.config_problem:
            self.engine.call(_now(self._watch_config), timeout=5)

    def _watch_config(self) -> None:
        """(On the loop.) While config.json is broken, look at it every 2 s and reload it once it
        changes (the user fixing it by hand): the safe settings hold until then, and no longer."""

        async def watch() -> None:
            while self.config_problem:
                await asyncio.sleep(2.0)
                stamp = await asyncio.to_thread(_stamp, self.paths.config_file)
                if stamp != self._config_stamp:
                    self._config_stamp = stamp
                    try:
                        await self.a_reload()
                    except Exception:
                        log.exception("reloading config.json failed")
            self._watch = None

        if self._watch is None:
            self._watch = asyncio.ensure_future(watch())

    # -- reads of loop-owned state -------------------------------------------------------------
    def _read(self, fn: Callable[[], T]) -> T:
        """fn() on the loop: here when on the engine thread (or when the loop no longer runs, and
        nothing else touches the state), else through engine.call."""
        if self.engine.in_engine_thread or not self.engine.running:
            return fn()
        return self.engine.call(_now(fn), timeout=READ_TIMEOUT)

    def _make_monitor(self) -> Monitor | None:
        from trayproxy.monitor import Monitor

        m = self._config.monitor
        return Monitor(
            self.paths.monitor_db,
            enabled=m.enabled,
            retention_days=m.retention_days,
            max_rows=m.max_rows,
            store_bodies=m.store_bodies,
            secrets=self._known_secrets,
        )

    def _known_secrets(self) -> list[str]:
        out = [self.secrets.api_key()]
        zk = self.secrets.cached(ZAI_KEY)
        if zk:
            out.append(zk)
        return out

    # -- config ------------------------------------------------------------------------------
    @property
    def config(self) -> Config:
        """The effective config: config.json, then session overrides, then the environment.
        Computed when the config changes, not on every read (requests read it often). Any thread
        may read it: a Config is never changed, only replaced."""
        cfg = self._effective
        if cfg is None or cfg[0] is not self._config:
            eff = self._config
            for k, v in self.overrides.items():
                eff = set_value(eff, k, v)
            cfg = self._effective = (self._config, eff.with_env(self.env))
        return cfg[1]

    @property
    def raw_config(self) -> Config:
        return self._config

    @property
    def language(self) -> str:
        from trayproxy.i18n.detect import effective_language

        return effective_language(self.config.language)

    @property
    def bound_host(self) -> str | None:
        return self.server.host

    async def a_set_config(self, key: str, value: Any) -> Config:
        """Validate one setting, save config.json (worker thread) and apply it at once. The port
        and the LAN bind cannot move while the proxy is bound: they are saved and
        `bound_note(key)` says what happens when."""
        async with self._config_turn:
            new = set_value(self._config, key, value)
            self._config_stamp = await asyncio.to_thread(self._save_config, new)
            if self.overrides.pop(key, None) is not None:
                self._effective = None
            self._config = new
            if self.config_problem:
                log.info("config.json written afresh; the earlier problem is gone: %s", self.config_problem)
                self.config_problem = None
            self._apply_live()
        self._notify()
        if key == "port":
            self._clients_later()
        return new

    def set_config(self, key: str, value: Any) -> Config:
        return self.engine.call(self.a_set_config(key, value))

    def _save_config(self, cfg: Config) -> tuple[int, int] | None:
        """(Worker thread.) The fsync'd write, and the file's stamp for the config watch."""
        save_config(self.paths.config_file, cfg)
        return _stamp(self.paths.config_file)

    def bound_note(self, key: str) -> str | None:
        """For a setting that cannot change while the proxy is bound: what is in effect now and
        what to do. None when the new value is already in effect."""
        return self._read(lambda: self._bound_note(key))

    def _bound_note(self, key: str) -> str | None:
        srv = self.server
        if not srv.running or key not in ("port", "allow_lan_access"):
            return None
        cfg = self.config
        where = f"{srv.host}:{srv.port}"
        if key == "port" and cfg.port != srv.port:
            return (f"Saved, but the proxy is bound to {where} and keeps that port until it restarts; "
                    f"{self.restart_hint} to move it to port {cfg.port}.")
        if key == "allow_lan_access" and cfg.bind_host != srv.host:
            if cfg.allow_lan_access:
                return (f"Saved, but the proxy listens on {where} (this machine only) until it restarts; "
                        f"{self.restart_hint} to let other machines in.")
            return (f"LAN access is off now: requests from other machines are refused from this moment. "
                    f"The socket stays bound to {where} until the proxy restarts ({self.restart_hint}).")
        return None

    def _apply_live(self) -> None:
        self.pool.scheduling = self.config.scheduling
        if self.monitor is not None:
            m = self._config.monitor
            self.monitor.configure(
                enabled=m.enabled, retention_days=m.retention_days, store_bodies=m.store_bodies, max_rows=m.max_rows
            )

    # -- listeners ---------------------------------------------------------------------------
    def subscribe(self, fn: Callable[[Status], None]) -> None:
        """fn(status) is called on the engine thread after every state change. It must not block:
        the proxy's requests wait for it."""
        self._listeners.append(fn)

    def _notify(self) -> None:
        """Tell the listeners, on the loop. Only code on the loop changes state in the app; called
        from another thread (a test changing the pool directly) it runs there and is waited for."""
        if not self.engine.in_engine_thread:
            if self.engine.running:
                self.engine.call(_now(self._notify), timeout=READ_TIMEOUT)
            return
        st = self._status()
        for fn in list(self._listeners):
            try:
                fn(st)
            except Exception:
                log.exception("status listener failed")

    # -- start problems ----------------------------------------------------------------------
    def _usable(self) -> bool:
        cfg = self.config
        return bool(self.pool.active_count()) or (cfg.zai.enabled and cfg.zai.dispatch_mode != "off")

    def _current_problem(self) -> StartProblem | None:
        """The last Start's problem while its cause stands (then None: nothing stale is shown)."""
        p = self.start_problem
        if p is None or self.server.running:
            return None
        cfg = self.config
        if not p.current(usable=self._usable(), host=cfg.bind_host, port=cfg.port):
            self.start_problem = None
            return None
        return p

    def _watch_port(self, problem: StartProblem) -> None:
        """While Start fails on a port, look every 2 s whether it is free again (then the error goes)."""
        from trayproxy.ports import port_is_free

        async def watch() -> None:
            while self.start_problem is problem:
                await asyncio.sleep(2.0)
                if self.start_problem is problem and port_is_free(problem.host or "", problem.port or 0)[0]:
                    self.start_problem = None
                    self._notify()

        if self._port_watch is not None:
            self._port_watch.cancel()
        self._port_watch = asyncio.ensure_future(watch())

    # -- status ------------------------------------------------------------------------------
    def status(self) -> Status:
        return self._read(self._status)

    def _status(self) -> Status:
        cfg = self.config
        running = self.server.running
        problem = self._current_problem()
        port = self.server.port if running and self.server.port else cfg.port
        upstreams = []
        if self.pool.active_count():
            upstreams.append("google")
        if cfg.zai.enabled and cfg.zai.dispatch_mode != "off":
            upstreams.append(f"zai ({cfg.zai.dispatch_mode})")
        views = self._list_accounts()
        return Status(
            running=running,
            port=port,
            base_url=f"http://127.0.0.1:{port}",
            active_accounts=sum(1 for v in views if v["status"] == "active"),
            accounts_total=len(self.store.all()),
            lan=cfg.allow_lan_access,
            auth_mode=cfg.effective_auth_mode,
            error=problem.message if problem else None,
            problem=problem.to_dict() if problem else None,
            config_problem=self.config_problem,
            secrets_fallback=self.secrets.fallback_reason,
            upstreams=upstreams,
            restart_note=self._bound_note("port") or self._bound_note("allow_lan_access"),
            accounts=views,
            clients=list(self._clients),
            language=self.language,
            client_version=self._client_version(),
        )

    def _client_version(self) -> dict[str, Any]:
        state = self.identity.to_dict()
        alarm = state.get("alarm")
        # the banner in the language the page and the tray speak (the API client's error stays English)
        return {**state, "banner": banner(alarm, state, translator(self.language)) if alarm else None}

    # -- start / stop ------------------------------------------------------------------------
    async def a_start(self, port: int | None = None, *, without_account: bool = False) -> Status:
        """Bind the proxy. A port that cannot be bound is found first, with or without an account
        (Antigravity-Manager on 8045 is the common case); then, unless `without_account` (`serve`
        waiting for a first account, answering /healthz meanwhile), an account or z.ai must be
        able to answer."""
        cfg = self.config
        zai_on = cfg.zai.enabled and cfg.zai.dispatch_mode != "off"
        if self.server.running:
            return self._status()
        bind_port = port if port is not None else cfg.port
        taken = await asyncio.to_thread(port_problem, cfg.bind_host, bind_port)
        if taken is not None:
            self._port_problem(taken, watch=bind_port == cfg.port)
            raise StartError(taken.message)
        if self.pool.active_count() == 0 and not zai_on and not without_account:
            self.start_problem = StartProblem(NO_ACCOUNT, NO_ACCOUNT_ERROR)
            self._notify()
            raise StartError(NO_ACCOUNT_ERROR)
        try:
            await self.server.start(cfg.bind_host, bind_port)
        except StartError as e:
            if isinstance(e.__cause__, OSError):
                problem = await asyncio.to_thread(bind_problem, str(e), e.__cause__, cfg.bind_host, bind_port)
                self._port_problem(problem, watch=bind_port == cfg.port)
            else:
                self.start_problem = StartProblem(OTHER, str(e))
                self._notify()
            raise
        self.start_problem = None
        self._start_background()
        self._notify()
        self._clients_later()
        return self._status()

    def _port_problem(self, problem: StartProblem, *, watch: bool) -> None:
        self.start_problem = problem
        if watch:
            self._watch_port(problem)
        self._notify()

    async def a_check_port(self) -> StartProblem | None:
        """Whether the configured port can be bound now; a taken one becomes the start problem
        (holder and free port included) before anyone signs in or presses Start. The tray asks
        at launch."""
        if self.server.running:
            return None
        cfg = self.config
        problem = await asyncio.to_thread(port_problem, cfg.bind_host, cfg.port)
        if problem is not None:
            self._port_problem(problem, watch=True)
        return problem

    def check_port(self) -> StartProblem | None:
        return self.engine.call(self.a_check_port())

    async def a_stop(self) -> Status:
        for t in self._bg:
            t.cancel()
        self._bg.clear()
        await self.server.stop()
        self._notify()
        self._clients_later()
        return self._status()

    def start(self, port: int | None = None, *, without_account: bool = False) -> Status:
        return self.engine.call(self.a_start(port, without_account=without_account))

    def stop(self) -> Status:
        return self.engine.call(self.a_stop())

    async def a_reload(self) -> Status:
        """Re-read config.json, accounts.json and the keychain (after hand edits), in worker
        threads; the new state is applied on the loop."""
        async with self._config_turn:
            loaded, stamp = await asyncio.to_thread(_load_config, self.paths.config_file)
            await self.store.a_load()
            await asyncio.to_thread(self.secrets.reread_cached)
            self.config_problem = loaded.message
            self._config_stamp = stamp
            self._config = loaded.config
            self._apply_live()
            if self.config_problem:
                self._watch_config()
        self._notify()
        return self._status()

    def reload(self) -> Status:
        return self.engine.call(self.a_reload())

    # -- background --------------------------------------------------------------------------
    def _start_background(self) -> None:
        self._bg.append(asyncio.ensure_future(self._quota_loop()))
        self._bg.append(asyncio.ensure_future(self._quota_recheck_loop()))
        self._bg.append(asyncio.ensure_future(self._version_loop()))

    async def _version_loop(self) -> None:
        """The client version Google accepts: learned at start and every few hours (requests
        never wait for it; they read the version in use from memory)."""
        while True:
            try:
                await self.identity.refresh()
            except Exception:
                log.exception("client version refresh failed")
            await asyncio.sleep(REFRESH_INTERVAL)

    async def _quota_recheck_loop(self) -> None:
        """Accounts cooling down for quota: re-read their live quota, so an early reset frees them."""
        while True:
            await asyncio.sleep(60)
            try:
                if await self.accounts.recheck_quota():
                    self._notify()
            except Exception:
                log.exception("quota re-check failed")

    async def _quota_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.quota_refresh_minutes * 60)
            try:
                await self.accounts.refresh_all(resume=False)  # a person's pause stays until they act
                self._notify()
            except Exception:
                log.exception("quota refresh failed")

    # -- API key -----------------------------------------------------------------------------
    def api_key(self) -> str:
        """From memory (the SecretStore keeps it), on any thread."""
        return self.secrets.api_key()

    async def a_set_api_key(self, key: str) -> str:
        k = await asyncio.to_thread(self.secrets.set_api_key, key)
        self._notify()
        return k

    def set_api_key(self, key: str) -> str:
        return self.engine.call(self.a_set_api_key(key))

    async def a_regenerate_api_key(self) -> str:
        k = await asyncio.to_thread(self.secrets.regenerate_api_key)
        self._notify()
        return k

    def regenerate_api_key(self) -> str:
        return self.engine.call(self.a_regenerate_api_key())

    # -- accounts ----------------------------------------------------------------------------
    def list_accounts(self) -> list[dict[str, Any]]:
        return self._read(self._list_accounts)

    def _list_accounts(self) -> list[dict[str, Any]]:
        from trayproxy.accounts.state import account_view

        now = self.clock()
        return [account_view(a, self.pool.cooldowns(a.id), now) for a in self.store.all()]

    def account_records(self) -> list[Account]:
        return self._read(self.store.all)

    def find_account(self, id_or_email: str) -> Account | None:
        return self._read(lambda: self.store.find(id_or_email))

    async def a_add_refresh_token(self, token: str) -> Account:
        acc = await self.accounts.add_refresh_token(token)
        self._notify()
        return acc

    def add_refresh_token(self, token: str) -> Account:
        return self.engine.call(self.a_add_refresh_token(token), timeout=120)

    async def a_login(self, open_url: Callable[[str], object], timeout: float = 300.0) -> Account:
        acc = await self.accounts.login(open_url, timeout)
        self._notify()
        return acc

    def login(self, open_url: Callable[[str], object], timeout: float = 300.0) -> Account:
        return self.engine.call(self.a_login(open_url, timeout), timeout=timeout + 30)

    async def a_remove_account(self, id_or_email: str) -> Account:
        acc = self._account(id_or_email)
        await self.store.a_remove(acc.id)
        self.accounts.forget_token(acc.id)
        self._notify()
        return acc

    def remove_account(self, id_or_email: str) -> Account:
        return self.engine.call(self.a_remove_account(id_or_email))

    # account actions a person takes (#15): retry now, enable, disable
    def _account(self, id_or_email: str) -> Account:
        acc = self.store.find(id_or_email)
        if acc is None:
            raise KeyError(f"No account matches {id_or_email!r}")
        return acc

    async def a_retry_account(self, id_or_email: str) -> Account:
        try:
            return await self.accounts.retry(self._account(id_or_email))
        finally:
            self._notify()

    def retry_account(self, id_or_email: str) -> Account:
        return self.engine.call(self.a_retry_account(id_or_email), timeout=120)

    async def a_set_account_enabled(self, id_or_email: str, enabled: bool) -> Account:
        acc = self.accounts.set_enabled(self._account(id_or_email), enabled)
        await self.store.a_flush()  # written (or its error raised) before the person hears "done"
        self._notify()
        return acc

    def set_account_enabled(self, id_or_email: str, enabled: bool) -> Account:
        return self.engine.call(self.a_set_account_enabled(id_or_email, enabled))

    async def a_refresh_clients(self) -> list[dict[str, Any]]:
        from trayproxy.connect.command import backup_root
        from trayproxy.connect.service import status as client_status

        base, root, key = self._status_base_url(), backup_root(self.paths.data_dir), self.api_key()
        rows = await asyncio.to_thread(lambda: client_status(base_url=base, backup_root=root, versions=False,
                                                             api_key=key))
        clients = [{k: r[k] for k in ("client", "title", "connected", "stale", "points_at", "can_undo")} for r in rows]
        if clients != self._clients:
            self._clients = clients
            self._notify()
        return clients

    def _clients_later(self) -> None:
        """(On the loop.) The base URL may have moved: read the clients again, in the background."""
        task = asyncio.ensure_future(self.a_refresh_clients())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # a read error is not news

    def refresh_clients(self) -> list[dict[str, Any]]:
        return self.engine.call(self.a_refresh_clients(), timeout=60)

    def _status_base_url(self) -> str:
        port = self.server.port if self.server.running and self.server.port else self.config.port
        return f"http://127.0.0.1:{port}"

    async def a_refresh_accounts(self) -> list[tuple[Account, str | None]]:
        res = await self.accounts.refresh_all()
        self._notify()
        return res

    def refresh_accounts(self) -> list[tuple[Account, str | None]]:
        return self.engine.call(self.a_refresh_accounts(), timeout=300)

    # -- importing accounts from Antigravity-Manager / CLIProxyAPI (accounts/importer.py) ------
    async def a_scan_imports(self, path: str | None = None) -> dict[str, Any]:
        """What the other tools' folders (or `path`) hold, each account checked with a refresh."""
        from trayproxy.accounts.import_sources import scan
        from trayproxy.accounts.importer import check

        sources = await asyncio.to_thread(scan, Path(path) if path else None)
        candidates = await check(sources, self.accounts.oauth, self.store)
        return {"sources": [s.describe() for s in sources], "candidates": [c.to_dict() for c in candidates]}

    def scan_imports(self, path: str | None = None) -> dict[str, Any]:
        return self.engine.call(self.a_scan_imports(path), timeout=300)

    async def a_import_accounts(self, keys: list[str], path: str | None = None) -> list[dict[str, Any]]:
        """Import the chosen accounts (keys from a scan of the same `path`); a result for each."""
        from trayproxy.accounts.import_sources import scan
        from trayproxy.accounts.importer import import_chosen

        sources = await asyncio.to_thread(scan, Path(path) if path else None)
        try:
            return await import_chosen(sources, keys, self.accounts)
        finally:
            self._notify()

    def import_accounts(self, keys: list[str], path: str | None = None) -> list[dict[str, Any]]:
        return self.engine.call(self.a_import_accounts(keys, path), timeout=600)

    # -- z.ai --------------------------------------------------------------------------------
    async def a_set_zai_key(self, key: str | None) -> None:
        if key:
            await asyncio.to_thread(self.secrets.set, ZAI_KEY, key.strip())
        else:
            await asyncio.to_thread(self.secrets.delete, ZAI_KEY)
        self._notify()

    def set_zai_key(self, key: str | None) -> None:
        self.engine.call(self.a_set_zai_key(key))

    def has_zai_key(self) -> bool:
        """From memory (the SecretStore keeps it), on any thread."""
        return bool(self.secrets.cached(ZAI_KEY))

    async def a_zai_models(self) -> list[str]:
        assert self.ctx.zai is not None
        return await self.ctx.zai.list_models()

    def zai_models(self) -> list[str]:
        return self.engine.call(self.a_zai_models(), timeout=60)

    # -- shutdown ----------------------------------------------------------------------------
    async def _aclose(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self._port_watch is not None:
            self._port_watch.cancel()
        await self.a_stop()
        try:
            await self.store.a_flush()  # the last accounts.json write (a pause, a disable, ...)
        except OSError:
            log.exception("accounts.json could not be written")
        await self.transport.aclose()

    def close(self) -> None:
        try:
            self.engine.call(self._aclose(), timeout=10)
        except Exception:
            log.exception("error while closing")
        if self.monitor is not None:
            self.monitor.close()
        if self._owns_engine:
            self.engine.stop()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _load_config(path: Path) -> tuple[LoadResult, tuple[int, int] | None]:
    return load_config(path), _stamp(path)


async def _now(fn: Callable[[], T]) -> T:
    """fn() as a coroutine, to run it on the loop with engine.call."""
    return fn()


def _hhmm(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


if TYPE_CHECKING:
    def _implements_the_api(c: Controller) -> ControllerAPI:  # mypy checks Controller against ControllerAPI
        return c
