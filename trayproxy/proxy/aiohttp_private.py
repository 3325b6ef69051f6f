"""The one place trayproxy reaches into aiohttp below its public API, so an aiohttp release that
changes it breaks one test (tests/proxy/test_aiohttp_private.py), not a user's streams. pyproject
pins aiohttp below the next minor release for the same reason.

- `headers_with_first_frames`: a `StreamResponse` normally writes its status line and headers
  in `prepare()`, one packet before the first frame. A streamed answer's first frames exist
  when it is prepared (the pipeline peeks first), so they go out together: one write, one packet
  less before the client's first byte (`_send_headers_immediately`, read by aiohttp in
  `StreamResponse._start` / `_send_headers`).
- `safe_expect_handler`: aiohttp handles an `Expect` header before any middleware runs, and
  answers a value other than `100-continue` with a 417 whose text quotes it; a value with bytes
  that are not UTF-8 could not be encoded, so the request became a 500 with a traceback (found
  by the header fuzzer). The default handler (`web_urldispatcher._default_expect_handler`, read
  when a route is made, and per request for unknown routes) is replaced by one that quotes
  the value as printable text. Installed before the app's routes are added.
"""

from __future__ import annotations

from typing import TypeVar

from aiohttp import HttpVersion11, web, web_urldispatcher

from trayproxy.monitor.redact import printable, utf8_safe

__all__ = ["headers_with_first_frames", "safe_expect_handler", "install_safe_expect_handler", "PRIVATE_ATTRIBUTES"]

R = TypeVar("R", bound=web.StreamResponse)

# (owner, attribute) pairs this module sets; the test checks aiohttp still has each
PRIVATE_ATTRIBUTES = ((web.StreamResponse, "_send_headers_immediately"),
                      (web_urldispatcher, "_default_expect_handler"))


def headers_with_first_frames(resp: R) -> R:
    """`resp` with its headers held back until its first write (see the module comment)."""
    resp._send_headers_immediately = False
    return resp


async def safe_expect_handler(request: web.Request) -> None:
    """aiohttp's default Expect handler, with the value it quotes made printable."""
    expect = request.headers.get("Expect", "")
    if request.version == HttpVersion11:
        if expect.lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # the main answer has not begun
        else:
            raise web.HTTPExpectationFailed(text=f"Unknown Expect: {printable(utf8_safe(expect))[:200]}")


def install_safe_expect_handler() -> None:
    web_urldispatcher._default_expect_handler = safe_expect_handler
