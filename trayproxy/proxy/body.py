"""Request bodies: read once, within the size limit and a read deadline, decoded within bounds.

1. `read_body`: the front middleware (proxy/front.py) reads the body of every request that has
   one, on every route, here: never more than `client_max_size` (413, as aiohttp's own
   `request.read()`) and never for longer than `BODY_READ_TIMEOUT` (408: aiohttp bounds the time
   a request head may take, not its body, so a trickled body held a connection forever). A body
   that has all arrived needs no timer. A big body is kept as the chunks that arrived (without
   aiohttp's growing buffer and final copy: for 30 MB, 45 ms holding the event loop) and joined
   in a worker thread, which gives the GIL back.
2. A body sent with a Content-Encoding is decoded by one bounded decoder (`decode`; aiohttp's
   own decoding is off for the ProxyServer, `auto_decompress=False`). At most two encodings,
   gzip or deflate (415 for others or more). The bytes inflated by all layers together share one
   allowance: never past the body limit, and past `FLOOR` only while they stay within
   `MAX_RATIO` times the bytes that came over the wire (413). Each layer is inflated in bounded
   steps that stop as soon as the allowance is spent, so a bomb is never inflated whole: a
   422-byte `gzip, gzip` body used to become 95 MiB, because each layer was capped but their
   product was not. Data not in its declared encoding is a 400.
"""

from __future__ import annotations

import asyncio
import sys
import zlib
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import web

from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.offload import BIG_BODY
from trayproxy.upstream.bigbody import in_worker

__all__ = ["read_body", "read_chunks", "decode", "inflate", "TooLarge", "SUPPORTED_ENCODINGS",
           "BODY_READ_TIMEOUT", "FLOOR", "MAX_RATIO", "MAX_ENCODINGS"]

T = TypeVar("T")
# zlib window bits: 16+ = gzip wrapper, + = zlib wrapper (RFC 1950 "deflate"), - = raw deflate
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
SUPPORTED_ENCODINGS = ("gzip", "deflate")
MAX_ENCODINGS = 2
# Inflating past FLOOR bytes (all layers together) needs a body that came over the wire at no
# more than MAX_RATIO times smaller: an agent's JSON compresses 5-20x, a repeated tool output a
# few hundred times, and the floor lets any body inflate to 8 MiB whatever its ratio.
FLOOR = 8 << 20
MAX_RATIO = 200
BODY_READ_TIMEOUT = 60.0  # s for the whole body, once its head has arrived
_STEP = 1 << 20
BIG_COMPRESSED = 64 << 10  # JSON compresses 10-20x: this inflates to about offload.BIG_BODY


class TooLarge(Exception):
    """The inflated body would pass its allowance; `by_ratio` when that allowance was the
    ratio's (the body limit itself was not reached)."""

    def __init__(self, by_ratio: bool = False) -> None:
        super().__init__()
        self.by_ratio = by_ratio


def inflate(data: bytes, encoding: str, limit: int) -> bytes:
    """Decode one layer; TooLarge as soon as the output would pass `limit` bytes, ValueError when
    the data is not in that encoding (or is cut short)."""
    wbits = _WBITS[encoding]
    if encoding == "deflate" and data and data[0] & 0x0F != 8:
        wbits = -zlib.MAX_WBITS  # raw deflate without the zlib header, as many clients send it
    d = zlib.decompressobj(wbits)
    out: list[bytes] = []  # joined at the end: one copy, with the GIL given back (a bytearray
    size = 0  # grown step by step and copied to bytes held it for the whole 30 MB)
    pending = data
    try:
        while pending and not d.eof:
            out.append(d.decompress(pending, min(_STEP, limit + 1 - size)))
            size += len(out[-1])
            if size > limit:
                raise TooLarge()
            pending = d.unconsumed_tail
        if not d.eof:
            out.append(d.flush(limit + 1 - size))
            size += len(out[-1])
    except zlib.error as e:
        raise ValueError(str(e)) from None
    if size > limit:
        raise TooLarge()
    if not d.eof:
        raise ValueError("the compressed data ends too early")
    return b"".join(out)


