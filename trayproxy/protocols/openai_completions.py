"""Legacy OpenAI Completions (`/v1/completions`) <-> Gemini.

Pure code. The prompt becomes one user message and goes through the chat conversion
(`openai_shapes.to_gemini`), so validation and parameters behave exactly as on
`/v1/chat/completions`. `prompt` is a string or a list holding one string; a batch of several
prompts would need one upstream call each, so it is refused rather than silently joined.
Token-id prompts, `suffix`, `echo`, `logprobs` and `best_of` > `n` are refused with a 400
naming the field, not silently ignored.

`CompletionStream` is `openai_chat.ChatStream` rendered as `text_completion` objects: choices
are `{text, index, logprobs: null, finish_reason}`. Reasoning is not part of this API and is
left out of `text`; function calls cannot occur (no tools are sent).
"""

from __future__ import annotations

from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.openai_chat import ChatStream, _Choice, finish_reason_for
from trayproxy.protocols.openai_shapes import to_gemini as chat_to_gemini

__all__ = ["to_gemini", "CompletionStream"]


_PASSED = (
    "model",
    "temperature",
    "top_p",
    "n",
    "stop",
    "max_tokens",
    "presence_penalty",
    "frequency_penalty",
    "seed",
)


def _prompt(body: JSON) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        elif all(isinstance(p, str) for p in prompt) and len(prompt) > 1:
            raise RequestError(
                "Batches of several prompts are not supported; send one prompt per request.",
                field="prompt",
            )
        else:
            raise RequestError(
                "prompt must be a string (token-id prompts are not supported).", field="prompt"
            )
    if not isinstance(prompt, str):
        raise RequestError("prompt is required and must be a string.", field="prompt")
    if not prompt.strip():
        raise RequestError("prompt must not be empty.", field="prompt")
    return prompt


def to_gemini(body: JSON, *, upstream_model: str) -> JSON:
    """A legacy completions body -> the inner Gemini GenerateContentRequest."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    prompt = _prompt(body)
    for key in ("echo", "logprobs", "suffix"):
        if body.get(key):
            raise RequestError(f"{key} is not supported.", field=key)
    best_of = body.get("best_of")
    if best_of not in (None, 1) and best_of != body.get("n", 1):
        raise RequestError("best_of is not supported.", field="best_of")
    chat: JSON = {k: body[k] for k in _PASSED if k in body}
    chat["messages"] = [{"role": "user", "content": prompt}]
    return chat_to_gemini(chat, upstream_model=upstream_model, signatures={})


class CompletionStream(ChatStream):
    """Gemini responses in, `text_completion` chunks (or one text_completion) out."""

    object_name = "text_completion"

    def _choice_frame(self, ch: _Choice, text: str, finish: str | None, out: list[bytes]) -> None:
        if not self.stream:
            return
        ch.started = True
        out.append(
            self._chunk([{"text": text, "index": ch.index, "logprobs": None, "finish_reason": finish}])
        )

    def _on_text(self, ch: _Choice, text: str, out: list[bytes]) -> None:
        self._choice_frame(ch, text, None, out)

    def _on_reasoning(self, ch: _Choice, text: str, out: list[bytes]) -> None:
        return  # not part of this API

    def _on_call(self, ch: _Choice, k: int, call: JSON, out: list[bytes]) -> None:
        return  # no tools are offered; nothing to render

    def _on_finish(self, ch: _Choice, reason: str, out: list[bytes]) -> None:
        self._choice_frame(ch, "", reason, out)

    def result(self) -> dict[str, Any]:
        return {
            "id": self.completion_id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "text": "".join(ch.text),
                    "index": ch.index,
                    "logprobs": None,
                    "finish_reason": finish_reason_for(ch.finish, tool_calls=False),
                }
                for ch in self._ordered()
            ],
            "usage": self._usage_json(),
        }
