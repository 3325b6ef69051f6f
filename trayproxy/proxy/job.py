"""What a generation request is while the pipeline runs it: the `Job` a route hands over, the
`Outcome` the monitor records, the stream machine's interface, and the request keys the
middlewares read. Shared by proxy.pipeline (opening, retrying, collecting) and proxy.relay
(streaming the answer)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from trayproxy.accounts.store import Account
from trayproxy.protocols.gemini import Usage
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.errors import Protocol as ClientProtocol
from trayproxy.upstream.transport import UpstreamResponse

__all__ = ["StreamMachine", "Job", "Outcome", "Opened", "OUTCOME", "CLIENT_MODEL", "STREAM_STARTED", "empty",
           "succeeded", "answer_headers"]

_BODY_KEEP = 256 * 1024
# An answer with no output is legitimate only when the model ran out of tokens or was blocked;
# anything else (no finish reason, STOP, MALFORMED_FUNCTION_CALL, ...) is a failed answer.
_LEGIT_EMPTY = frozenset({"MAX_TOKENS", "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE"})


def empty(machine: StreamMachine) -> bool:
    return not machine.produced_output and machine.upstream_finish not in _LEGIT_EMPTY


class StreamMachine(Protocol):
    usage: Usage | None
    signatures: dict[str, str]
    produced_output: bool
    upstream_finish: str | None

    def feed(self, resp: dict[str, Any]) -> list[bytes]: ...

    def finish(self) -> list[bytes]: ...

    def fail(self, message: str) -> list[bytes]: ...

    def result(self) -> dict[str, Any]: ...


@dataclass
class Job:
    protocol: ClientProtocol
    client_model: str
    upstream_model: str
    request: dict[str, Any]  # Gemini GenerateContentRequest (inner)
    make_machine: Callable[[], StreamMachine]
    stream: bool
    session_key: str | None = None
    content_type: str = "text/event-stream"
    ping_frame: bytes | None = b": ping\n\n"
    ping_interval: float = 15.0
    request_type: str = "agent"
    on_result: Callable[[dict[str, Any], StreamMachine], dict[str, Any]] | None = None
    # after a re-plan (nothing sent yet): how to run the request again; None runs the route's
    # handler again (a handler that makes several generations, like images with n > 1, sets it)
    rerun: Callable[[], Awaitable[web.StreamResponse]] | None = None
    # account id -> upstream id it serves this request with (None: from proxy.resolve's plan)
    accounts: Mapping[str, str] | None = None


@dataclass
class Outcome:
    """What happened, for the monitor."""

    status: int = 0
    outcome: str = "ok"
    account_id: str | None = None
    upstream_model: str | None = None
    upstream: str | None = None
    error: str | None = None
    ttfb_ms: float | None = None
    usage: Usage | None = None
    stream: bool = False
    started: float = field(default_factory=time.monotonic)
    body: bytearray | None = None  # streamed response, kept only when the monitor stores bodies

    def keep(self, data: bytes) -> None:
        if self.body is not None and len(self.body) < _BODY_KEEP:
            self.body += data[: _BODY_KEEP - len(self.body)]


OUTCOME = web.RequestKey("trayproxy_outcome", Outcome)
CLIENT_MODEL = web.RequestKey("trayproxy_client_model", str)
STREAM_STARTED = web.RequestKey("trayproxy_stream_started", bool)


@dataclass
class Opened:
    """An upstream answer that began with 200, on the account that gave it."""

    account: Account
    resp: UpstreamResponse
    batches: AsyncIterator[list[bytes]]  # event data (`parse_event`), the events that arrived together
    rest: list[bytes] = field(default_factory=list)  # of the last batch, what `_peek` did not feed


def answer_headers(job: Job, acc: Account) -> dict[str, str]:
    return {"X-Trayproxy-Account": acc.id, "X-Trayproxy-Model": job.upstream_model}


def succeeded(ctx: ProxyContext, machine: StreamMachine, acc: Account, job: Job, out: Outcome) -> None:
    """A whole answer went out: the account served, its thought signatures are remembered."""
    ctx.pool.report_success(acc.id, job.upstream_model)
    if machine.signatures:
        ctx.signatures.remember(machine.signatures.items())
    out.usage = machine.usage
