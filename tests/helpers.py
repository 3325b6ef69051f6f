"""Shared test helpers: a Controller in the test's TRAYPROXY_HOME, raw HTTP calls."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from trayproxy.accounts.store import Account
from trayproxy.controller import Controller
from trayproxy.paths import app_paths

from .conftest import MemoryKeyring, free_port


def make_controller(*, transport: Any = None, env: dict[str, str] | None = None, clock: Any = None,
                    **overrides: Any) -> Controller:
    overrides.setdefault("port", free_port())
    overrides.setdefault("auth_mode", "off")  # as app_stack: tests about the key set it (config set clears it)
    extra = {"clock": clock} if clock is not None else {}
    return Controller(app_paths(), secrets_backend=MemoryKeyring(), transport=transport, env=env,
                      overrides=overrides, **extra)


class FakeClock:
    """A clock tests move by hand (cooldowns, token expiry), starting at the real time.

    `sleep` is an instant stand-in for `asyncio.sleep` on this clock (for `ProxyContext.sleep`,
    the pipeline's wait before retrying the same account): it moves the clock by the time asked
    for, yields to the loop once, and notes the wait in `slept`."""

    def __init__(self) -> None:
        self.t = time.time()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


def add_fake_account(ctl: Controller, email: str = "a@example.com", project: str = "proj-a") -> Account:
    acc = Account.new(email, now=time.time())
    acc.project = project
    ctl.store.put(acc, refresh_token=f"rt-{email}")
    return acc


@contextmanager
def running(**overrides: Any) -> Iterator[Controller]:
    ctl = make_controller(**overrides)
    add_fake_account(ctl)
    ctl.start()
    try:
        yield ctl
    finally:
        ctl.close()


def request(port: int, method: str, path: str, *, headers: dict[str, str] | None = None,
            body: Any = None, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {"Host": host or f"127.0.0.1:{port}"}
    h.update(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    out = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, out


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send `data` as is (what an HTTP library would refuse to send goes out too) to 127.0.0.1
    and return everything the server answers until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer
