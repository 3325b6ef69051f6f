from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keyring.backends.null
import pytest

from tests.conftest import free_port
from tests.helpers import wait_for_health
from trayproxy import __version__
from trayproxy.accounts.store import Account, AccountStore
from trayproxy.cli import main
from trayproxy.paths import app_paths
from trayproxy.secrets import SecretStore


def run(*args: str) -> int:
    from trayproxy.cli_notes import unroute_notices

    try:
        return main(list(args))
    finally:
        unroute_notices()  # one process runs many commands here


def test_config_show_set_and_errors(capsys: pytest.CaptureFixture[str], trayproxy_home: Path) -> None:
    assert run("config", "set", "port", "9000") == 0
    assert run("config", "set", "allow_lan_access", "on") == 0
    assert run("config", "set", "model_mapping.gpt-4o", "gemini-3-flash") == 0
    capsys.readouterr()
    assert run("config", "show") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["port"] == 9000 and shown["allow_lan_access"] is True
    assert shown["model_mapping"] == {"gpt-4o": "gemini-3-flash"}
    assert run("config", "set", "port", "abc") == 2
    assert "port must be a whole number" in capsys.readouterr().err
    assert run("config", "set", "auth_mode", "sometimes") == 2
    assert "off, strict, all_except_health, auto" in capsys.readouterr().err
    assert run("config", "set", "zai.api_key", "zai-secret-value-1") == 0
    assert "zai-secret-value-1" not in (trayproxy_home / "config.json").read_text()


def test_key_show_regenerate_set(capsys: pytest.CaptureFixture[str]) -> None:
    run("key", "show")
    k1 = capsys.readouterr().out.strip()
    run("key", "show")
    assert capsys.readouterr().out.strip() == k1 and k1.startswith("sk-") and len(k1) == 35
    run("key", "regenerate")
    assert capsys.readouterr().out.strip() != k1
    assert run("key", "set", "not-a-key") == 2
    assert "must start with 'sk-'" in capsys.readouterr().err
    assert run("key", "set", "sk-0123456789") == 0


def test_doctor_reports(capsys: pytest.CaptureFixture[str]) -> None:
    code = run("doctor")
    out = capsys.readouterr().out
    assert code == 1  # no account yet
    assert "config file:" in out and "keyring:" in out and "trayproxy accounts login" in out


