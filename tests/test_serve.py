"""`trayproxy serve` as a first-time user and a container meet it: with no account it binds at
once, answers /healthz (so Docker calls it healthy) and says how to add one (through `docker
exec` in a container); the first account added from another terminal serves at once; a port
taken by another program (Antigravity-Manager on 8045) is named at start, before any account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.fakes.cloudcode import FakeCloudCode
from tests.helpers import child_env
from trayproxy.serve import in_container, waiting_message, way_in

ROOT = Path(__file__).resolve().parents[1]
DOCKER_HEALTHCHECK = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=4)"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = child_env(TRAYPROXY_HOME=str(home), **extra)
    for k in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(k, None)
    return env


def _serve(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "trayproxy", "serve", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _read_until(stream: object, needle: str, limit: int = 40) -> str:
    seen = ""
    for _ in range(limit):
        line = stream.readline()  # type: ignore[attr-defined]
        assert line, f"the stream ended before {needle!r}; so far:\n{seen}"
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"no {needle!r} in:\n{seen}")


def _get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _stop(p: subprocess.Popen[str]) -> tuple[str, str]:
    if p.poll() is None:
        p.terminate()
    try:
        return p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()


@pytest.fixture()
def fake() -> Iterator[FakeCloudCode]:
    f = FakeCloudCode()
    f.add_account("first@example.com", quota={"gemini-3-flash": 0.8})
    with f:
        yield f


def test_no_account_is_healthy_waits_and_serves_the_first_account_at_once(fake: FakeCloudCode, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home, TRAYPROXY_CONTAINER="0", **fake.env())
    port = free_port()
    p = _serve(env, "--port", str(port))
    try:
        waiting = _read_until(p.stderr, "accounts import")
        assert "No available account" in waiting and "/healthz answers" in waiting
        assert "trayproxy accounts login" in waiting and "trayproxy accounts add" in waiting
        assert "docker exec" not in waiting  # not in a container
        # healthy while waiting: what Docker's HEALTHCHECK runs exits 0
        check = subprocess.run([sys.executable, "-c", DOCKER_HEALTHCHECK.format(port=port)], timeout=30)
        assert check.returncode == 0
        ask = json.dumps({"model": "gemini-3-flash", "messages": [{"role": "user", "content": "hi"}]}).encode()
        status, body = _get(f"http://127.0.0.1:{port}/v1/chat/completions", {"Content-Type": "application/json"}, ask)
        assert status == 401  # auth `auto` asks for the key from this machine too (#27), account or not
        shown = subprocess.run([sys.executable, "-m", "trayproxy", "key", "show"], env=env, capture_output=True,
                               text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        key = shown.stdout.split()[-1]
        authed = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        status, body = _get(f"http://127.0.0.1:{port}/v1/chat/completions", authed, ask)
        assert status == 503 and "No account has been added" in json.dumps(body)
        assert p.poll() is None  # no exit, no restart loop

        add = subprocess.run([sys.executable, "-m", "trayproxy", "accounts", "add"], env=env, input="rt-first@example.com\n",
                             capture_output=True, text=True, timeout=60)
        assert add.returncode == 0, add.stderr
        assert "Applied by the running trayproxy serve" in add.stdout
        assert p.stdout is not None
        _read_until(p.stdout, "an account is ready")
        status, body = _get(f"http://127.0.0.1:{port}/v1/chat/completions", authed, ask)
        assert status == 200, body
    finally:
        _stop(p)
    assert p.returncode == 0


def test_in_a_container_the_waiting_message_gives_the_docker_exec_way_in(tmp_path: Path) -> None:
    port = free_port()
    # what installer/Dockerfile runs: LAN bind, the key on every route but the health check
    p = _serve(_env(tmp_path / "data", TRAYPROXY_CONTAINER="1"), "--port", str(port), "--lan",
               "--auth-mode", "all_except_health")
    try:
        waiting = _read_until(p.stderr, "accounts import")
        assert "accounts login --no-browser" in waiting and "docker exec -it " in waiting
        assert "mount their folder" in waiting
        check = subprocess.run([sys.executable, "-c", DOCKER_HEALTHCHECK.format(port=port)], timeout=30)
        assert check.returncode == 0
        status, _ = _get(f"http://127.0.0.1:{port}/v1/models")
        assert status == 401  # auth stays on while waiting
    finally:
        _stop(p)
    assert p.returncode == 0


def test_in_container_follows_the_variable_then_the_marker_files() -> None:
    assert in_container({"TRAYPROXY_CONTAINER": "1"}) and not in_container({"TRAYPROXY_CONTAINER": "0"})
    marked = os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv")
    assert in_container({}, interactive=False) == marked
    assert not in_container({}, interactive=True)  # a shell inside the container: no docker exec needed


def test_way_in_names_the_container_docker_gave_it() -> None:
    assert way_in(False) == "trayproxy"
    assert way_in(True, "3f2a1b4c5d6e") == "docker exec -it 3f2a1b4c5d6e trayproxy"  # Docker's default hostname
    assert way_in(True, "proxy-box") == "docker exec -it <container> trayproxy"
    text = waiting_message(True, "3f2a1b4c5d6e")
    assert "docker exec -it 3f2a1b4c5d6e trayproxy accounts login --no-browser" in text
    assert "docker exec -it 3f2a1b4c5d6e trayproxy accounts import /path" in text


@pytest.fixture()
def antigravity_manager(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """A program called antigravity_tools (Antigravity-Manager's binary) listening on a port."""
    exe = tmp_path / "bin" / "antigravity_tools"
    exe.parent.mkdir()
    exe.symlink_to(sys.executable)
    port = free_port()
    code = ("import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
            "print('ready', flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([str(exe), "-c", code, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield port, proc.pid
    finally:
        proc.kill()
        proc.wait(10)


def test_port_taken_at_start_with_no_account(antigravity_manager: tuple[int, int], tmp_path: Path) -> None:
    port, pid = antigravity_manager
    env = _env(tmp_path / "empty")
    p = _serve(env, "--port", str(port))
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1
    assert "No available account" not in err  # the port is what is wrong, and it is said first
    assert f"Port {port} is in use by Antigravity-Manager (antigravity_tools, pid {pid})." in err
    free = int(err.split("Port ")[2].split(" is free")[0])
    assert free != port and f"`trayproxy serve --port {free}` for this run" in err
    assert f"`trayproxy config set port {free}` to keep it" in err
    assert "accounts import" in err  # its accounts can come along
    # doctor says the same, also before any account
    env["TRAYPROXY_HOME"] = str(tmp_path / "empty")
    subprocess.run([sys.executable, "-m", "trayproxy", "config", "set", "port", str(port)], env=env, check=True,
                   capture_output=True, timeout=60)
    doc = subprocess.run([sys.executable, "-m", "trayproxy", "doctor"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert doc.returncode == 1
    line = next(x for x in doc.stdout.splitlines() if x.startswith("port:"))
    assert f"PROBLEM: Port {port} is in use by Antigravity-Manager (antigravity_tools, pid {pid})" in line
    assert "is free: `trayproxy config set port" in line
