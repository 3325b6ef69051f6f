"""Google's grounding redirect links -> the pages they lead to, for web search results.

A grounded answer names each source as `https://vertexaisearch.cloud.google.com/
grounding-api-redirect/<token>`; a client should show the real page. The redirector answers a
HEAD with a 3xx whose `Location` is the page.

1. Only links under the redirector's prefix are looked up (the config's
   `grounding_redirect_url` says where the redirector is; tests point it at the fake upstream),
   through the one HTTP seam (`Transport.send`), HEAD, redirects not followed.
2. Bounded: at most `LIMIT` links per answer, `CONCURRENCY` at a time, each within `TIMEOUT`
   seconds and all within `DEADLINE`; a link that does not resolve in time, answers anything but
   a 3xx, or points at something other than an https page keeps Google's link (it still works
   in a browser).
3. Cached: a resolved link for `TTL` seconds, a failed one for `FAILED_TTL`, at most `SIZE`
   entries (oldest out first).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from trayproxy.protocols.search import REDIRECT_PREFIX
from trayproxy.upstream.transport import Timeouts, Transport, TransportError, UpstreamRequest

__all__ = ["LinkResolver"]

LIMIT = 20
CONCURRENCY = 6
TIMEOUT = 5.0
DEADLINE = 8.0
TTL = 6 * 3600.0
FAILED_TTL = 600.0
SIZE = 4096


class LinkResolver:
    def __init__(self, transport: Transport, redirector: Callable[[], str], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._transport = transport
        self._redirector = redirector
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, str | None]] = OrderedDict()  # link -> (expires, page)

    def _cached(self, link: str) -> tuple[bool, str | None]:
        hit = self._cache.get(link)
        if hit is None:
            return False, None
        if hit[0] < self._clock():
            del self._cache[link]
            return False, None
        self._cache.move_to_end(link)
        return True, hit[1]

    def _remember(self, link: str, page: str | None) -> None:
        self._cache[link] = (self._clock() + (TTL if page else FAILED_TTL), page)
        self._cache.move_to_end(link)
        while len(self._cache) > SIZE:
            self._cache.popitem(last=False)

    async def _one(self, link: str, gate: asyncio.Semaphore) -> str | None:
        url = self._redirector().rstrip("/") + "/" + link[len(REDIRECT_PREFIX):]
        async with gate:
            try:
                resp = await self._transport.send(UpstreamRequest(
                    "HEAD", url, {"User-Agent": "Mozilla/5.0 (trayproxy link check)"}, None,
                    Timeouts(connect=TIMEOUT, read=TIMEOUT)))
            except TransportError:
                return None
            resp.close()
        location = resp.headers.get("location", "")
        parts = urlsplit(location)
        if 300 <= resp.status < 400 and parts.scheme == "https" and parts.hostname:
            return location
        return None

    async def resolve(self, links: Iterable[str]) -> dict[str, str]:
        """link -> page for every redirect link that resolves (now or from the cache)."""
        out: dict[str, str] = {}
        todo: list[str] = []
        for link in dict.fromkeys(links):
            if not link.startswith(REDIRECT_PREFIX):
                continue
            known, page = self._cached(link)
            if known:
                if page:
                    out[link] = page
            elif len(todo) < LIMIT:
                todo.append(link)
        if not todo:
            return out
        gate = asyncio.Semaphore(CONCURRENCY)
        tasks = {link: asyncio.ensure_future(self._one(link, gate)) for link in todo}
        done, pending = await asyncio.wait(tasks.values(), timeout=DEADLINE)
        for t in pending:
            t.cancel()
        for link, task in tasks.items():
            page = task.result() if task in done and not task.cancelled() and task.exception() is None else None
            if task in done:
                self._remember(link, page)
            if page:
                out[link] = page
        return out
