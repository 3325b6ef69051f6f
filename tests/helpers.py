"""Shared test helpers: a Controller in the test's TRAYPROXY_HOME, raw HTTP calls."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


# -- processes (serve, the tray app, a built bundle) ----------------------------------------------


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Terminate a child the test started, and kill it if it does not go."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def wait_for_health(port: int, proc: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """Until 127.0.0.1:port/healthz answers ok; fails with the child's stderr if it exits first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                assert json.loads(r.read())["status"] == "ok"
            return
        except OSError:
            err = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
            assert time.monotonic() < deadline and proc.poll() is None, f"no /healthz on {port}: {err}"
            time.sleep(0.05)


def start_serve(env: dict[str, str], *args: str, stdout: Any = subprocess.PIPE,
                stderr: Any = subprocess.PIPE, timeout: float = 30.0) -> subprocess.Popen[str]:
    """`trayproxy serve ARGS` in env's TRAYPROXY_HOME, returned once it advertises itself (the
    CLI finds it from then on)."""
    proc = subprocess.Popen([sys.executable, "-m", "trayproxy", "serve", *args], env=env, stdout=stdout,
                            stderr=stderr, text=True)
    instance = Path(env["TRAYPROXY_HOME"]) / "instance.json"
    deadline = time.monotonic() + timeout
    while not instance.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            stop_process(proc)
            raise AssertionError(f"serve did not start in {env['TRAYPROXY_HOME']}")
        time.sleep(0.05)
    return proc


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a trayproxy child: this checkout importable, the null keyring."""
    root = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "PYTHONPATH": root, **extra}
