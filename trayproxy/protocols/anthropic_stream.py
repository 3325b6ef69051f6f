"""Anthropic Messages API: the response side. `MessagesStream` is fed one upstream frame at a time
(through the core's reader) and yields Anthropic SSE frames (`message_start`, `content_block_*`,
`message_delta`, `message_stop`) in the Anthropic API's order, collecting the same content for the
non-streaming `Message`. How thought signatures are shown and tagged: see `anthropic`.
"""

from __future__ import annotations

import orjson

from trayproxy.json_types import JSON
from trayproxy.protocols.core.reader import REFUSAL, Event, EventMachine, failure
from trayproxy.protocols.gemini import IdFactory, Usage, encode_signature, part_as_text, signature_family
from trayproxy.protocols.sse import encode_event

__all__ = ["MessagesStream"]

_DELTA_HEAD = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'


class MessagesStream(EventMachine):
    """Upstream frames in, Anthropic Messages SSE frames (or a collected Message) out.

    `feed` one GenerateContentResponse at a time; `finish` when the upstream ended;
    `fail` when it broke off after output began; `result()` for the non-streaming body.
    Nothing is emitted before there is real content (a block), so a handler can retry an
    empty answer: `produced_output` says whether the client has been given anything.
    """

    def __init__(
        self,
        *,
        model: str,
        message_id: str,
        stream: bool,
        new_id: IdFactory,
        upstream_model: str | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.message_id = message_id
        self.stream = stream
        self.new_id = new_id
        self.upstream_model = upstream_model or model
        self.content: list[JSON] = []
        self._open: JSON | None = None  # the block being streamed (also in self.content)
        self._unclaimed: str | None = None  # tagged signature of the last thinking block
        self._shown: set[str] = set()  # signatures already given to the client in this message
        self._has_tool = False
        self._has_visible = False

    # -- framing -------------------------------------------------------------------------------

    def _emit(self, out: list[bytes], name: str, obj: JSON) -> None:
        if self.stream:
            out.append(encode_event(name, obj))

    def _usage_json(self) -> JSON:
        """Anthropic usage: input excludes cached tokens; output includes thinking tokens."""
        u = self.usage or Usage()
        cached = min(u.cached, u.prompt)
        return {
            "input_tokens": u.prompt - cached,
            "output_tokens": u.output + u.reasoning,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached,
        }

    def _message(self, content: list[JSON], stop_reason: str | None) -> JSON:
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": self._usage_json(),
        }

    def _start(self, out: list[bytes]) -> None:
        if not self.produced_output:
            self.produced_output = True
            self._emit(out, "message_start", {"type": "message_start", "message": self._message([], None)})

    def _open_block(self, out: list[bytes], block: JSON) -> JSON:
        self._close_block(out)
        self._start(out)
        index = len(self.content)
        self.content.append(block)
        self._open = block
        if block["type"] == "tool_use":
            start: JSON = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        elif block["type"] == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            start = {"type": "text", "text": ""}
        self._emit(out, "content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
        return block

    def _close_block(self, out: list[bytes]) -> None:
        block = self._open
        if block is None:
            return
        if block["type"] == "thinking" and block["signature"]:
            self._delta(out, {"type": "signature_delta", "signature": block["signature"]})
            self._unclaimed = block["signature"]
            self._shown.add(block["signature"])
        self._emit(out, "content_block_stop", {"type": "content_block_stop", "index": len(self.content) - 1})
        self._open = None

    def _delta(self, out: list[bytes], delta: JSON) -> None:
        # encode_event("content_block_delta", {type, index, delta}), without building the frame's dict
        if self.stream:
            out.append(_DELTA_HEAD + str(len(self.content) - 1).encode() + b',"delta":' + orjson.dumps(delta) + b"}\n\n")

    def _tag(self, raw: str | None) -> str | None:
        return encode_signature(raw, model=self.upstream_model) if raw else None

    def _thinking_open(self) -> JSON | None:
        if self._open is not None and self._open["type"] == "thinking":
            return self._open
        return None

    def _sign_open_thinking(self, tagged: str) -> bool:
        """Give a signature to the open thinking block if it has none yet."""
        block = self._thinking_open()
        if block is not None and not block["signature"]:
            block["signature"] = tagged
            return True
        return False

    def _new_thinking(self, out: list[bytes], signature: str = "") -> JSON:
        return self._open_block(out, {"type": "thinking", "thinking": "", "signature": signature})

    def _text(self, out: list[bytes], text: str) -> None:
        if not text:
            return
        if self._open is None or self._open["type"] != "text":
            self._open_block(out, {"type": "text", "text": ""})
            if signature_family(self.upstream_model) != "claude":
                self._unclaimed = None  # Gemini: the signature before a text part is the text's
        assert self._open is not None
        self._open["text"] += text
        self._has_visible = True
        self._delta(out, {"type": "text_delta", "text": text})

    # -- events --------------------------------------------------------------------------------

    def _thought(self, out: list[bytes], ev: Event) -> None:
        block = self._thinking_open()
        if ev.text:
            if block is None or block["signature"]:
                block = self._new_thinking(out)
            block["thinking"] += ev.text
            self._delta(out, {"type": "thinking_delta", "thinking": ev.text})
        tagged = self._tag(ev.signature)
        if tagged:
            if block is None or block["signature"]:
                block = self._new_thinking(out)
            block["signature"] = tagged

    def _function_call(self, out: list[bytes], ev: Event) -> None:
        tagged = self._tag(ev.signature)
        if tagged is not None and not self._sign_open_thinking(tagged):
            self._close_block(out)
            if tagged not in self._shown:
                # Gemini signs the call itself: carry the signature in an (empty) thinking block
                # just before the tool_use, where the request side will look for it. (A call
                # repeating a signature already shown is remembered in `signatures` only.)
                self._new_thinking(out, tagged)
        self._close_block(out)
        tid = ev.call_id or self.new_id("toolu_")
        sig = tagged or self._unclaimed
        self._unclaimed = None
        if sig:
            self.signatures[tid] = sig
        self._open_block(out, {"type": "tool_use", "id": tid, "name": ev.name, "input": ev.args})
        self._delta(out, {"type": "input_json_delta", "partial_json": orjson.dumps(ev.args).decode()})
        self._close_block(out)
        self._has_tool = True
        self._has_visible = True

    def _plain(self, out: list[bytes], ev: Event) -> None:
        if ev.signature:
            # A signature on a text part belongs to the thinking before it, if any is open.
            self._sign_open_thinking(encode_signature(ev.signature, model=self.upstream_model))
        self._text(out, ev.text if ev.text is not None else (part_as_text(ev.part) or ""))

    # -- public --------------------------------------------------------------------------------

    def _on_frame(self) -> None:
        if self.reader.model_version:
            self.upstream_model = self.reader.model_version

    @property
    def stop_reason(self) -> str:
        fr = self.upstream_finish
        if fr == "MAX_TOKENS":
            return "max_tokens"
        if fr in REFUSAL:
            return "refusal"
        return "tool_use" if self._has_tool else "end_turn"

    @property
    def failure(self) -> str | None:
        """Why this answer must not be passed off as a success, or None (see `core.reader.failure`)."""
        return self._failed or failure(self.upstream_finish, visible=self._has_visible)

    def finish(self) -> list[bytes]:
        if self._closed:
            return []
        reason = self.failure
        if reason is not None:
            return self.fail(reason)
        out: list[bytes] = []
        self._close_block(out)
        self._start(out)
        self._closed = True
        self._emit(
            out,
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                "usage": self._usage_json(),
            },
        )
        self._emit(out, "message_stop", {"type": "message_stop"})
        return out

    def fail(self, message: str, *, error_type: str = "api_error") -> list[bytes]:
        if self._closed:
            return []
        self._closed = True
        self._failed = message
        self._open = None
        out: list[bytes] = []
        self._emit(out, "error", {"type": "error", "error": {"type": error_type, "message": message}})
        return out

    def ping(self) -> bytes:
        return encode_event("ping", {"type": "ping"})

    def result(self) -> JSON:
        content = [dict(b) for b in self.content if not (b["type"] == "text" and not b["text"])]
        return self._message(content, self.stop_reason)
