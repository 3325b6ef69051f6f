"""The tray app wiring: single instance, runtime start/quit, no display, import hygiene."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.control.helpers import MemoryKeyring, add_account, free_port, new_account
from tests.ui.helpers import make_fake_icon_class, menu_items
from trayproxy.control.instance import write_instance
from trayproxy.paths import AppPaths
from trayproxy.ui.app import TrayRuntime, run_tray_app

ROOT = Path(__file__).resolve().parents[2]


def test_second_launch_opens_running_instance(control: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = AppPaths(tmp_path / "p", tmp_path / "p").ensure()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        write_instance(paths.instance_file, control.url, pid=child.pid)
        assert run_tray_app(paths) == 0
    finally:
        child.kill()
        child.wait()
    assert control.shown == [True]
    assert "already running" in capsys.readouterr().err


class FakeWindow:
    def __init__(self) -> None:
        self.shown = 0
        self.closed = 0

    def show(self) -> None:
        self.shown += 1

    def close(self) -> None:
        self.closed += 1


def _runtime(tmp_path: Path, with_account: bool) -> tuple[TrayRuntime, Any, FakeWindow]:
    from trayproxy.controller import Controller

    paths = AppPaths(tmp_path / "rt", tmp_path / "rt")
    ctl = Controller(paths, secrets_backend=MemoryKeyring(), env={})
    ctl.set_config("port", free_port())
    if with_account:
        add_account(ctl)
    win = FakeWindow()
    rt = TrayRuntime(paths, controller=ctl, icon_factory=make_fake_icon_class(), window=win)
    return rt, ctl, win


def test_runtime_advertises_itself_and_quits_cleanly(tmp_path: Path) -> None:
    rt, ctl, win = _runtime(tmp_path, with_account=True)
    data = json.loads(rt.paths.instance_file.read_text())
    assert data == {"pid": os.getpid(), "control_url": rt.control.url, "kind": "tray", "cli_token": rt.control.cli_token}
    events: list[str] = []

    def drive(icon: Any) -> None:
        menu_items(icon.menu)["Start"](icon)
        rt.tray.icon.visible = True
        events.append("started" if _wait(lambda: ctl.status().running) else "not started")
        menu_items(icon.menu)["Open Settings…"](icon)
        _wait(lambda: win.shown == 1)
        menu_items(icon.menu)["Quit"](icon)

    rt.tray.setup = lambda icon: drive(icon)  # type: ignore[method-assign]
    rt.run()
    assert events == ["started"]
    assert win.shown == 1 and win.closed == 1
    assert not rt.paths.instance_file.exists()
    assert not ctl.server.running
    assert not ctl.engine._thread.is_alive()


def test_tray_add_account_runs_browser_sign_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rt, ctl, _ = _runtime(tmp_path, with_account=False)
    opened: list[str] = []
    notes: list[tuple[str, str]] = []
    rt.login.open_url = opened.append
    monkeypatch.setattr(rt, "_notify", lambda title, message: notes.append((title, message)))
    rt.login.on_done = rt._notify

    async def fake_login(open_url: Any, timeout: float = 300.0) -> Any:
        open_url("https://accounts.example/o/auth")
        acc = new_account("tray@example.com")  # on the loop, as the real sign-in adds it
        await ctl.store.a_put(acc, refresh_token="rt-tray@example.com")
        await ctl.a_reload()
        return acc

    monkeypatch.setattr(ctl, "a_login", fake_login)
    rt.tray.spawn = lambda fn: fn()
    menu_items(rt.tray.icon.menu)["Add Account…"](rt.tray.icon)
    assert opened == ["https://accounts.example/o/auth"]
    assert _wait(lambda: notes == [("Account added", "Signed in as tray@example.com")])
    assert _wait(lambda: "1 account ready" in menu_items(rt.tray.icon.menu))
    rt.shutdown()


def test_first_run_without_accounts_opens_settings(tmp_path: Path) -> None:
    rt, ctl, win = _runtime(tmp_path, with_account=False)

    def quit_later(icon: Any) -> None:
        rt._setup(icon)
        icon.stop()

    rt.tray.icon.run(setup=quit_later)
    rt.shutdown()
    assert win.shown == 1


def test_port_taken_at_launch_is_said_before_any_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """First run, no account, another program on the port: the tray says so at once (the
    page's banner and the menu's "Use port N and start" follow the same problem)."""
    import socket

    rt, ctl, win = _runtime(tmp_path, with_account=False)
    notes: list[tuple[str, str]] = []
    monkeypatch.setattr(rt, "_notify", lambda title, message: notes.append((title, message)))
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        ctl.set_config("port", blocker.getsockname()[1])

        def launch(icon: Any) -> None:
            rt._setup(icon)
            icon.stop()

        rt.tray.icon.run(setup=launch)
        problem = ctl.status().problem
        free = problem["suggested_port"]
        assert notes == [("trayproxy cannot use its port",
                          f"Port {problem['port']} is in use by {problem['holder']}. Port {free} is free: use it "
                          "from the menu.")]
        assert f"(pid {os.getpid()})" in problem["holder"] and win.shown == 1
        assert f"Use port {free} and start" in menu_items(rt.tray.icon.menu)
    rt.shutdown()


def test_auto_start_setting_starts_the_proxy(tmp_path: Path) -> None:
    rt, ctl, win = _runtime(tmp_path, with_account=True)
    ctl.set_config("auto_start", True)
    seen: list[bool] = []

    def check(icon: Any) -> None:
        rt._setup(icon)
        seen.append(ctl.status().running)
        icon.stop()

    rt.tray.icon.run(setup=check)
    rt.shutdown()
    assert seen == [True] and win.shown == 0


def test_mark_template_is_best_effort(tmp_path: Path) -> None:
    rt, ctl, _ = _runtime(tmp_path, with_account=False)

    class NSImage:
        template = False

        def setTemplate_(self, on: bool) -> None:  # noqa: N802 (AppKit name)
            self.template = on

    class Button:
        image: Any = None

        def setImage_(self, image: Any) -> None:  # noqa: N802
            self.image = image

    button = Button()
    rt.tray.icon._icon_image = NSImage()
    rt.tray.icon._status_item = type("Item", (), {"button": lambda self: button})()
    rt.tray.mark_template()
    assert rt.tray.icon._icon_image.template and button.image is rt.tray.icon._icon_image
    rt.shutdown()


def _wait(cond: Any, timeout: float = 10.0) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYSTRAY_BACKEND")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="these platforms always have a display")
def test_no_display_points_to_serve(tmp_path: Path) -> None:
    env = _clean_env()
    env["TRAYPROXY_HOME"] = str(tmp_path / "home")
    res = subprocess.run([sys.executable, "-m", "trayproxy"], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "trayproxy serve" in lines[0]
    assert res.stdout == ""


def test_ui_package_imports_no_display_library() -> None:
    code = (
        "import sys, trayproxy.ui, trayproxy.control.server, trayproxy.ui.window, trayproxy.ui.app;"
        "bad = [m for m in ('pystray', 'webview', 'gi', 'tkinter') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_tray_launch_while_serve_owns_the_data_dir_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A tray launch on a data dir `trayproxy serve` owns does not start a second owner."""
    from trayproxy.control.local import OwnerLock

    paths = AppPaths(tmp_path / "s", tmp_path / "s").ensure()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    held = OwnerLock(paths.lock_file)
    assert held.try_acquire()
    try:
        write_instance(paths.instance_file, "http://127.0.0.1:9/?token=t", pid=child.pid, kind="serve")
        assert run_tray_app(paths) == 1
    finally:
        held.release()
        child.kill()
        child.wait()
    err = capsys.readouterr().err
    assert f"trayproxy serve is already running for {paths.data_dir} (pid {child.pid})" in err
    assert "TRAYPROXY_HOME" in err


