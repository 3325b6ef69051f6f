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


# -- nesting (issue #27: JSON nested past ~125 levels was a 500 with a traceback) -------------------

def _nested(levels: int) -> object:
    """`levels` levels of containers: a list holding an object holding a list ... (1: `[]`)."""
    value: object = []
    for i in range(levels - 1):
        value = [value] if i % 2 else {"a": value}
    return value


def _deep_bodies(levels: int) -> list[tuple[str, object]]:
    """(route, body) where the client's own data nests `levels` levels below where it sits: a
    tool call's input, a JSON schema, a Gemini function call's args, and arguments sent as a
    JSON string (parsed by the converter, not at the door)."""
    deep = _nested(levels)
    as_text = json.dumps({"a": deep})
    return [
        ("/v1/messages", {"model": "gemini-2.5-flash", "max_tokens": 5, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": deep}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]}),
        ("/v1/chat/completions", {"model": "gemini-2.5-flash", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                  "function": {"name": "f", "arguments": as_text}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}),
        ("/v1/responses", {"model": "gemini-2.5-flash", "input": [
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": as_text},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"}]}),
        ("/v1beta/models/gemini-2.5-flash:generateContent", {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
                "type": "object", "properties": {"a": {"type": "object", "default": deep}}}}]}]}),
    ]


@pytest.mark.parametrize("index", range(4), ids=["messages-input", "chat-arguments", "responses-arguments",
                                                 "gemini-schema"])
async def test_json_nested_past_the_limit_is_a_400_naming_it_and_at_the_limit_is_served(
        stack: AppStack, index: int) -> None:
    from trayproxy.json_types import MAX_DEPTH

    path, body = _deep_bodies(MAX_DEPTH + 1)[index]
    status, _, out = await stack.post(path, body)
    assert status == 400, out[:300]
    assert b"nested" in out and str(MAX_DEPTH).encode() in out, out[:300]
    path, body = _deep_bodies(MAX_DEPTH - 12)[index]  # the client's data, within the limit with its frame
    status, _, out = await stack.post(path, body)
    assert status == 200, out[:300]


@pytest.mark.parametrize("index", range(4), ids=["messages-input", "chat-arguments", "responses-arguments",
                                                 "gemini-schema"])
async def test_json_nested_as_deep_as_the_attack_run_sent_is_no_500(stack: AppStack, index: int) -> None:
    """Regression: 300 levels passed the door and broke orjson.dumps on the way up (a 500)."""
    path, body = _deep_bodies(300)[index]
    status, _, out = await stack.post(path, body)
    assert status == 400 and b"nested" in out, out[:300]


async def test_a_whole_body_nested_past_the_limit_is_a_400(stack: AppStack) -> None:
    from trayproxy.json_types import MAX_DEPTH

    status, _, out = await stack.post("/v1/chat/completions", {"model": "m", "x": _nested(MAX_DEPTH)})
    assert status == 400 and b"nested" in out, out[:300]
    status, _, out = await stack.post("/v1/chat/completions", b'{"a": ' + b"[" * 2000 + b"]" * 2000 + b"}")
    assert status == 400, out[:300]
