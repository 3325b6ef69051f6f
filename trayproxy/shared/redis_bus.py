"""The change bus on Redis: state writes and change events leave in one pipeline; other
instances' events arrive on one channel and are applied on the engine loop.

1. Out: `write(op)` queues a state write (a closure that adds commands to a pipeline) and
   `publish(kind, data)` an event; both return at once (they are called from the pool and the
   stores on the request path). One flush per loop turn sends everything queued in ONE round
   trip (a non-transactional pipeline: the writes, then one PUBLISH per event). No request
   waits for it. While Redis is down nothing is queued: memory holds the truth, and the next
   sync writes it all.
2. In: one pub/sub connection on `CHANNEL`. Each message is `{"o": instance, "k": kind, ...}`;
   an instance's own messages are skipped; the handler for the kind runs on the loop. Pub/sub
   delivers in well under a second; nothing is missed silently: when the connection breaks (or
   Redis was down for any caller), the bus re-subscribes and every `on_sync` callback reads the
   full state again, then writes back what this instance holds that Redis lost (a restarted
   Redis starts empty).
3. `RESYNC_EVERY`: a full sync runs this often anyway, a net under anything a handler missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from trayproxy.shared.redis_engine import CALL_TIMEOUT, PREFIX, RedisEngine

__all__ = ["Bus", "CHANNEL"]

log = logging.getLogger("trayproxy.shared")
CHANNEL = PREFIX + "events"
RESYNC_EVERY = 30.0
Op = Callable[[Any], None]  # adds commands to a pipeline
Handler = Callable[[dict[str, Any]], None]


class Bus:
    def __init__(self, engine: RedisEngine, instance: str) -> None:
        self.engine = engine
        self.instance = instance
        self._ops: list[Op] = []
        self._events: list[str] = []
        self._flushing = False
        self._handlers: dict[str, Handler] = {}
        self._syncs: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._sync_wanted = asyncio.Event()
        self._stopped = False
        self.synced = asyncio.Event()  # set after the first full sync (tests and /readyz wait on it)
        self.applied = 0  # events applied from other instances (metrics, tests)
        self._loop = asyncio.get_running_loop()  # the engine loop: the bus is made and runs there
        engine.on_back.append(self.resync)

    # -- out ---------------------------------------------------------------------------------
    @property
    def up(self) -> bool:
        return self.engine.health.up and self.engine.client is not None

    def write(self, op: Op) -> None:
        if self.up:
            self._ops.append(op)
            self._kick()

    def publish(self, kind: str, **data: Any) -> None:
        if self.up:
            self._events.append(json.dumps({"o": self.instance, "k": kind, **data}, separators=(",", ":")))
            self._kick()

    def _kick(self) -> None:
        if not self._flushing:
            self._flushing = True
            try:
                on_loop = asyncio.get_running_loop() is self._loop
            except RuntimeError:
                on_loop = False
            if on_loop:
                self._loop.call_soon(self._start_flush)
            else:  # a change made from another thread (a test's, the Controller's sync twins)
                self._loop.call_soon_threadsafe(self._start_flush)

    def _start_flush(self) -> None:
        task = asyncio.ensure_future(self._flush())
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def _flush(self) -> None:
        try:
            while self._ops or self._events:
                ops, events, self._ops, self._events = self._ops, self._events, [], []
                pipe = self.engine.client.pipeline(transaction=False)
                for op in ops:
                    op(pipe)
                for e in events:
                    pipe.publish(CHANNEL, e)
                try:
                    await asyncio.wait_for(pipe.execute(), CALL_TIMEOUT * 2)
                except Exception as e:  # what was lost is written again by the sync when Redis is back
                    self.engine.lost(e)
                    self._ops, self._events = [], []
        finally:
            self._flushing = False

    async def run(self, fn: Callable[[Any], object]) -> list[Any] | None:
        """One pipeline built by `fn`, sent now; its replies (None when Redis failed)."""
        if not self.up:
            return None
        pipe = self.engine.client.pipeline(transaction=False)
        fn(pipe)
        try:
            return list(await asyncio.wait_for(pipe.execute(), CALL_TIMEOUT * 4))
        except Exception as e:
            self.engine.lost(e)
            return None

    # -- in ----------------------------------------------------------------------------------
    def on(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def on_sync(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._syncs.append(fn)

    def resync(self) -> None:
        self._sync_wanted.set()

    def start(self) -> None:
        self._sync_wanted.set()
        for coro in (self._listen(), self._sync_loop(), self._every()):
            task = asyncio.ensure_future(coro)
            self._tasks.append(task)

    def _dispatch(self, raw: Any) -> None:
        try:
            msg = json.loads(raw)
            if msg.get("o") == self.instance:
                return
            handler = self._handlers.get(str(msg.get("k")))
            if handler is not None:
                handler(msg)
                self.applied += 1
        except Exception:
            log.exception("a change event from Redis could not be applied")

    async def _listen(self) -> None:
        while not self._stopped:
            if not self.up:
                await asyncio.sleep(0.2)
                continue
            pubsub = self.engine.client.pubsub(ignore_subscribe_messages=True)
            try:
                await asyncio.wait_for(pubsub.subscribe(CHANNEL), CALL_TIMEOUT * 2)
                self.resync()  # whatever happened while we were not listening
                while not self._stopped:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is not None and msg.get("type") == "message":
                        self._dispatch(msg["data"])
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.engine.lost(e)
            finally:
                try:
                    await asyncio.wait_for(pubsub.aclose(), 1.0)
                except Exception:
                    pass

    async def _sync_loop(self) -> None:
        while not self._stopped:
            await self._sync_wanted.wait()
            self._sync_wanted.clear()
            if not self.up:
                continue  # on_back asks again
            try:
                for fn in self._syncs:
                    await fn()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("shared state could not be synced with Redis: %s", e)
                self.engine.lost(e)
                continue
            self.synced.set()

    async def _every(self) -> None:
        while not self._stopped:
            await asyncio.sleep(RESYNC_EVERY)
            self.resync()

    async def stop(self) -> None:
        self._stopped = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except BaseException:
                pass
