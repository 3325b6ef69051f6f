"""Claude Code's settings.json writer on a real settings file: our env block entries in, every
other setting kept, read back as the endpoint Claude Code will use."""

from __future__ import annotations

import json
from pathlib import Path

from tests.connect.samples import CLAUDE_SETTINGS
from trayproxy.connect.claude_code import ClaudeCode

BASE, KEY = "http://127.0.0.1:8045", "sk-0123456789abcdef0123456789abcdef"


def write_all(files: dict[Path, bytes]) -> None:
    for p, data in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def test_merges_into_the_users_settings(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    path = tmp_path / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text(CLAUDE_SETTINGS)
    c = ClaudeCode()
    write_all(c.render(env, BASE, KEY).contents)
    data = json.loads(path.read_text())
    before = json.loads(CLAUDE_SETTINGS)
    assert data["env"]["ANTHROPIC_BASE_URL"] == BASE and data["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY
    # the user's own API key would be sent to the proxy: it is pointed at the proxy too
    assert data["env"]["ANTHROPIC_API_KEY"] == KEY
    assert data["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"] == "0"
    for k in ("$schema", "model", "permissions", "hooks"):
        assert data[k] == before[k]
    assert list(data) == list(before)  # key order kept
    ep = c.endpoint(env)
    assert ep is not None and (ep.protocol, ep.base_url, ep.api_key) == ("anthropic", BASE, KEY)
    assert KEY not in repr(ep)
    # connecting again changes nothing
    assert c.render(env, BASE, KEY).contents == {}


def test_new_settings_file_and_config_dir_override(tmp_path: Path) -> None:
    cfg = tmp_path / "elsewhere"
    env = {"HOME": str(tmp_path / "home"), "CLAUDE_CONFIG_DIR": str(cfg)}
    c = ClaudeCode()
    files = c.render(env, BASE, KEY).contents
    assert list(files) == [cfg / "settings.json"]
    write_all(files)
    assert json.loads((cfg / "settings.json").read_text()) == {
        "env": {"ANTHROPIC_BASE_URL": BASE, "ANTHROPIC_AUTH_TOKEN": KEY}}
    assert "ANTHROPIC_API_KEY" not in json.loads((cfg / "settings.json").read_text())["env"]


def test_run_env_leaves_out_shell_variables_that_would_hide_the_file(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "ANTHROPIC_BASE_URL": "https://api.anthropic.com", "ANTHROPIC_API_KEY": "x", "PATH": "/bin"}
    out = ClaudeCode().run_env(env)
    assert "ANTHROPIC_BASE_URL" not in out and "ANTHROPIC_API_KEY" not in out and out["PATH"] == "/bin"
