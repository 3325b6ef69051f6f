"""OpenAI Chat Completions (`/v1/chat/completions`) <-> Gemini.

Pure code: dicts in, dicts and SSE bytes out. Ids come from an injected `IdFactory`; the
completion id and creation time are passed in.

Request side: `to_gemini` (the chat-shape mapping in `openai_shapes`, shared with the Responses
API) builds the inner Gemini `GenerateContentRequest` on the core.

Response side (`ChatStream`): a state machine fed one upstream frame at a time (through the
core's reader). It yields `chat.completion.chunk` frames exactly as OpenAI frames them (role on
each choice's first delta; one complete `tool_calls` delta per call with its own `index`; finish
chunks, then the `choices: []` usage chunk when `include_usage`, every other chunk carrying
`usage: null` in that mode; then `[DONE]`), and collects the same content into a
`chat.completion`. `ChatStream.signatures` maps call id (and `reasoning_key(text)`) -> thought
signature, tagged with the model family when `upstream_model` is given. An answer that ends badly
(MALFORMED_FUNCTION_CALL, OTHER, ..., or nothing visible) is never passed off as a clean stop:
`finish()` emits the error frame instead, and `failure` says why (non-streaming callers should
check it before answering 200).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from trayproxy.json_types import JSON
from trayproxy.protocols.core.reader import REFUSAL, CallSigner, Event, EventMachine, failure
from trayproxy.protocols.core.turns import reasoning_key
from trayproxy.protocols.gemini import SIGNATURE_PREFIX, IdFactory, Usage, signature_family
from trayproxy.protocols.openai_shapes import THINKING_BUDGETS, to_gemini
from trayproxy.protocols.sse import DONE, encode_data

__all__ = [
    "to_gemini",
    "ChatStream",
    "THINKING_BUDGETS",
    "reasoning_key",
    "finish_reason_for",
]



def finish_reason_for(raw: str | None, *, tool_calls: bool) -> str:
    """OpenAI finish_reason for a Gemini finishReason."""
    if tool_calls:
        return "tool_calls"
    if raw == "MAX_TOKENS":
        return "length"
    if raw in REFUSAL:
        return "content_filter"
    return "stop"


@dataclass
class _Choice:
    index: int
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: list[JSON] = field(default_factory=list)
    started: bool = False
    finish: str | None = None
    signer: CallSigner = field(default_factory=CallSigner)
    reasoning_sig: str | None = None  # last signature seen on a thought part


def _visible_text(part: JSON) -> str:
    text = part.get("text")
    if isinstance(text, str) and text:
        return text
    data = part.get("inlineData")
    if isinstance(data, dict) and isinstance(data.get("data"), str):
        mime = data.get("mimeType") if isinstance(data.get("mimeType"), str) else "image/png"
        return f"![image](data:{mime};base64,{data['data']})"
    code = part.get("executableCode")
    if isinstance(code, dict) and isinstance(code.get("code"), str):
        lang = str(code.get("language") or "python").lower()
        return f"\n```{lang}\n{code['code']}\n```\n"
    res = part.get("codeExecutionResult")
    if isinstance(res, dict) and isinstance(res.get("output"), str):
        return f"\n```\n{res['output']}\n```\n"
    return ""


class ChatStream(EventMachine):
    """Upstream frames in, chat.completion chunks (or one chat.completion) out."""

    object_name = "chat.completion.chunk"
    all_candidates = True

    def __init__(
        self,
        *,
        model: str,
        completion_id: str,
        created: int,
        stream: bool,
        include_usage: bool,
        new_id: IdFactory,
        upstream_model: str | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        # With the upstream model known, remembered signatures are tagged with its family so
        # a conversation that switches models never replays them to another family.
        self._tag = f"{SIGNATURE_PREFIX}{signature_family(upstream_model)}." if upstream_model else ""
        self.completion_id = completion_id
        self.created = created
        self.stream = stream
        self.include_usage = include_usage and stream
        self.new_id = new_id
        self._choices: dict[int, _Choice] = {}
        self._head: bytes | None = None

    # -- feeding

    def _choice(self, index: int) -> _Choice:
        ch = self._choices.get(index)
        if ch is None:
            ch = self._choices[index] = _Choice(index)
        return ch

    def _on_event(self, ev: Event, out: list[bytes]) -> None:
        self._event(self._choice(ev.choice), ev, out)

    def _event(self, ch: _Choice, ev: Event, out: list[bytes]) -> None:
        if ev.kind == "finish":
            ch.finish = ev.text
        elif ev.kind == "thought":
            if ev.signature:
                ch.signer.thought(ev.signature)
                ch.reasoning_sig = ev.signature
            if ev.text:
                ch.reasoning.append(ev.text)
                self.produced_output = True
                self._on_reasoning(ch, ev.text, out)
        elif ev.kind == "call":
            cid = ev.call_id or self.new_id("call_")
            call = {"id": cid, "type": "function", "function": {"name": ev.name, "arguments": orjson.dumps(ev.args).decode()}}
            signature = ch.signer.call(cid, ev.signature)
            if signature:
                self.signatures[cid] = self._tag + signature
            ch.calls.append(call)
            self.produced_output = True
            self._on_call(ch, len(ch.calls) - 1, call, out)
        else:
            if ev.signature:
                owner = ch.signer.trailing(ev)
                if owner is not None:
                    self.signatures[owner] = self._tag + ev.signature
            piece = ev.text or _visible_text(ev.part)
            if piece:
                ch.text.append(piece)
                self.produced_output = True
                self._on_text(ch, piece, out)

    # -- rendering hooks (overridden by the legacy completions stream)

    def _chunk(self, choices: list[JSON], usage: JSON | None = None) -> bytes:
        # the bytes encode_data gives for {id, object, created, model, choices[, usage]}, with
        # the fields that never change serialised once
        head = self._head
        if head is None:
            head = self._head = (b'data: {"id":' + orjson.dumps(self.completion_id) + b',"object":'
                                 + orjson.dumps(self.object_name) + b',"created":' + orjson.dumps(self.created)
                                 + b',"model":' + orjson.dumps(self.model) + b',"choices":')
        if self.include_usage:
            return head + orjson.dumps(choices) + b',"usage":' + orjson.dumps(usage) + b"}\n\n"
        return head + orjson.dumps(choices) + b"}\n\n"

    def _delta(self, ch: _Choice, delta: JSON, out: list[bytes], finish: str | None = None) -> None:
        if not self.stream:
            return
        if not ch.started:
            ch.started = True
            delta = {"role": "assistant", **delta}
        out.append(
            self._chunk([{"index": ch.index, "delta": delta, "logprobs": None, "finish_reason": finish}])
        )

    def _on_text(self, ch: _Choice, text: str, out: list[bytes]) -> None:
        self._delta(ch, {"content": text}, out)

    def _on_reasoning(self, ch: _Choice, text: str, out: list[bytes]) -> None:
        self._delta(ch, {"reasoning_content": text}, out)

    def _on_call(self, ch: _Choice, k: int, call: JSON, out: list[bytes]) -> None:
        self._delta(ch, {"tool_calls": [{"index": k, **call}]}, out)

    def _on_finish(self, ch: _Choice, reason: str, out: list[bytes]) -> None:
        self._delta(ch, {}, out, finish=reason)

    # -- ending

    @property
    def failure(self) -> str | None:
        """Why this answer must not pass for a success (see `core.reader.failure`), or None."""
        visible = any(ch.text or ch.calls for ch in self._choices.values())
        return self._failed or failure(self.upstream_finish, visible=visible)

    def finish(self) -> list[bytes]:
        if self._closed:
            return []
        for ch in self._choices.values():  # signed reasoning, remembered by its text
            if ch.reasoning_sig and ch.reasoning:
                self.signatures[reasoning_key("".join(ch.reasoning))] = self._tag + ch.reasoning_sig
        reason = self.failure
        if reason is not None and self.stream:
            return self.fail(reason)
        self._closed = True
        out: list[bytes] = []
        if not self.stream:
            return out
        for ch in self._ordered():
            self._on_finish(ch, finish_reason_for(ch.finish, tool_calls=bool(ch.calls)), out)
        if self.include_usage:
            out.append(self._chunk([], self._usage_json()))
        out.append(DONE)
        return out

    def fail(self, message: str, *, code: str = "upstream_error") -> list[bytes]:
        if self._closed:
            return []
        self._closed = True
        self._failed = message
        if not self.stream:
            return []
        err = {"error": {"message": message, "type": "server_error", "code": code, "param": None}}
        return [encode_data(err), DONE]

    def _ordered(self) -> list[_Choice]:
        self._choice(0)
        return [self._choices[i] for i in sorted(self._choices)]

    def _usage_json(self) -> JSON:
        u = self.usage or Usage()
        completion = u.output + u.reasoning
        return {
            "prompt_tokens": u.prompt,
            "completion_tokens": completion,
            "total_tokens": max(u.total, u.prompt + completion),
            "prompt_tokens_details": {"cached_tokens": u.cached},
            "completion_tokens_details": {"reasoning_tokens": u.reasoning},
        }

    def result(self) -> dict[str, Any]:
        choices: list[JSON] = []
        for ch in self._ordered():
            text = "".join(ch.text)
            msg: JSON = {"role": "assistant", "content": text if text or not ch.calls else None}
            if ch.reasoning:
                msg["reasoning_content"] = "".join(ch.reasoning)
            if ch.calls:
                msg["tool_calls"] = [dict(c) for c in ch.calls]
            msg["refusal"] = None
            choices.append(
                {
                    "index": ch.index,
                    "message": msg,
                    "logprobs": None,
                    "finish_reason": finish_reason_for(ch.finish, tool_calls=bool(ch.calls)),
                }
            )
        return {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": self._usage_json(),
        }
