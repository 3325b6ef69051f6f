"""proxy/aiohttp_private.py: the one place trayproxy relies on aiohttp below its public API. When an
aiohttp release changes it, this fails (pyproject pins aiohttp below the next minor release)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from trayproxy.proxy.aiohttp_private import PRIVATE_ATTRIBUTES, headers_with_first_frames


def test_the_attributes_it_sets_still_exist() -> None:
    for cls, name in PRIVATE_ATTRIBUTES:
        assert hasattr(cls, name), f"aiohttp {aiohttp.__version__} has no {cls.__name__}.{name}"
    assert web.StreamResponse._send_headers_immediately is True  # the default this module turns off


async def test_headers_go_out_with_the_first_frame_in_one_write() -> None:
    writes: list[bytes] = []
    first_write_done = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = headers_with_first_frames(web.StreamResponse(headers={"Content-Type": "text/event-stream"}))
        await resp.prepare(request)
        transport = request.transport
        assert transport is not None
        real_write = transport.write

        def spy(data: bytes) -> None:
            writes.append(bytes(data))
            real_write(data)

        transport.write = spy  # type: ignore[method-assign]
        await resp.write(b"data: first\n\n")
        first_write_done.set()
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    async with TestServer(app) as server, aiohttp.ClientSession() as s, s.get(server.make_url("/")) as r:
        assert await r.read() == b"data: first\n\n"
    assert first_write_done.is_set()
    # nothing was written before the first frame: the status line and headers are in its write
    assert writes and writes[0].startswith(b"HTTP/1.1 200") and b"data: first" in writes[0]
