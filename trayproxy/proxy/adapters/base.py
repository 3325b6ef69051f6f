"""What an adapter is: everything particular to one client protocol's route, and nothing else.

The generic handler (proxy/handler.py) does the steps every route shares; an adapter answers the
questions where protocols differ:

- `parse`: the body (and the route's path parameters) -> a `Call`: the model name the client
  asked for, streamed or not, the conversation key, a token count or a generation, and whatever
  the adapter needs later (`state`). Bad input is a `RequestError`, shown in the client's shape.
- `convert`: the Call -> the inner Gemini request for a plan's target. Pure (no I/O, no clock):
  it may run in a worker thread for a big body.
- `machine`: the stream machine that turns upstream events into the client's frames (and, for a
  whole answer, its JSON); `content_type` and `ping_frame` of its stream.
- `count_request` / `count_answer`: the countTokens request and the client's answer shape.
- `plan`: which upstream id serves the call (default: proxy.resolve for the call's name).
- `answer`: the JSON a whole (non-streamed) answer sends, from each copy's result (one copy but
  for image requests with n > 1); `whole_frames`: that answer as stream frames, for a call
  answered whole that the client wanted streamed (Codex's compaction).
- `search_answer` / `search_frames`: a web search's result (`Call.search`, proxy/search.py) in
  the protocol's own shape, whole and as the stream's frames.

Errors keep the client's own shape through `protocol` (proxy/errors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import Usage
from trayproxy.protocols.search import Found
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.errors import Protocol
from trayproxy.proxy.exchange import Exchange
from trayproxy.proxy.job import Call, StreamMachine
from trayproxy.proxy.resolve import Plan, plan
from trayproxy.proxy.retry import Retry

__all__ = ["Adapter", "Call", "model_name"]


def model_name(value: Any, *, field: str = "model") -> str:
    """A client's model name, checked: `models/` prefix dropped, no path tricks."""
    from trayproxy.accounts.models import VALID_MODEL_RE

    if not isinstance(value, str) or not value.strip():
        raise RequestError("A model name is required", field=field)
    name = value.strip()
    if name.startswith("models/"):
        name = name[7:]
    if not VALID_MODEL_RE.match(name) or ".." in name:
        raise RequestError(f"{value!r} is not a valid model name", field=field)
    return name


class Adapter:
    protocol: Protocol = "openai"
    content_type: str = "text/event-stream"
    ping_frame: bytes | None = b": ping\n\n"
    request_type: str = "agent"
    zai_path: str | None = None  # the z.ai route this one maps to (Anthropic's), None: never z.ai

    def parse(self, ctx: ProxyContext, ex: Exchange, body: JSON, route: Mapping[str, str]) -> Call:
        raise NotImplementedError

    def plan(self, ctx: ProxyContext, call: Call, retry: Retry) -> Plan:
        return plan(ctx, call.plan_name or call.name, retry.tried_targets)

    def frames(self, call: Call) -> tuple[str, bytes | None]:
        """The stream's content type and the frame sent during long silences."""
        return self.content_type, self.ping_frame

    def convert(self, call: Call, plan: Plan, signatures: Mapping[str, str]) -> JSON:
        raise NotImplementedError

    def machine(self, ctx: ProxyContext, call: Call, plan: Plan) -> Callable[[], StreamMachine]:
        raise NotImplementedError

    def count_request(self, call: Call, plan: Plan) -> JSON:
        raise RequestError("This route does not count tokens")

    def count_answer(self, total: int) -> JSON:
        raise NotImplementedError

    def answer(self, ctx: ProxyContext, call: Call, results: list[JSON]) -> JSON:
        return results[0]

    def search_answer(self, ctx: ProxyContext, call: Call, found: Found, usage: Usage | None,
                      resolved: dict[str, str]) -> JSON:
        """A web search's result as this protocol's answer (`resolved`: Google's redirect links
        -> the pages)."""
        raise RequestError("This route does not run web searches")

    def search_frames(self, call: Call, answer: JSON) -> list[bytes]:
        raise NotImplementedError

    def whole_frames(self, call: Call, answer: JSON) -> list[bytes] | None:
        """For a call the adapter answers whole although the client asked for a stream
        (`Call.collect`): that answer as the stream's frames."""
        raise NotImplementedError
