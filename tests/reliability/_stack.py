"""Shared pieces for the reliability tests: the fake Cloud Code with a connection watcher, a
running proxy in front of it (or the proxy's app in the test's loop: `served`), and a raw
streaming HTTP client that can hang up at will.

The watcher lets a test *know* (no sleeps) that the proxy closed its upstream connection: a
middleware added to the fake's app polls the generation request's transport while the fake's
handler is still busy (hanging on a gate or pacing a stream) and sets `closed` when it goes away.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.helpers import make_controller
from tests.proxy.app_stack import AppStack, app_stack
from trayproxy.controller import Controller

MODEL = "gemini-2.5-flash"  # not a thinking model: no signatures needed
GUARD = 20.0  # failure guard for waits; never reached when the behaviour is right


class WatchedFake(FakeCloudCode):
    """FakeCloudCode that reports when a generation connection is closed by its client while
    the fake is still answering it."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.started = threading.Event()  # a generation request reached the fake
        self.closed = threading.Event()  # ... and its client (the proxy) hung up mid-answer
        self.strict_models = False

    def reset(self) -> None:
        self.started.clear()
        self.closed.clear()

    def app(self) -> web.Application:
        app = super().app()
        fake = self

        @web.middleware
        async def watch(request: web.Request, handler: Any) -> web.StreamResponse:
            if "GenerateContent" not in request.path and "generateContent" not in request.path:
                return await handler(request)
            fake.started.set()
            done = False

            def gone() -> bool:
                t = request.transport
                return t is None or t.is_closing()

            async def poll() -> None:
                while not done:
                    if gone():
                        fake.closed.set()
                        return
                    await asyncio.sleep(0.005)

            task = asyncio.ensure_future(poll())
            try:
                return await handler(request)
            finally:
                done = True
                if gone():
                    fake.closed.set()
                task.cancel()

        app.middlewares.append(watch)
        return app


@contextmanager
def stack(*, accounts: int = 1, **overrides: Any) -> Iterator[tuple[WatchedFake, Controller]]:
    """A WatchedFake with `accounts` accounts (one base URL) and a started proxy in front."""
    fake = WatchedFake()
    for i in range(accounts):
        fake.add_account(f"acc{i}@example.com", quota={MODEL: 0.9})
    with fake:
        ctl = make_controller(env=fake.env("prod"), **overrides)
        for i in range(accounts):
            ctl.add_refresh_token(f"rt-acc{i}@example.com")
        ctl.start()
        try:
            yield fake, ctl
        finally:
            ctl.close()


@asynccontextmanager
async def served(tmp_path: Path, *, accounts: int = 1, **settings: Any) -> AsyncIterator[tuple[WatchedFake, AppStack]]:
    """The same, as the proxy's app in the test's loop (`app_stack`), the fake in the same loop."""
    fake = WatchedFake()
    emails = tuple(f"acc{i}@example.com" for i in range(accounts))
    for email in emails:
        fake.add_account(email, quota={MODEL: 0.9})
    async with app_stack(tmp_path, fake=fake, hosts=("prod",), emails=emails, **settings) as s:
        yield fake, s


def always(reply_factory: Any) -> Any:
    """A default_reply that answers every call with a fresh reply."""
    return lambda call: reply_factory()


def openai_body(stream: bool, text: str = "hello") -> dict[str, Any]:
    return {"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": text}]}


def anthropic_body(stream: bool, text: str = "hello") -> dict[str, Any]:
    return {"model": MODEL, "stream": stream, "max_tokens": 100, "messages": [{"role": "user", "content": text}]}


ROUTES = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
BODIES = {"openai": openai_body, "anthropic": anthropic_body}


class RawStream:
    """One POST over http.client whose body is read line by line; `hang_up()` drops the TCP
    connection the way a killed client would."""

    def __init__(self, port: int, path: str, body: dict[str, Any], timeout: float = GUARD) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.conn.request("POST", path, body=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json", "anthropic-version": "2023-06-01"})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.lines: list[str] = []

    def readline(self) -> str | None:
        raw = self.resp.readline()
        if not raw:
            return None
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        self.lines.append(line)
        return line

    def read_until(self, pred: Any) -> str | None:
        while True:
            line = self.readline()
            if line is None or pred(line):
                return line

    def read_rest(self) -> list[str]:
        start = len(self.lines)
        while self.readline() is not None:
            pass
        return self.lines[start:]

    def hang_up(self) -> None:
        sock = self.conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conn.close()


def data_events(lines: list[str]) -> list[str]:
    return [ln[len("data: "):] for ln in lines if ln.startswith("data: ")]


__all__ = ["WatchedFake", "stack", "served", "always", "Reply", "Call", "MODEL", "GUARD", "RawStream", "ROUTES", "BODIES",
           "openai_body", "anthropic_body", "data_events"]
