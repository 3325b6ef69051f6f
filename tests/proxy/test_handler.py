"""proxy/handler.py: the one generic handler serves every generation route and the WebSocket;
token counts take the pipeline's accounts and failover."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.proxy.app_stack import AppStack, app_stack
from trayproxy.proxy import handler
from trayproxy.upstream.transport import MockTransport, UpstreamRequest

Reply = tuple[int, dict[str, str], bytes]


class CountingUpstream:
    """countTokens answers scripted per account e-mail; everything else a tiny text answer."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Reply]] = {}
        self.counts: list[str] = []
        self.transport = MockTransport(self.handle)

    async def handle(self, req: UpstreamRequest) -> Reply:
        if req.url.endswith("/token"):
            email = (req.body or b"").decode().split("rt-", 1)[1].split("&", 1)[0].replace("%40", "@")
            return 200, {}, json.dumps({"access_token": f"at-{email}", "expires_in": 3600}).encode()
        email = req.headers["Authorization"].removeprefix("Bearer at-")
        if req.url.endswith(":countTokens"):
            self.counts.append(email)
            script = self.scripts.get(email)
            if script:
                return script.pop(0)
            return 200, {}, b'{"totalTokens": 9}'
        event = {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]},
                                              "finishReason": "STOP"}]}}
        return 200, {"content-type": "text/event-stream"}, b"data: " + json.dumps(event).encode() + b"\r\n\r\n"


@pytest.fixture()
def up() -> CountingUpstream:
    return CountingUpstream()


@pytest.fixture()
async def stack(up: CountingUpstream, tmp_path: Path) -> AsyncIterator[AppStack]:
    async with app_stack(tmp_path, transport=up.transport) as s:
        s.add_account("a@x.com")
        s.add_account("b@x.com")
        yield s


async def test_every_generation_route_and_the_socket_run_the_generic_handler(stack: AppStack) -> None:
    generic = {r.resource.canonical for r in stack.client.app.router.routes()  # type: ignore[union-attr]
               if r.resource is not None and getattr(r.handler, "__qualname__", "") == "route.<locals>.handle"}
    for path in ("/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/responses/compact",
                 "/v1/messages", "/v1/messages/count_tokens", "/v1/images/generations", "/v1beta/models/{tail}",
                 "/chat/completions", "/messages"):
        assert path in generic, path
    from trayproxy.proxy import responses_ws

    assert responses_ws.serve is handler.serve  # each socket message runs the same steps


async def test_count_tokens_fails_over_like_a_generation(stack: AppStack, up: CountingUpstream) -> None:
    body = {"model": "gemini-3-flash", "messages": [{"role": "user", "content": "count me"}]}
    up.scripts["a@x.com"] = [(429, {}, b'{"error": {"code": 429, "message": "slow down"}}')]
    up.scripts["b@x.com"] = [(429, {}, b'{"error": {"code": 429, "message": "slow down"}}')]
    s, _, b = await stack.post("/v1/messages/count_tokens", body)
    # each account was asked once, then the client hears that every account failed, in its shape
    assert s == 503 and sorted(up.counts) == ["a@x.com", "b@x.com"], b
    assert json.loads(b)["type"] == "error" and "2 tried" in json.loads(b)["error"]["message"]
    up.scripts["a@x.com"] = [(429, {}, b'{"error": {"code": 429, "message": "slow down"}}')]
    up.counts.clear()
    s, _, b = await stack.post("/v1/messages/count_tokens", body)
    assert s == 200 and json.loads(b) == {"input_tokens": 9}, b
    assert up.counts in (["a@x.com", "b@x.com"], ["b@x.com"])  # a's failure moved it to b
    s, _, b = await stack.post("/v1beta/models/gemini-3-flash:countTokens",
                               {"contents": [{"role": "user", "parts": [{"text": "x"}]}]})
    assert s == 200 and json.loads(b) == {"totalTokens": 9}
    # counting spends no generation quota: nobody was put to rest
    assert all(stack.pool.cooldown_left(a.id) == 0 for a in stack.store.all())


async def test_a_refused_count_is_the_clients_error_and_rests_nobody(stack: AppStack, up: CountingUpstream) -> None:
    for email in ("a@x.com", "b@x.com"):
        up.scripts[email] = [(400, {}, b'{"error": {"code": 400, "message": "Invalid JSON payload"}}')]
    s, _, b = await stack.post("/v1beta/models/gemini-3-flash:countTokens",
                               {"contents": [{"role": "user", "parts": [{"text": "x"}]}]})
    assert s == 400 and "Invalid JSON payload" in json.loads(b)["error"]["message"]
    assert len(up.counts) == 1
    assert all(stack.pool.cooldown_left(a.id) == 0 for a in stack.store.all())


async def test_a_body_the_front_decoded_is_not_read_again(stack: AppStack) -> None:
    import gzip

    raw = gzip.compress(json.dumps({"model": "gemini-3-flash", "messages": [{"role": "user", "content": "hi"}]}).encode())
    s, _, b = await stack.post("/v1/chat/completions", raw, {"Content-Encoding": "gzip"})
    assert s == 200 and json.loads(b)["choices"][0]["message"]["content"] == "hi"
