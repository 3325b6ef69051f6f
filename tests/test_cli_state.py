"""One owner of state: a real `trayproxy serve` process, and the CLI in other processes.

Every change the CLI makes while serve runs is live in the running proxy (checked by requests to
it, waiting on the condition, never on a clock), and nothing the proxy holds in memory writes
over it. Broken files fail closed or stop with a message naming the file, never a traceback.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.fakes.anthropic_api import ZAI_KEY, FakeAnthropic
from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.runner import ServerThread
from tests.helpers import request

MODEL = "gemini-2.5-flash"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCloudCode]:
    f = FakeCloudCode()
    f.strict_models = False
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        f.add_account(email, quota={MODEL: 1.0})
    with f:
        yield f


@pytest.fixture(scope="module")
def zai() -> Iterator[str]:
    with ServerThread(FakeAnthropic().app()) as url:
        yield url


class Serve:
    """`trayproxy serve` in its own process, and the CLI in others, on one data dir."""

    def __init__(self, home: Path, fake: FakeCloudCode) -> None:
        self.home = home
        self.port = free_port()
        self.env = {**os.environ, **fake.env(), "TRAYPROXY_HOME": str(home),
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
        self.env.pop("DISPLAY", None)
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "trayproxy", *args], env=self.env, input=stdin or "",
                              capture_output=True, text=True, timeout=120)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        p = self.cli(*args, stdin=stdin)
        assert p.returncode == 0, p.stderr
        assert "Traceback" not in p.stderr
        return p.stdout

    def start(self, *args: str, wait_for: str = "Press Ctrl-C") -> Serve:
        self.proc = subprocess.Popen([sys.executable, "-m", "trayproxy", "serve", "--port", str(self.port), *args],
                                     env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err = []
        self.lines = queue.Queue()
        for stream, sink in ((self.proc.stdout, self.out.append), (self.proc.stderr, self.err.append)):
            threading.Thread(target=_pump, args=(stream, sink, self.lines.put), daemon=True).start()
        while True:
            try:
                line = self.lines.get(timeout=60)
            except queue.Empty:
                raise AssertionError("serve did not start: " + "".join(self.err)) from None
            if wait_for in line:
                return self

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()

    def key(self) -> str:
        """The instance's API key (auth_mode auto asks for it)."""
        if not getattr(self, "_key", None):
            self._key = self.ok("key", "show").strip()
        return self._key

    def chat(self, key: str | None = None) -> int:
        """A chat request with `key`, by default the instance's own; "" sends none."""
        key = self.key() if key is None else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        try:
            return request(self.port, "POST", "/v1/chat/completions", headers=headers, body=body)[0]
        except OSError:  # not listening (yet, or any more): `until` asks again
            return 0

    def emails(self) -> list[str]:
        data = json.loads((self.home / "accounts.json").read_text())
        return sorted(a["email"] for a in data["accounts"])


def _pump(stream: Any, sink: Callable[[str], None], seen: Callable[[str], None]) -> None:
    for line in stream:
        sink(line)
        seen(line)