def test_corrupt_accounts_file_is_named_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = AppPaths(tmp_path / "c", tmp_path / "c").ensure()
    paths.accounts_file.write_text('{"accounts": [')
    import logging

    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        assert run_tray_app(paths) == 2
    finally:  # run_tray_app set up the app's log handlers: take them off again
        for h in root.handlers[:]:
            if h not in before:
                root.removeHandler(h)
                h.close()
        root.setLevel(level)
    err = capsys.readouterr().err
    assert str(paths.accounts_file) in err and "Traceback" not in err
    assert paths.accounts_file.read_text() == '{"accounts": ['


# imported on first use (Start, a Codex config, macOS), not by the idle tray app (#18: idle RSS)
NOT_AT_IDLE = ("trayproxy.proxy.app", "trayproxy.proxy.pipeline", "trayproxy.proxy.routes", "tomlkit", "plistlib")


def test_idle_tray_app_does_not_import_what_only_start_needs(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tests.ui.helpers import make_fake_icon_class\n"
        "from trayproxy.paths import AppPaths\n"
        "from trayproxy.ui.app import TrayRuntime\n"
        "class Window:\n"
        "    def show(self): pass\n"
        "    def close(self): pass\n"
        f"home = Path({str(tmp_path / 'home')!r})\n"
        "rt = TrayRuntime(AppPaths(home, home), icon_factory=make_fake_icon_class(), window=Window())\n"
        "def setup(icon):\n"
        "    rt._setup(icon)\n"
        f"    print(sorted(m for m in {NOT_AT_IDLE!r} if m in sys.modules))\n"
        "    icon.stop()\n"
        "rt.tray.icon.run(setup=setup)\n"
        "rt.shutdown()\n"
    )
    env = _clean_env()
    env["PYSTRAY_BACKEND"] = "dummy"
    res = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "[]"
