"""Everything a request handler needs, in one typed object stored under an aiohttp AppKey."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from trayproxy.clientkeys.limits import Limiter, LocalLimiter
from trayproxy.config import Config
from trayproxy.proxy.metrics import Metrics

if TYPE_CHECKING:
    from trayproxy.accounts.pool import AccountPool
    from trayproxy.accounts.service import AccountService
    from trayproxy.accounts.store import AccountStore
    from trayproxy.clientkeys.store import KeyStore
    from trayproxy.monitor import Monitor
    from trayproxy.proxy.memory import ResponseStore, SignatureStore
    from trayproxy.secrets import SecretStore
    from trayproxy.upstream.client_version import ClientIdentity
    from trayproxy.upstream.cloudcode import CloudCodeClient
    from trayproxy.upstream.links import LinkResolver
    from trayproxy.upstream.transport import Transport
    from trayproxy.upstream.zai import ZaiClient

__all__ = ["ProxyContext", "CONTEXT", "new_id", "assemble"]


def new_id(prefix: str) -> str:
    """Ids for things the client protocol needs and the upstream did not give (unique, not
    secret: no system call for randomness per id)."""
    return f"{prefix}{_rand.getrandbits(96):024x}"


_rand = random.Random()  # seeded from os.urandom once


@dataclass
class ProxyContext:
    """What the request path reads and changes: the live config and key, the account pool and the
    service that signs accounts in and refreshes them, the upstream clients and the client
    identity they report, the stores of thought signatures and Responses, the monitor. Built
    once by the Controller (or a test)."""

    config: Callable[[], Config]
    api_key: Callable[[], str]
    pool: AccountPool
    accounts: AccountService
    upstream: CloudCodeClient
    signatures: SignatureStore
    responses: ResponseStore
    identity: ClientIdentity
    monitor: Monitor | None = None
    zai: ZaiClient | None = None
    zai_key: Callable[[], str | None] = lambda: None
    links: LinkResolver | None = None  # web search: Google's redirect links -> the pages
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    clock: Callable[[], float] = time.time
    new_id: Callable[[str], str] = new_id
    # how the request path waits before retrying the same account (tests make it instant)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # client keys (clientkeys/): the store whose ring the guard reads, and their limits (local,
    # or across instances through Redis in shared mode)
    keys: KeyStore | None = None
    limiter: Limiter = field(default_factory=LocalLimiter)
    metrics: Metrics = field(default_factory=Metrics)
    # shared mode's health for /readyz and /metrics (shared/state.py); None: embedded
    shared_status: Callable[[], dict[str, Any] | None] = lambda: None
    # plans remembered per pool state (proxy/resolve.py), by name and tried targets
    plans: dict[tuple[str, frozenset[str]], Any] = field(default_factory=dict)

    def active_accounts(self) -> int:
        return self.pool.active_count()


CONTEXT = web.AppKey("trayproxy_context", ProxyContext)


def assemble(*, config: Callable[[], Config], secrets: SecretStore, store: AccountStore, transport: Transport,
             clock: Callable[[], float] = time.time, monitor: Monitor | None = None,
             keys: KeyStore | None = None, identity: ClientIdentity | None = None) -> ProxyContext:
    """The request path's parts wired together over one transport: the pool over the store, the
    client identity (one reading the config's override and updater URL, when none is given), the
    Cloud Code, OAuth and z.ai clients, the account service. The Controller builds its context
    with this, and so do tests that run the aiohttp app without one."""
    from trayproxy.accounts.oauth import OAuthClient
    from trayproxy.accounts.pool import AccountPool
    from trayproxy.accounts.service import AccountService
    from trayproxy.proxy.memory import ResponseStore, SignatureStore
    from trayproxy.secrets import ZAI_KEY
    from trayproxy.upstream.client_version import ClientIdentity
    from trayproxy.upstream.cloudcode import CloudCodeClient
    from trayproxy.upstream.links import LinkResolver
    from trayproxy.upstream.transport import Timeouts
    from trayproxy.upstream.zai import ZaiClient

    def timeouts() -> Timeouts:
        return Timeouts(connect=10.0, read=float(config().request_timeout))

    pool = AccountPool(store, clock=clock, scheduling=config().scheduling)
    if identity is None:
        identity = ClientIdentity(transport, override=lambda: config().client_version,
                                  manifest_url=lambda: config().client_version_url, clock=clock)
    upstream = CloudCodeClient(transport, base_urls=lambda: config().cloudcode_base_urls, timeouts=timeouts,
                               clock=clock, user_agent=identity.user_agent)
    oauth = OAuthClient(transport, lambda: config().oauth, clock)
    def zai_key() -> str | None:  # remembered by the store: requests never wait for the keychain
        return secrets.cached(ZAI_KEY)

    return ProxyContext(
        config=config,
        api_key=secrets.api_key,
        pool=pool,
        accounts=AccountService(store, pool, oauth, upstream, clock),
        upstream=upstream,
        signatures=SignatureStore(),
        responses=ResponseStore(),
        identity=identity,
        monitor=monitor,
        zai=ZaiClient(transport, lambda: config().zai, zai_key, timeouts),
        zai_key=zai_key,
        links=LinkResolver(transport, lambda: config().grounding_redirect_url),
        clock=clock,
        keys=keys,
    )
