"""Streaming an answer to the client once its first bytes exist (the pipeline's step 4).

1. Open the sink (for HTTP: the headers go out with the first frames, in one write); from here
   on the request is committed (no retry), so the request body and the converted request are
   let go.
2. Pump: parse each upstream event, feed the stream machine, write the frames of events that
   arrived together in one write (at most `_COALESCE` bytes, so nothing waits long).
3. Pings during long silences; on proxy stop (one shared waiter for every open stream), an
   upstream break, the request's deadline (`Retry.deadline`) or an internal error, end with the
   protocol's own error event, never a silent truncation. A client that goes away cancels the
   pump and the upstream request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web

from trayproxy.proxy.aiohttp_private import headers_with_first_frames
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.exchange import Exchange
from trayproxy.proxy.job import Job, Opened, Sink, StreamMachine, answer_headers, succeeded
from trayproxy.proxy.retry import Retry
from trayproxy.upstream.cloudcode import UpstreamStreamError, parse_event

__all__ = ["relay", "HttpSink"]

log = logging.getLogger("trayproxy.pipeline")
_COALESCE = 4096  # bytes of frames that arrived together sent in one write (bounds the delay)


class _PastDeadline(Exception):
    """The request's deadline passed while its answer was streaming."""


class HttpSink:
    """The answer as this HTTP request's response: a stream whose headers go out with its first
    frames (one write, one packet), or one whole JSON response."""

    __slots__ = ("request", "resp")

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.resp: web.StreamResponse | None = None

    async def open(self, headers: dict[str, str]) -> None:
        origin = self.request.headers.get("Origin")
        if origin:
            headers["Access-Control-Allow-Origin"] = origin
        self.resp = resp = headers_with_first_frames(web.StreamResponse(status=200, headers=headers))
        await resp.prepare(self.request)

    async def write(self, data: bytes) -> None:
        assert self.resp is not None
        await self.resp.write(data)

    async def close(self) -> web.StreamResponse:
        assert self.resp is not None
        await self.resp.write_eof()
        return self.resp

    def whole(self, body: bytes, headers: dict[str, str]) -> web.StreamResponse:
        return web.Response(body=body, content_type="application/json", headers=headers)


class _StopWatch:
    """One waiter on the proxy's stop signal for all the streams open at once (not a task per
    stream); it lives while streams are open."""

    __slots__ = ("event", "waiter", "streams")

    def __init__(self, event: asyncio.Event) -> None:
        self.event = event
        self.waiter: asyncio.Future[Any] = asyncio.ensure_future(event.wait())
        self.streams = 0


_watches: dict[int, _StopWatch] = {}  # id(ctx.stopping) -> its watch, while streams are open


def _watch_stop(ctx: ProxyContext) -> _StopWatch:
    watch = _watches.get(id(ctx.stopping))
    if watch is None or watch.event is not ctx.stopping:  # a restarted server has a new event
        watch = _watches[id(ctx.stopping)] = _StopWatch(ctx.stopping)
    watch.streams += 1
    return watch


def _unwatch_stop(ctx: ProxyContext, watch: _StopWatch) -> None:
    watch.streams -= 1
    if watch.streams <= 0:
        watch.waiter.cancel()
        if _watches.get(id(watch.event)) is watch:
            del _watches[id(watch.event)]


