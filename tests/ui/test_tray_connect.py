"""The tray's Connect submenu (ui/tray_connect.py), over a real Controller, proxy and fake upstream
(the user's HOME is a temporary folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pystray
import pytest

from tests.connect.samples import CLAUDE_SETTINGS
from tests.connect.test_service import stack  # noqa: F401 (module fixture: fake upstream + running proxy)
from tests.ui.helpers import make_fake_icon_class
from trayproxy.ui.tray import TrayApp


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "userhome"
    (h / ".claude").mkdir(parents=True)
    (h / ".claude" / "settings.json").write_text(CLAUDE_SETTINGS)
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.setenv("PATH", f"{tmp_path / 'no-clients'}:/usr/bin:/bin")  # no client CLIs there
    for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME"):
        monkeypatch.delenv(var, raising=False)
    return h


def submenu(item: Any) -> dict[str, Any]:
    """The items a person sees (separators and hidden items left out), by their text without ✓."""
    return {str(i.text).replace("  ✓", ""): i for i in item.submenu.items
            if str(i.text) and i.visible and i is not pystray.Menu.SEPARATOR and not str(i.text).startswith("- -")}


def connect_menu(ctl: Any, notes: list[tuple[str, str]]) -> tuple[TrayApp, dict[str, Any]]:
    """A tray on `ctl` whose notifications land in `notes`, and its Connect submenu by label."""
    tray = TrayApp(ctl, open_settings=lambda: None, begin_login=lambda: None, copy=lambda t: True,
                   notify=lambda t, m: notes.append((t, m)), spawn=lambda fn: fn(),
                   icon_factory=make_fake_icon_class())
    top = {str(i.text): i for i in tray.icon.menu.items if str(i.text)}
    return tray, submenu(top["Connect"])


def test_tray_connect_menu_connects_checks_and_undoes(stack, home: Path) -> None:  # noqa: F811
    import shutil

    from trayproxy.connect.command import backup_root

    _, ctl = stack
    # module-scoped stacks share the session's data dir: backups other modules' connects left
    # behind would make Undo available here
    shutil.rmtree(backup_root(ctl.paths.data_dir), ignore_errors=True)
    notes: list[tuple[str, str]] = []
    tray, clients = connect_menu(ctl, notes)
    assert list(clients) == ["Claude Code", "Codex", "Gemini CLI", "OpenCode", "Kilo Code"]
    assert list(submenu(clients["Gemini CLI"])) == ["Connect", "Connect and trust folders under home", "Check", "Undo"]
    claude = clients["Claude Code"]
    actions = submenu(claude)
    assert list(actions) == ["Connect", "Check", "Undo"]
    assert claude.text == "Claude Code" and not actions["Undo"].enabled

    actions["Connect"](tray.icon)
    title, body = notes[-1]
    assert title.startswith("✓ Claude Code is connected: ") and "answered" in title, notes
    assert ctl.api_key() not in title + body
    assert json.loads((home / ".claude" / "settings.json").read_text())["env"]["ANTHROPIC_BASE_URL"] == ctl.status().base_url
    assert claude.text == "Claude Code  ✓" and actions["Undo"].enabled
    assert body and "Round trip through the proxy: " in body

    actions["Check"](tray.icon)
    assert notes[-1][0].startswith("✓ Claude Code is connected")

    actions["Undo"](tray.icon)
    assert notes[-1][0].startswith("✓ Claude Code: settings restored")
    assert (home / ".claude" / "settings.json").read_text() == CLAUDE_SETTINGS
    assert claude.text == "Claude Code"


def test_tray_names_a_client_on_an_old_port_and_updates_it(stack, home: Path) -> None:  # noqa: F811
    from tests.conftest import free_port
    from trayproxy.connect import connect
    from trayproxy.connect.command import backup_root

    _, ctl = stack
    connect("claude-code", base_url=f"http://127.0.0.1:{free_port()}", api_key=ctl.api_key(),
            backup_root=backup_root(ctl.paths.data_dir), run_client=False)
    notes: list[tuple[str, str]] = []
    tray, clients = connect_menu(ctl, notes)
    assert "Claude Code  ⚠ old port" in clients and "Update 1 client to this proxy" in clients
    assert list(submenu(clients["Claude Code  ⚠ old port"]))[0] == "Fix: connect again"
    clients["Update 1 client to this proxy"](tray.icon)
    assert notes[-1][0].startswith("✓ Claude Code is connected"), notes
    after = submenu({str(i.text): i for i in tray.icon.menu.items if str(i.text)}["Connect"])
    assert "Claude Code" in after and not any(k.startswith("Update") for k in after)