def until(cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait for a condition (polling); the deadline only bounds a broken run."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


@pytest.fixture()
def serve(tmp_path: Path, fake: FakeCloudCode) -> Iterator[Serve]:
    s = Serve(tmp_path / "home", fake)
    yield s
    if s.proc is not None and s.proc.poll() is None:
        s.stop()


def test_accounts_add_remove_enable_disable_are_live(serve: Serve) -> None:
    serve.start(wait_for="No available account")  # waits for a first account
    out = serve.ok("accounts", "add", stdin="rt-a@example.com\n")  # the token from stdin
    assert "Added a@example.com" in out and "Applied by the running trayproxy serve" in out
    until(lambda: serve.chat() == 200, "the proxy started on the first account")
    p = serve.cli("accounts", "add", "--refresh-token", "rt-b@example.com")
    assert p.returncode == 0 and "visible to other users" in p.stderr
    assert serve.emails() == ["a@example.com", "b@example.com"]

    # remove: gone from the running proxy, and never written back by it
    assert "Removed a@example.com" in serve.ok("accounts", "remove", "a@example.com")
    for _ in range(3):
        assert serve.chat() == 200  # served by b; every request saves account state
    assert serve.emails() == ["b@example.com"]
    assert "a@example.com" not in serve.ok("accounts", "list")

    # disable / enable: out of and back into rotation at once
    assert "Disabled b@example.com" in serve.ok("accounts", "disable", "b@example.com")
    until(lambda: serve.chat() == 503, "a request with every account disabled is refused")
    assert "Disabled by you" in serve.ok("accounts", "list")
    assert "Enabled b@example.com" in serve.ok("accounts", "enable", "b@example.com")
    until(lambda: serve.chat() == 200, "the enabled account serves again")

    # unknown account: a clear message, no traceback
    p = serve.cli("accounts", "remove", "nobody@example.com")
    assert p.returncode == 2 and "No account matches" in p.stderr and "Traceback" not in p.stderr

    assert serve.stop() == 0
    # a removed account stays removed after a restart too
    serve.start()
    assert "Active accounts: 1" in "".join(serve.out)
    assert serve.emails() == ["b@example.com"]


def test_retry_clears_the_running_instances_cooldown(serve: Serve, fake: FakeCloudCode) -> None:
    # Cooldowns live in the running proxy's memory: `accounts list` and `accounts retry` from
    # another process must see and clear those, not a copy of their own.
    from tests.fakes.replies import Reply

    serve.start(wait_for="No available account")
    serve.ok("accounts", "add", stdin="rt-a@example.com\n")
    until(lambda: serve.chat() == 200, "the proxy started on the first account")
    fake.account("a@example.com").script(Reply.error(429, reason="QUOTA_EXHAUSTED", reset_delay="2h"))
    assert serve.chat() == 429
    assert "resting until" in serve.ok("accounts", "list")
    out = serve.ok("accounts", "retry", "a@example.com")
    assert "a@example.com: Ready" in out and "Applied by the running trayproxy serve" in out
    assert serve.chat() == 200


def test_login_goes_to_the_running_instance(serve: Serve, fake: FakeCloudCode, tmp_path: Path) -> None:
    """`accounts login` signs in from the CLI process; the account lands in the running proxy."""
    browser = tmp_path / "browser.py"  # a "browser" that follows the sign-in link (the fake signs in)
    browser.write_text("import sys, urllib.request\nurllib.request.urlopen(sys.argv[1], timeout=30).read()\n")
    serve.env["BROWSER"] = f"{sys.executable} {browser} %s"
    serve.start(wait_for="No available account")
    fake.sign_in_as(fake.account("b@example.com"))
    try:
        out = serve.ok("accounts", "login")
    finally:
        fake.signing_in = None
    assert "Signed in as b@example.com" in out and "Applied by the running trayproxy serve" in out
    until(lambda: serve.chat() == 200, "the proxy started on the signed-in account")


def test_config_set_auth_and_key_are_live(serve: Serve) -> None:
    serve.cli("accounts", "add", stdin="rt-c@example.com\n")  # no instance yet: straight to the files
    serve.start()
    assert serve.chat("") == 401 and serve.chat() == 200  # auto asks for the key, local-only too (issue #27)
    serve.ok("config", "set", "auth_mode", "off")
    until(lambda: serve.chat("") == 200, "a keyless request is served after `config set auth_mode off`")
    out = serve.ok("config", "set", "auth_mode", "strict")
    assert "auth_mode = \"strict\"" in out and "Applied by the running trayproxy serve" in out
    until(lambda: serve.chat("") == 401, "a keyless request is refused after `config set auth_mode strict`")
    key = serve.ok("key", "show").strip()
    assert serve.chat(key) == 200

    new = serve.ok("key", "regenerate").strip()
    assert new != key and new.startswith("sk-")
    until(lambda: serve.chat(key) == 401, "the old key stops working")
    assert serve.chat(new) == 200
    serve.ok("key", "set", stdin="sk-typed-at-the-prompt\n")
    until(lambda: serve.chat("sk-typed-at-the-prompt") == 200, "the key set from stdin works")

    # port cannot move under a bound socket: saved, and the command says so
    other = free_port()
    out = serve.ok("config", "set", "port", str(other))
    assert f"127.0.0.1:{serve.port}" in out and "restart `trayproxy serve`" in out
    assert serve.chat("sk-typed-at-the-prompt") == 200


def test_zai_key_change_is_live(serve: Serve, zai: str) -> None:
    serve.start(wait_for="No available account")
    serve.ok("config", "set", "zai.base_url", zai + "/api/anthropic")
    serve.ok("config", "set", "zai.dispatch_mode", "exclusive")
    serve.ok("config", "set", "zai.enabled", "true")  # z.ai alone lets the proxy start

    def ask() -> int:
        body = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
        return request(serve.port, "POST", "/v1/messages", body=body,
                       headers={"anthropic-version": "2023-06-01", "x-api-key": serve.key()})[0]

    until(lambda: serve.cli("accounts", "list").returncode == 0 and _listening(serve.port), "the proxy started")
    assert ask() == 400  # no z.ai key yet: the proxy says how to set one
    out = serve.ok("config", "set", "zai.api_key", stdin=ZAI_KEY + "\n")
    assert "z.ai API key stored" in out
    until(lambda: ask() == 200, "requests go through with the new z.ai key")
    serve.ok("config", "set", "zai.api_key", stdin="zai-wrong-key-0000\n")
    until(lambda: ask() == 502, "a wrong z.ai key is used at once (z.ai refuses it)")
    assert ZAI_KEY not in (serve.home / "config.json").read_text()


def _listening(port: int) -> bool:
    try:
        return request(port, "GET", "/healthz")[0] == 200
    except OSError:
        return False


def test_corrupt_config_keeps_strict_auth_until_fixed(serve: Serve) -> None:
    serve.cli("accounts", "add", stdin="rt-c@example.com\n")
    broken = '{\n  "auth_mode": "strict",\n  "port": 8045,,\n}\n'
    (serve.home / "config.json").write_text(broken)
    serve.start()
    until(lambda: "line 3" in "".join(serve.err) and "until the file is fixed" in "".join(serve.err),
          "the settings-file warning on stderr")
    assert "Auth: strict" in "".join(serve.out)
    assert serve.chat("") == 401
    assert (serve.home / "config.json").read_text() == broken  # left for the user to fix
    doctor = serve.cli("doctor")
    assert "config:       PROBLEM" in doctor.stdout and "line 3" in doctor.stdout
    # fixed by hand: the running instance picks it up
    (serve.home / "config.json").write_text('{"auth_mode": "off"}\n')
    until(lambda: serve.chat("") == 200, "the fixed config is loaded by the running proxy")
    assert "config:       ok" in serve.cli("doctor").stdout


@pytest.mark.parametrize("name", ["accounts.json", "secrets.json"])
def test_corrupt_accounts_or_secrets_file_named_without_traceback(serve: Serve, name: str) -> None:
    serve.cli("accounts", "add", stdin="rt-c@example.com\n")
    path = serve.home / name
    garbage = path.read_text()[:-7] + "\x00{{"
    path.write_text(garbage)
    commands = [("serve", "--port", str(serve.port)), ("accounts", "list"), ("accounts", "remove", "c@example.com")]
    if name == "secrets.json":
        commands.append(("key", "show"))
    for args in commands:
        p = serve.cli(*args)
        assert p.returncode != 0, args
        assert str(path) in p.stderr and "Traceback" not in p.stderr, (args, p.stderr)
    doctor = serve.cli("doctor")
    assert doctor.returncode == 1 and "PROBLEM" in doctor.stdout and str(path) in doctor.stdout
    assert "Traceback" not in doctor.stderr
    assert path.read_text() == garbage  # nothing that could be recovered was overwritten


def test_second_instance_says_which_runs_and_how_to_reach_it(serve: Serve) -> None:
    serve.cli("accounts", "add", stdin="rt-c@example.com\n")
    serve.start()
    p = serve.cli("serve", "--port", str(free_port()))
    assert p.returncode == 1 and "trayproxy serve is already running" in p.stderr
    assert f"http://127.0.0.1:{serve.port}" in p.stderr and "TRAYPROXY_HOME" in p.stderr


def test_port_in_use_says_what_to_do(serve: Serve) -> None:
    import socket

    serve.cli("accounts", "add", stdin="rt-c@example.com\n")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", serve.port))
        blocker.listen()
        p = serve.cli("serve", "--port", str(serve.port))
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "--port" in p.stderr and "trayproxy config set port" in p.stderr and " is free: " in p.stderr
    assert "No available account" not in p.stderr


def test_lan_prints_addresses_and_warns_without_auth(serve: Serve) -> None:
    serve.cli("accounts", "add", stdin="rt-c@example.com\n")
    serve.start("--lan", "--auth-mode", "off")
    out = "".join(serve.out)
    assert "listening on 0.0.0.0" in out and "From other machines:" in out
    # stderr is read by its own thread: wait for the line rather than race it
    until(lambda: "WARNING: LAN access is on and auth_mode is off" in "".join(serve.err), "the LAN warning")
