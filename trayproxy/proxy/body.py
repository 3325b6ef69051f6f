"""Request bodies sent with a Content-Encoding, decoded by us and never past the body limit.

aiohttp's own decoding is turned off for the ProxyServer (`auto_decompress=False`): a small
gzip body can inflate a thousandfold, and it would be inflated before the size limit is looked
at. Here the compressed bytes are read (bounded by the same limit), then inflated in bounded
steps that stop as soon as the output passes `max_body_mb` (413). An encoding the body does not
have is a 400; one trayproxy does not decode is a 415. Handlers then see the decoded body.

`read_chunks` reads a body as the list of chunks that arrived, with the same limit and 413 as
aiohttp's `request.read()` but without its growing buffer and final copy (for a 30 MB body, 45 ms
holding the event loop); `b"".join` of the list in a worker thread gives the GIL back.
"""

from __future__ import annotations

import zlib

from aiohttp import web

from trayproxy.proxy.errors import ProxyError
from trayproxy.upstream.bigbody import in_worker

__all__ = ["decoded_body", "inflate", "read_chunks", "SUPPORTED_ENCODINGS"]
# zlib window bits: 16+ = gzip wrapper, + = zlib wrapper (RFC 1950 "deflate"), - = raw deflate
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
SUPPORTED_ENCODINGS = ("gzip", "deflate")
_STEP = 1 << 20
BIG_COMPRESSED = 64 << 10  # JSON compresses 10-20x: this inflates to about offload.BIG_BODY


class TooLarge(Exception):
    pass


def inflate(data: bytes, encoding: str, limit: int) -> bytes:
    """Decode `data`; TooLarge as soon as the output would pass `limit` bytes, ValueError when
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


async def decoded_body(request: web.Request) -> bytes | None:
    """The body decoded from its Content-Encoding, or None when it has none (the handler reads
    it then). Read compressed within the body limit, inflated in bounded steps (413 past the
    limit), 400 for data not in the encoding, 415 for an encoding trayproxy does not decode."""
    raw_enc = request.headers.get("Content-Encoding")
    if raw_enc is None:
        return None
    codings = [c.strip().lower() for c in raw_enc.split(",") if c.strip() and c.strip().lower() != "identity"]
    if not codings:
        return None
    unknown = [c for c in codings if c not in _WBITS]
    if unknown:
        raise ProxyError(415, f"Content-Encoding {unknown[0]!r} is not supported; send the body plain, "
                              f"or compressed with {' or '.join(SUPPORTED_ENCODINGS)}.", code="unsupported_encoding")
    limit = request.client_max_size
    body = b"".join(await read_chunks(request))  # compressed; more than the limit is a 413
    try:
        for coding in reversed(codings):  # the last one listed was applied last
            # zlib gives the GIL back while it inflates: in a worker, a big body holds nobody up
            body = (await in_worker(inflate, body, coding, limit) if len(body) >= BIG_COMPRESSED
                    else inflate(body, coding, limit))
    except TooLarge:
        raise web.HTTPRequestEntityTooLarge(limit, limit + 1) from None
    except ValueError as e:
        raise ProxyError(400, f"The request body is not valid {raw_enc} data ({e}).", code="invalid_encoding") from None
    return body
