"""One client request on its way through the proxy, and what became of it.

An `Exchange` is made for every API request by the front middleware (proxy/front.py), and for
every message on the Responses WebSocket by the socket (proxy/responses_ws.py): the generic
handler, the pipeline and the relay note on it what they learn (the client's model, the account
and upstream model that served, time to first byte, usage, how it ended), and the monitor records
it once, whatever happened. Nothing here touches aiohttp's request object.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from trayproxy.clientkeys.record import ClientKey
from trayproxy.protocols.gemini import Usage
from trayproxy.proxy.errors import Protocol

__all__ = ["Exchange", "EXCHANGE"]

_BODY_KEEP = 256 * 1024


@dataclass(slots=True, eq=False)
class Exchange:
    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    protocol: Protocol
    started_wall: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    # the request body as read (what the monitor stores when it keeps bodies); let go once an
    # answer is committed, unless the monitor keeps it
    raw: bytes | None = None
    big: bool = False  # the body is big enough to be parsed and converted off the loop
    client_model: str | None = None
    # what happened (the monitor's row)
    status: int = 0
    outcome: str = "ok"
    account_id: str | None = None
    upstream_model: str | None = None
    upstream: str | None = None
    error: str | None = None
    ttfb_ms: float | None = None
    usage: Usage | None = None
    stream: bool = False
    streaming: bool = False  # headers are out: no second answer can be sent
    body: bytearray | None = None  # the streamed answer, kept only when the monitor stores bodies
    refused: tuple[str, str | None] | None = None  # (kind, origin) when a guard refused it
    recorded: bool = False  # the monitor has its row already (or it records itself: the WebSocket)
    client_key: ClientKey | None = None  # the client key it came with (None: the owner's key, or none)
    sent: float | None = None  # monotonic time its last upstream attempt was sent (added latency)

    def keep(self, data: bytes) -> None:
        if self.body is not None and len(self.body) < _BODY_KEEP:
            self.body += data[: _BODY_KEEP - len(self.body)]


EXCHANGE = web.RequestKey("trayproxy_exchange", Exchange)
