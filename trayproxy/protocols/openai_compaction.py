"""Codex's conversation compaction, served by the model: pure request and answer shapes.

Codex compacts a long session by asking the server for a `compaction` item that then stands in
for the history: over the Responses WebSocket or a streamed `POST /v1/responses` whose input ends
with a `compaction_trigger` item (it expects exactly one `compaction` output item), or with
`POST /v1/responses/compact` (it expects `{"output": [...]}`, the replacement history). Ours holds
a summary the model writes (in `encrypted_content`, as plain text: only this proxy reads it back),
and a `compaction` item sent back in a later request becomes that summary as a user message.
"""

from __future__ import annotations

from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols.sse import encode_event

__all__ = ["COMPACTION_PROMPT", "SUMMARY_PREFIX", "is_trigger", "compaction_request", "expand", "summary", "item",
           "response", "events", "as_message"]

COMPACTION_PROMPT = (
    "Context checkpoint: write a handoff summary of this conversation for another model that will "
    "continue the work: the user's goal and constraints, what has been done and found (files, commands, "
    "results), decisions made, and what remains to do next. Be concise and concrete; no preamble.")
SUMMARY_PREFIX = "Summary of the conversation so far (earlier messages were compacted):\n\n"
# what a compaction request leaves out: the summary is text, no tool is to be called
_DROPPED = ("tools", "tool_choice", "parallel_tool_calls", "include", "stream", "previous_response_id")


def as_message(text: str) -> JSON:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def is_trigger(items: list[Any]) -> bool:
    """The input ends with Codex's `compaction_trigger` item."""
    return bool(items) and isinstance(items[-1], dict) and items[-1].get("type") == "compaction_trigger"


def expand(items: list[Any]) -> list[Any]:
    """Our own `compaction` items, sent back by the client, as the summary they hold."""
    if not any(isinstance(i, dict) and i.get("type") in ("compaction", "compaction_summary") for i in items):
        return items
    out: list[Any] = []
    for it in items:
        if (isinstance(it, dict) and it.get("type") in ("compaction", "compaction_summary")
                and isinstance(it.get("encrypted_content"), str)):
            out.append(as_message(SUMMARY_PREFIX + it["encrypted_content"]))
        else:
            out.append(it)
    return out


def compaction_request(body: JSON, items: list[Any]) -> JSON:
    """The Responses request that asks the model for the summary of `items` (the history, without
    a trailing trigger)."""
    history = items[:-1] if is_trigger(items) else items
    ask = {k: v for k, v in body.items() if k not in _DROPPED}
    ask["input"] = list(history) + [as_message(COMPACTION_PROMPT)]
    return ask


def summary(result: JSON) -> str:
    """The text the model wrote, from a collected Responses object."""
    texts = [str(p.get("text", "")) for o in result.get("output") or [] if isinstance(o, dict) and o.get("type") == "message"
             for p in o.get("content") or [] if isinstance(p, dict) and p.get("type") == "output_text"]
    return "".join(texts).strip()


def item(item_id: str, text: str) -> JSON:
    return {"type": "compaction", "id": item_id, "encrypted_content": text}


def response(response_id: str, created_at: int, model: str | None, compaction: JSON, usage: JSON | None) -> JSON:
    """A completed Responses object whose only output is the compaction item."""
    return {"id": response_id, "object": "response", "created_at": created_at, "status": "completed",
            "model": model, "output": [compaction], "usage": usage}


def events(resp: JSON) -> list[bytes]:
    """That response as the SSE events a streamed Responses answer sends: created, the item
    added and done, completed."""
    compaction = resp["output"][0]
    pending = {**resp, "status": "in_progress", "output": [], "usage": None}
    frames = [
        ("response.created", {"response": pending}),
        ("response.output_item.added", {"output_index": 0, "item": compaction}),
        ("response.output_item.done", {"output_index": 0, "item": compaction}),
        ("response.completed", {"response": resp}),
    ]
    return [encode_event(t, {"type": t, "sequence_number": i, **f}) for i, (t, f) in enumerate(frames)]
