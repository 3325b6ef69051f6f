from __future__ import annotations

import asyncio
import json

import pytest

from trayproxy.upstream.cloudcode import CloudCodeClient, UpstreamStreamError
from trayproxy.upstream.transport import MockTransport, Timeouts, TransportError, UpstreamRequest

BASES = ["http://h1/v1internal", "http://h2/v1internal", "http://h3/v1internal"]


def client(handler) -> tuple[CloudCodeClient, MockTransport]:
    t = MockTransport(handler)
    return CloudCodeClient(t, base_urls=lambda: BASES, timeouts=lambda: Timeouts()), t


def run(coro):
    return asyncio.run(coro)


def test_fails_over_on_5xx_404_and_connection_errors_then_answers() -> None:
    async def handler(req: UpstreamRequest):
        if req.url.startswith("http://h1"):
            raise TransportError("connection refused")
        if req.url.startswith("http://h2"):
            return 503, {}, b'{"error":{"code":503,"message":"unavailable"}}'
        return 200, {}, [b'data: {"response": {"candidates": [{"content": {"parts": [{"text": "hi"}]}}]}}\r\n\r\n',
                         b'data: {"response": {"candidates": [{"finishReason": "STOP"}]}}\r\n\r\n']

    async def go():
        c, t = client(handler)
        resp = await c.stream_generate("tok", {"project": "p", "model": "m", "request": {}})
        events = [e async for e in c.events(resp)]
        return t, events

    t, events = run(go())
    assert [r.url for r in t.requests] == [f"{b}:streamGenerateContent?alt=sse" for b in BASES]
    assert events[0]["candidates"][0]["content"]["parts"][0]["text"] == "hi"
    assert events[1]["candidates"][0]["finishReason"] == "STOP"
    h = t.requests[-1].headers
    assert h["Authorization"] == "Bearer tok" and h["User-Agent"].startswith("Antigravity/")
    assert json.loads(t.requests[-1].body or b"")["project"] == "p"


def test_429_and_400_are_answers_not_failover() -> None:
    for status in (429, 400, 401, 403):
        async def handler(req: UpstreamRequest, status=status):
            return status, {}, b"{}"

        async def go():
            c, t = client(handler)
            resp = await c.stream_generate("tok", {})
            return resp.status, len(t.requests)

        assert run(go()) == (status, 1)


def test_last_failure_is_returned_with_its_body() -> None:
    async def handler(req: UpstreamRequest):
        return 503, {}, f'{{"error":{{"message":"{req.url[7:9]}"}}}}'.encode()

    async def go():
        c, _ = client(handler)
        resp = await c.stream_generate("tok", {})
        return resp.status, await resp.read()

    status, body = run(go())
    assert status == 503 and b"h3" in body


def test_all_hosts_unreachable_raises_transport_error() -> None:
    async def handler(req: UpstreamRequest):
        raise TransportError("refused")

    async def go():
        c, _ = client(handler)
        await c.stream_generate("tok", {})

    with pytest.raises(TransportError):
        run(go())


def test_error_event_mid_stream_raises() -> None:
    async def handler(req: UpstreamRequest):
        return 200, {}, [b'data: {"response": {"candidates": []}}\n\n', b'data: {"error": {"message": "boom"}}\n\n']

    async def go():
        c, _ = client(handler)
        resp = await c.stream_generate("tok", {})
        return [e async for e in c.events(resp)]

    with pytest.raises(UpstreamStreamError, match="boom"):
        run(go())
