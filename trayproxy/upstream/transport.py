"""The one HTTP seam between trayproxy and its upstreams.

`Transport.send(request) -> response` is all the rest of the code knows about HTTP. The default
is `AiohttpTransport` (one shared connection pool, timeouts, optional HTTP(S) proxy); tests can
swap in `MockTransport(handler)` or point the real transport at a fake server on 127.0.0.1.
A request body is bytes, or a list of parts (a big body, `upstream/bigbody.py`) that goes out
one part at a time with its Content-Length, so no single socket write holds the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload

__all__ = [
    "UpstreamRequest",
    "UpstreamResponse",
    "PartsPayload",
    "Transport",
    "AiohttpTransport",
    "MockTransport",
    "TransportError",
    "Timeouts",
]


class TransportError(Exception):
    """The request never got an HTTP answer (connect failure, reset, timeout)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 120.0  # first byte, and any silence between chunks


@dataclass
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | list[bytes] | None = None  # a list: parts sent in order, as one body
    timeouts: Timeouts = field(default_factory=Timeouts)

    def body_bytes(self) -> bytes | None:
        """The body as one bytes object (what goes on the wire)."""
        return b"".join(self.body) if isinstance(self.body, list) else self.body


class UpstreamResponse:
    """Status and headers are known; the body is read or streamed once, then close()."""

    def __init__(
        self,
        status: int,
        headers: dict[str, str],
        chunks: AsyncIterator[bytes],
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.base: str | None = None  # the base URL that answered (set by the Cloud Code client)
        self._chunks = chunks
        self._close = close
        self._closed = False

    async def read(self, limit: int = 64 * 1024 * 1024) -> bytes:
        parts: list[bytes] = []
        size = 0
        try:
            async for c in self._chunks:
                parts.append(c)
                size += len(c)
                if size > limit:
                    raise TransportError(f"upstream body larger than {limit} bytes")
        finally:
            self.close()
        return b"".join(parts)

    def iter_chunks(self) -> AsyncIterator[bytes]:
        return self._chunks

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()


class PartsPayload(Payload):
    """A body sent as its parts, one socket write (and drain) each, with a known length."""

    _autoclose = True  # bytes in memory: nothing to close, and it can be sent again

    def __init__(self, parts: list[bytes], content_type: str = "application/json") -> None:
        super().__init__(parts, content_type=content_type)
        self._parts = parts
        self._length = sum(len(p) for p in parts)
        self._size = self._length

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return b"".join(self._parts).decode(encoding, errors)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"".join(self._parts)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: AbstractStreamWriter, content_length: int | None) -> None:
        left = self._length if content_length is None else content_length
        for part in self._parts:
            if left <= 0:
                break
            if len(part) > left:
                part = part[:left]
            await writer.write(part)  # drains once past 64 KiB, but returns at once when the
            left -= len(part)  # kernel took it all (loopback): so give the loop a turn per part
            await asyncio.sleep(0)


class Transport(Protocol):
    async def send(self, request: UpstreamRequest) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """aiohttp client with one connection pool for all upstream calls (created on first use,
    on the engine loop)."""

    def __init__(self, *, proxy: str | None = None, limit: int = 0) -> None:
        self.proxy = proxy or None
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None
        self._client_timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, trust_env=False, skip_auto_headers=("User-Agent",)
            )
        return self._session

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        session = self._get_session()
        timeout = self._client_timeouts.get(request.timeouts)
        if timeout is None:  # one per Timeouts value (a config change, the account calls)
            if len(self._client_timeouts) >= 16:
                self._client_timeouts.clear()
            timeout = self._client_timeouts[request.timeouts] = aiohttp.ClientTimeout(
                total=None, connect=request.timeouts.connect, sock_connect=request.timeouts.connect,
                sock_read=request.timeouts.read,
            )
        try:
            resp = await session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=PartsPayload(request.body) if isinstance(request.body, list) else request.body,
                timeout=timeout,
                proxy=self.proxy,
                allow_redirects=False,
            )
        except asyncio.TimeoutError as e:
            raise TransportError(f"timed out connecting to {_host(request.url)}", timeout=True) from e
        except (aiohttp.ClientError, OSError, ValueError) as e:
            raise TransportError(f"could not reach {_host(request.url)}: {e}") from e

        # The closure must not hold `request`: its body (the envelope) would live as long as the stream.
        url, read_timeout = request.url, request.timeouts.read

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for data in resp.content.iter_any():
                    yield data
            except asyncio.TimeoutError as e:
                raise TransportError(f"{_host(url)} sent nothing for {read_timeout:g} s", timeout=True) from e
            except (aiohttp.ClientError, OSError) as e:
                raise TransportError(f"connection to {_host(url)} broke: {e}") from e
            finally:
                resp.release()

        return UpstreamResponse(resp.status, dict(resp.headers), chunks(), resp.close)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _host(url: str) -> str:
    try:
        from yarl import URL

        return URL(url).host or url
    except ValueError:
        return url


Handler = Callable[[UpstreamRequest], Awaitable[tuple[int, dict[str, str], bytes | list[bytes]]]]


class MockTransport:
    """For unit tests: an async handler returns (status, headers, body or list of chunks)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[UpstreamRequest] = []

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        if isinstance(request.body, list):  # handlers see the bytes that would go on the wire
            request = replace(request, body=request.body_bytes())
        self.requests.append(request)
        status, headers, body = await self.handler(request)
        parts = body if isinstance(body, list) else [body]

        async def chunks() -> AsyncIterator[bytes]:
            for p in parts:
                yield p

        return UpstreamResponse(status, headers, chunks())

    async def aclose(self) -> None:
        return None