def decode(data: bytes, codings: list[str], limit: int, *, floor: int = FLOOR, ratio: int = MAX_RATIO) -> bytes:
    """`data` decoded from `codings` (as listed in the header: the last was applied last), with
    one allowance for the bytes every layer inflates: at most `limit`, and at most
    max(`floor`, `ratio` x len(data)). TooLarge past it, ValueError for data not in an encoding."""
    by_ratio = ratio * len(data) < limit
    left = min(limit, max(floor, ratio * len(data)))
    for coding in reversed(codings):
        try:
            data = inflate(data, coding, left)
        except TooLarge:
            raise TooLarge(by_ratio and left < limit) from None
        left -= len(data)
    return data


def _codings(request: web.Request) -> list[str]:
    """The body's encodings (identity left out); 415 for one trayproxy does not decode, or more
    than `MAX_ENCODINGS`."""
    raw_enc = request.headers.get("Content-Encoding")
    if raw_enc is None:
        return []
    codings = [c for c in (p.strip().lower() for p in raw_enc.split(",")) if c and c != "identity"]
    unknown = [c for c in codings if c not in _WBITS]
    if unknown:
        raise ProxyError(415, f"Content-Encoding {unknown[0]!r} is not supported; send the body plain, "
                              f"or compressed with {' or '.join(SUPPORTED_ENCODINGS)}.", code="unsupported_encoding")
    if len(codings) > MAX_ENCODINGS:
        raise ProxyError(415, f"The body has {len(codings)} Content-Encodings; trayproxy decodes at most two. "
                              "Compress it once.", code="unsupported_encoding")
    return codings


async def read_chunks(request: web.Request) -> list[bytes]:
    """The body's chunks as they arrived; HTTPRequestEntityTooLarge (413) past client_max_size."""
    limit = request.client_max_size
    content = request.content
    content.set_read_chunk_size(_STEP)  # fewer pause/resume turns than the 64 KiB default
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk, end_of_http_chunk = await content.readchunk()
        if not chunk:
            if end_of_http_chunk:  # a chunked body's chunk boundary, not its end
                continue
            return chunks
        size += len(chunk)
        if limit and size > limit:
            raise web.HTTPRequestEntityTooLarge(limit, size)
        chunks.append(chunk)


async def _read(request: web.Request) -> bytes:
    length = request.content_length
    if length is not None and length < BIG_BODY:
        return await request.content.read()  # aiohttp stops at the announced length
    chunks = await read_chunks(request)  # big, or of unknown length (chunked)
    if len(chunks) > 1 and sum(len(c) for c in chunks) >= BIG_BODY:
        return await in_worker(b"".join, chunks)
    return b"".join(chunks)


async def _in_time(request: web.Request, reading: Awaitable[T]) -> T:
    """`reading`, unless the body takes longer than BODY_READ_TIMEOUT to arrive (408)."""
    if request.content.is_eof():
        return await reading
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(BODY_READ_TIMEOUT):  # no extra Task, unlike wait_for
                return await reading
        return await asyncio.wait_for(reading, BODY_READ_TIMEOUT)  # pragma: no cover - 3.10
    except asyncio.TimeoutError:
        raise ProxyError(408, f"The request body did not arrive within {BODY_READ_TIMEOUT:g} s.",
                         code="request_timeout") from None


async def read_body(request: web.Request) -> bytes:
    """The whole body, decoded (module comment): 413 past the limit (as sent, or inflated), 408
    past the read deadline, 415 for encodings trayproxy does not decode, 400 for data that is
    not in its declared encoding."""
    codings = _codings(request)  # before reading: an unknown encoding needs no body
    body = await _in_time(request, _read(request))
    if not codings:
        return body
    limit = request.client_max_size
    try:
        # zlib gives the GIL back while it inflates: in a worker, a big body holds nobody up
        return (await in_worker(decode, body, codings, limit) if len(body) >= BIG_COMPRESSED
                else decode(body, codings, limit))
    except TooLarge as e:
        if e.by_ratio:
            raise ProxyError(413, f"The compressed request body inflates to more than {MAX_RATIO} times its "
                                  f"size (past {FLOOR >> 20} MiB); trayproxy refuses it as a decompression "
                                  "bomb. Send it plain or less compressed.", code="request_too_large") from None
        raise web.HTTPRequestEntityTooLarge(limit, limit + 1) from None
    except ValueError as e:
        raise ProxyError(400, f"The request body is not valid {', '.join(codings)} data ({e}).",
                         code="invalid_encoding") from None
