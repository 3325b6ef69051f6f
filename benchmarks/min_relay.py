"""The least a Python gateway can do: the yardstick trayproxy's overhead is judged against.

A minimal *converting* relay, not a byte pass-through. For each request it parses the client's
body (OpenAI chat, Anthropic messages or Gemini native), builds the Cloud Code envelope with a
plain dict walk (no schema cleaning, no repair passes, no accounts, no monitor), sends it with a
fixed token over one pooled aiohttp session, unwraps the upstream's SSE events and answers in
the client's protocol: collected for non-streaming requests, converted event by event for
streams. Like trayproxy it always asks the upstream for an SSE stream.

    MIN_RELAY_TOKEN=... python benchmarks/min_relay.py --port 9300 --generate-url URL --project P
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)
CONF = web.AppKey("conf", dict)


# -- requests: client body -> Gemini request -------------------------------------------------------

def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return "" if content is None else str(content)


def openai_to_gemini(body: dict[str, Any]) -> dict[str, Any]:
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for m in body["messages"]:
        role = m.get("role")
        if role in ("system", "developer"):
            system.append({"text": _text(m.get("content"))})
        elif role == "user":
            contents.append({"role": "user", "parts": [{"text": _text(m.get("content"))}]})
        elif role == "assistant":
            parts: list[dict[str, Any]] = []
            if m.get("content"):
                parts.append({"text": _text(m["content"])})
            for tc in m.get("tool_calls") or ():
                fn = tc["function"]
                names[tc["id"]] = fn["name"]
                parts.append({"functionCall": {"name": fn["name"], "args": orjson.loads(fn.get("arguments") or "{}")}})
            contents.append({"role": "model", "parts": parts})
        elif role == "tool":
            part = {"functionResponse": {"name": names.get(m.get("tool_call_id", ""), "tool"),
                                         "response": {"output": _text(m.get("content"))}}}
            if contents and contents[-1]["role"] == "user" and "functionResponse" in contents[-1]["parts"][0]:
                contents[-1]["parts"].append(part)
            else:
                contents.append({"role": "user", "parts": [part]})
    req: dict[str, Any] = {"contents": contents}
    if system:
        req["systemInstruction"] = {"role": "user", "parts": system}
    if body.get("tools"):
        req["tools"] = [{"functionDeclarations": [
            {"name": t["function"]["name"], "description": t["function"].get("description", ""),
             "parameters": t["function"].get("parameters", {"type": "object"})} for t in body["tools"]]}]
    gen: dict[str, Any] = {}
    if body.get("max_tokens"):
        gen["maxOutputTokens"] = body["max_tokens"]
    if body.get("temperature") is not None:
        gen["temperature"] = body["temperature"]
    if gen:
        req["generationConfig"] = gen
    return req


def anthropic_to_gemini(body: dict[str, Any]) -> dict[str, Any]:
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for m in body["messages"]:
        blocks = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
        parts: list[dict[str, Any]] = []
        for b in blocks:
            t = b.get("type")
            if t == "text":
                parts.append({"text": b["text"]})
            elif t == "tool_use":
                names[b["id"]] = b["name"]
                parts.append({"functionCall": {"name": b["name"], "args": b.get("input", {})}})
            elif t == "tool_result":
                parts.append({"functionResponse": {"name": names.get(b["tool_use_id"], "tool"),
                                                   "response": {"output": _text(b.get("content"))}}})
        contents.append({"role": "model" if m["role"] == "assistant" else "user", "parts": parts})
    req: dict[str, Any] = {"contents": contents}
    if body.get("system"):
        req["systemInstruction"] = {"role": "user", "parts": [{"text": _text(body["system"])}]}
    if body.get("tools"):
        req["tools"] = [{"functionDeclarations": [
            {"name": t["name"], "description": t.get("description", ""), "parameters": t.get("input_schema", {})}
            for t in body["tools"]]}]
    if body.get("max_tokens"):
        req["generationConfig"] = {"maxOutputTokens": body["max_tokens"]}
    return req


# -- the upstream call ---------------------------------------------------------------------------

def envelope(app: web.Application, model: str, req: dict[str, Any]) -> bytes:
    return orjson.dumps({"project": app[CONF]["project"], "model": model, "request": req,
                         "requestId": "agent/min-relay", "userAgent": "antigravity", "requestType": "agent"})


async def upstream_events(app: web.Application, data: bytes) -> AsyncIterator[dict[str, Any]]:
    """The upstream's unwrapped events. Takes the envelope as bytes, so that no parsed request
    stays alive while a stream is open (the "lean" relay of the perf reference)."""
    conf = app[CONF]
    async with app[SESSION].post(conf["generate_url"], data=data, headers=conf["headers"]) as up:
        if up.status != 200:
            raise web.HTTPBadGateway(text=(await up.read()).decode("utf-8", "replace"))
        buf = b""
        async for chunk in up.content.iter_any():
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.startswith(b"data:"):
                    ev = orjson.loads(line[5:])
                    yield ev.get("response", ev)


def _parts(ev: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    cands = ev.get("candidates") or [{}]
    return (cands[0].get("content") or {}).get("parts") or [], cands[0].get("finishReason")


# -- answers ------------------------------------------------------------------------------------------

async def _sse(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    return resp


async def openai_chat(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    model, stream = body["model"], body.get("stream")
    events = upstream_events(request.app, envelope(request.app, model, openai_to_gemini(body)))
    del body
    cid, created = "chatcmpl-min", int(time.time())
    if not stream:
        text: list[str] = []
        calls: list[dict[str, Any]] = []
        finish, usage = "stop", dict[str, Any]()
        async for ev in events:
            parts, fr = _parts(ev)
            for p in parts:
                if "functionCall" in p:
                    fc = p["functionCall"]
                    calls.append({"id": f"call_{len(calls)}", "type": "function",
                                  "function": {"name": fc["name"], "arguments": orjson.dumps(fc.get("args", {})).decode()}})
                elif p.get("text") and not p.get("thought"):
                    text.append(p["text"])
            finish = "stop" if fr in (None, "STOP") else "length"
            usage = ev.get("usageMetadata", usage)
        msg: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
        if calls:
            msg["tool_calls"] = calls
        return web.Response(body=orjson.dumps({
            "id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls" if calls else finish}],
            "usage": {"prompt_tokens": usage.get("promptTokenCount", 0),
                      "completion_tokens": usage.get("candidatesTokenCount", 0)}}), content_type="application/json")
    resp = await _sse(request)
    async for ev in events:
        parts, fr = _parts(ev)
        delta = {"content": "".join(p.get("text", "") for p in parts if not p.get("thought"))}
        chunk = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if fr else None}]}
        await resp.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def anthropic_messages(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    model, stream = body["model"], body.get("stream")
    events = upstream_events(request.app, envelope(request.app, model, anthropic_to_gemini(body)))
    del body
    if not stream:
        content: list[dict[str, Any]] = []
        usage: dict[str, Any] = {}
        async for ev in events:
            for p in _parts(ev)[0]:
                if "functionCall" in p:
                    content.append({"type": "tool_use", "id": f"toolu_{len(content)}", "name": p["functionCall"]["name"],
                                    "input": p["functionCall"].get("args", {})})
                elif p.get("text") and not p.get("thought"):
                    if content and content[-1]["type"] == "text":
                        content[-1]["text"] += p["text"]
                    else:
                        content.append({"type": "text", "text": p["text"]})
            usage = ev.get("usageMetadata", usage)
        return web.Response(body=orjson.dumps({
            "id": "msg_min", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": "end_turn", "usage": {"input_tokens": usage.get("promptTokenCount", 0),
                                                 "output_tokens": usage.get("candidatesTokenCount", 0)}}),
            content_type="application/json")
    resp = await _sse(request)
    head = _event("message_start", {"type": "message_start", "message": {
        "id": "msg_min", "type": "message", "role": "assistant", "model": model, "content": [],
        "usage": {"input_tokens": 0, "output_tokens": 0}}}) + _event(
        "content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    async for ev in events:  # like trayproxy, nothing is sent before the upstream's first event
        text = "".join(p.get("text", "") for p in _parts(ev)[0] if not p.get("thought"))
        await resp.write(head + _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                               "delta": {"type": "text_delta", "text": text}}))
        head = b""
    await resp.write(_event("content_block_stop", {"type": "content_block_stop", "index": 0})
                     + _event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                                "usage": {"output_tokens": 0}})
                     + _event("message_stop", {"type": "message_stop"}))
    await resp.write_eof()
    return resp


async def gemini_native(request: web.Request) -> web.StreamResponse:
    model, _, method = request.match_info["tail"].partition(":")
    body = orjson.loads(await request.read())
    req = {k: body[k] for k in ("contents", "systemInstruction", "tools", "generationConfig") if k in body}
    events = upstream_events(request.app, envelope(request.app, model, req))
    del body, req
    if method == "generateContent":
        last: dict[str, Any] = {}
        parts: list[dict[str, Any]] = []
        async for ev in events:
            parts += _parts(ev)[0]
            last = ev
        cands = last.get("candidates") or [{}]
        out = {**last, "candidates": [{**cands[0], "content": {"role": "model", "parts": parts}}]}
        return web.Response(body=orjson.dumps(out), content_type="application/json")
    resp = await _sse(request)
    async for ev in events:
        await resp.write(b"data: " + orjson.dumps(ev) + b"\r\n\r\n")
    await resp.write_eof()
    return resp


async def make_app(generate_url: str, token: str, project: str) -> web.Application:
    app = web.Application(client_max_size=100 * 1024 * 1024)
    app[CONF] = {"generate_url": generate_url, "project": project,
                 "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                             "User-Agent": "antigravity"}}

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                             timeout=aiohttp.ClientTimeout(total=None, sock_read=300))
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(ctx)
    app.router.add_post("/v1/chat/completions", openai_chat)
    app.router.add_post("/v1/messages", anthropic_messages)
    app.router.add_post("/v1beta/models/{tail}", gemini_native)
    app.router.add_get("/healthz", lambda r: web.Response(text="ok"))  # type: ignore[arg-type,return-value]
    return app


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=9300)
    p.add_argument("--generate-url", required=True)
    p.add_argument("--project", default="proj-bench")
    a = p.parse_args()
    web.run_app(make_app(a.generate_url, os.environ["MIN_RELAY_TOKEN"], a.project), host="127.0.0.1", port=a.port, access_log=None,
                handler_cancellation=True, print=None)
