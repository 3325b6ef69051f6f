"""`trayproxy accounts login --no-browser` against the fake Google: the URL is printed, the
address the browser ended on is pasted back, the account is added (with and without a running
instance); wrong pastes are explained and asked for again. Plus when a browser is assumed absent."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.fakes.cloudcode import FakeCloudCode
from tests.helpers import child_env, start_serve, stop_process
from trayproxy.cli_login import no_browser_reason

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def fake() -> Iterator[FakeCloudCode]:
    f = FakeCloudCode()
    f.add_account("ssh@example.com", quota={"gemini-3-flash": 0.7})
    with f:
        yield f


def _env(home: Path, fake: FakeCloudCode, *, display: bool = False) -> dict[str, str]:
    env = child_env(TRAYPROXY_HOME=str(home), **fake.env())
    for k in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "SSH_TTY", "BROWSER"):
        env.pop(k, None)
    if display:
        env["DISPLAY"] = ":424242"  # no such server: a browser would never appear
    return env


def _redirect_from(auth_url: str) -> str:
    """What the person's browser does on another machine: sign in, get sent to the loopback
    address (which does not load there). The address bar then holds the Location."""
    class NoFollow(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: object, **k: object) -> None:
            return None

    opener = urllib.request.build_opener(NoFollow, urllib.request.ProxyHandler({}))
    try:
        opener.open(auth_url, timeout=10)
    except urllib.error.HTTPError as e:
        assert e.code == 302
        return str(e.headers["Location"])
    raise AssertionError("the consent page did not redirect")


def _login(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "trayproxy", "accounts", "login", *args], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _printed_url(p: subprocess.Popen[str]) -> str:
    assert p.stdout is not None
    for _ in range(20):
        line = p.stdout.readline()
        assert line, "login ended before printing the sign-in address"
        if line.strip().startswith("http"):
            return line.strip()
    raise AssertionError("no sign-in address printed")


def test_no_browser_login_with_the_pasted_address(fake: FakeCloudCode, tmp_path: Path) -> None:
    env = _env(tmp_path / "home", fake)
    p = _login(env, "--no-browser")
    try:
        url = _printed_url(p)
        assert url.startswith(fake.auth_url) and "code_challenge_method=S256" in url and "state=" in url
        landed = _redirect_from(url)
        assert landed.startswith("http://127.0.0.1:") and "/oauth-callback?" in landed and "code=" in landed
        out, err = p.communicate(landed + "\n", timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "Signed in as ssh@example.com" in out and "project proj-ssh" in out
    code = landed.split("code=")[1].split("&")[0]
    assert code not in out + err  # the pasted secret is never echoed back
    accounts = json.loads((tmp_path / "home" / "accounts.json").read_text())["accounts"]
    assert [a["email"] for a in accounts] == ["ssh@example.com"]
    # the loopback listener never saw the browser: the paste did it
    assert [r.rpc for r in fake.requests if r.rpc.startswith("oauth.")].count("oauth.token") >= 1


def test_wrong_pastes_are_explained_and_asked_again(fake: FakeCloudCode, tmp_path: Path) -> None:
    env = _env(tmp_path / "home", fake)
    p = _login(env, "--no-browser")
    try:
        landed = _redirect_from(_printed_url(p))
        other_state = landed.replace("state=", "state=x")
        no_code = landed.split("?")[0]
        out, err = p.communicate("\n".join([other_state, no_code, landed]) + "\n", timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "belongs to another sign-in" in out and "No authorization code" in out
    assert out.count("Paste the address again") == 2 and "Signed in as ssh@example.com" in out


def test_a_refused_consent_ends_the_sign_in(fake: FakeCloudCode, tmp_path: Path) -> None:
    fake.deny_sign_in("access_denied")
    p = _login(_env(tmp_path / "home", fake), "--no-browser")
    try:
        out, err = p.communicate(_redirect_from(_printed_url(p)) + "\n", timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 1 and "access_denied" in err
    assert not (tmp_path / "home" / "accounts.json").exists()


def test_no_display_means_no_browser_and_the_running_instance_gets_the_account(fake: FakeCloudCode,
                                                                             tmp_path: Path) -> None:
    """Plain `accounts login` on a headless server: no browser is tried; `serve` (running,
    waiting for its first account) receives the account and serves it at once."""
    home = tmp_path / "home"
    env = _env(home, fake)
    port = free_port()
    serve = start_serve(env, "--port", str(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p = _login(env)
        try:
            landed = _redirect_from(_printed_url(p))
            out, err = p.communicate(landed + "\n", timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
        assert p.returncode == 0, err
        assert "there is no display, so no browser is opened here" in err
        assert "Signed in as ssh@example.com" in out and "Applied by the running trayproxy serve" in out
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert json.loads(r.read())["accounts_active"] == 1
    finally:
        stop_process(serve, 30)


@pytest.mark.parametrize(("env", "platform", "why"), [
    ({}, "linux", "there is no display"),
    ({"DISPLAY": ":0"}, "linux", None),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
    ({"SSH_CONNECTION": "10.0.0.2 5000 10.0.0.1 22", "DISPLAY": ":0"}, "linux", "this is an SSH session"),
    ({}, "darwin", None),
    ({"SSH_TTY": "/dev/ttys001"}, "darwin", "this is an SSH session"),
    ({}, "win32", None),
    ({"BROWSER": "/usr/bin/firefox %s"}, "linux", None),  # one is named: it is used
    ({"BROWSER": "www-browser"}, "linux", "BROWSER names a text browser"),
])
def test_when_no_browser_is_assumed(env: dict[str, str], platform: str, why: str | None) -> None:
    assert no_browser_reason(env, platform) == why
