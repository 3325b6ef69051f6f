"""A deadline on every request (issue #27): `request_deadline` bounds a request's whole life,
across accounts and Cloud Code hosts, streams included; an upstream stream that sends only
keep-alives is cut at `request_timeout` like a silent one.

Before: a hung upstream cost accounts x hosts x request_timeout (40 s observed, ~48 min at the
limits) and an upstream sending keep-alives held the request forever.

Most cases run on a scripted transport that moves a `FakeClock` as the upstream "takes" time, so
they are instant and decided by the clock, not by the machine's speed; one case hangs for real
(the deadline must cut a wait the pipeline is blocked in)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Gate, Reply
from tests.helpers import FakeClock
from tests.proxy.app_stack import AppStack, app_stack
from trayproxy.upstream.transport import UpstreamRequest, UpstreamResponse

from ._shapes import error_shape
from ._stack import MODEL, data_events

CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
HOSTS = ("https://h1.example/v1internal", "https://h2.example/v1internal", "https://h3.example/v1internal")


def _event(text: str) -> bytes:
    return b"data: " + json.dumps({"response": {"candidates": [{"content": {"role": "model", "parts": [
        {"text": text}]}}]}}).encode() + b"\r\n\r\n"


class ScriptedUpstream:
    """A transport whose generation answers come from `answer(request)`: (status, chunks), each
    chunk a (fake seconds it takes, bytes) pair. Token requests answer at once."""

    def __init__(self, clock: FakeClock, answer: Callable[[UpstreamRequest], tuple[int, list[tuple[float, bytes]]]]):
        self.clock = clock
        self.answer = answer
        self.sent: list[str] = []

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        if request.url.endswith("/token"):
            body = b'{"access_token": "at", "expires_in": 3600}'
            return UpstreamResponse(200, {}, self._chunks([(0.0, body)]))
        self.sent.append(request.url)
        status, chunks = self.answer(request)
        return UpstreamResponse(status, {"content-type": "text/event-stream"}, self._chunks(chunks))

    async def _chunks(self, chunks: list[tuple[float, bytes]]) -> AsyncIterator[bytes]:
        for seconds, data in chunks:
            self.clock.advance(seconds)
            await asyncio.sleep(0)
            yield data

    async def aclose(self) -> None:
        return None


async def _stack(tmp_path: Path, up: Callable[[FakeClock], ScriptedUpstream], accounts: int = 1,
                 **settings: Any) -> tuple[AppStack, ScriptedUpstream, Any]:
    clock = FakeClock()
    transport = up(clock)
    cm = app_stack(tmp_path, transport=transport, clock=clock, env={"TRAYPROXY_CLOUDCODE_BASE_URLS": ",".join(HOSTS)},
                   **settings)
    s = await cm.__aenter__()
    for i in range(accounts):
        s.add_account(f"a{i}@example.com", project=f"p{i}")
    return s, transport, cm


async def test_failover_across_accounts_and_hosts_stops_at_the_deadline(tmp_path: Path) -> None:
    """Three accounts x three hosts, each attempt taking 100 s before its 503: without a
    deadline all nine are tried (900 s); with request_deadline 250 the request ends after the
    attempt that passes it, with a 504 naming the setting."""
    s, up, cm = await _stack(tmp_path, lambda c: ScriptedUpstream(c, lambda r: (503, [(100.0, b'{"error": {"code": 503}}')])),
                             accounts=3, request_deadline=250)
    try:
        status, _, body = await s.post("/v1/chat/completions", CHAT)
    finally:
        await cm.__aexit__(None, None, None)
    assert status == 504, body
    err = error_shape("openai", body)
    assert "request_deadline" in err["message"] and "250" in err["message"], err
    assert len(up.sent) == 3, up.sent  # 100, 200, 300 s: the third passed the deadline, no fourth


def _keepalives(clock: FakeClock) -> ScriptedUpstream:
    """200, then keep-alive comments 10 s apart, for an hour: never a real event."""
    return ScriptedUpstream(clock, lambda r: (200, [(10.0, b": keep-alive\n\n")] * 360))


@pytest.mark.parametrize("stream", [False, True])
async def test_an_upstream_that_only_sends_keep_alives_is_cut_at_request_timeout(tmp_path: Path, stream: bool) -> None:
    s, up, cm = await _stack(tmp_path, _keepalives, request_timeout=60)
    try:
        status, _, body = await s.post("/v1/chat/completions", {**CHAT, "stream": stream})
    finally:
        await cm.__aexit__(None, None, None)
    assert status in (502, 504), body  # nothing was sent yet: an error status, not a 200 stream
    err = error_shape("openai", body)
    assert "keep-alive" in err["message"], err


def _endless(clock: FakeClock) -> ScriptedUpstream:
    """A real event every 60 s, for ten hours."""
    return ScriptedUpstream(clock, lambda r: (200, [(60.0, _event("more "))] * 600))


async def test_a_stream_past_the_deadline_ends_with_the_protocols_error_event(tmp_path: Path) -> None:
    s, up, cm = await _stack(tmp_path, _endless, request_deadline=600)
    try:
        status, _, body = await s.post("/v1/chat/completions", {**CHAT, "stream": True})
        a_status, _, a_body = await s.post("/v1/messages", {**CHAT, "max_tokens": 100, "stream": True})
    finally:
        await cm.__aexit__(None, None, None)
    assert status == 200
    events = data_events(body.decode().splitlines())
    assert events[-1] == "[DONE]" and "request_deadline" in json.loads(events[-2])["error"]["message"]
    assert 5 <= sum('"more ' in e for e in events) <= 11  # what came within the 600 s went out first
    assert a_status == 200 and b"event: error" in a_body and b"request_deadline" in a_body


async def test_a_whole_answer_past_the_deadline_is_a_504(tmp_path: Path) -> None:
    s, up, cm = await _stack(tmp_path, _endless, request_deadline=600)
    try:
        status, _, body = await s.post("/v1/chat/completions", CHAT)
    finally:
        await cm.__aexit__(None, None, None)
    assert status == 504 and "request_deadline" in error_shape("openai", body)["message"], body


async def test_a_hung_upstream_on_every_host_is_cut_at_the_deadline(tmp_path: Path) -> None:
    """For real: the fake Cloud Code on three hosts accepts and says nothing. request_timeout 30
    would cost 90 s (and the client's guard of 20 s would fail the test); request_deadline 5
    ends it at 5 s."""
    fake = FakeCloudCode()
    fake.strict_models = False
    fake.add_account("a@example.com", quota={MODEL: 1.0})
    gate = Gate()
    fake.default_reply = lambda call: Reply.hang(gate)
    try:
        async with app_stack(tmp_path, fake=fake, emails=("a@example.com",), request_timeout=30,
                             request_deadline=5) as s:
            async with s.client.post("/v1/chat/completions", json=CHAT,
                                     timeout=aiohttp.ClientTimeout(total=20)) as r:
                status, body = r.status, await r.read()
    finally:
        gate.release()
    assert status == 504, body
    assert "request_deadline" in error_shape("openai", body)["message"]
