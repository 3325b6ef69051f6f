"""The engine: one daemon thread running one asyncio loop, on which the ProxyServer, the
ControlServer, the upstream connections and the background tasks live, and which alone changes
the app's state (controller.py says what it owns).

Other threads (the tray, the CLI's own Controller, tests) reach it through `call`: the coroutine
runs on the loop and its result, or its error, comes back in the caller's thread. Code already on
the loop awaits instead; `call` from the engine thread refuses, since waiting there for the loop
would wait forever.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["Engine"]

T = TypeVar("T")


class Engine:
    """A daemon thread with its own event loop."""

    def __init__(self, name: str = "trayproxy-engine") -> None:
        self._ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()

    @property
    def in_engine_thread(self) -> bool:
        return threading.current_thread() is self._thread

    @property
    def running(self) -> bool:
        """The loop runs and takes work (False once `stop` was called)."""
        return self._thread.is_alive() and self.loop.is_running()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
        """Run `coro` on the loop and wait for its result (from any thread but the engine's)."""
        if self.in_engine_thread:
            coro.close()
            raise RuntimeError("Controller sync methods cannot be called from the engine loop; await the a_* method")
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
