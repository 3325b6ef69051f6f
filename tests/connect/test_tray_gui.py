"""The tray's Connect submenu in the real app under Xvfb + trayer (GTK backend): Connect ▸
Claude Code ▸ Connect chosen with the keyboard writes Claude Code's settings and proves them
through the proxy (fake upstream); the menu then shows the check mark. Screenshots of the
submenu before and after go to test-artifacts/. Skipped where the GUI smoke test is skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.connect.samples import CLAUDE_SETTINGS
from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Reply
from tests.ui.conftest import ARTIFACTS
from tests.ui.test_browser import docs_copy
from tests.ui.test_gui_smoke import ROOT, App, _seed_account, wait_for, xserver  # noqa: F401

pytestmark = pytest.mark.gui


def connect_rows(app: App) -> list[dict[str, Any]]:
    inst = app.instance()
    assert inst is not None
    origin, token = inst["control_url"].split("/?token=")
    req = urllib.request.Request(origin + "/api/connect", headers={"X-Trayproxy-Token": token})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=60) as r:
        rows: list[dict[str, Any]] = json.loads(r.read())["clients"]
        return rows


def open_connect_submenu(app: App) -> None:
    app.open_menu()
    # Stop, Copy base URL, Connect ▸ Claude Code ▸ (Connect, Check, Undo)
    app.xdotool("key", "--delay", "250", "Down", "Down", "Down", "Right", "Right")
    time.sleep(0.8)


def test_tray_connect_submenu(xserver: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    artifacts = ARTIFACTS
    artifacts.mkdir(exist_ok=True)
    fake = FakeCloudCode()
    fake.strict_models = False
    fake.add_account("smoke@example.com", refresh_token="rt-smoke", project="proj-smoke",
                     quota={"claude-sonnet-4-6": 0.9, "gemini-2.5-flash": 0.9})
    fake.default_reply = lambda call: Reply.text("OK")
    home, user = tmp_path / "home", tmp_path / "user"
    (user / ".claude").mkdir(parents=True)
    (user / ".claude" / "settings.json").write_text(CLAUDE_SETTINGS)
    _seed_account(home)
    with fake:
        env = dict(xserver)
        env.update(fake.env())
        env.update({
            "TRAYPROXY_HOME": str(home), "HOME": str(user), "PYSTRAY_BACKEND": "gtk",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
            "PATH": "/usr/local/bin:/usr/bin:/bin", "NO_AT_BRIDGE": "1",
        })
        for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME"):
            env.pop(var, None)
        log = open(artifacts / "gui-connect.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(["dbus-run-session", "--", sys.executable, "-m", "trayproxy"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        app = App(home, env)
        try:
            wait_for(app.instance, 30, "the instance file")
            time.sleep(2.5)  # the icon docks into trayer
            app.open_menu()
            app.choose(1)  # Start
            wait_for(lambda: app.state()["status"]["running"], 20, "the proxy to start from the menu")
            time.sleep(1.0)

            open_connect_submenu(app)
            app.screenshot(artifacts / "tray-connect-before.png")
            app.xdotool("key", "Return")  # Connect
            settings = user / ".claude" / "settings.json"
            wait_for(lambda: "ANTHROPIC_BASE_URL" in settings.read_text(), 60, "Claude Code's settings to be written")
            wait_for(lambda: fake.calls_to(), 60, "the round trip to reach the upstream")
            row = wait_for(lambda: next((r for r in connect_rows(app) if r["client"] == "claude-code" and r["connected"]), None),
                           30, "Claude Code to show as connected")
            assert row["can_undo"]
            assert json.loads(settings.read_text())["permissions"] == json.loads(CLAUDE_SETTINGS)["permissions"]
            time.sleep(1.5)  # the notification, and the menu rebuilt with the check mark

            open_connect_submenu(app)
            shot = artifacts / "tray-connect.png"
            app.screenshot(shot)
            from PIL import Image

            Image.open(shot).crop((0, 0, 1280, 300)).save(shot)  # the menus and the notification
            docs_copy(shot)
            app.xdotool("key", "Down", "Down", "Return")  # Undo
            wait_for(lambda: settings.read_text() == CLAUDE_SETTINGS, 30, "undo to restore the settings")
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()