async def relay(
    ctx: ProxyContext,
    ex: Exchange,
    job: Job,
    opened: Opened,
    machine: StreamMachine,
    first: list[bytes],
    ended: bool,
    sink: Sink,
    retry: Retry | None = None,
) -> web.StreamResponse:
    headers = {"Content-Type": job.content_type, "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
               **answer_headers(job, opened.account)}
    await sink.open(headers)
    ex.streaming = True
    ex.status = 200
    ex.ttfb_ms = (time.monotonic() - ex.started) * 1000
    head = b"".join(first) if len(first) != 1 else first[0]
    if ctx.monitor is not None and ctx.monitor.store_bodies:
        ex.body = bytearray()
        ex.keep(head)
    else:
        # Committed, and the monitor keeps no bodies: a long stream should not keep the
        # client's raw body alive.
        ex.raw = None
    job.committed()
    await sink.write(head)
    del first, head
    if ended:
        succeeded(ctx, machine, opened.account, job, ex)
        return await sink.close()
    last_write = time.monotonic()
    finished = False
    deadline = retry.deadline if retry is not None else float("inf")
    clock = ctx.clock

    async def pump() -> None:
        # Frames of events that arrived together go out in one write, up to _COALESCE bytes.
        nonlocal last_write, finished
        feed = machine.feed
        frames: list[bytes] = []
        size = 0

        async def send() -> None:
            nonlocal size, last_write
            data = b"".join(frames) if len(frames) > 1 else frames[0]
            frames.clear()
            size = 0
            if ex.body is not None:
                ex.keep(data)
            await sink.write(data)
            last_write = time.monotonic()

        async def relay(batch: list[bytes]) -> None:
            nonlocal size
            for data in batch:
                ev = parse_event(data)
                if ev is None:
                    continue
                for frame in feed(ev):
                    frames.append(frame)
                    size += len(frame)
                if size >= _COALESCE:
                    await send()
            if frames:
                await send()
            if clock() >= deadline:
                raise _PastDeadline()

        try:
            await relay(opened.rest)
            opened.rest = []
            async for batch in opened.batches:
                await relay(batch)
        except (UpstreamStreamError, _PastDeadline):
            if frames:  # what was read before the break goes out before the error event
                await send()
            raise
        finished = True

    reader = asyncio.ensure_future(pump())
    watch = _watch_stop(ctx)
    stopper = watch.waiter
    try:
        while True:
            wait = min(job.ping_interval, max(0.0, deadline - clock()))
            done, _ = await asyncio.wait((reader, stopper), timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                break
            if clock() >= deadline:  # a silent stream past the deadline
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
                return await _past_deadline(ctx, ex, machine, sink, retry)
            if stopper in done:
                reader.cancel()
                ex.outcome = "shutdown"
                ex.error = "trayproxy stopped while the answer was streaming"
                await sink.write(b"".join(machine.fail("trayproxy is stopping; the answer was cut short")))
                return await sink.close()
            if job.ping_frame and time.monotonic() - last_write >= job.ping_interval * 0.9:
                await sink.write(job.ping_frame)
                last_write = time.monotonic()
        try:
            reader.result()
        except _PastDeadline:
            return await _past_deadline(ctx, ex, machine, sink, retry)
        except UpstreamStreamError as e:
            ex.outcome = "error"
            ex.error = f"upstream stream broke: {e}"
            ctx.pool.cool_down(opened.account.id, job.upstream_model, 8.0, ex.error, kind="server")
            await sink.write(b"".join(machine.fail(f"The upstream answer broke off: {e}")))
            return await sink.close()
        if finished:
            tail = machine.finish()
            if tail:
                await sink.write(b"".join(tail))
            succeeded(ctx, machine, opened.account, job, ex)
        return await sink.close()
    except (ConnectionResetError, asyncio.CancelledError):
        ex.outcome = "client_disconnect"
        ex.error = "the client closed the connection before the answer was complete"
        raise
    except Exception as e:  # a bug after the headers went out: end the stream properly, once
        log.exception("error while relaying a stream")
        ex.outcome, ex.error = "error", f"internal error while streaming: {e}"
        try:
            await sink.write(b"".join(machine.fail("trayproxy hit an internal error; the answer was cut short")))
            return await sink.close()
        except Exception:
            return None  # type: ignore[return-value]
    finally:
        _unwatch_stop(ctx, watch)
        ex.usage = machine.usage
        if not reader.done():
            reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def _past_deadline(ctx: ProxyContext, ex: Exchange, machine: StreamMachine, sink: Sink,
                         retry: Retry | None) -> web.StreamResponse:
    budget = retry.budget if retry is not None else 0.0
    ex.outcome = "error"
    ex.error = f"the answer was still streaming at the request's deadline ({budget:g} s, request_deadline)"
    await sink.write(b"".join(machine.fail(f"The answer took longer than the request's deadline of {budget:g} s "
                                           "(setting request_deadline) and was cut short.")))
    return await sink.close()
