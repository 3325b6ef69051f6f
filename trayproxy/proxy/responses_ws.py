"""The Responses API over a WebSocket: `GET /v1/responses` upgraded (what Codex uses with its
built-in OpenAI provider pointed at the proxy, e.g. `openai_base_url`; with a custom provider, as
`trayproxy connect codex` writes, it uses HTTP + SSE). Measured with Codex 0.171: without this
route it retries the socket five times, then falls back to HTTPS with a warning.

Per connection: each client text message is a request body with `"type": "response.create"`;
the answer is the same event stream POST /v1/responses sends as SSE, one JSON event per text
message, ending with `response.completed` (or `response.failed`), or one `{"type": "error"}`.
`generate: false` is a warm-up: `response.created` + `response.completed`, nothing generated.
An input ending in `compaction_trigger` is Codex's server-side compaction (see `compact`).
A `previous_response_id` naming the connection's last response continues it from the
connection's own history (Codex sends `store: false` and only the new items, as the OpenAI API
allows on a socket); any other id goes to the response store as over HTTP.

Each request is served by the proxy's own POST /v1/responses over loopback (same auth, monitor,
account choice, conversion and errors), so nothing about Responses is duplicated here."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from trayproxy.proxy.context import CONTEXT

__all__ = ["register", "responses_socket"]

log = logging.getLogger("trayproxy.proxy.responses_ws")

_DROP = {"host", "upgrade", "connection", "content-length", "content-type", "transfer-encoding", "accept-encoding",
         "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"}


COMPACTION_PROMPT = (
    "Context checkpoint: write a handoff summary of this conversation for another model that will "
    "continue the work: the user's goal and constraints, what has been done and found (files, commands, "
    "results), decisions made, and what remains to do next. Be concise and concrete; no preamble.")
SUMMARY_PREFIX = "Summary of the conversation so far (earlier messages were compacted):\n\n"


def _expand_compactions(items: list[Any]) -> list[Any]:
    """Our own `compaction` items, sent back by the client, as the summary they hold."""
    out: list[Any] = []
    for it in items:
        if isinstance(it, dict) and it.get("type") == "compaction" and isinstance(it.get("encrypted_content"), str):
            out.extend(_items(SUMMARY_PREFIX + it["encrypted_content"]))
        else:
            out.append(it)
    return out


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    return list(value) if isinstance(value, list) else [value]


class _Connection:
    def __init__(self, request: web.Request, ws: web.WebSocketResponse, session: aiohttp.ClientSession) -> None:
        self.request, self.ws, self.session = request, ws, session
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        port = sock[1] if sock else request.url.port
        self.url = f"http://127.0.0.1:{port}{request.path}"
        self.headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        self.last_id: str | None = None
        self.last_items: list[Any] = []

    async def error(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        await self.ws.send_json({"type": "error", "status": status,
                                 "error": {"type": "invalid_request_error" if status < 500 else "server_error",
                                           "code": code, "message": message},
                                 **({"headers": headers} if headers else {})})

    async def handle(self, raw: str) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            await self.error(400, "Each message must be a JSON object with \"type\": \"response.create\"")
            return
        if not isinstance(body, dict) or body.get("type") != "response.create":
            kind = body.get("type") if isinstance(body, dict) else None
            await self.error(400, f"Unsupported message type {kind!r}; send \"response.create\"", "unsupported_type")
            return
        body = {k: v for k, v in body.items() if k != "type"}
        prev = body.get("previous_response_id")
        if prev is not None and prev == self.last_id:
            body.pop("previous_response_id")
            body["input"] = self.last_items + _items(body.get("input"))
        if body.pop("generate", True) is False:
            await self.warm_up(body)
            return
        body["stream"] = True
        items = _items(body.get("input"))
        if items and isinstance(items[-1], dict) and items[-1].get("type") == "compaction_trigger":
            await self.compact(body, items)
            return
        await self.forward(body)

    async def compact(self, body: dict[str, Any], items: list[Any]) -> None:
        """Codex's server-side compaction ("responses_compaction_v2"): the input ends with a
        `compaction_trigger` item and the answer must be one `compaction` item, which Codex
        then sends back in place of the history. Ours holds a summary written by the model
        (in `encrypted_content`, as plain text: only this proxy reads it back)."""
        ctx = self.request.app[CONTEXT]
        ask = {k: v for k, v in body.items() if k not in ("tools", "tool_choice", "parallel_tool_calls", "include")}
        ask["input"] = items[:-1] + _items(COMPACTION_PROMPT)
        texts: list[str] = []
        failed: list[bool] = []

        async def collect(payload: str) -> None:
            event = json.loads(payload)
            if event.get("type") == "response.output_text.delta":
                texts.append(str(event.get("delta", "")))
            elif event.get("type") in ("error", "response.failed"):
                failed.append(True)
                await self.ws.send_str(payload)

        await self.forward(ask, sink=collect)
        if failed or not texts and self.ws.closed:
            return
        rid, item_id = ctx.new_id("resp_"), ctx.new_id("cmp_")
        item = {"type": "compaction", "id": item_id, "encrypted_content": "".join(texts).strip()}
        resp: dict[str, Any] = {"id": rid, "object": "response", "created_at": int(ctx.clock()),
                                "status": "completed", "model": body.get("model"), "output": [item], "usage": None}
        await self.ws.send_json({"type": "response.created", "sequence_number": 0,
                                 "response": {**resp, "status": "in_progress", "output": []}})
        await self.ws.send_json({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": item})
        await self.ws.send_json({"type": "response.output_item.done", "sequence_number": 2, "output_index": 0, "item": item})
        await self.ws.send_json({"type": "response.completed", "sequence_number": 3, "response": resp})
        self.last_id, self.last_items = rid, [item]

    async def warm_up(self, body: dict[str, Any]) -> None:
        ctx = self.request.app[CONTEXT]
        rid = ctx.new_id("resp_")
        resp: dict[str, Any] = {"id": rid, "object": "response", "created_at": int(ctx.clock()), "status": "completed",
                "model": body.get("model"), "output": [], "usage": None}
        await self.ws.send_json({"type": "response.created", "sequence_number": 0,
                                 "response": {**resp, "status": "in_progress"}})
        await self.ws.send_json({"type": "response.completed", "sequence_number": 1, "response": resp})
        self.last_id, self.last_items = rid, _items(body.get("input"))

    async def forward(self, body: dict[str, Any], sink: Callable[[str], Awaitable[None]] | None = None) -> None:
        sent_input = _items(body.get("input"))
        wire = {**body, "input": _expand_compactions(sent_input)}
        async with self.session.post(self.url, json=wire, headers=self.headers) as r:
            if r.status != 200:
                try:
                    err = (await r.json()).get("error") or {}
                except (ValueError, aiohttp.ContentTypeError, AttributeError):
                    err = {"message": (await r.text())[:500]}
                extra = {k: r.headers[k] for k in ("Retry-After",) if k in r.headers}
                await self.ws.send_json({"type": "error", "status": r.status, "error": err,
                                         **({"headers": extra} if extra else {})})
                return
            data: list[str] = []
            async for line_b in r.content:
                line = line_b.decode("utf-8").rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].lstrip())
                    continue
                if line or not data:
                    continue
                payload, data = "\n".join(data), []
                if payload == "[DONE]":
                    continue
                if sink is not None:
                    await sink(payload)
                    continue
                await self.ws.send_str(payload)
                self.remember(payload, sent_input)

    def remember(self, payload: str, sent_input: list[Any]) -> None:
        if '"response.completed"' not in payload[:80] and '"response.incomplete"' not in payload[:80]:
            return
        try:
            resp = json.loads(payload).get("response") or {}
        except ValueError:
            return
        if isinstance(resp.get("id"), str):
            self.last_id = resp["id"]
            self.last_items = sent_input + list(resp.get("output") or [])


async def responses_socket(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=request.app[CONTEXT].config().max_body_mb * 1024 * 1024)
    if not ws.can_prepare(request).ok:
        return web.json_response(
            {"error": {"message": "GET /v1/responses is the Responses WebSocket; create a response with POST",
                       "type": "invalid_request_error", "code": "method_not_allowed"}}, status=405)
    await ws.prepare(request)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=True) as session:
        conn = _Connection(request, ws, session)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                try:
                    await conn.handle(msg.data)
                except (aiohttp.ClientError, ConnectionError) as e:
                    log.warning("responses socket: the loopback request failed: %s", e)
                    if not ws.closed:
                        await conn.error(502, f"trayproxy could not serve the request: {e}")
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await conn.error(400, "Binary messages are not supported; send JSON text")
    return ws


def register(app: web.Application) -> None:
    for prefix in ("/v1", "/v1/v1", ""):
        app.router.add_get(f"{prefix}/responses", responses_socket)
