"""The Connect submenu of the tray and the /api/connect routes of the settings page, over a real
Controller, proxy and fake upstream (the user's HOME is a temporary folder)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.connect.samples import CLAUDE_SETTINGS
from tests.connect.test_service import stack  # noqa: F401 (module fixture: fake upstream + running proxy)
from tests.ui.helpers import make_fake_icon_class
from trayproxy.ui.control import TOKEN_HEADER
from trayproxy.ui.tray import TrayApp


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "userhome"
    (h / ".claude").mkdir(parents=True)
    (h / ".claude" / "settings.json").write_text(CLAUDE_SETTINGS)
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.setenv("PATH", str(tmp_path / "no-clients"))
    for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME"):
        monkeypatch.delenv(var, raising=False)
    return h


def submenu(item: Any) -> dict[str, Any]:
    return {str(i.text): i for i in item.submenu.items if str(i.text)}


def test_tray_connect_menu_connects_checks_and_undoes(stack, home: Path) -> None:  # noqa: F811
    _, ctl = stack
    notes: list[tuple[str, str]] = []
    tray = TrayApp(ctl, open_settings=lambda: None, begin_login=lambda: None, copy=lambda t: True,
                   notify=lambda t, m: notes.append((t, m)), spawn=lambda fn: fn(),
                   icon_factory=make_fake_icon_class())
    top = {str(i.text): i for i in tray.icon.menu.items if str(i.text)}
    clients = submenu(top["Connect"])
    assert list(clients) == ["Claude Code", "Codex", "Gemini CLI"]
    claude = clients["Claude Code"]
    actions = submenu(claude)
    assert list(actions) == ["Connect", "Check", "Undo"]
    assert not claude.checked and not actions["Undo"].enabled

    actions["Connect"](tray.icon)
    title, body = notes[-1]
    assert title.startswith("✓ Claude Code is connected — ") and "answered" in title, notes
    assert ctl.api_key() not in title + body
    assert json.loads((home / ".claude" / "settings.json").read_text())["env"]["ANTHROPIC_BASE_URL"] == ctl.status().base_url
    assert claude.checked and actions["Undo"].enabled

    actions["Check"](tray.icon)
    assert notes[-1][0].startswith("✓ Claude Code is connected")

    actions["Undo"](tray.icon)
    assert notes[-1][0].startswith("✓ Claude Code: settings restored")
    assert (home / ".claude" / "settings.json").read_text() == CLAUDE_SETTINGS
    assert not claude.checked


@pytest.fixture
def control(stack) -> Iterator[Any]:  # noqa: F811
    from trayproxy.ui.control import ControlServer
    from trayproxy.ui.login import LoginRunner

    _, ctl = stack
    srv = ControlServer(ctl, login=LoginRunner(ctl, open_url=lambda u: None), copy=lambda t: True, on_show=lambda: None)
    ctl.engine.call(srv.start())
    try:
        yield srv
    finally:
        ctl.engine.call(srv.stop())


def api(srv: Any, method: str, body: Any = None, token: bool = True) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    headers = {"Host": f"127.0.0.1:{srv.port}", "Content-Type": "application/json"}
    if token:
        headers[TOKEN_HEADER] = srv.token
    conn.request(method, "/api/connect", body=None if body is None else json.dumps(body), headers=headers)
    r = conn.getresponse()
    data = json.loads(r.read())
    conn.close()
    return r.status, data


def test_control_api(control: Any, stack, home: Path) -> None:  # noqa: F811
    _, ctl = stack
    assert api(control, "GET", token=False)[0] == 401
    status, data = api(control, "GET")
    assert status == 200 and [c["client"] for c in data["clients"]] == ["claude-code", "codex", "gemini-cli"]
    assert not any(c["connected"] for c in data["clients"])
    status, res = api(control, "POST", {"client": "codex", "action": "connect"})
    assert status == 200 and res["ok"] and res["model"] and res["summary"][0].startswith("✓ Codex is connected")
    assert ctl.api_key() not in json.dumps(res)
    assert (home / ".codex" / "config.toml").exists()
    _, data = api(control, "GET")
    codex = next(c for c in data["clients"] if c["client"] == "codex")
    assert codex["connected"] and codex["can_undo"]
    assert api(control, "POST", {"client": "codex", "action": "undo"})[1]["ok"]
    assert not (home / ".codex" / "config.toml").exists()
    status, err = api(control, "POST", {"client": "vim", "action": "connect"})
    assert status == 400 and "claude-code" in err["error"]
