"""A Google Search grounded answer (`search.Found`) in each client protocol's own shape, whole and as
the stream's frames. Pure code; ids come from an injected `IdFactory`.

- Anthropic Messages: a `server_tool_use` block (`web_search`, input `{"query"}`), a
  `web_search_tool_result` block with one `web_search_result` per source, then the text cut at
  the supports, each cited piece a text block with `web_search_result_location` citations;
  `usage.server_tool_use.web_search_requests` 1. Streamed: the tool use with one
  `input_json_delta`, the result block whole in its `content_block_start`, cited text blocks with
  a `citations_delta` per citation before their text (what Claude Code 2.1.332 reads).
- OpenAI Responses: a `web_search_call` item (action search, query, sources) and a message whose
  `output_text` carries `url_citation` annotations (character offsets); streamed with the
  `response.web_search_call.*` and `response.output_text.annotation.added` events.
- Gemini: the answer as Google gave it, `groundingMetadata` included, the chunk links resolved.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from trayproxy.json_types import JSON
from trayproxy.protocols.gemini import IdFactory, Usage
from trayproxy.protocols.search import Found, Source, pieces, unique_sources
from trayproxy.protocols.sse import encode_event

__all__ = ["anthropic_message", "anthropic_frames", "responses_object", "responses_frames", "gemini_response",
           "gemini_frames"]


def _opaque(url: str) -> str:
    """`encrypted_content` / `encrypted_index` are required fields; Anthropic's are opaque tokens a
    client only sends back. Ours name the page (no secret in them)."""
    return base64.urlsafe_b64encode(url.encode()).decode()


# -- Anthropic ----------------------------------------------------------------------------------


def _anthropic_usage(usage: Usage | None) -> JSON:
    u = usage or Usage()
    cached = min(u.cached, u.prompt)
    return {"input_tokens": u.prompt - cached, "output_tokens": u.output + u.reasoning,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached,
            "server_tool_use": {"web_search_requests": 1}}


def _location(s: Source, cited: str) -> JSON:
    return {"type": "web_search_result_location", "url": s.url, "title": s.title, "encrypted_index": _opaque(s.url),
            "cited_text": cited}


def anthropic_message(f: Found, *, query: str, model: str, message_id: str, new_id: IdFactory,
                      usage: Usage | None) -> JSON:
    tool_id = new_id("srvtoolu_")
    content: list[JSON] = [
        {"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {"query": f.query or query}},
        {"type": "web_search_tool_result", "tool_use_id": tool_id, "content": [
            {"type": "web_search_result", "url": s.url, "title": s.title, "encrypted_content": _opaque(s.url),
             "page_age": None} for s in unique_sources(f)]},
    ]
    for text, cited in pieces(f):
        block: JSON = {"type": "text", "text": text}
        if cited:
            block["citations"] = [_location(s, text) for s in cited]
        content.append(block)
    return {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": "end_turn", "stop_sequence": None, "usage": _anthropic_usage(usage)}


def anthropic_frames(message: JSON) -> list[bytes]:
    start = {**message, "content": [], "stop_reason": None,
             "usage": {**message["usage"], "output_tokens": 0, "server_tool_use": {"web_search_requests": 0}}}
    out = [encode_event("message_start", {"type": "message_start", "message": start})]

    def block(i: int, first: JSON, deltas: list[JSON]) -> None:
        out.append(encode_event("content_block_start", {"type": "content_block_start", "index": i,
                                                        "content_block": first}))
        for d in deltas:
            out.append(encode_event("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d}))
        out.append(encode_event("content_block_stop", {"type": "content_block_stop", "index": i}))

    for i, b in enumerate(message["content"]):
        if b["type"] == "server_tool_use":
            block(i, {**b, "input": {}}, [{"type": "input_json_delta", "partial_json": orjson.dumps(b["input"]).decode()}])
        elif b["type"] == "web_search_tool_result":
            block(i, b, [])
        else:
            cites = b.get("citations") or []
            first: JSON = {"type": "text", "text": ""}
            if cites:
                first["citations"] = []
            block(i, first, [*({"type": "citations_delta", "citation": c} for c in cites),
                             {"type": "text_delta", "text": b["text"]}])
    out.append(encode_event("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": message["stop_reason"], "stop_sequence": None}, "usage": message["usage"]}))
    out.append(encode_event("message_stop", {"type": "message_stop"}))
    return out


# -- OpenAI Responses ---------------------------------------------------------------------------


def _responses_usage(usage: Usage | None) -> JSON:
    u = usage or Usage()
    out_tokens = u.output + u.reasoning
    return {"input_tokens": u.prompt, "input_tokens_details": {"cached_tokens": min(u.cached, u.prompt)},
            "output_tokens": out_tokens, "output_tokens_details": {"reasoning_tokens": u.reasoning},
            "total_tokens": u.total or (u.prompt + out_tokens)}


def responses_object(f: Found, *, query: str, model: str, response_id: str, created_at: int, new_id: IdFactory,
                     echo: JSON, usage: Usage | None) -> JSON:
    call: JSON = {"id": new_id("ws_"), "type": "web_search_call", "status": "completed",
                  "action": {"type": "search", "query": f.query or query,
                             "sources": [{"type": "url", "url": s.url} for s in unique_sources(f)]}}
    annotations: list[JSON] = []
    pos = 0
    for text, cited in pieces(f):
        for s in cited:
            annotations.append({"type": "url_citation", "start_index": pos, "end_index": pos + len(text),
                                "url": s.url, "title": s.title})
        pos += len(text)
    message: JSON = {"id": new_id("msg_"), "type": "message", "status": "completed", "role": "assistant",
                     "content": [{"type": "output_text", "text": f.text, "annotations": annotations, "logprobs": []}]}
    return {"id": response_id, "object": "response", "created_at": created_at, "status": "completed",
            "background": False, "error": None, "incomplete_details": None, "instructions": echo.get("instructions"),
            "max_output_tokens": echo.get("max_output_tokens"), "max_tool_calls": None, "model": model,
            "output": [call, message], "parallel_tool_calls": echo.get("parallel_tool_calls", True),
            "previous_response_id": echo.get("previous_response_id"), "prompt_cache_key": echo.get("prompt_cache_key"),
            "reasoning": echo.get("reasoning") or {"effort": None, "summary": None}, "service_tier": "default",
            "store": echo.get("store", True), "temperature": echo.get("temperature", 1.0),
            "text": echo.get("text") or {"format": {"type": "text"}}, "tool_choice": echo.get("tool_choice", "auto"),
            "tools": echo.get("tools") or [], "top_logprobs": 0, "top_p": echo.get("top_p", 1.0),
            "truncation": echo.get("truncation", "disabled"), "usage": _responses_usage(usage),
            "user": echo.get("user"), "metadata": echo.get("metadata") or {}}


def responses_frames(resp: JSON) -> list[bytes]:
    call, message = resp["output"]
    part = message["content"][0]
    pending = {**resp, "status": "in_progress", "output": [], "usage": None}
    frames: list[tuple[str, JSON]] = [
        ("response.created", {"response": pending}),
        ("response.in_progress", {"response": pending}),
        ("response.output_item.added", {"output_index": 0, "item": {**call, "status": "in_progress"}}),
    ]
    for stage in ("in_progress", "searching", "completed"):
        frames.append((f"response.web_search_call.{stage}", {"output_index": 0, "item_id": call["id"]}))
    frames.append(("response.output_item.done", {"output_index": 0, "item": call}))
    mid = message["id"]
    frames += [
        ("response.output_item.added", {"output_index": 1, "item": {**message, "status": "in_progress", "content": []}}),
        ("response.content_part.added", {"item_id": mid, "output_index": 1, "content_index": 0,
                                         "part": {**part, "text": "", "annotations": []}}),
        ("response.output_text.delta", {"item_id": mid, "output_index": 1, "content_index": 0, "delta": part["text"],
                                         "logprobs": []}),
    ]
    for i, a in enumerate(part["annotations"]):
        frames.append(("response.output_text.annotation.added", {"item_id": mid, "output_index": 1, "content_index": 0,
                                                                 "annotation_index": i, "annotation": a}))
    frames += [
        ("response.output_text.done", {"item_id": mid, "output_index": 1, "content_index": 0, "text": part["text"],
                                        "logprobs": []}),
        ("response.content_part.done", {"item_id": mid, "output_index": 1, "content_index": 0, "part": part}),
        ("response.output_item.done", {"output_index": 1, "item": message}),
        ("response.completed", {"response": resp}),
    ]
    return [encode_event(t, {"type": t, "sequence_number": i, **body}) for i, (t, body) in enumerate(frames)]


# -- Gemini -------------------------------------------------------------------------------------


def gemini_response(f: Found, resolved: dict[str, str]) -> JSON:
    """The answer as Google gave it; each grounding chunk's redirect link replaced by the page."""
    resp: Any = orjson.loads(orjson.dumps(f.response))
    for cand in resp.get("candidates") or []:
        meta = cand.get("groundingMetadata") if isinstance(cand, dict) else None
        for ch in (meta or {}).get("groundingChunks") or []:
            web = ch.get("web") if isinstance(ch, dict) else None
            if isinstance(web, dict) and web.get("uri") in resolved:
                web["uri"] = resolved[web["uri"]]
    out: JSON = resp
    return out


def gemini_frames(resp: JSON, mode: str) -> list[bytes]:
    """`mode`: "sse" (`?alt=sse`) or "array" (a JSON-array stream)."""
    if mode == "sse":
        return [b"data: " + orjson.dumps(resp) + b"\r\n\r\n"]
    return [b"[" + orjson.dumps(resp) + b"]"]
