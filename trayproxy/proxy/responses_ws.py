"""The Responses API over a WebSocket: `GET /v1/responses` upgraded (what Codex uses when its
provider sets `supports_websockets`, or its built-in OpenAI provider is pointed at the proxy).

1. The upgrade passed the front middleware's guards (Host, Origin, key) like any request; the
   socket itself is not a monitor row, each message is.
2. Each text message is a request body with `"type": "response.create"`. `generate: false` is a
   warm-up: `response.created` + `response.completed`, nothing generated. A
   `previous_response_id` naming the connection's last response continues it from the
   connection's own history (Codex sends `store: false` and only the new items, as the OpenAI API
   allows on a socket); any other id goes to the response store as over HTTP.
3. The message runs through the generic handler (proxy/handler.py) with the Responses adapter,
   in process: the same account choice, conversion, failover, compaction (an input ending in
   `compaction_trigger`) and monitor row as POST /v1/responses. The answer's SSE frames become
   one text message per event; an error is one `{"type": "error"}` message.
4. A client that closes the socket ends the session; that is not an error.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from trayproxy.json_types import JSON
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.sse import SSEDecoder
from trayproxy.proxy import adapters
from trayproxy.proxy.context import CONTEXT, ProxyContext
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.exchange import EXCHANGE, Exchange
from trayproxy.proxy.handler import parse_json, serve
from trayproxy.proxy.pipeline import record

__all__ = ["responses_socket"]

log = logging.getLogger("trayproxy.proxy.responses_ws")


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    return list(value) if isinstance(value, list) else [value]


class _SocketSink:
    """The answer as text messages: each SSE event's data is one message. Remembers the last
    completed response (for the connection's own `previous_response_id`)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.decoder = SSEDecoder()
        self.final: JSON | None = None

    async def open(self, headers: dict[str, str]) -> None:
        pass

    async def write(self, data: bytes) -> None:
        for payload in self.decoder.feed_data(data):
            if payload == b"[DONE]":
                continue
            if payload[:80].find(b'"response.completed"') >= 0 or payload[:80].find(b'"response.incomplete"') >= 0:
                self.final = orjson.loads(payload).get("response")
            await self.ws.send_str(payload.decode())

    async def close(self) -> web.StreamResponse:
        return self.ws

    def whole(self, body: bytes, headers: dict[str, str]) -> web.StreamResponse:  # pragma: no cover - never whole
        raise RuntimeError("a socket answer is always streamed")


class _Connection:
    def __init__(self, ctx: ProxyContext, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.ctx, self.request, self.ws = ctx, request, ws
        self.last_id: str | None = None
        self.last_items: list[Any] = []

    async def error(self, status: int, message: str, code: str | None = None,
                    headers: dict[str, str] | None = None) -> None:
        await self.ws.send_json({"type": "error", "status": status,
                                 "error": {"type": "invalid_request_error" if status < 500 else "server_error",
                                           "code": code, "message": message},
                                 **({"headers": headers} if headers else {})})

    async def handle(self, raw: str) -> None:
        req = self.request
        ex = Exchange("WS", req.path, req.headers, req.query, "openai")
        status, error = 200, None
        try:
            status, error = await self._serve(ex, raw)
        finally:
            if ex.client_model is not None or status >= 400:
                record(self.ctx, ex, status, error, req.headers.get("User-Agent"))

    async def _serve(self, ex: Exchange, raw: str) -> tuple[int, str | None]:
        try:
            ex.raw = raw.encode()
            body = await parse_json(ex.raw, ex)
            if body.get("type") != "response.create":
                raise ProxyError(400, f"Unsupported message type {body.get('type')!r}; send \"response.create\"",
                                 code="unsupported_type")
            body = {k: v for k, v in body.items() if k != "type"}
            prev = body.get("previous_response_id")
            if prev is not None and prev == self.last_id:
                body.pop("previous_response_id")
                body["input"] = self.last_items + _items(body.get("input"))
            if body.pop("generate", True) is False:
                await self.warm_up(body)
                return 200, None
            body["stream"] = True
            sent = _items(body.get("input"))
            sink = _SocketSink(self.ws)
            await serve(self.ctx, ex, adapters.RESPONSES, body, {}, sink)
            final = sink.final
            if final is not None and isinstance(final.get("id"), str):
                self.last_id = final["id"]
                out = list(final.get("output") or [])
                compacted = out and all(isinstance(i, dict) and i.get("type") == "compaction" for i in out)
                self.last_items = out if compacted else sent + out
            return ex.status or 200, ex.error
        except ProxyError as e:
            await self.error(e.status, e.message, e.code,
                             {"Retry-After": str(max(1, int(e.retry_after + 0.999)))} if e.retry_after else None)
            return e.status, e.message
        except RequestError as e:
            await self.error(e.status, str(e), "invalid_request")
            return e.status, str(e)

    async def warm_up(self, body: dict[str, Any]) -> None:
        rid = self.ctx.new_id("resp_")
        resp: dict[str, Any] = {"id": rid, "object": "response", "created_at": int(self.ctx.clock()),
                                "status": "completed", "model": body.get("model"), "output": [], "usage": None}
        await self.ws.send_json({"type": "response.created", "sequence_number": 0,
                                 "response": {**resp, "status": "in_progress"}})
        await self.ws.send_json({"type": "response.completed", "sequence_number": 1, "response": resp})
        self.last_id, self.last_items = rid, _items(body.get("input"))


async def responses_socket(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    request[EXCHANGE].recorded = True  # the socket is no row; each message is one
    # No permessage-deflate: a small compressed frame would inflate to a message of max_msg_size
    # (the body limit) in one step, a bomb per socket; on loopback compression buys nothing.
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=ctx.config().max_body_mb * 1024 * 1024, compress=False)
    if not ws.can_prepare(request).ok:
        return web.json_response(
            {"error": {"message": "GET /v1/responses is the Responses WebSocket; create a response with POST",
                       "type": "invalid_request_error", "code": "method_not_allowed"}}, status=405)
    await ws.prepare(request)
    conn = _Connection(ctx, request, ws)
    started = time.monotonic()
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            try:
                await conn.handle(msg.data)
            except ConnectionError as e:
                log.info("responses socket: the client went away mid-answer: %s", e)
                break
            except Exception:
                log.exception("responses socket: internal error")
                if not ws.closed:
                    await conn.error(500, "trayproxy hit an internal error while serving this request; "
                                          "details are in its log.")
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await conn.error(400, "Binary messages are not supported; send JSON text")
    log.debug("responses socket closed after %.1f s", time.monotonic() - started)
    return ws
