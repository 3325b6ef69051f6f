"""Big request bodies are parsed and converted off the event loop.

Below `BIG_BODY` bytes the work runs inline (a thread hop costs more than parsing an agent
turn); above it, `asyncio.to_thread`, so one 30 MB request does not freeze every other client.
The converters are pure, so they run unchanged in the worker thread; the one piece of shared
state they read, the signature store, is handed over as a snapshot taken on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

__all__ = ["BIG_BODY", "BODY_SIZE", "is_big", "off_loop"]

T = TypeVar("T")
BIG_BODY = 1 << 20
# the size of the request body read_json parsed, for the handlers' conversion step
BODY_SIZE = web.RequestKey("trayproxy_body_size", int)


def is_big(request: web.Request) -> bool:
    return request.get(BODY_SIZE, 0) >= BIG_BODY


async def off_loop(big: bool, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """fn(*args, **kwargs): in a worker thread when `big`, inline otherwise."""
    if not big:
        return fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)
