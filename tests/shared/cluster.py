"""Two or three real `trayproxy serve` processes, each with its own data dir and port, sharing
the fake Cloud Code (served in the test process) and the shared engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.fakes.cloudcode import FakeCloudCode

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "ab" * 32
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Instance:
    name: str
    home: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[str] | None = None
    log: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([sys.executable, "-m", "trayproxy", *args], env=self.env, input=stdin,
                           capture_output=True, text=True, timeout=120)
        assert not check or p.returncode == 0, f"trayproxy {' '.join(args)}: {p.stdout}{p.stderr}"
        return p

    def start(self) -> None:
        out = open(self.home / "serve.log", "a")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen([sys.executable, "-m", "trayproxy", "serve", "--port", str(self.port),
                                      "--auth-mode", "all_except_health"], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     text=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def output(self) -> str:
        try:
            return (self.home / "serve.log").read_text()
        except OSError:
            return ""

    def request(self, method: str, path: str, body: Any = None, key: str | None = None,
                timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {key}"} if key else {})})
        try:
            with _OPENER.open(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def chat(self, key: str, text: str = "hi") -> int:
        return self.request("POST", "/v1/chat/completions",
                            {"model": "gemini-3-flash", "messages": [{"role": "user", "content": text}]}, key)[0]

    def ready(self) -> dict[str, Any] | None:
        try:
            status, _, body = self.request("GET", "/readyz", timeout=2)
        except OSError:
            return None
        return json.loads(body) if status in (200, 503) else None

    def wait_ready(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.ready()
            if r and r.get("ready"):
                return r
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.output()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready after {timeout} s: {self.output()[-3000:]}")

    def owner_key(self) -> str:
        return self.cli("key", "show").stdout.strip()


def make(tmp: Path, fake: FakeCloudCode, names: tuple[str, ...], *, redis_url: str = "",
         database_url: str = "") -> list[Instance]:
    out = []
    for name in names:
        home = tmp / name
        home.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRAYPROXY_")}
        env.pop("DISPLAY", None)
        env.update(fake.env())
        env.update({"TRAYPROXY_HOME": str(home), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
                    "TRAYPROXY_SECRET_KEY": SECRET_KEY, "TRAYPROXY_ZAI_BASE_URL": "http://127.0.0.1:9",
                    "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)})
        if redis_url:
            env["TRAYPROXY_REDIS_URL"] = redis_url
        if database_url:
            env["TRAYPROXY_DATABASE_URL"] = database_url
        out.append(Instance(name, home, free_port(), env))
    return out


@contextmanager
def running(tmp: Path, fake: FakeCloudCode, names: tuple[str, ...], **urls: str) -> Iterator[list[Instance]]:
    """The instances started, the fake's account added on the first (through it), all ready to
    serve; stopped at the end."""
    cluster = make(tmp, fake, names, **urls)
    try:
        for i in cluster:
            i.start()
        cluster[0].cli("accounts", "add", stdin="1//rt-shared\n")
        for i in cluster:
            i.wait_ready(30)  # the others have it through PostgreSQL
        yield cluster
    finally:
        for i in cluster:
            i.stop()


def wait(cond: Any, timeout: float, what: str, every: float = 0.05) -> float:
    """Poll cond() until true; the seconds it took."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - t0
