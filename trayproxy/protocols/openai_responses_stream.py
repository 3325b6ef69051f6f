"""OpenAI Responses API: the response side. `ResponsesStream` is fed one upstream frame at a time
(through the core's reader) and yields the Responses SSE events in the order the OpenAI API sends
them, every event carrying a `sequence_number` counted from 0, building the same `response` object
for non-streaming callers. Nothing is emitted before there is real output, so the pipeline can retry
an empty answer (`produced_output`). Thought parts become `reasoning` items with a summary; text
becomes `message` items; function calls become `function_call` items (or `custom_tool_call` /
`local_shell_call` / `tool_search_call` items when the called name stands for such a tool of the
request, `responses_tools`; a call to a namespace member names its namespace).

`ResponsesStream.signatures`: call_id -> the raw upstream thought signature of that call (on the
call, else on the thought before it, else a signature-only part right after it), and
`reasoning_key(text)` -> the signature of a signed reasoning item, for the next turn's request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from trayproxy.json_types import JSON
from trayproxy.protocols.core.reader import REFUSAL, CallSigner, Event, EventMachine, failure
from trayproxy.protocols.core.turns import reasoning_key
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import IdFactory, part_as_text
from trayproxy.protocols.responses_tools import LOCAL_SHELL_TOOL, ToolRef, ToolSet, collect
from trayproxy.protocols.sse import encode_event

__all__ = ["ResponsesStream", "LOCAL_SHELL_TOOL"]


def _tool_set(tools: Any) -> ToolSet:
    try:
        return collect(tools, [])
    except RequestError:  # the request side has refused such a list already
        return ToolSet()


class ResponsesStream(EventMachine):
    """Gemini responses in, Responses API SSE events (or a collected response object) out.

    `feed` one (possibly wrapped) GenerateContentResponse at a time; `finish` when the upstream
    ended; `fail` when it broke off; `result()` for the non-streaming body. `on_complete` is
    called from `finish` with the final response object when it completed or is incomplete
    (not when it failed), so a handler can store it for `previous_response_id`.
    """

    def __init__(
        self,
        *,
        model: str,
        response_id: str,
        created_at: int,
        stream: bool,
        new_id: IdFactory,
        request_echo: JSON,
        on_complete: Callable[[JSON], None] | None = None,
        tools: ToolSet | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.response_id = response_id
        self.created_at = created_at
        self.stream = stream
        self.new_id = new_id
        self.echo = dict(request_echo)
        self.on_complete = on_complete
        self.output: list[JSON] = []
        self.status = "in_progress"
        self.error: JSON | None = None
        self.incomplete_reason: str | None = None
        self._tools = tools if tools is not None else _tool_set(self.echo.get("tools"))
        self._seq = 0
        self._open: JSON | None = None  # the item being streamed (also in self.output)
        self._signer = CallSigner()
        self._reasoning_sigs: dict[str, str] = {}  # reasoning item id -> its thought signature
        self._visible = False

    # -- framing -------------------------------------------------------------------------------

    def _emit(self, out: list[bytes], etype: str, fields: JSON) -> None:
        if not self.stream:
            return
        out.append(encode_event(etype, {"type": etype, "sequence_number": self._seq, **fields}))
        self._seq += 1

    def _usage_json(self) -> JSON | None:
        if self.usage is None:
            return None
        u = self.usage
        out_tokens = u.output + u.reasoning
        return {
            "input_tokens": u.prompt,
            "input_tokens_details": {"cached_tokens": min(u.cached, u.prompt)},
            "output_tokens": out_tokens,
            "output_tokens_details": {"reasoning_tokens": u.reasoning},
            "total_tokens": u.total or (u.prompt + out_tokens),
        }

    def response(self) -> JSON:
        """The response object in its current state."""
        final = self.status != "in_progress"
        e = self.echo
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": self.status,
            "background": False,
            "error": self.error,
            "incomplete_details": {"reason": self.incomplete_reason} if self.incomplete_reason else None,
            "instructions": e.get("instructions"),
            "max_output_tokens": e.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": self.model,
            "output": [dict(i) for i in self.output] if final else [],
            "parallel_tool_calls": e.get("parallel_tool_calls", True),
            "previous_response_id": e.get("previous_response_id"),
            "prompt_cache_key": e.get("prompt_cache_key"),
            "reasoning": e.get("reasoning") or {"effort": None, "summary": None},
            "service_tier": "default",
            "store": e.get("store", True),
            "temperature": e.get("temperature", 1.0),
            "text": e.get("text") or {"format": {"type": "text"}},
            "tool_choice": e.get("tool_choice", "auto"),
            "tools": e.get("tools") or [],
            "top_logprobs": 0,
            "top_p": e.get("top_p", 1.0),
            "truncation": e.get("truncation", "disabled"),
            "usage": self._usage_json() if final else None,
            "user": e.get("user"),
            "metadata": e.get("metadata") or {},
        }

    def _start(self, out: list[bytes]) -> None:
        if self.produced_output:
            return
        self.produced_output = True
        self._emit(out, "response.created", {"response": self.response()})
        self._emit(out, "response.in_progress", {"response": self.response()})

    # -- items ---------------------------------------------------------------------------------

    def _add(self, out: list[bytes], item: JSON) -> int:
        self._close(out)
        self._start(out)
        index = len(self.output)
        self.output.append(item)
        self._open = item
        self._emit(out, "response.output_item.added", {"output_index": index, "item": dict(item)})
        return index

    def _close(self, out: list[bytes], status: str = "completed") -> None:
        item = self._open
        if item is None:
            return
        self._open = None
        index = len(self.output) - 1
        iid = item["id"]
        if item["type"] == "message":
            part = item["content"][0]
            self._emit(out, "response.output_text.done", {
                "item_id": iid, "output_index": index, "content_index": 0, "text": part["text"], "logprobs": [],
            })
            self._emit(out, "response.content_part.done", {
                "item_id": iid, "output_index": index, "content_index": 0, "part": dict(part),
            })
        elif item["type"] == "reasoning":
            summary = item["summary"][0]
            self._emit(out, "response.reasoning_summary_text.done", {
                "item_id": iid, "output_index": index, "summary_index": 0, "text": summary["text"],
            })
            self._emit(out, "response.reasoning_summary_part.done", {
                "item_id": iid, "output_index": index, "summary_index": 0, "part": dict(summary),
            })
        item["status"] = status
        self._emit(out, "response.output_item.done", {"output_index": index, "item": self._snapshot(item)})

    @staticmethod
    def _snapshot(item: JSON) -> JSON:
        snap = dict(item)
        if item["type"] == "message":
            snap["content"] = [dict(p) for p in item["content"]]
        elif item["type"] == "reasoning":
            snap["summary"] = [dict(s) for s in item["summary"]]
        return snap

    def _text(self, out: list[bytes], text: str) -> None:
        if not text:
            return
        item = self._open
        if item is None or item["type"] != "message":
            item = {"id": self.new_id("msg_"), "type": "message", "status": "in_progress", "role": "assistant",
                    "content": []}
            index = self._add(out, item)
            part: JSON = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            self._emit(out, "response.content_part.added", {
                "item_id": item["id"], "output_index": index, "content_index": 0, "part": dict(part),
            })
            item["content"].append(part)
        item["content"][0]["text"] += text
        self._visible = True
        self._emit(out, "response.output_text.delta", {
            "item_id": item["id"], "output_index": len(self.output) - 1, "content_index": 0, "delta": text,
            "logprobs": [],
        })

    def _thought(self, out: list[bytes], ev: Event) -> None:
        if ev.text:
            self._reasoning_text(out, ev.text)
        if ev.signature:
            self._signer.thought(ev.signature)
            target = self._open if self._open is not None and self._open["type"] == "reasoning" else None
            if target is None:
                target = next((i for i in reversed(self.output) if i["type"] == "reasoning"), None)
            if target is not None and target["id"] not in self._reasoning_sigs:
                self._reasoning_sigs[target["id"]] = ev.signature

    def _reasoning_text(self, out: list[bytes], text: str) -> None:
        item = self._open
        if item is None or item["type"] != "reasoning":
            item = {"id": self.new_id("rs_"), "type": "reasoning", "summary": []}
            index = self._add(out, item)
            summary: JSON = {"type": "summary_text", "text": ""}
            self._emit(out, "response.reasoning_summary_part.added", {
                "item_id": item["id"], "output_index": index, "summary_index": 0, "part": dict(summary),
            })
            item["summary"].append(summary)
        item["summary"][0]["text"] += text
        self._emit(out, "response.reasoning_summary_text.delta", {
            "item_id": item["id"], "output_index": len(self.output) - 1, "summary_index": 0, "delta": text,
        })

    def _function_call(self, out: list[bytes], ev: Event) -> None:
        name, args = ev.name, ev.args
        call_id = ev.call_id or self.new_id("call_")
        sig = self._signer.call(call_id, ev.signature)
        if sig:
            self.signatures[call_id] = sig
        ref = self._tools.refs.get(name) or ToolRef("function", name)
        kind, name = ref.kind, ref.name
        self._visible = True
        if kind == "custom":
            raw = args.get("input")
            if not isinstance(raw, str):
                values = list(args.values())
                raw = values[0] if len(values) == 1 and isinstance(values[0], str) else orjson.dumps(args).decode()
            item: JSON = {"id": self.new_id("ctc_"), "type": "custom_tool_call", "status": "in_progress",
                          "call_id": call_id, "name": name, "input": ""}
            if ref.namespace:
                item["namespace"] = ref.namespace
            index = self._add(out, item)
            self._emit(out, "response.custom_tool_call_input.delta",
                       {"item_id": item["id"], "output_index": index, "delta": raw})
            self._emit(out, "response.custom_tool_call_input.done",
                       {"item_id": item["id"], "output_index": index, "input": raw})
            item["input"] = raw
        elif kind == "local_shell":
            command = args.get("command")
            if isinstance(command, str):
                command = ["bash", "-lc", command]
            if not isinstance(command, list):
                command = []
            action: JSON = {"type": "exec", "command": [str(c) for c in command], "env": {}}
            if isinstance(args.get("workdir"), str):
                action["working_directory"] = args["workdir"]
            if isinstance(args.get("timeout_ms"), int):
                action["timeout_ms"] = args["timeout_ms"]
            item = {"id": self.new_id("lsh_"), "type": "local_shell_call", "status": "in_progress",
                    "call_id": call_id, "action": action}
            self._add(out, item)
        elif kind == "tool_search":
            item = {"id": self.new_id("fc_"), "type": "tool_search_call", "status": "in_progress", "call_id": call_id,
                    "execution": "client", "arguments": dict(args)}
            self._add(out, item)
        else:
            arguments = orjson.dumps(args).decode()
            item = {"id": self.new_id("fc_"), "type": "function_call", "status": "in_progress",
                    "arguments": "", "call_id": call_id, "name": name}
            if ref.namespace:
                item["namespace"] = ref.namespace
            index = self._add(out, item)
            self._emit(out, "response.function_call_arguments.delta",
                       {"item_id": item["id"], "output_index": index, "delta": arguments})
            self._emit(out, "response.function_call_arguments.done",
                       {"item_id": item["id"], "output_index": index, "name": name, "arguments": arguments})
            item["arguments"] = arguments
        self._close(out)

    def _plain(self, out: list[bytes], ev: Event) -> None:
        owner = self._signer.trailing(ev)
        if owner is not None and ev.signature:
            self.signatures[owner] = ev.signature  # a signature-only part right after an unsigned call
        self._text(out, ev.text if ev.text is not None else (part_as_text(ev.part) or ""))

    # -- StreamMachine -------------------------------------------------------------------------

    @property
    def failure(self) -> str | None:
        """Why this answer must be reported as failed, or None (see `core.reader.failure`)."""
        return failure(self.upstream_finish, visible=self._visible)

    def _remember_reasoning(self) -> None:
        """Signed reasoning, keyed by its text: `to_chat` replays a reasoning item as the next
        assistant turn's `reasoning_content`, and the chat converter signs it from this key."""
        for item in self.output:
            sig = self._reasoning_sigs.get(item["id"]) if item["type"] == "reasoning" else None
            text = "".join(s["text"] for s in item["summary"]) if sig else ""
            if sig and text:
                self.signatures[reasoning_key(text)] = sig

    def finish(self) -> list[bytes]:
        if self._closed:
            return []
        self._remember_reasoning()
        failure = self.failure
        if failure is not None:
            return self.fail(failure)
        out: list[bytes] = []
        fr = self.upstream_finish
        if fr == "MAX_TOKENS":
            self.incomplete_reason = "max_output_tokens"
        elif fr in REFUSAL:
            self.incomplete_reason = "content_filter"
        self._close(out, "incomplete" if self.incomplete_reason else "completed")
        self._start(out)
        self._closed = True
        self.status = "incomplete" if self.incomplete_reason else "completed"
        final = self.response()
        self._emit(out, f"response.{self.status}", {"response": final})
        if self.on_complete is not None:
            self.on_complete(final)
        return out

    def fail(self, message: str) -> list[bytes]:
        if self._closed:
            return []
        out: list[bytes] = []
        self._start(out)
        self._closed = True
        if self._open is not None:
            self._open["status"] = "incomplete"
            self._open = None
        self.status = "failed"
        self.error = {"code": "server_error", "message": message}
        self._emit(out, "response.failed", {"response": self.response()})
        return out

    def result(self) -> JSON:
        return self.response()
