"""ProxyServer: Start binds the port, Stop unbinds it. Lives on the engine loop."""

from __future__ import annotations

import asyncio
import logging
import sys

from aiohttp import web

from trayproxy.proxy.context import ProxyContext

__all__ = ["ProxyServer", "StartError"]

log = logging.getLogger("trayproxy.proxy")


class StartError(RuntimeError):
    """The proxy could not start; the message is shown to the user as is."""


class ProxyServer:
    def __init__(self, ctx: ProxyContext) -> None:
        self.ctx = ctx
        self._runner: web.AppRunner | None = None
        self.host: str | None = None
        self.port: int | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self, host: str, port: int) -> int:
        if self._runner is not None:
            raise StartError(f"The proxy is already running on {self.host}:{self.port}")
        self.ctx.stopping = asyncio.Event()
        from trayproxy.proxy.app import build_app  # the routes and converters: not needed until Start

        app = build_app(self.ctx)
        runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=1.0,
            keepalive_timeout=15.0,
        )
        await runner.setup()
        try:
            # On Windows SO_REUSEADDR would let us bind a port another program holds.
            site = web.TCPSite(runner, host, port, reuse_address=sys.platform != "win32", backlog=512)
            await site.start()
        except OSError as e:
            await runner.cleanup()
            reason = e.strerror or str(e)
            raise StartError(
                f"Failed to start the proxy server: address {host}:{port} could not be bound: {reason}"
            ) from e
        self._runner = runner
        self.host = host
        addrs = runner.addresses
        self.port = addrs[0][1] if addrs else port
        for sock_addr in addrs:
            log.info("proxy listening on %s", sock_addr)
        return self.port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        # Streams watch this event and end with a proper terminal event right away.
        self.ctx.stopping.set()
        await asyncio.sleep(0)
        await runner.cleanup()
        self.host = None
        self.port = None
