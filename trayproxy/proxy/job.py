"""What the pipeline runs for one plan: the `Job` the generic handler builds from an adapter's
conversion, the stream machine's interface, the `Opened` upstream answer, and where the answer
goes (`Sink`: an HTTP response, or a WebSocket). Shared by proxy.pipeline (opening, retrying,
collecting) and proxy.relay (streaming the answer)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aiohttp import web

from trayproxy.accounts.store import Account
from trayproxy.json_types import JSON
from trayproxy.protocols.gemini import Usage
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.exchange import Exchange
from trayproxy.proxy.resolve import Plan
from trayproxy.upstream.transport import UpstreamResponse

__all__ = ["Call", "StreamMachine", "Job", "Opened", "Sink", "empty", "succeeded", "answer_headers"]

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


@dataclass(slots=True, eq=False)
class Call:
    """What a client asked for, as its adapter read it."""

    name: str  # the client's model name, as its answers repeat it
    body: JSON
    stream: bool = False
    session_key: str | None = None
    count: bool = False  # count tokens instead of generating
    plan_name: str | None = None  # resolve this name instead (Claude Code's background calls)
    copies: int = 1  # independent generations merged into one answer (images, n > 1)
    collect: bool = False  # answer whole, even when the client asked for a stream (then sent as
    # the stream's frames by `Adapter.whole_frames`)
    state: Any = None  # the adapter's own (Responses history, Gemini stream mode, ...)
    search: Any = None  # a protocols.search.SearchAsk: the request is a web search (proxy/search.py)
    raw: bytes | None = None  # the body as sent, when small enough to convert on the loop: the
    # converters remember a conversation's beginning by its bytes (protocols/core/prefix_memo.py)


@dataclass(slots=True, eq=False)
class Job:
    """One upstream call for one plan: a generation (`streamGenerateContent`) or a token count."""

    plan: Plan
    request: JSON  # Gemini GenerateContentRequest (inner), or the countTokens request
    call: Call
    kind: Literal["generate", "count"] = "generate"
    make_machine: Callable[[], StreamMachine] | None = None
    stream: bool = False
    session_key: str | None = None
    content_type: str = "text/event-stream"
    ping_frame: bytes | None = b": ping\n\n"
    ping_interval: float = 15.0
    request_type: str = "agent"

    @property
    def upstream_model(self) -> str:
        return self.plan.target

    @property
    def client_model(self) -> str:
        return self.call.name

    def committed(self) -> None:
        """The answer has begun: no retry can need the request any more, and a long stream
        should not keep it (or the client's parsed body) alive."""
        self.request = {}
        self.call.body = {}
        self.call.raw = None


@dataclass
class Opened:
    """An upstream answer that began with 200, on the account that gave it."""

    account: Account
    resp: UpstreamResponse
    batches: AsyncIterator[list[bytes]]  # event data (`parse_event`), the events that arrived together
    rest: list[bytes] = field(default_factory=list)  # of the last batch, what `_peek` did not feed


class Sink(Protocol):
    """Where an answer goes: the HTTP response, or messages on the Responses WebSocket."""

    async def open(self, headers: dict[str, str]) -> None:
        """Commit to a streamed answer (for HTTP: status 200 and these headers)."""

    async def write(self, data: bytes) -> None:
        """Frames of the client protocol, as the stream machine made them."""

    async def close(self) -> web.StreamResponse:
        """The streamed answer is complete."""

    def whole(self, body: bytes, headers: dict[str, str]) -> web.StreamResponse:
        """A whole answer (JSON), not streamed."""


def answer_headers(job: Job, acc: Account) -> dict[str, str]:
    return {"X-Trayproxy-Account": acc.id, "X-Trayproxy-Model": job.upstream_model}


def succeeded(ctx: ProxyContext, machine: StreamMachine, acc: Account, job: Job, ex: Exchange) -> None:
    """A whole answer went out: the account served, its thought signatures are remembered."""
    ctx.pool.report_success(acc.id, job.upstream_model)
    if machine.signatures:
        ctx.signatures.remember(machine.signatures.items())
    ex.usage = machine.usage
