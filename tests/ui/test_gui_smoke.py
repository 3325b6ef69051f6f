"""GUI smoke test: the real tray app under Xvfb + trayer + a D-Bus session (GTK backend).

Starts `python -m trayproxy`, opens the tray menu with xdotool, starts the proxy from it, opens
the settings window (pywebview), then quits from the menu. Screenshots of the menu and the
window go to test-artifacts/. Skipped unless Xvfb, trayer, dbus-run-session, xdotool,
ImageMagick's `import` and PyGObject with GTK 3 are all present.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.control.helpers import free_port
from tests.helpers import stop_process

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
IMPORT = "/usr/bin/import"  # ImageMagick (the image's /usr/local/bin/convert is a stand-in)
TOOLS = ("Xvfb", "trayer", "dbus-run-session", "xdotool")
TRAY_ICON_AT = ("17", "16")  # trayer's first slot: top-left, 32 px high


def _gtk_available() -> bool:
    code = "import gi; gi.require_version('Gtk', '3.0'); from gi.repository import Gtk"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0


def _missing() -> str | None:
    if sys.platform != "linux":
        return "Linux only"
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.path.exists(IMPORT):
        return "ImageMagick (import) is not installed"
    if not _gtk_available():
        return "PyGObject with GTK 3 is not available"
    return None


def wait_for(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _free_display() -> int:
    for n in range(91, 140):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture
def xserver() -> Iterator[dict[str, str]]:
    why = _missing()
    if why:
        pytest.skip(why)
    n = _free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x860x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")}
    env["DISPLAY"] = f":{n}"
    procs = [xvfb]
    try:
        wait_for(lambda: os.path.exists(f"/tmp/.X11-unix/X{n}"), 15, "Xvfb")
        # a neutral desktop background so screenshots read well
        subprocess.run(["xsetroot", "-solid", "#5b6b7f"], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if shutil.which("xsetroot") else None
        trayer = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "left", "--widthtype", "pixel", "--width", "120",
             "--heighttype", "pixel", "--height", "32", "--transparent", "false", "--expand", "false",
             "--SetDockType", "true", "--tint", "0xdddddd"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(trayer)
        time.sleep(1.0)
        yield env
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def _seed_account(home: Path, language: str = "auto", more: bool = False) -> None:
    import keyring.backends.null

    from trayproxy.accounts.store import Account, AccountStore
    from trayproxy.config import Config, save_config
    from trayproxy.paths import AppPaths
    from trayproxy.secrets import SecretStore

    paths = AppPaths(home, home).ensure()
    cfg = Config()
    cfg.port = free_port()
    cfg.language = language
    save_config(paths.config_file, cfg)
    # the app runs with the null keyring backend, so secrets live in the 0600 fallback file
    store = AccountStore(paths.accounts_file, SecretStore(paths.secrets_file, backend=keyring.backends.null.Keyring()))
    acc = Account.new("smoke@example.com", now=time.time())
    acc.project = "proj-smoke"
    acc.tier = "standard-tier"
    store.put(acc, refresh_token="rt-smoke")
    if more:  # an account Google wants verified, and one it will not set up: the menu says so
        v = Account.new("linus@example.com", now=time.time())
        v.project, v.tier = "proj-linus", "standard-tier"
        v.verify_at, v.verify_url = time.time(), "https://accounts.google.com/signin/continue?sarp=1"
        v.verify_message = "To continue, verify your account in a browser."
        store.put(v, refresh_token="rt-linus")
        n = Account.new("alan@example.com", now=time.time())
        n.setup_problem = "Google offers alan@example.com no Gemini Code Assist tier: not eligible in your location."
        store.put(n, refresh_token="rt-alan")


class App:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env

    def instance(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.home / "instance.json").read_text())
            return data
        except (OSError, ValueError):
            return None

    def state(self) -> dict[str, Any]:
        inst = self.instance()
        assert inst is not None
        origin, token = inst["control_url"].split("/?token=")
        req = urllib.request.Request(origin + "/api/state", headers={"X-Trayproxy-Token": token})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=10) as resp:
            data: dict[str, Any] = json.loads(resp.read())
            return data

    def xdotool(self, *args: str) -> str:
        res = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=30)
        return res.stdout.strip()

    def open_menu(self) -> None:
        self.xdotool("mousemove", *TRAY_ICON_AT, "click", "3")
        time.sleep(1.2)

    def choose(self, downs: int) -> None:
        """Pick a menu entry with the keyboard (disabled header rows are skipped by GTK)."""
        for _ in range(downs):
            self.xdotool("key", "Down")
            time.sleep(0.15)
        self.xdotool("key", "Return")

    def clipboard(self) -> str:
        res = subprocess.run(["xclip", "-o", "-selection", "clipboard"], env=self.env, capture_output=True,
                             text=True, timeout=10, stdin=subprocess.DEVNULL)
        return res.stdout

    def screenshot(self, path: Path) -> None:
        subprocess.run([IMPORT, "-window", "root", str(path)], env=self.env, check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _window_processes(home: Path) -> list[int]:
    """Pids of settings-window children started by the app that used `home`."""
    marker = f"TRAYPROXY_HOME={home}".encode()
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if b"trayproxy.ui.window" in (d / "cmdline").read_bytes() and marker in (d / "environ").read_bytes().split(b"\0"):
                pids.append(int(d.name))
        except OSError:
            continue
    return pids


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("backend", ["gtk", "appindicator"])
def test_tray_app_smoke(backend: str, xserver: dict[str, str], tmp_path: Path, artifacts: Path) -> None:
    home = tmp_path / "home"
    _seed_account(home)
    env = dict(xserver)
    env.update({
        "TRAYPROXY_HOME": str(home),
        "PYSTRAY_BACKEND": backend,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        "WEBKIT_DISABLE_COMPOSITING_MODE": "1",
        "NO_AT_BRIDGE": "1",
    })
    log = open(artifacts / f"gui-smoke-{backend}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(["dbus-run-session", "--", sys.executable, "-m", "trayproxy"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    app = App(home, env)
    try:
        wait_for(app.instance, 30, "the instance file")
        time.sleep(2.5)  # the icon docks into trayer
        st = app.state()
        assert not st["status"]["running"]
        port = st["config"]["port"]

        app.open_menu()
        app.screenshot(artifacts / f"tray-menu-stopped-{backend}.png")
        app.choose(1)  # Start
        wait_for(lambda: app.state()["status"]["running"], 20, "the proxy to start from the menu")
        assert _port_open(port)
        time.sleep(1.0)  # let the menu rebuild settle before opening it again

        if shutil.which("xclip"):  # Copy base URL > OpenAI clients, read back from the X clipboard
            app.open_menu()
            app.xdotool("key", "--delay", "200", "Down", "Down", "Right")
            time.sleep(0.6)
            app.screenshot(artifacts / f"tray-menu-copy-{backend}.png")
            app.xdotool("key", "Return")
            expected = f"http://127.0.0.1:{port}/v1"
            wait_for(lambda: app.clipboard() == expected, 10, "the base URL on the clipboard")

        time.sleep(0.5)
        app.open_menu()
        app.screenshot(artifacts / f"tray-menu-running-{backend}.png")
        app.choose(4)  # Stop, Copy base URL, Connect, Open Settings…
        wid = wait_for(lambda: app.xdotool("search", "--name", "trayproxy settings"), 30, "the settings window")
        assert _window_processes(home)
        time.sleep(4)  # page load + first /api/state
        app.screenshot(artifacts / f"settings-window-{backend}.png")
        assert wid

        app.open_menu()
        app.choose(6)  # Stop, Copy base URL, Connect, Open Settings…, Add Account…, Quit
        assert proc.wait(30) == 0
        assert not (home / "instance.json").exists()
        assert not _port_open(port)
        # the settings window process went away with the app
        wait_for(lambda: not _window_processes(home), 15, "the window process to exit")
    finally:
        stop_process(proc)
        log.close()


def test_tray_menu_in_german(xserver: dict[str, str], tmp_path: Path, artifacts: Path) -> None:
    """The tray menu as a German user sees it (language set to de): a screenshot to look at, and
    the app says it speaks German, with the same summary the page shows."""
    home = tmp_path / "home"
    _seed_account(home, language="de", more=True)
    env = dict(xserver)
    env.update({
        "TRAYPROXY_HOME": str(home),
        "PYSTRAY_BACKEND": "gtk",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        "NO_AT_BRIDGE": "1",
    })
    with open(artifacts / "gui-tray-de.log", "w") as log:
        proc = subprocess.Popen(["dbus-run-session", "--", sys.executable, "-m", "trayproxy"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        app = App(home, env)
        with _stopped_at_end(proc):
            wait_for(app.instance, 30, "the instance file")
            time.sleep(2.5)
            st = app.state()
            assert st["language"]["lang"] == "de"
            assert st["summary"]["line"] == "1 bereit \u00b7 1 muss bestätigt werden \u00b7 1 nicht berechtigt"
            app.open_menu()
            shot = artifacts / "tray-menu-de.png"
            app.screenshot(shot)
            _crop_menu(shot)
            from tests.ui.test_browser import docs_copy

            docs_copy(shot)
            app.xdotool("key", "Escape")


@contextmanager
def _stopped_at_end(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        stop_process(proc)


def _crop_menu(path: Path) -> None:
    """Keep the part of the screen the menu is on (top left), so the picture stays small."""
    from PIL import Image

    with Image.open(path) as im:
        bg = im.getpixel((im.width - 1, im.height - 1))
        box = Image.new(im.mode, im.size, bg)
        from PIL import ImageChops

        bbox = ImageChops.difference(im, box).getbbox() or (0, 0, im.width, im.height)
        im.crop((0, 0, min(im.width, bbox[2] + 16), min(im.height, bbox[3] + 16))).convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=128).save(path, optimize=True)
