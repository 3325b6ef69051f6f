"""OpenAI Responses: `POST /v1/responses` (also each message of the Responses WebSocket) and
Codex's compaction (`POST /v1/responses/compact`, or an input ending in `compaction_trigger`).

`previous_response_id`: completed (and incomplete) responses are kept in `ctx.responses` (unless
the request said `store: false`) as `{"input_items", "output", "model", "instructions",
"session_key", "response"}`, where `input_items` is the whole conversation before that answer.
A follow-up request gets `input_items + output` as history before its own `input`, inherits the
model when it names none, and keeps the stored session key so the chain stays on one account.
As in the OpenAI API, `instructions` are not inherited. An unknown id is a 400
`previous_response_not_found`.

Compaction: the model writes a handoff summary of the history (protocols/openai_compaction.py);
the answer is one `compaction` item holding it, whole (`{"output": [...]}`) or as the stream's
events, and a `compaction` item a later request sends back becomes that summary again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols import openai_compaction as compaction
from trayproxy.protocols import openai_responses, search, search_answers
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import Usage
from trayproxy.protocols.responses_tools import ToolSet
from trayproxy.protocols.search import Found
from trayproxy.proxy.adapters.base import Adapter, Call, model_name
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.exchange import Exchange
from trayproxy.proxy.job import StreamMachine
from trayproxy.proxy.resolve import Plan
from trayproxy.proxy.session import session_key

__all__ = ["Responses", "Compact"]

_STORABLE = ("completed", "incomplete")


@dataclass(slots=True)
class _State:
    history: list[JSON] | None
    conversation: list[Any]
    echo: JSON
    compact: bool = False
    tools: ToolSet = field(default_factory=ToolSet)  # declared tools and the names they are offered under


class Responses(Adapter):
    protocol = "openai"

    def parse(self, ctx: ProxyContext, ex: Exchange, body: JSON, route: Mapping[str, str]) -> Call:
        history: list[JSON] | None = None
        stored_key: str | None = None
        prev = body.get("previous_response_id")
        if prev is not None:
            if not isinstance(prev, str) or not prev:
                raise RequestError("previous_response_id must be the id of an earlier response",
                                   field="previous_response_id")
            record = ctx.responses.get(prev)
            if record is None:
                raise ProxyError(
                    400,
                    f"Previous response with id '{prev}' not found. trayproxy keeps responses in memory for an "
                    "hour and not across restarts; send the whole conversation as input instead.",
                    code="previous_response_not_found",
                )
            history = compaction.expand(list(record.get("input_items") or []) + list(record.get("output") or []))
            stored_key = record.get("session_key")
            if body.get("model") is None and isinstance(record.get("model"), str):
                body = {**body, "model": record["model"]}
        name = model_name(body.get("model"))
        stream = bool(body.get("stream"))
        sent = openai_responses.input_items(body)
        items = compaction.expand(sent)
        compact = self.compacts(items)
        if compact:
            body = compaction.compaction_request(body, items)
            items = openai_responses.input_items(body)
        elif items is not sent:
            body = {**body, "input": items}
        conversation = (history or []) + items
        key = stored_key or session_key("openai", {**body, "input": conversation}, ex.headers)
        # a compaction asks for a summary: no tool is offered for it
        tools = ToolSet() if compact else openai_responses.tool_set(body, history)
        state = _State(history, conversation, openai_responses.request_echo(body), compact, tools)
        ask = None if compact else search.responses_ask(body, tools.search, bool(tools.chat), items)
        return Call(name, body, stream, key, state=state, collect=compact, search=ask)

    def search_answer(self, ctx: ProxyContext, call: Call, found: Found, usage: Usage | None,
                      resolved: dict[str, str]) -> JSON:
        state: _State = call.state
        response_id = ctx.new_id("resp_")
        final = search_answers.responses_object(found, query=call.search.query, model=call.name,
                                                response_id=response_id, created_at=int(ctx.clock()),
                                                new_id=ctx.new_id, echo=state.echo, usage=usage)
        if state.echo["store"]:
            ctx.responses.put(response_id, {"input_items": state.conversation, "output": final["output"],
                                            "model": call.name, "instructions": call.body.get("instructions"),
                                            "session_key": call.session_key, "response": final})
        return final

    def search_frames(self, call: Call, answer: JSON) -> list[bytes]:
        return search_answers.responses_frames(answer)

    def compacts(self, items: list[Any]) -> bool:
        return compaction.is_trigger(items)

    def convert(self, call: Call, plan: Plan, signatures: Mapping[str, str]) -> JSON:
        return openai_responses.to_gemini(call.body, history=call.state.history, upstream_model=plan.target,
                                          signatures=signatures, cap=plan.cap, tools=call.state.tools)

    def machine(self, ctx: ProxyContext, call: Call, plan: Plan) -> Callable[[], StreamMachine]:
        state: _State = call.state
        response_id, created_at = ctx.new_id("resp_"), int(ctx.clock())
        name, stream, echo, new_id, tools = call.name, call.stream and not call.collect, state.echo, ctx.new_id, state.tools
        instructions = call.body.get("instructions")

        def on_complete(final: JSON) -> None:
            if echo["store"] and final.get("status") in _STORABLE and not state.compact:
                ctx.responses.put(response_id, {
                    "input_items": state.conversation,
                    "output": final.get("output") or [],
                    "model": name,
                    "instructions": instructions,
                    "session_key": call.session_key,
                    "response": final,
                })

        return lambda: openai_responses.ResponsesStream(
            model=name, response_id=response_id, created_at=created_at, stream=stream, new_id=new_id,
            request_echo=echo, on_complete=on_complete, tools=tools)

    def answer(self, ctx: ProxyContext, call: Call, results: list[JSON]) -> JSON:
        result = results[0]
        if not call.state.compact:
            return result
        text = compaction.summary(result)
        if not text:
            raise ProxyError(502, "The model wrote no summary for the compaction; try again.")
        return compaction.response(ctx.new_id("resp_"), int(ctx.clock()), call.name,
                                   compaction.item(ctx.new_id("cmp_"), text), result.get("usage"))

    def whole_frames(self, call: Call, answer: JSON) -> list[bytes] | None:
        return compaction.events(answer)


class Compact(Responses):
    """`POST /v1/responses/compact`: the history in `input` becomes one compaction item,
    answered whole as `{"output": [...]}`."""

    def compacts(self, items: list[Any]) -> bool:
        return True

    def parse(self, ctx: ProxyContext, ex: Exchange, body: JSON, route: Mapping[str, str]) -> Call:
        call = super().parse(ctx, ex, {**body, "stream": False}, route)
        call.stream = False
        return call
