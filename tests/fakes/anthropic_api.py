"""A fake Anthropic-compatible upstream (what z.ai's /api/anthropic speaks), for dispatch tests.

It answers /v1/messages (JSON or SSE), /v1/messages/count_tokens and /v1/models, records every
request with its headers, and can be told to fail."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ZAI_KEY = "zai-secret-key-123456"


def sse_body(model: str, text: str) -> bytes:
    events = [
        ("message_start", {"type": "message_start", "message": {"id": "msg_zai1", "type": "message", "role": "assistant",
                                                              "content": [], "model": model, "stop_reason": None,
                                                              "stop_sequence": None,
                                                              "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 4}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(f"event: {n}\ndata: {json.dumps(d, separators=(',', ':'))}\n\n".encode() for n, d in events)


@dataclass
class FakeAnthropic:
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_status: int | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/anthropic/v1/messages", self.messages)
        app.router.add_post("/api/anthropic/v1/messages/count_tokens", self.count)
        app.router.add_get("/api/anthropic/v1/models", self.models)
        return app

    def _check(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("x-api-key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if key != ZAI_KEY:
            return web.json_response({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
                                     status=401)
        if self.fail_status:
            return web.json_response({"type": "error", "error": {"type": "overloaded_error", "message": "z.ai is overloaded"}},
                                     status=self.fail_status)
        return None

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"path": request.path, "headers": dict(request.headers), "body": body})
        bad = self._check(request)
        if bad is not None:
            return bad
        text = f"GLM says hi ({body['model']})"
        if body.get("stream"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            raw = sse_body(body["model"], text)
            for i in range(0, len(raw), 97):  # odd chunking: the proxy must not care
                await resp.write(raw[i : i + 97])
            await resp.write_eof()
            return resp
        return web.json_response({"id": "msg_zai1", "type": "message", "role": "assistant", "model": body["model"],
                                  "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                                  "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 4}})

    async def count(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"path": request.path, "headers": dict(request.headers), "body": body})
        bad = self._check(request)
        return bad or web.json_response({"input_tokens": 17})

    async def models(self, request: web.Request) -> web.Response:
        self.requests.append({"path": request.path, "headers": dict(request.headers), "body": None})
        bad = self._check(request)
        return bad or web.json_response({"data": [{"id": "glm-4.7"}, {"id": "glm-4.5-air"}]})
