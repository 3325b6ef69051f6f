"""Oversized bodies get 413 in the caller's protocol shape, with Content-Length and with a
chunked upload (no length announced), and the proxy keeps serving afterwards. The proxy's app
runs in the test's loop; the raw uploads go to its test server's port from a worker thread."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.proxy.app_stack import AppStack, app_stack

from ._shapes import error_shape
from ._stack import MODEL

MIB = 1024 * 1024


def _chunked_post(port: int, path: str, total: int, chunk: int = 64 * 1024) -> tuple[int, bytes]:
    """POST `total` bytes of a JSON-looking body with Transfer-Encoding: chunked over a raw
    socket. The server may answer (and close) before the upload is complete: a broken pipe
    while sending is fine, the answer is then read from the socket."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            "anthropic-version: 2023-06-01\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    prefix = b'{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"'
    try:
        sock.sendall(head)
        sent = 0
        first = True
        while sent < total:
            data = (prefix if first else b"") + b"a" * (chunk - (len(prefix) if first else 0))
            first = False
            sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            sent += len(data)
        sock.sendall(b'3\r\n"}]\r\n1\r\n}\r\n0\r\n\r\n')
    except (BrokenPipeError, ConnectionResetError):
        pass
    resp = http.client.HTTPResponse(sock)
    try:
        resp.begin()
        body = resp.read()
    finally:
        sock.close()
    return resp.status, body


@asynccontextmanager
async def limited(tmp_path: Path, **settings: Any) -> AsyncIterator[AppStack]:
    """The proxy's app with a 1 MiB body limit and one account (no upstream call is made)."""
    async with app_stack(tmp_path, max_body_mb=1, **settings) as s:
        s.add_account("a@example.com")
        yield s


@pytest.mark.parametrize(("path", "protocol"), [("/v1/chat/completions", "openai"), ("/v1/messages", "anthropic"),
                                                ("/v1beta/models/gemini-2.5-flash:generateContent", "gemini")])
async def test_chunked_upload_over_the_limit_is_413(tmp_path: Path, path: str, protocol: str) -> None:
    async with limited(tmp_path) as ctl:
        status, body = await asyncio.to_thread(_chunked_post, ctl.port, path, 2 * MIB)
        assert status == 413, body[:300]
        err = error_shape(protocol, body)
        assert "1 MiB" in err["message"]
        # still serving
        s, _, b = await ctl.get("/healthz")
        assert s == 200 and json.loads(b)["status"] == "ok"


async def test_chunked_upload_under_the_limit_is_served(tmp_path: Path) -> None:
    """A chunked body below the limit is read whole and answered normally (fake upstream)."""
    fake = FakeCloudCode()
    fake.strict_models = False
    fake.add_account("acc0@example.com", quota={MODEL: 0.9})
    async with app_stack(tmp_path, fake=fake, hosts=("prod",), emails=("acc0@example.com",), max_body_mb=1) as ctl:
        status, body = await asyncio.to_thread(_chunked_post, ctl.port, "/v1/chat/completions", 256 * 1024)
        assert status == 200, body[:300]
        assert json.loads(body)["choices"][0]["message"]["content"].startswith("Echo: aaaa")


async def test_content_length_over_the_limit_is_413_on_every_protocol(tmp_path: Path) -> None:
    async with limited(tmp_path) as ctl:
        big = b'{"contents":[{"parts":[{"text":"' + b"a" * (MIB + 10) + b'"}]}]}'
        s, _, b = await ctl.post("/v1beta/models/gemini-2.5-flash:generateContent", big)
        assert s == 413
        error_shape("gemini", b)
