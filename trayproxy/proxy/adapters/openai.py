"""OpenAI Chat Completions (`/v1/chat/completions`) and the legacy Completions
(`/v1/completions`): the same flow, different converters and chunk shapes."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from trayproxy.json_types import JSON
from trayproxy.protocols import openai_chat, openai_completions
from trayproxy.protocols.errors import RequestError
from trayproxy.proxy.adapters.base import Adapter, Call, model_name
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.exchange import Exchange
from trayproxy.proxy.job import StreamMachine
from trayproxy.proxy.resolve import Plan
from trayproxy.proxy.session import session_key

__all__ = ["Chat", "Completions"]


class Chat(Adapter):
    protocol = "openai"
    id_prefix = "chatcmpl-"
    stream_class: type[openai_chat.ChatStream] = openai_chat.ChatStream

    def parse(self, ctx: ProxyContext, ex: Exchange, body: JSON, route: Mapping[str, str]) -> Call:
        name = model_name(body.get("model"))
        stream = bool(body.get("stream"))
        opts = body.get("stream_options")
        if opts is not None and not isinstance(opts, dict):
            raise RequestError("stream_options must be an object like {\"include_usage\": true}",
                               field="stream_options")
        include_usage = bool((opts or {}).get("include_usage")) if stream else False
        return Call(name, body, stream, session_key("openai", body, ex.headers), state=include_usage)

    def convert(self, call: Call, plan: Plan, signatures: Mapping[str, str]) -> JSON:
        return openai_chat.to_gemini(call.body, upstream_model=plan.target, signatures=signatures, cap=plan.cap,
                                     raw=call.raw)

    def machine(self, ctx: ProxyContext, call: Call, plan: Plan) -> Callable[[], StreamMachine]:
        cid, created, cls = ctx.new_id(self.id_prefix), int(ctx.clock()), self.stream_class
        name, stream, usage, target, new_id = call.name, call.stream, bool(call.state), plan.target, ctx.new_id
        return lambda: cls(model=name, completion_id=cid, created=created, stream=stream, include_usage=usage,
                           new_id=new_id, upstream_model=target)


class Completions(Chat):
    id_prefix = "cmpl-"
    stream_class = openai_completions.CompletionStream

    def convert(self, call: Call, plan: Plan, signatures: Mapping[str, str]) -> JSON:
        return openai_completions.to_gemini(call.body, upstream_model=plan.target)
