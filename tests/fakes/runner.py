"""Run any aiohttp application on 127.0.0.1:<ephemeral port> in a background thread.

The server gets its own thread and event loop, so synchronous tests (and tests that run their
own loop with `asyncio.run`) can talk to it with any HTTP client::

    with ServerThread(app) as base_url:
        urllib.request.urlopen(base_url + "/healthz")

or, without a `with` block, `url = server.start()` ... `server.stop()`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

__all__ = ["ServerThread"]

T = TypeVar("T")
AppSource = web.Application | Callable[[], web.Application | Awaitable[web.Application]]


class ServerThread:
    """One aiohttp app served from a daemon thread. `start()` returns `http://127.0.0.1:PORT`."""

    def __init__(self, app: AppSource, *, host: str = "127.0.0.1", port: int = 0,
                 shutdown_timeout: float = 1.0) -> None:
        self._source = app
        self.host = host
        self.port = port
        self.shutdown_timeout = shutdown_timeout
        self.url = ""
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        if self._thread is not None:
            return self.url
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="fake-server", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError(f"server failed to start: {self._error}") from self._error
        if not self.url:
            raise RuntimeError("server did not start within 30 s")
        return self.url

    def stop(self) -> None:
        thread, loop = self._thread, self.loop
        if thread is None or loop is None:
            return
        if loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._cleanup(), loop)
            try:
                fut.result(self.shutdown_timeout + 10)
            finally:
                loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None
        self.url = ""

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30) -> T:
        """Run a coroutine on the server's loop from another thread and return its result."""
        if self.loop is None:
            raise RuntimeError("server is not running")
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- thread body -------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup())
        except BaseException as e:  # noqa: BLE001 - reported to start()
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _setup(self) -> None:
        source = self._source
        if isinstance(source, web.Application):
            app = source
        else:
            made = source()
            app = await made if isinstance(made, Awaitable) else made
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self.shutdown_timeout)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]
        self.url = f"http://{self.host}:{port}"

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
