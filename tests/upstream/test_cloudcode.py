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
    assert h["Authorization"] == "Bearer tok" and h["User-Agent"] == "antigravity/hub/2.9.1 darwin/arm64"
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


def test_a_capacity_429_moves_to_the_next_host_an_accounts_own_429_does_not() -> None:
    capacity = (b'{"error":{"code":429,"message":"No capacity available for model m on the server","details":'
                b'[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"MODEL_CAPACITY_EXCEEDED"}]}}')
    quota = b'{"error":{"code":429,"details":[{"reason":"QUOTA_EXHAUSTED"}]}}'

    def handler_for(first: bytes):
        async def handler(req: UpstreamRequest):
            if req.url.startswith("http://h1"):
                return 429, {}, first
            return 200, {}, b'data: {"response": {"candidates": []}}\r\n\r\n'
        return handler

    async def go(first: bytes):
        c, t = client(handler_for(first))
        resp = await c.stream_generate("tok", {})
        return resp.status, resp.base, await resp.read(), len(t.requests)

    status, base, _, calls = run(go(capacity))
    assert (status, base, calls) == (200, BASES[1], 2)
    status, base, body, calls = run(go(quota))
    assert (status, base, calls) == (429, BASES[0], 1) and b"QUOTA_EXHAUSTED" in body


def test_first_host_and_the_answering_base_the_learned_user_agent_and_credits() -> None:
    async def handler(req: UpstreamRequest):
        return 200, {}, b'{"models": {}}'

    async def go():
        t = MockTransport(handler)
        c = CloudCodeClient(t, base_urls=lambda: BASES, timeouts=lambda: Timeouts(),
                            user_agent=lambda: "antigravity/hub/3.0.2 darwin/arm64")
        await c.stream_generate("tok", {}, first=BASES[2])
        status, _, _, base = await c.fetch_available_models("tok", "p")
        await c.quota_summary("tok", "p")
        await c.onboard_user("tok", "free-tier")
        return t, base

    t, base = run(go())
    assert [r.url.split(":")[1][2:4] for r in t.requests] == ["h3", "h1", "h1", "h1"]
    assert base == BASES[0]
    assert json.loads(t.requests[2].body or b"") == {"project": "p"}
    assert t.requests[2].url.endswith(":retrieveUserQuotaSummary")
    assert t.requests[0].headers["User-Agent"] == "antigravity/hub/3.0.2 darwin/arm64"
    assert t.requests[3].headers["User-Agent"] == "antigravity/hub/3.0.2 darwin/arm64 google-api-nodejs-client/10.3.0"
    env = CloudCodeClient.envelope(project="p", model="m", request={}, request_id="agent/x", credits=True)
    assert env["enabledCreditTypes"] == ["GOOGLE_ONE_AI"]
    assert "enabledCreditTypes" not in CloudCodeClient.envelope(project="p", model="m", request={}, request_id="x")
