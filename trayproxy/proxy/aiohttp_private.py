"""The one place trayproxy reaches into aiohttp below its public API, so an aiohttp release that
changes it breaks one test (tests/proxy/test_aiohttp_private.py), not a user's streams. pyproject
pins aiohttp below the next minor release for the same reason.

- `headers_with_first_frames`: a `StreamResponse` normally writes its status line and headers
  in `prepare()`, one packet before the first frame. A streamed answer's first frames exist
  when it is prepared (the pipeline peeks first), so they go out together: one write, one packet
  less before the client's first byte (`_send_headers_immediately`, read by aiohttp in
  `StreamResponse._start` / `_send_headers`).
"""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

__all__ = ["headers_with_first_frames", "PRIVATE_ATTRIBUTES"]

R = TypeVar("R", bound=web.StreamResponse)

# (class, attribute) pairs this module sets; the test checks aiohttp still has each
PRIVATE_ATTRIBUTES = ((web.StreamResponse, "_send_headers_immediately"),)


def headers_with_first_frames(resp: R) -> R:
    """`resp` with its headers held back until its first write (see the module comment)."""
    resp._send_headers_immediately = False
    return resp
