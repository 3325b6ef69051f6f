"""Server-sent events for the settings page: state and request-log changes pushed, never polled.

1. The ControlServer hands `changed()` to `controller.subscribe` and `monitor_changed()` to
   `monitor.subscribe`; both may be called from any thread and only mark work for the loop.
2. Marks are coalesced: a burst of changes becomes one `state` computation, and request-log
   batches become at most one `monitor` event per MONITOR_GAP seconds.
3. Each open page holds one `GET /api/events` stream. It gets the state when it connects, then
   `state` only when the state it would render differs from what it last got, and `monitor`
   when rows were written. A comment line every KEEPALIVE seconds lets a dead stream be noticed
   (aiohttp does not cancel a handler when its client goes).
   Nothing runs while nothing changes; the page closes its stream while it is hidden.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sized
from typing import Any

from aiohttp import web

__all__ = ["EventHub", "KEEPALIVE", "MONITOR_GAP"]

log = logging.getLogger("trayproxy.control.events")
KEEPALIVE = 15.0  # also how soon a stream whose page went away is dropped
MONITOR_GAP = 0.5
_CLOSE = object()


class EventHub:
    def __init__(self, state: Callable[[], dict[str, Any]]) -> None:
        self._state = state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: set[asyncio.Queue[Any]] = set()
        self._state_due = False
        self._monitor_rows = 0
        self._monitor_handle: asyncio.TimerHandle | None = None
        self._last_monitor = 0.0
        self.sent = 0  # events written, all streams (for tests)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def clients(self) -> int:
        return len(self._clients)

    # -- marks (any thread) -----------------------------------------------------------------
    def _call(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def changed(self, *_: Any) -> None:
        """Something the page shows may have changed."""
        self._call(self._schedule_state)

    def monitor_changed(self, batch: Sized) -> None:
        """Request-log rows were written (their requests may also have moved account cooldowns)."""
        n = len(batch)
        self._call(lambda: self._schedule_monitor(n))

    # -- on the loop ------------------------------------------------------------------------
    def _schedule_state(self) -> None:
        if self._state_due or not self._clients:
            return
        self._state_due = True
        asyncio.get_running_loop().call_soon(self._push_state)

    def _push_state(self) -> None:
        self._state_due = False
        if not self._clients:
            return
        try:
            payload = json.dumps(self._state())
        except Exception:
            log.exception("state for the settings page failed")
            return
        for q in self._clients:
            q.put_nowait(("state", payload))

    def _schedule_monitor(self, n: int) -> None:
        self._monitor_rows += n
        if self._monitor_handle is not None or not self._clients:
            return
        loop = asyncio.get_running_loop()
        wait = max(0.0, self._last_monitor + MONITOR_GAP - loop.time())
        self._monitor_handle = loop.call_later(wait, self._push_monitor)

    def _push_monitor(self) -> None:
        self._monitor_handle = None
        loop = asyncio.get_running_loop()
        self._last_monitor = loop.time()
        n, self._monitor_rows = self._monitor_rows, 0
        payload = json.dumps({"rows": n})
        for q in self._clients:
            q.put_nowait(("monitor", payload))
        self._schedule_state()

    # -- the stream -------------------------------------------------------------------------
    async def stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        })
        await resp.prepare(request)
        q: asyncio.Queue[Any] = asyncio.Queue()
        self._clients.add(q)
        last_state: str | None = None
        try:
            await resp.write(b"retry: 2000\n\n")
            q.put_nowait(("state", json.dumps(self._state())))
            while True:
                try:
                    item = await asyncio.wait_for(q.get(), KEEPALIVE)
                except asyncio.TimeoutError:
                    await resp.write(b": keep-alive\n\n")
                    continue
                if item is _CLOSE:
                    break
                kind, data = item
                if kind == "state":
                    if data == last_state:
                        continue
                    last_state = data
                await resp.write(f"event: {kind}\ndata: {data}\n\n".encode())
                self.sent += 1
        except ConnectionResetError:
            pass
        finally:
            self._clients.discard(q)
        return resp

    def close(self) -> None:
        """End every stream (the ControlServer is stopping)."""
        for q in list(self._clients):
            q.put_nowait(_CLOSE)
        if self._monitor_handle is not None:
            self._monitor_handle.cancel()
            self._monitor_handle = None
