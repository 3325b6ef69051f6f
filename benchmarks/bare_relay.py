"""A bare aiohttp pass-through proxy: the yardstick trayproxy's overhead is judged against.

Every request is forwarded as is (method, path, query, body, headers minus hop-by-hop) to
UPSTREAM over one pooled ClientSession; the answer is relayed chunk by chunk as it arrives.
No parsing, no conversion, no auth, no accounts.

    python benchmarks/bare_relay.py --port 9200 --upstream http://127.0.0.1:9100
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-authorization",
       "proxy-connection", "trailer", "host", "content-length"}
SESSION = web.AppKey("session", aiohttp.ClientSession)


async def relay(request: web.Request) -> web.StreamResponse:
    session = request.app[SESSION]
    upstream = request.app["upstream"] + request.path_qs
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
    body = await request.read()
    async with session.request(request.method, upstream, headers=headers, data=body,
                               allow_redirects=False, auto_decompress=False) as up:
        out_headers = {k: v for k, v in up.headers.items() if k.lower() not in HOP}
        if up.content_length is not None and "text/event-stream" not in up.headers.get("Content-Type", ""):
            return web.Response(status=up.status, headers=out_headers, body=await up.read())
        resp = web.StreamResponse(status=up.status, headers=out_headers)
        await resp.prepare(request)
        async for chunk in up.content.iter_any():
            await resp.write(chunk)
        await resp.write_eof()
        return resp


async def make_app(upstream: str) -> web.Application:
    app = web.Application(client_max_size=100 * 1024 * 1024)
    app["upstream"] = upstream.rstrip("/")

    async def ctx(app: web.Application):  # type: ignore[no-untyped-def]
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                             timeout=aiohttp.ClientTimeout(total=None, sock_read=300))
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(ctx)
    app.router.add_route("*", "/{tail:.*}", relay)
    return app


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=9200)
    p.add_argument("--upstream", required=True)
    a = p.parse_args()
    web.run_app(make_app(a.upstream), host="127.0.0.1", port=a.port, access_log=None, handler_cancellation=True,
                print=None)
