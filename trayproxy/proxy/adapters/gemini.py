"""Gemini's own API: `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent`
(`?alt=sse`, else a JSON-array stream) and `:countTokens`. The request is already Gemini's; the
stream machine relays the upstream's responses unwrapped. A request with a `googleSearch` tool
(Gemini CLI's google_web_search) is a web search (proxy/search.py) on a model listed in
webSearchModelIds; its answer keeps `groundingMetadata`, with the pages' own links."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from trayproxy.json_types import JSON
from trayproxy.protocols import gemini_native, search, search_answers
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import Usage
from trayproxy.protocols.search import Found
from trayproxy.proxy.adapters.base import Adapter, Call, model_name
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.exchange import Exchange
from trayproxy.proxy.job import StreamMachine
from trayproxy.proxy.resolve import Plan
from trayproxy.proxy.session import session_key

__all__ = ["Gemini", "model_and_method"]

_SSE_PING = b": ping\r\n\r\n"


def model_and_method(tail: str) -> tuple[str, str]:
    """`{model}:{method}` (or `{model}/countTokens`, or a bare model: generateContent)."""
    if ":" in tail:
        model_part, method = tail.rsplit(":", 1)
    elif tail.endswith("/countTokens"):
        model_part, method = tail[: -len("/countTokens")], "countTokens"
    else:
        model_part, method = tail, "generateContent"
    return model_part, method


class Gemini(Adapter):
    protocol = "gemini"

    def parse(self, ctx: ProxyContext, ex: Exchange, body: JSON, route: Mapping[str, str]) -> Call:
        model_part, method = model_and_method(route["tail"])
        name = model_name(model_part)
        if method == "countTokens":
            return Call(name, body, count=True)
        if method not in ("generateContent", "streamGenerateContent"):
            raise RequestError(f"Unsupported method {method!r}; use generateContent, streamGenerateContent or countTokens")
        stream = method == "streamGenerateContent"
        mode = "json" if not stream else ("sse" if ex.query.get("alt") == "sse" else "array")
        return Call(name, body, stream, session_key("gemini", body, ex.headers), state=mode,
                    search=search.gemini_ask(body))

    def search_answer(self, ctx: ProxyContext, call: Call, found: Found, usage: Usage | None,
                      resolved: dict[str, str]) -> JSON:
        return search_answers.gemini_response(found, resolved)

    def search_frames(self, call: Call, answer: JSON) -> list[bytes]:
        return search_answers.gemini_frames(answer, str(call.state))

    def frames(self, call: Call) -> tuple[str, bytes | None]:
        if call.state == "sse":
            return "text/event-stream", _SSE_PING
        return "application/json", None

    def convert(self, call: Call, plan: Plan, signatures: Mapping[str, str]) -> JSON:
        return gemini_native.to_upstream(call.body, plan.target)

    def machine(self, ctx: ProxyContext, call: Call, plan: Plan) -> Callable[[], StreamMachine]:
        mode = str(call.state)
        return lambda: gemini_native.NativeStream(mode=mode)

    def count_request(self, call: Call, plan: Plan) -> JSON:
        return gemini_native.count_tokens_request(call.body, plan.target)

    def count_answer(self, total: int) -> JSON:
        return {"totalTokens": total}
