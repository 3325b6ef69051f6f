"""Fuzzed request heads on every route: method, path, query and headers (keys, Origin, Host,
Content-Type, Content-Encoding with bodies compressed right, wrong or twice, WebSocket upgrade
headers, bytes that are not UTF-8, control characters), sent as raw bytes over a socket, under
every auth mode.

Every answer has a status below 500 (the upstream is healthy: a 5xx would be trayproxy's own
crash; aiohttp's parser answers what it cannot parse with a 400), the connection is answered,
and the app's log, set up as production sets it up, has nothing at ERROR and no traceback.
Every route of the app is reached (checked against its router). CI runs `CI_EXAMPLES`;
`TRAYPROXY_FUZZ_SECONDS` makes it the long run (tests/reliability/_fuzz.py)."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import re
import socket
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.proxy.app_stack import AppStack

from . import _fuzz

CI_EXAMPLES = 2_000
MODEL = "gemini-2.5-flash"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
MESSAGES = {**CHAT, "max_tokens": 5}
RESPONSES = {"model": MODEL, "input": "hi"}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
IMAGES = {"prompt": "a cat", "model": "gemini-3-pro-image"}
# (method, path, a body that serves) for every route the app registers (prefixes: "", /v1, /v1/v1)
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/", None), ("HEAD", "/", None), ("GET", "/health", None), ("GET", "/healthz", None),
    ("GET", "/v1/models", None), ("GET", "/models", None), ("GET", "/v1/v1/models", None),
    ("GET", "/v1/models/gemini-2.5-flash", None),
    ("GET", "/v1beta/models", None), ("GET", "/v1beta/models/gemini-2.5-flash", None),
    ("GET", "/v1/responses/resp_unknown", None), ("GET", "/responses/resp_unknown/input_items", None),
    ("GET", "/v1/v1/responses/resp_x/input_items", None), ("GET", "/v1/responses/resp_x/input_items", None),
    ("GET", "/v1/responses", None),  # the WebSocket's path, as plain GET or an upgrade
    ("POST", "/v1/chat/completions", CHAT), ("POST", "/chat/completions", CHAT),
    ("POST", "/v1/v1/chat/completions", CHAT),
    ("POST", "/v1/completions", {"model": MODEL, "prompt": "hi"}), ("POST", "/completions", {"model": MODEL, "prompt": "hi"}),
    ("POST", "/v1/v1/completions", {"model": MODEL, "prompt": "hi"}),
    ("POST", "/v1/messages", MESSAGES), ("POST", "/messages", MESSAGES), ("POST", "/v1/v1/messages", MESSAGES),
    ("POST", "/v1/messages/count_tokens", MESSAGES), ("POST", "/messages/count_tokens", MESSAGES),
    ("POST", "/v1/v1/messages/count_tokens", MESSAGES),
    ("POST", "/v1/responses", RESPONSES), ("POST", "/responses", RESPONSES), ("POST", "/v1/v1/responses", RESPONSES),
    ("POST", "/v1/responses/compact", RESPONSES), ("POST", "/responses/compact", RESPONSES),
    ("POST", "/v1/v1/responses/compact", RESPONSES),
    ("POST", "/v1/images/generations", IMAGES), ("POST", "/images/generations", IMAGES),
    ("POST", "/v1/v1/images/generations", IMAGES),
    ("POST", f"/v1beta/models/{MODEL}:generateContent", GEMINI),
    ("POST", f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", GEMINI),
    ("POST", f"/v1beta/models/{MODEL}:countTokens", GEMINI),
    ("POST", f"/v1/models/{MODEL}:generateContent", GEMINI),
    ("POST", "/api/event_logging/batch", {"events": []}), ("POST", "/v1/api/event_logging/batch", {"events": []}),
    ("GET", "/nowhere", None), ("POST", "/v1/nowhere", CHAT),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[asyncio.AbstractEventLoop, AppStack, _fuzz.LogWatch]]:
    with _fuzz.served_app(tmp_path_factory.mktemp("fuzz-headers"), max_body_mb=1) as served:
        yield served


# -- strategies -----------------------------------------------------------------------------------

def _text_bytes() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.binary(max_size=40),
        st.sampled_from([b"", b" ", b"\x01", b"\x1b[31m", b"\x7f", b"\xff\xfe", b"\xc3\x28", b"a\x00b",
                         "\u202e".encode(), b"\t", b"x" * 70_000]),
    )


NAMES = ["Authorization", "x-api-key", "x-goog-api-key", "Origin", "Host", "Content-Type", "Content-Encoding",
         "anthropic-version", "anthropic-beta", "User-Agent", "Accept", "Accept-Encoding", "x-goog-api-client",
         "Connection", "Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
         "Access-Control-Request-Method", "Access-Control-Request-Headers", "Cookie", "Range", "Expect",
         "X-Forwarded-For", "Forwarded", "Transfer-Encoding", "Content-Length"]


def _value_for(name: str, key: str) -> st.SearchStrategy[bytes]:
    meaningful: dict[str, list[str]] = {
        "Authorization": [f"Bearer {key}", key, "Bearer ", "Bearer sk-wrong-000000000000", f"Basic {key}",
                          f"Bearer {key} extra", f"bearer\t{key}"],
        "x-api-key": [key, key + "x", ""], "x-goog-api-key": [key, "AIzaSy" + "x" * 33],
        "Origin": ["http://localhost:3000", "http://127.0.0.1:8045", "https://evil.example", "null", "file://",
                   "http://[::1]:1", "http://127.attacker.example"],
        "Host": ["127.0.0.1", "localhost:8045", "[::1]:8045", "attacker.example", "127.0.0.1.nip.io", ""],
        "Content-Type": ["application/json", "text/plain", "multipart/form-data; boundary=x",
                         "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
        "Content-Encoding": ["gzip", "deflate", "gzip, gzip", "gzip, deflate, gzip", "br", "identity", "x-gzip",
                             "GZIP", " , ", "zstd"],
        "anthropic-version": ["2023-06-01", "x"], "Connection": ["close", "keep-alive", "Upgrade", "upgrade, close"],
        "Upgrade": ["websocket", "h2c", "WebSocket"], "Sec-WebSocket-Key": ["dGhlIHNhbXBsZSBub25jZQ==", "x"],
        "Sec-WebSocket-Version": ["13", "8", "x"],
        "Sec-WebSocket-Extensions": ["permessage-deflate; client_max_window_bits", "x"],
        "Access-Control-Request-Method": ["POST"], "Expect": ["100-continue", "x"],
    }
    options = [st.sampled_from([v.encode() for v in meaningful.get(name, ["x"])])] * 3 + [_text_bytes()]
    return st.one_of(*options)


@st.composite
def heads(draw: st.DrawFn, key: str) -> tuple[str, str, list[tuple[bytes, bytes]], bytes]:
    method, path, body = draw(st.sampled_from(ROUTES))
    method = draw(st.one_of(st.just(method), st.just(method), st.sampled_from(
        ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "BREW"])))
    path += draw(st.sampled_from(["", "", "?key=" + key, "?alt=sse", "?x=%00%1b", "?key=%ff", "/", "%2e%2e/x",
                                  "%1b[31m", "?" + "a" * 100]))
    names = draw(st.lists(st.one_of(st.sampled_from(NAMES), st.text(
        alphabet="abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=1, max_size=12)), max_size=8))
    headers = [(n.encode(), draw(_value_for(n, key))) for n in names if n not in ("Content-Length", "Transfer-Encoding")]
    raw = json.dumps(body).encode() if body is not None else b""
    raw = draw(st.one_of(st.just(raw), st.just(raw), st.just(raw), st.binary(max_size=80), st.just(b"")))
    encoding = next((v for n, v in headers if n.lower() == b"content-encoding"), None)
    if raw and encoding is not None and draw(st.booleans()):  # compressed as it says, or more, or cut short
        enc = encoding.decode("latin-1").lower()
        packed = gzip.compress(raw) if "gzip" in enc else zlib.compress(raw) if "deflate" in enc else raw
        raw = draw(st.sampled_from([packed, gzip.compress(packed), packed[: max(1, len(packed) // 2)]]))
    return method, path, headers, raw


def _send(port: int, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
    """The request as raw bytes (what a client library would refuse to send goes out too); the
    status and body of the answer (101: the socket was upgraded, closed at once)."""
    lines = [f"{method} {path} HTTP/1.1".encode("latin-1", "replace")]
    if not any(n.lower() == b"host" for n, _ in headers):
        lines.append(f"Host: 127.0.0.1:{port}".encode())
    lines += [n + b": " + v.replace(b"\r", b"").replace(b"\n", b"") for n, v in headers]
    lines.append(b"Content-Length: " + str(len(body)).encode())
    if not any(n.lower() == b"connection" for n, _ in headers):
        lines.append(b"Connection: close")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered (and closed) before the body was all sent: the answer is read below
        resp = http.client.HTTPResponse(sock, method=method)
        try:
            resp.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError) as e:
            raise AssertionError(f"the connection was dropped without an answer: {e}") from None
        if resp.status == 101:
            return 101, b""
        try:
            return resp.status, resp.read()
        except http.client.IncompleteRead as e:
            raise AssertionError(f"the answer broke off: {e}") from None
        finally:
            resp.close()


def test_fuzzed_heads_on_every_route_never_5xx(app: tuple[asyncio.AbstractEventLoop, AppStack, _fuzz.LogWatch]) -> None:
    loop, stack, watch = app
    key = stack.api_key()
    port = stack.port
    seen: dict[str, Any] = {"examples": 0, "routes": set(), "statuses": {}}
    modes = st.sampled_from(["off", "auto", "strict", "all_except_health"])

    def batch(n: int) -> None:
        @settings(max_examples=n, deadline=None, derandomize=False, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
        @given(head=heads(key), mode=modes)
        def check(head: tuple[str, str, list[tuple[bytes, bytes]], bytes], mode: str) -> None:
            method, path, headers, body = head
            stack.configure("auth_mode", mode)
            status, out = loop.run_until_complete(asyncio.to_thread(_send, port, method, path, headers, body))
            seen["examples"] += 1
            seen["routes"].add((method, path.split("?", 1)[0]))
            seen["statuses"][status] = seen["statuses"].get(status, 0) + 1
            assert status < 500, f"{method} {path} {headers!r} {body[:200]!r} -> {status}: {out[:300]!r}"
            _fuzz.assert_clean_log(watch, f"{method} {path} {headers!r}")

        check()

    took = _fuzz.run_budget(batch, ci_examples=CI_EXAMPLES, seconds=_fuzz.share("headers"))
    stack.configure("auth_mode", "off")
    registered = {r.resource.canonical for r in stack.client.app.router.routes() if r.resource is not None}
    reached = {canonical for canonical in registered
               if any(_matches(canonical, p) for _, p in seen["routes"])}
    assert reached == registered, f"routes never reached: {sorted(registered - reached)}"
    _fuzz.record("headers (every route)", {"examples": seen["examples"], "routes": len(registered),
                                            "statuses": dict(sorted(seen["statuses"].items())), "findings": 0,
                                            "seconds": round(took, 1)})


def _matches(canonical: str, path: str) -> bool:
    """Whether `path` is served by the route `canonical` (`{name}` one segment, `{name:regex}`
    what the regex takes)."""
    pattern, i = "", 0
    for m in re.finditer(r"\{([^}:]+)(?::((?:[^{}]|\{[^}]*\})+))?\}", canonical):
        pattern += re.escape(canonical[i:m.start()]) + "(" + (m.group(2) or "[^/]+") + ")"
        i = m.end()
    return re.fullmatch(pattern + re.escape(canonical[i:]), path) is not None
