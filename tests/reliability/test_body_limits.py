"""Oversized bodies get 413 in the caller's protocol shape, with Content-Length and with a
chunked upload (no length announced), and the proxy keeps serving afterwards."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from tests.helpers import request, running

from ._shapes import error_shape
from ._stack import stack

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


@pytest.mark.parametrize(("path", "protocol"), [("/v1/chat/completions", "openai"), ("/v1/messages", "anthropic"),
                                                ("/v1beta/models/gemini-2.5-flash:generateContent", "gemini")])
def test_chunked_upload_over_the_limit_is_413(path: str, protocol: str) -> None:
    with running(max_body_mb=1) as ctl:
        port = ctl.status().port
        status, body = _chunked_post(port, path, 2 * MIB)
        assert status == 413, body[:300]
        err = error_shape(protocol, body)
        assert "1 MiB" in err["message"]
        # still serving
        s, _, b = request(port, "GET", "/healthz")
        assert s == 200 and json.loads(b)["status"] == "ok"


def test_chunked_upload_under_the_limit_is_served() -> None:
    """A chunked body below the limit is read whole and answered normally (fake upstream)."""
    with stack(max_body_mb=1) as (_fake, ctl):
        status, body = _chunked_post(ctl.status().port, "/v1/chat/completions", 256 * 1024)
        assert status == 200, body[:300]
        assert json.loads(body)["choices"][0]["message"]["content"].startswith("Echo: aaaa")


def test_content_length_over_the_limit_is_413_on_every_protocol() -> None:
    with running(max_body_mb=1) as ctl:
        port = ctl.status().port
        big = b'{"contents":[{"parts":[{"text":"' + b"a" * (MIB + 10) + b'"}]}]}'
        s, _, b = request(port, "POST", "/v1beta/models/gemini-2.5-flash:generateContent", body=big)
        assert s == 413
        error_shape("gemini", b)
