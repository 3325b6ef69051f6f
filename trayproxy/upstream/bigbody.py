"""Big upstream request bodies, serialised so that no single call holds the GIL for long.

One `orjson.dumps` of a 30 MB envelope holds the GIL (and so the event loop, even from a worker
thread) for 40-60 ms. `dumps_parts` gives the same bytes as a list of ~1 MiB parts: the top
levels of the value (the envelope, `request`, `contents`, each content and its `parts`) are
walked in Python and everything below is one orjson call per element, so a worker thread
running it gives the GIL back between elements. Long strings met on the way are written a slice
at a time. The transport sends the parts one by one (`transport.UpstreamRequest.body`).

`LARGE_BODY` is how the proxy tells the upstream side, without threading a flag through every
call: it is set (for the task serving one client request, and the tasks it starts) when that
request's body was big, and `CloudCodeClient.call` then serialises off the loop.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import orjson

__all__ = ["LARGE_BODY", "PART", "DUMP_DEPTH", "dumps_parts", "in_worker", "WORKER_SWITCH_INTERVAL"]

T = TypeVar("T")

LARGE_BODY: ContextVar[bool] = ContextVar("trayproxy_large_body", default=False)
PART = 1 << 20  # bytes per part sent; also the longest string written in one call
# levels walked in Python: envelope, request, contents, a content, its parts; below, one call each
DUMP_DEPTH = 5


# While big-body work runs in a worker thread, the interpreter hands the GIL over this often
# (the default is 5 ms): every time the loop thread comes back from a system call it may have to
# wait that long for the worker, and a small request makes a dozen of them.
WORKER_SWITCH_INTERVAL = 0.0005
_busy = 0
_saved_interval = 0.0


async def in_worker(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """asyncio.to_thread(fn, ...), with the short switch interval while any such call runs."""
    global _busy, _saved_interval
    if _busy == 0:
        _saved_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(_saved_interval, WORKER_SWITCH_INTERVAL))
    _busy += 1
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    finally:
        _busy -= 1
        if _busy == 0:
            sys.setswitchinterval(_saved_interval)


def dumps_parts(value: Any, depth: int = DUMP_DEPTH) -> list[bytes]:
    """orjson.dumps(value) as parts of about PART bytes (b"".join gives exactly those bytes);
    raises orjson.JSONEncodeError for what orjson refuses."""
    parts: list[bytes] = []
    pending: list[bytes] = []
    size = 0

    def emit(b: bytes) -> None:
        nonlocal size
        pending.append(b)
        size += len(b)
        if size >= PART:
            parts.append(b"".join(pending))
            pending.clear()
            size = 0

    _write(value, depth, emit)
    if pending:
        parts.append(b"".join(pending))
    return parts


def _write(v: Any, depth: int, emit: Callable[[bytes], None]) -> None:
    t = type(v)
    if t is dict and depth > 0 and v:
        sep = b"{"
        for k, x in v.items():
            if not isinstance(k, str):
                raise orjson.JSONEncodeError("Dict key must be str")
            emit(sep + orjson.dumps(k) + b":")
            _write(x, depth - 1, emit)
            sep = b","
        emit(b"}")
    elif t is list and depth > 0 and v:
        sep = b"["
        for x in v:
            emit(sep)
            _write(x, depth - 1, emit)
            sep = b","
        emit(b"]")
    elif t is str and len(v) > PART:
        # JSON escapes one code point at a time, so the slices' escapes are the whole's
        emit(b'"')
        for i in range(0, len(v), PART):
            emit(orjson.dumps(v[i : i + PART])[1:-1])
        emit(b'"')
    else:
        emit(orjson.dumps(v))
