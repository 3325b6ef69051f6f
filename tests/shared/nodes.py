"""One trayproxy instance's state in the test's loop, without a Controller: the account store,
the client keys, the request log and `SharedState` over the given engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import MemoryKeyring
from trayproxy.accounts.pool import AccountPool
from trayproxy.accounts.store import Account, AccountStore
from trayproxy.clientkeys.limits import LocalLimiter
from trayproxy.clientkeys.store import KeyStore
from trayproxy.config import SharedConfig
from trayproxy.monitor.record import RequestRecord
from trayproxy.secrets import SecretStore
from trayproxy.shared.pg_log import PgMonitor
from trayproxy.shared.state import SharedState


@dataclass
class Node:
    dir: Path
    secrets: SecretStore
    store: AccountStore
    keys: KeyStore
    monitor: PgMonitor
    shared: SharedState
    pool: AccountPool
    mapping: dict[str, str]

    async def stop(self) -> None:
        await self.shared.stop()
        await asyncio.to_thread(self.monitor.close)


async def node(tmp: Path, name: str, *, database_url: str = "", redis_url: str = "",
               secret_key: str = "0" * 64, accounts: tuple[Account, ...] = ()) -> Node:
    import os

    d = tmp / name
    d.mkdir(parents=True, exist_ok=True)
    secrets = SecretStore(d / "secrets.json", backend=MemoryKeyring())
    store = AccountStore(d / "accounts.json", secrets)
    store.bind(asyncio.get_running_loop())
    for acc in accounts:  # this instance's own accounts, as it had them before it started
        # under an id of its own: instances that each signed the account in know it by its e-mail
        store.put(Account.from_json({**acc.to_json(), "id": f"{name}-{acc.id}"}), refresh_token="1//rt-" + acc.email)
    pool = AccountPool(store)
    mapping: dict[str, str] = {}
    keys = KeyStore(d / "keys.json")
    monitor = PgMonitor(d / "monitor.db")
    monitor.start()
    os.environ["TRAYPROXY_SECRET_KEY"] = secret_key
    try:
        shared = SharedState(SharedConfig(redis_url=redis_url, database_url=database_url), secrets=secrets,
                             store=store, keys=keys, monitor=monitor, local_limiter=LocalLimiter(), instance=name,
                             pool=pool, mapping=lambda: dict(mapping), on_mapping=lambda m: (mapping.clear(), mapping.update(m)))
        await shared.start()
    finally:
        del os.environ["TRAYPROXY_SECRET_KEY"]
    return Node(d, secrets, store, keys, monitor, shared, pool, mapping)


@asynccontextmanager
async def two(tmp: Path, accounts: tuple[Account, ...] = (), **urls: str) -> AsyncIterator[tuple[Node, Node]]:
    """Two instances' state over the same engines (each with its own copy of `accounts`);
    stopped at the end."""
    a = await node(tmp, "a", accounts=accounts, **urls)
    b = await node(tmp, "b", accounts=accounts, **urls)
    try:
        yield a, b
    finally:
        await a.stop()
        await b.stop()


def account(email: str) -> Account:
    import time

    a = Account.new(email, now=time.time())
    a.project = "proj-" + email.split("@")[0]
    return a


def row(i: int, key_id: str | None = None) -> RequestRecord:
    import time

    return RequestRecord(id=f"r{i:06d}", ts=time.time(), method="POST", route="/v1/chat/completions",
                         protocol="openai", client_model="gemini-3-flash", upstream_model="gemini-3-flash",
                         account_id="acc", upstream="google", status=200, outcome="ok", duration_ms=5.0,
                         ttfb_ms=None, input_tokens=3, output_tokens=4, key_id=key_id)


async def until(cond: object, timeout: float = 10.0) -> None:
    """Wait (polling the loop) until cond() is true."""
    import time

    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)
