"""The HTTP seam (trayproxy/upstream/transport.py): a body of parts goes on the wire as exactly
the bytes of the whole, with its Content-Length; a big client request's envelope is serialised
off the loop and still arrives as orjson.dumps of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from aiohttp import web

from trayproxy.upstream import bigbody, transport
from trayproxy.upstream.bigbody import LARGE_BODY
from trayproxy.upstream.cloudcode import CloudCodeClient
from trayproxy.upstream.transport import AiohttpTransport, MockTransport, Timeouts, UpstreamRequest

Seen = list[tuple[str, dict[str, str], bytes]]


@asynccontextmanager
async def server(status: Callable[[str], int] = lambda path: 200) -> AsyncIterator[tuple[str, Seen]]:
    seen: Seen = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.path, dict(request.headers), await request.read()))
        return web.Response(status=status(request.path), body=b"data: {}\r\n\r\n")

    app = web.Application(client_max_size=1 << 30)
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_a_body_of_parts_arrives_whole_with_its_length() -> None:
    parts = [b'{"a":', b'"' + b"x" * 300_000 + b'"', b',"b":[1,2,3]}']

    async def go() -> Seen:
        t = AiohttpTransport()
        try:
            async with server() as (url, seen):
                for _ in range(2):  # the same parts can be sent again (failover, a retry)
                    resp = await t.send(UpstreamRequest("POST", url + "/x", {"Content-Type": "application/json"}, parts))
                    assert resp.status == 200 and await resp.read() == b"data: {}\r\n\r\n"
                return seen
        finally:
            await t.aclose()

    seen = run(go())
    assert [body for _, _, body in seen] == [b"".join(parts)] * 2
    headers = seen[0][1]
    assert headers["Content-Length"] == str(sum(map(len, parts)))
    assert "Transfer-Encoding" not in headers and headers["Content-Type"] == "application/json"


def _big_envelope() -> dict[str, Any]:
    contents = [{"role": "user" if i % 2 == 0 else "model",
                 "parts": [{"text": f"turn {i}: " + "a long file read \u00e9\U0001f600\n" * 2000}]} for i in range(70)]
    return CloudCodeClient.envelope(project="p", model="gemini-2.5-flash", request_id="agent/1",
                                    request={"contents": contents, "generationConfig": {"maxOutputTokens": 9}})


def test_a_big_requests_envelope_is_serialised_in_a_worker_and_sent_as_orjson_would() -> None:
    env = _big_envelope()
    threads: list[str] = []
    real = asyncio.to_thread

    async def counting(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        threads.append(fn.__name__)
        return await real(fn, *args, **kwargs)

    sent_parts: list[int] = []

    class Spy(transport.PartsPayload):
        def __init__(self, parts: list[bytes]) -> None:
            sent_parts.append(len(parts))
            super().__init__(parts)

    async def go() -> Seen:
        t = AiohttpTransport()
        bigbody.asyncio.to_thread = counting  # type: ignore[attr-defined]
        transport.PartsPayload = Spy  # type: ignore[misc]
        try:
            async with server(lambda path: 503 if path.startswith("/one") else 200) as (url, seen):
                c = CloudCodeClient(t, base_urls=lambda: [url + "/one/v1internal", url + "/two/v1internal"],
                                    timeouts=lambda: Timeouts())
                LARGE_BODY.set(True)  # what read_json sets for a big client body
                resp = await c.stream_generate("tok", env)
                assert resp.status == 200
                resp.close()
                return seen
        finally:
            bigbody.asyncio.to_thread = real  # type: ignore[attr-defined]
            transport.PartsPayload = Spy.__bases__[0]  # type: ignore[misc]
            await t.aclose()

    seen = run(go())
    assert threads == ["dumps_parts"]  # once, sent to both base URLs
    assert [p for p, _, _ in seen] == ["/one/v1internal:streamGenerateContent", "/two/v1internal:streamGenerateContent"]
    assert seen[0][2] == seen[1][2] == orjson.dumps(env)
    assert len(sent_parts) == 2 and sent_parts[0] >= len(seen[1][2]) // bigbody.PART >= 2  # in parts
    assert seen[1][1]["Content-Length"] == str(len(orjson.dumps(env)))


def test_small_requests_are_serialised_inline_and_mock_handlers_see_bytes() -> None:
    env = _big_envelope()
    got: list[Any] = []

    async def handler(req: UpstreamRequest) -> tuple[int, dict[str, str], bytes]:
        got.append(req.body)
        return 200, {}, b""

    async def go(large: bool) -> None:
        if large:
            LARGE_BODY.set(True)
        t = MockTransport(handler)
        c = CloudCodeClient(t, base_urls=lambda: ["http://h/v1internal"], timeouts=lambda: Timeouts())
        (await c.stream_generate("tok", env)).close()

    run(go(False))
    run(go(True))
    assert got == [orjson.dumps(env)] * 2  # bytes both times: the parts joined for the handler
    assert not LARGE_BODY.get()  # set in the tasks' contexts only


def test_a_client_timeout_is_built_once_per_timeouts_value() -> None:
    async def go() -> AiohttpTransport:
        t = AiohttpTransport()
        try:
            async with server() as (url, _seen):
                for timeouts in (Timeouts(), Timeouts(), Timeouts(connect=3.0, read=7.0)):
                    (await t.send(UpstreamRequest("POST", url + "/x", {}, b"{}", timeouts))).close()
            return t
        finally:
            await t.aclose()

    t = run(go())
    built = t._client_timeouts
    assert list(built) == [Timeouts(), Timeouts(connect=3.0, read=7.0)]
    short = built[Timeouts(connect=3.0, read=7.0)]
    assert (short.total, short.connect, short.sock_connect, short.sock_read) == (None, 3.0, 3.0, 7.0)
