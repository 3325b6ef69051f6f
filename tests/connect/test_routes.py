"""The settings page's Connect buttons: the /api/connect routes (connect/routes.py) and the card
that uses them, over a real Controller, proxy and fake upstream (the user's HOME is a temporary
folder)."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients import client_dirs
from tests.connect.samples import CLAUDE_SETTINGS
from tests.connect.test_service import stack  # noqa: F401 (module fixture: fake upstream + running proxy)
from tests.ui.conftest import ARTIFACTS, chromium
from tests.ui.test_browser import docs_copy
from trayproxy.control.server import TOKEN_HEADER


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


@pytest.fixture
def control(stack) -> Iterator[Any]:  # noqa: F811
    from trayproxy.control.login import LoginRunner
    from trayproxy.control.server import ControlServer

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
    assert status == 200 and [c["client"] for c in data["clients"]] == ["claude-code", "codex", "gemini-cli", "opencode",
                                                                         "kilo"]
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
    status, res = api(control, "POST", {"client": "gemini-cli", "action": "connect", "options": {"trust": "home"}})
    assert status == 200 and res["ok"], res
    assert json.loads((home / ".gemini" / "trustedFolders.json").read_text()) == {os.path.realpath(home): "TRUST_FOLDER"}
    assert api(control, "POST", {"client": "gemini-cli", "action": "connect", "options": ["x"]})[0] == 400


@pytest.mark.browser
def test_page_buttons_connect_and_undo(control: Any, stack, home: Path,  # noqa: F811
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The 'Connect a client' card as a person uses it, in headless Chromium, with the pinned
    clients installed when they are (Claude Code then answers itself); screenshots go to
    test-artifacts/ (docs/screenshots/ with TRAYPROXY_UPDATE_SCREENSHOTS=1)."""
    for d in client_dirs("pinned"):
        if (Path(d) / "node_modules" / ".bin" / "claude").exists():
            monkeypatch.setenv("PATH", f"{Path(d) / 'node_modules' / '.bin'}:{os.environ['PATH']}")
            break
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        pg = browser.new_context(viewport={"width": 1000, "height": 900}, color_scheme="light").new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(control.url)
        row = pg.locator('.connect-row[data-client="claude-code"]')
        row.locator("text=Not connected").wait_for()
        assert row.locator('[data-connect-action="undo"]').is_disabled()
        row.locator('[data-connect-action="connect"]').click()
        row.locator(".connect-result.ok, .connect-result.err").wait_for(timeout=240000)
        text = row.locator(".connect-result").inner_text()
        assert text.startswith("✓ Claude Code is connected: ") and "Round trip through the proxy: " in text
        assert ctl_key(stack) not in pg.locator("#connect-card").inner_html()
        row.locator("text=✓ Connected").wait_for()
        assert row.locator('[data-connect-action="undo"]').is_enabled()
        shot = ARTIFACTS / "settings-connect.png"
        pg.locator("#connect-card").screenshot(path=str(shot))
        docs_copy(shot)

        row.locator('[data-connect-action="undo"]').click()
        row.locator(".connect-result.ok:has-text('restored')").wait_for(timeout=30000)
        row.locator("text=Not connected").wait_for()
        # Claude Code rewrites its own settings.json when it runs (keys reordered, layout, `model`
        # moved out), so undo takes back connect's keys and leaves the client's own changes
        after = json.loads((home / ".claude" / "settings.json").read_text())
        assert after["env"] == json.loads(CLAUDE_SETTINGS)["env"]
        assert after["permissions"] == json.loads(CLAUDE_SETTINGS)["permissions"]
        pg.locator("#connect-card").screenshot(path=str(ARTIFACTS / "settings-connect-undone.png"))
        browser.close()
    assert errors == []


def ctl_key(stack: Any) -> str:  # noqa: F811
    return str(stack[1].api_key())


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_page_names_a_client_on_an_old_port_and_fixes_it_in_one_click(control: Any, stack, home: Path,  # noqa: F811
                                                                       scheme: str) -> None:
    """After a port change: the row says the client points at an old port, its button says Fix,
    and one click connects it again. Gemini CLI's row asks about folder trust."""
    from tests.conftest import free_port
    from trayproxy.connect import connect
    from trayproxy.connect.command import backup_root

    _, ctl = stack
    old = f"http://127.0.0.1:{free_port()}"
    connect("claude-code", base_url=old, api_key=ctl.api_key(), backup_root=backup_root(ctl.paths.data_dir),
            run_client=False)
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        pg = browser.new_context(viewport={"width": 760, "height": 900}, color_scheme=scheme).new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(control.url)
        row = pg.locator('.connect-row[data-client="claude-code"]')
        row.locator("text=⚠ Points at an old port").wait_for()
        assert pg.locator('.connect-row[data-client="gemini-cli"] input[data-connect-option="trust"]').count() == 1
        pg.locator("#connect-card").screenshot(path=str(ARTIFACTS / f"settings-connect-stale-{scheme}.png"))
        row.locator('[data-connect-action="connect"]:has-text("Fix")').click()
        row.locator(".connect-result.ok, .connect-result.err").wait_for(timeout=120000)
        row.locator("text=✓ Connected").wait_for()
        assert json.loads((home / ".claude" / "settings.json").read_text())["env"]["ANTHROPIC_BASE_URL"] == \
            ctl.status().base_url
        browser.close()
    assert errors == []
