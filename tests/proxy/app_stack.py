"""The proxy's aiohttp app in the test's own event loop: no Controller, no engine thread, no port
of its own. The request path's parts are assembled (`proxy.context.assemble`) over an in-process
transport: a `MockTransport` handler, or the fake Cloud Code served as an aiohttp app in the same
loop. Requests go through aiohttp's test client.

    async with app_stack(tmp_path, fake=fake, emails=("a@x.com",)) as s:
        status, headers, body = await s.post("/v1/chat/completions", {...})
        s.pool.cooldown_left(...)
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import MemoryKeyring
from tests.fakes.cloudcode import FakeCloudCode
from trayproxy.accounts.pool import AccountPool
from trayproxy.accounts.service import AccountService
from trayproxy.accounts.state import account_view
from trayproxy.accounts.store import Account, AccountStore
from trayproxy.config import Config, set_value
from trayproxy.proxy.app import build_app
from trayproxy.proxy.context import ProxyContext, assemble
from trayproxy.secrets import SecretStore
from trayproxy.upstream.transport import AiohttpTransport, Transport

__all__ = ["AppStack", "app_stack"]

Reply = tuple[int, dict[str, str], bytes]


class AppStack:
    def __init__(self, ctx: ProxyContext, client: TestClient, store: AccountStore,
                 settings: Callable[[str, Any], None]) -> None:
        self.ctx, self.client, self.store = ctx, client, store
        self.configure = settings

    @property
    def pool(self) -> AccountPool:
        return self.ctx.pool

    @property
    def accounts(self) -> AccountService:
        return self.ctx.accounts

    def account_views(self) -> list[dict[str, Any]]:
        """What the tray, the page and `accounts list` show for each account."""
        now = self.ctx.clock()
        return [account_view(a, self.pool.cooldowns(a.id), now) for a in self.store.all()]

    def add_account(self, email: str, project: str = "proj-a") -> Account:
        """An account with a refresh token and a project, as if signed in (for MockTransport
        upstreams that answer any token)."""
        acc = Account.new(email, now=time.time())
        acc.project = project
        self.store.put(acc, refresh_token=f"rt-{email}")
        return acc

    async def request(self, method: str, path: str, body: Any = None,
                      headers: dict[str, str] | None = None) -> Reply:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        async with self.client.request(method, path, data=data, headers=h) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, await r.read()

    async def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("POST", path, body, headers)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("GET", path, None, headers)


@asynccontextmanager
async def app_stack(tmp_path: Path, *, transport: Transport | None = None, fake: FakeCloudCode | None = None,
                    clock: Callable[[], float] = time.time, emails: tuple[str, ...] = (),
                    **settings: Any) -> AsyncIterator[AppStack]:
    """The app over `transport`, or over `fake` served in this loop (its accounts in `emails`
    signed in with their refresh tokens). `settings` are config values (`set_value` keys)."""
    fake_server: TestServer | None = None
    env: dict[str, str] = {}
    if fake is not None:
        fake_server = TestServer(fake.app())
        await fake_server.start_server()
        fake.url = str(fake_server.make_url("")).rstrip("/")
        env = fake.env()
    cfg = Config()
    for key, value in settings.items():
        cfg = set_value(cfg, key, value)
    state = {"config": cfg.with_env(env)}

    def configure(key: str, value: Any) -> None:
        state["config"] = set_value(state["config"], key, value)

    secrets = SecretStore(tmp_path / "secrets.json", backend=MemoryKeyring())
    store = AccountStore(tmp_path / "accounts.json", secrets)
    transport = transport or AiohttpTransport()
    ctx = assemble(config=lambda: state["config"], secrets=secrets, store=store, transport=transport, clock=clock)
    client = TestClient(TestServer(build_app(ctx)))
    await client.start_server()
    stack = AppStack(ctx, client, store, configure)
    try:
        for email in emails:
            await ctx.accounts.add_refresh_token(f"rt-{email}")
        yield stack
    finally:
        await client.close()
        await transport.aclose()
        if fake_server is not None:
            await fake_server.close()