def test_accounts_list_empty(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("accounts", "list") == 0
    assert "No accounts yet" in capsys.readouterr().out


def test_tray_without_display_points_to_serve() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    p = subprocess.run([sys.executable, "-m", "trayproxy"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert p.stderr.strip().count("\n") == 0 and "trayproxy serve" in p.stderr
    v = subprocess.run([sys.executable, "-m", "trayproxy", "--version"], capture_output=True, text=True, timeout=60)
    assert v.stdout.strip() == f"trayproxy {__version__}"


def _home_with_account(home: Path) -> None:
    paths = app_paths({"TRAYPROXY_HOME": str(home)}).ensure()
    store = AccountStore(paths.accounts_file, SecretStore(paths.secrets_file, backend=keyring.backends.null.Keyring()))
    acc = Account.new("a@example.com", now=time.time())
    acc.project = "proj-a"
    store.put(acc, refresh_token="rt-a")


def _serve(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TRAYPROXY_HOME": str(home), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    env.pop("DISPLAY", None)
    return subprocess.Popen([sys.executable, "-m", "trayproxy", "serve", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_serve_prints_urls_answers_and_stops_gracefully(tmp_path: Path) -> None:
    home = tmp_path / "h"
    _home_with_account(home)
    port = free_port()
    p = _serve(home, "--port", str(port))
    try:
        wait_for_health(port, p)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert f"http://127.0.0.1:{port}/v1" in out and "Active accounts: 1" in out and "Stopped." in out
    assert err.count("no system keychain") == 1  # the file fallback is announced, once, as a note
    assert "trayproxy: note: no system keychain" in err and "WARNING trayproxy.secrets" not in err


def test_serve_without_account_waits_and_explains(tmp_path: Path) -> None:
    p = _serve(tmp_path / "empty", "--port", str(free_port()))
    try:
        line = p.stderr.readline() if p.stderr else ""
        while "No available account" not in line:
            line = p.stderr.readline() if p.stderr else ""
            assert line, "serve exited without explaining"
        assert p.poll() is None  # still running, waiting for an account
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0


def test_headless_path_imports_no_display_library(tmp_path: Path) -> None:
    code = (
        "import sys, time, keyring.backends.null\n"
        "from trayproxy import cli, cli_state, serve\n"
        "from trayproxy.controller import Controller\n"
        "from trayproxy.control.local import ControlClient\n"
        "from trayproxy.paths import app_paths\n"
        "from trayproxy.control.server import ControlServer\n"
        "from trayproxy.control.instance import Instance\n"
        f"c = Controller(app_paths(), secrets_backend=keyring.backends.null.Keyring(), overrides={{'port': {free_port()}}})\n"
        "c.set_config('zai.enabled', True); c.set_config('zai.dispatch_mode', 'exclusive')\n"
        "cs = ControlServer(c, kind='serve')\n"  # serve runs the ControlServer too (the CLI's way in)
        "c.engine.call(cs.start())\n"
        "assert ControlClient(Instance(1, cs.url, 'serve', cs.cli_token)).call('cli/status')['kind'] == 'serve'\n"
        "c.start(); c.engine.call(cs.stop()); c.close()\n"
        "bad = [m for m in ('trayproxy.ui', 'pystray', 'webview', 'gi', 'PIL', 'tkinter', 'Xlib', 'PyQt6') if m in sys.modules]\n"
        "print(bad)\n"
    )
    env = {**os.environ, "TRAYPROXY_HOME": str(tmp_path / "h")}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


def test_accounts_enable_disable_without_a_running_instance(trayproxy_home: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    _home_with_account(trayproxy_home)
    paths = app_paths()

    def disabled() -> bool:
        data = json.loads(paths.accounts_file.read_text())
        return bool(data["accounts"][0]["disabled"])

    assert run("accounts", "disable", "a@example.com") == 0
    assert "Disabled a@example.com." in capsys.readouterr().out and disabled()
    assert run("accounts", "enable", "a@example.com") == 0 and not disabled()
    assert run("accounts", "enable", "nobody@example.com") == 2
    assert "No account matches 'nobody@example.com'" in capsys.readouterr().err
    from trayproxy.control.local import OwnerLock

    assert OwnerLock(paths.lock_file).try_acquire()  # each command let go of the lock


def test_secret_from_stdin_and_argument_warning(trayproxy_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("sk-from-stdin-123\n"))
    assert run("key", "set") == 0
    assert "visible to other users" not in capsys.readouterr().err
    assert run("key", "show") == 0 and capsys.readouterr().out.strip() == "sk-from-stdin-123"
    assert run("key", "set", "sk-on-the-command-line") == 0
    assert "visible to other users" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("zai key with spaces\n"))
    assert run("config", "set", "zai.api_key") == 2
    assert run("config", "set", "port") == 2 and "needs a value" in capsys.readouterr().err



async def test_logs_shows_a_planted_escape_sequence_escaped(trayproxy_home: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (issue #27, finding 5): a page's `<img src="http://127.0.0.1:8045/%1B]0;...">`
    is a GET the proxy logs; `trayproxy logs` printed its route to the terminal raw: ESC ] 0
    retitles the window, ESC [ 2J clears the screen, OSC 52 writes the clipboard."""
    from tests.proxy.app_stack import app_stack

    trayproxy_home.mkdir(parents=True, exist_ok=True)
    async with app_stack(trayproxy_home, monitor=True) as s:
        status, _, _ = await s.get("/v1/%1B]0;pwned%07%1B[2J%1B]52;c;cm0gLXJmIH4K%07")
        assert status == 404
    assert run("logs") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;pwned" in out.replace("\n", "").replace(" ", "")
    assert run("logs", "--json") == 0
    assert "\x1b" not in capsys.readouterr().out


async def test_logs_refused_shows_the_guards_refusals_per_kind_origin_and_status(
        trayproxy_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue #27: 401/403 answers were counted but nowhere to be seen. `logs --refused` lists
    them per kind, origin and status; `logs` says how many there were."""
    from tests.proxy.app_stack import app_stack

    trayproxy_home.mkdir(parents=True, exist_ok=True)
    async with app_stack(trayproxy_home, monitor=True, auth_mode="strict") as s:
        for _ in range(3):
            assert (await s.get("/v1/models"))[0] == 401
        assert (await s.get("/v1/models", headers={"Authorization": "Bearer sk-wrong-000000000000"}))[0] == 401
        assert (await s.get("/v1/models", headers={"Host": "attacker.example"}))[0] == 403
        s.configure("auth_mode", "off")
        assert (await s.get("/v1/models", headers={"Origin": "https://evil.example"}))[0] == 403
        await asyncio.to_thread(s.monitor.flush)
    assert run("logs", "--refused") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    auth = next(ln for ln in lines if ln.split()[:1] == ["auth"])
    assert "401" in auth and " 4 " in f" {auth} "  # four refusals of one kind, origin and status
    assert any(ln.split()[:1] == ["host"] and "attacker.example" in ln and "403" in ln for ln in lines), out
    assert any(ln.split()[:1] == ["origin"] and "https://evil.example" in ln for ln in lines), out
    assert run("logs", "--refused", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["kind"], r["status"], r["count"]) for r in rows} >= {("auth", 401, 4), ("host", 403, 1), ("origin", 403, 1)}
    assert run("logs") == 0
    summary = capsys.readouterr().out
    assert "6 requests refused" in summary and "trayproxy logs --refused" in summary
