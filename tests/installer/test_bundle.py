"""The desktop build as a person starts it: the PyInstaller bundle (installer/build_pyinstaller.sh)
under Xvfb with a system tray (trayer) and a D-Bus session. Its tray icon appears, the proxy it
starts answers /healthz, and Quit from the tray menu ends it and frees the port.

Runs when TRAYPROXY_TEST_BUNDLE names the built executable (`.ci/run` builds it and sets it),
and skips otherwise (building takes a minute and 200 MB).
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import stop_process
from tests.ui.conftest import ARTIFACTS
from tests.ui.test_gui_smoke import App, _port_open, _seed_account, wait_for, xserver  # noqa: F401

pytestmark = pytest.mark.gui
BUNDLE = os.environ.get("TRAYPROXY_TEST_BUNDLE")
TRAYER_TINT = (0xDD, 0xDD, 0xDD)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _icon_pixels(shot: Path) -> int:
    """Pixels in trayer's first slot that are neither its background nor near it: the icon."""
    raw = Image.open(shot).convert("RGB").crop((0, 0, 32, 32)).tobytes()
    pixels = (raw[i:i + 3] for i in range(0, len(raw), 3))
    return sum(1 for px in pixels if max(abs(a - b) for a, b in zip(px, TRAYER_TINT, strict=True)) > 40)


@pytest.mark.skipif(not BUNDLE, reason="TRAYPROXY_TEST_BUNDLE is not set (build with installer/build_pyinstaller.sh)")
def test_bundle_starts_shows_its_icon_serves_and_quits(xserver: dict[str, str], tmp_path: Path,  # noqa: F811
                                                       artifacts: Path) -> None:
    exe = Path(BUNDLE or "").resolve()
    assert exe.is_file() and os.access(exe, os.X_OK), f"{exe} is not an executable"
    home = tmp_path / "home"
    _seed_account(home)
    from trayproxy.config import load_config, save_config

    cfg = load_config(home / "config.json").config
    cfg.auto_start = True  # the proxy starts with the app
    save_config(home / "config.json", cfg)
    port = cfg.port
    env = {k: v for k, v in xserver.items() if k not in ("PYTHONPATH", "PYSTRAY_BACKEND", "PYTHONHOME")}
    env.update({"TRAYPROXY_HOME": str(home), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
                "WEBKIT_DISABLE_COMPOSITING_MODE": "1", "NO_AT_BRIDGE": "1"})
    log = open(artifacts / "bundle-smoke.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(["dbus-run-session", "--", str(exe)], env=env, cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT)
    app = App(home, env)
    try:
        wait_for(app.instance, 60, "the bundle's instance file")
        wait_for(lambda: app.state()["status"]["running"], 30, "the proxy to start with the app")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            assert r.status == 200 and b'"ok"' in r.read()

        shot = artifacts / "bundle-tray.png"
        wait_for(lambda: (app.screenshot(shot), _icon_pixels(shot))[1] > 40, 30, "the tray icon in the tray")
        app.open_menu()
        app.screenshot(artifacts / "bundle-tray-menu.png")
        app.choose(6)  # Stop, Copy base URL, Connect, Open Settings..., Add Account..., Quit
        assert proc.wait(30) == 0
        assert not _port_open(port)
        assert not (home / "instance.json").exists()
    finally:
        stop_process(proc)
        log.close()
