"""The proxy's aiohttp app in the test's own event loop: no Controller, no engine thread, no port
of its own. The request path's parts are assembled (`proxy.context.assemble`) over an in-process
transport: a `MockTransport` handler, or the fake Cloud Code served as an aiohttp app in the same
loop. Requests go through aiohttp's test client.

    async with app_stack(tmp_path, fake=fake, emails=("a@x.com",)) as s:
        status, headers, body = await s.post("/v1/chat/completions", {...})
        s.pool.cooldown_left(...)

With a `FakeClock`, the pipeline's waits before retrying the same account (`ProxyContext.sleep`)
and the account service's onboarding polls move that clock instead of taking real time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import MemoryKeyring
from tests.fakes.cloudcode import FakeCloudCode
from tests.helpers import FakeClock
from trayproxy.accounts.pool import AccountPool
from trayproxy.accounts.service import AccountService
from trayproxy.accounts.state import account_view
from trayproxy.accounts.store import Account, AccountStore
from trayproxy.config import Config, set_value
from trayproxy.monitor import Monitor
from trayproxy.proxy.app import build_app
from trayproxy.proxy.context import ProxyContext, assemble
from trayproxy.secrets import ZAI_KEY, SecretStore
from trayproxy.upstream.transport import AiohttpTransport, Transport

__all__ = ["AppStack", "app_stack"]

Reply = tuple[int, dict[str, str], bytes]


class AppStack:
    def __init__(self, ctx: ProxyContext, client: TestClient, store: AccountStore, secrets: SecretStore,
                 settings: Callable[[str, Any], None]) -> None:
        self.ctx, self.client, self.store, self.secrets = ctx, client, store, secrets
        self.configure = settings

    @property
    def pool(self) -> AccountPool:
        return self.ctx.pool

    @property
    def accounts(self) -> AccountService:
        return self.ctx.accounts

    @property
    def monitor(self) -> Monitor:
        assert self.ctx.monitor is not None, "app_stack(monitor=True) records requests"
        return self.ctx.monitor

    @property
    def port(self) -> int:
        """The test server's port on 127.0.0.1 (for raw-socket clients run in a worker thread)."""
        port = self.client.server.port
        assert port is not None
        return port

    def api_key(self) -> str:
        return self.ctx.api_key()

    def account_views(self) -> list[dict[str, Any]]:
        """What the tray, the page and `accounts list` show for each account."""
        now = self.ctx.clock()
        return [account_view(a, self.pool.cooldowns(a.id), now) for a in self.store.all()]

    def account(self, id_or_email: str) -> Account:
        acc = self.store.find(id_or_email)
        assert acc is not None, f"no account {id_or_email!r}"
        return acc

    def add_account(self, email: str, project: str = "proj-a") -> Account:
        """An account with a refresh token and a project, as if signed in (for MockTransport
        upstreams that answer any token)."""
        acc = Account.new(email, now=time.time())
        acc.project = project
        self.store.put(acc, refresh_token=f"rt-{email}")
        return acc

    async def request(self, method: str, path: str, body: Any = None,
                      headers: dict[str, str] | None = None) -> Reply:
        """`body`: JSON, bytes (sent with a Content-Length), or a list of bytes (sent chunked,
        without a length)."""
        data: Any
        if isinstance(body, list) and all(isinstance(b, bytes) for b in body):
            chunks = list(body)

            async def chunked() -> AsyncIterator[bytes]:
                for c in chunks:
                    yield c

            data = chunked()
        else:
            data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        async with self.client.request(method, path, data=data, headers=h) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, await r.read()

    async def close_server(self) -> None:
        """Stop the test server, waiting for the handlers still running (a client that hung up
        mid-stream leaves one finishing): everything they record is recorded after this."""
        await self.client.close()

    async def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("POST", path, body, headers)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("GET", path, None, headers)


@asynccontextmanager
async def app_stack(tmp_path: Path, *, transport: Transport | None = None, fake: FakeCloudCode | None = None,
                    hosts: tuple[str, ...] = (), clock: Callable[[], float] = time.time,
                    instant_sleep: bool | None = None, emails: tuple[str, ...] = (), monitor: bool = False,
                    env: dict[str, str] | None = None, zai_key: str | None = None,
                    **settings: Any) -> AsyncIterator[AppStack]:
    """The app over `transport`, or over `fake` served in this loop (at `hosts`, default all of
    the fake's; its accounts in `emails` signed in with their refresh tokens). `settings` are
    config values (`set_value` keys; `auth_mode` is `off` unless given: the request path's tests
    are not about the key, the guards' tests set it), `env` more environment settings. `instant_sleep` (default:
    when `clock` is a FakeClock) makes the request path's waits move the clock instead. With
    `monitor`, requests are recorded in a monitor database under `tmp_path`."""
    if instant_sleep is None:
        instant_sleep = isinstance(clock, FakeClock)
    if instant_sleep and not isinstance(clock, FakeClock):
        raise ValueError("instant_sleep needs a FakeClock: the waits move it")
    fake_server: TestServer | None = None
    environ: dict[str, str] = {}
    if fake is not None:
        fake_server = TestServer(fake.app())
        await fake_server.start_server()
        fake.url = str(fake_server.make_url("")).rstrip("/")
        environ = fake.env(*hosts)
    environ.update(env or {})
    cfg = Config()
    settings.setdefault("auth_mode", "off")
    for key, value in settings.items():
        cfg = set_value(cfg, key, value)
    state = {"config": cfg.with_env(environ)}

    def configure(key: str, value: Any) -> None:
        state["config"] = set_value(state["config"], key, value)

    secrets = SecretStore(tmp_path / "secrets.json", backend=MemoryKeyring())
    if zai_key is not None:
        secrets.set(ZAI_KEY, zai_key)
    store = AccountStore(tmp_path / "accounts.json", secrets)
    mon: Monitor | None = None
    if monitor:
        m = cfg.monitor

        def known_secrets() -> list[str]:  # as the Controller's monitor is told
            return [s for s in (secrets.api_key(), secrets.get(ZAI_KEY)) if s]

        mon = Monitor(tmp_path / "monitor.db", enabled=m.enabled, retention_days=m.retention_days,
                      max_rows=m.max_rows, store_bodies=m.store_bodies, secrets=known_secrets)
        mon.start()
    transport = transport or AiohttpTransport()
    ctx = assemble(config=lambda: state["config"], secrets=secrets, store=store, transport=transport, clock=clock,
                   monitor=mon)
    if instant_sleep:
        assert isinstance(clock, FakeClock)
        ctx.sleep = ctx.accounts.sleep = clock.sleep
    client = TestClient(TestServer(build_app(ctx)))
    await client.start_server()
    stack = AppStack(ctx, client, store, secrets, configure)
    try:
        for email in emails:
            await ctx.accounts.add_refresh_token(f"rt-{email}")
        yield stack
    finally:
        await client.close()
        await transport.aclose()
        if fake_server is not None:
            await fake_server.close()
        if mon is not None:
            await asyncio.to_thread(mon.close)
