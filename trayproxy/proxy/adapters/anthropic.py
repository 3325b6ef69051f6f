"""Anthropic Messages (`/v1/messages`) and its token count (`/v1/messages/count_tokens`).
Claude Code's small background calls (titles, summaries) are planned for `background_model`;
z.ai can take either route (proxy/zai_dispatch.py). A request whose only tool is the
`web_search_*` server tool (Claude Code's WebSearch) is a web search (proxy/search.py), answered
with `server_tool_use` + `web_search_tool_result` blocks and cited text."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from trayproxy.json_types import JSON
from trayproxy.protocols import anthropic, search, search_answers
from trayproxy.protocols.gemini import Usage
from trayproxy.protocols.search import Found
from trayproxy.protocols.sse import encode_event
from trayproxy.proxy.adapters.base import Adapter, Call, model_name
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.exchange import Exchange
from trayproxy.proxy.job import StreamMachine
from trayproxy.proxy.resolve import Plan
from trayproxy.proxy.session import session_key

__all__ = ["Messages", "CountTokens"]


class Messages(Adapter):
    protocol = "anthropic"
    zai_path = "/v1/messages"
    ping_frame = encode_event("ping", {"type": "ping"})

    def parse(self, ctx: ProxyContext, ex: Exchange, body: JSON, route: Mapping[str, str]) -> Call:
        name = model_name(body.get("model"))
        background = ctx.config().background_model if anthropic.is_background_request(body) else None
        return Call(name, body, bool(body.get("stream")), session_key("anthropic", body, ex.headers),
                    plan_name=background, search=search.anthropic_ask(body))

    def search_answer(self, ctx: ProxyContext, call: Call, found: Found, usage: Usage | None,
                      resolved: dict[str, str]) -> JSON:
        return search_answers.anthropic_message(found, query=call.search.query, model=call.name,
                                                message_id=ctx.new_id("msg_"), new_id=ctx.new_id, usage=usage)

    def search_frames(self, call: Call, answer: JSON) -> list[bytes]:
        return search_answers.anthropic_frames(answer)

    def convert(self, call: Call, plan: Plan, signatures: Mapping[str, str]) -> JSON:
        return anthropic.to_gemini(call.body, upstream_model=plan.target, signatures=signatures, cap=plan.cap,
                                   raw=call.raw)

    def machine(self, ctx: ProxyContext, call: Call, plan: Plan) -> Callable[[], StreamMachine]:
        mid, name, stream, target, new_id = ctx.new_id("msg_"), call.name, call.stream, plan.target, ctx.new_id
        return lambda: anthropic.MessagesStream(model=name, message_id=mid, stream=stream, new_id=new_id,
                                                upstream_model=target)


class CountTokens(Messages):
    zai_path = "/v1/messages/count_tokens"

    def parse(self, ctx: ProxyContext, ex: Exchange, body: JSON, route: Mapping[str, str]) -> Call:
        return Call(model_name(body.get("model")), body, count=True)  # a search's request counts as any other

    def count_request(self, call: Call, plan: Plan) -> JSON:
        req = anthropic.count_tokens_request(call.body, upstream_model=plan.target)
        inner: JSON = req.get("request", req)
        return inner

    def count_answer(self, total: int) -> JSON:
        return {"input_tokens": total}
