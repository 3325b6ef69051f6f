"""`trayproxy connect` on the command line, against a running proxy (the session's
TRAYPROXY_HOME holds its config and key; HOME is a temporary folder): exit codes, what it prints,
JSON, --check, --undo, the list without a client, and no key in any of it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.connect.samples import CODEX_CONFIG
from tests.connect.test_service import stack  # noqa: F401
from trayproxy.cli import main
from trayproxy.paths import app_paths
from trayproxy.secrets import SecretStore


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "userhome"
    (h / ".codex").mkdir(parents=True)
    (h / ".codex" / "config.toml").write_text(CODEX_CONFIG)
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.setenv("PATH", f"{tmp_path / 'no-clients'}:/usr/bin:/bin")
    for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME"):
        monkeypatch.delenv(var, raising=False)
    return h


def test_connect_check_undo_and_list(stack, home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    _, ctl = stack
    port = str(ctl.status().port)
    key = ctl.api_key()
    # the CLI reads the key from the keychain of its data dir, as the running proxy does
    SecretStore(app_paths().ensure().secrets_file).set_api_key(key)

    assert main(["connect", "codex", "--check", "--port", port]) == 1
    err = capsys.readouterr().err
    assert err.startswith("✗ Codex: Codex is not connected")

    assert main(["connect", "codex", "--port", port]) == 0
    out = capsys.readouterr().out
    assert out.startswith("✓ Codex is connected — ") and "answered" in out.splitlines()[0]
    assert f"wrote {home / '.codex' / 'config.toml'}" in out and "--undo" in out
    assert key not in out

    assert main(["connect", "codex", "--check", "--port", port, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["ok"] and res["action"] == "check" and res["model"] and key not in json.dumps(res)

    assert main(["connect", "--port", port]) == 0
    listing = capsys.readouterr().out
    assert "Codex        connected" in listing and "undo available" in listing and "Claude Code  not connected" in listing

    assert main(["connect", "codex", "--undo"]) == 0
    assert capsys.readouterr().out.startswith("✓ Codex: settings restored")
    assert (home / ".codex" / "config.toml").read_text() == CODEX_CONFIG
    assert main(["connect", "codex", "--undo"]) == 1
    assert "no backup" in capsys.readouterr().err
    assert main(["connect", "--check"]) == 2
    assert os.environ["HOME"] == str(home)


def test_uses_the_running_tray_apps_port_and_key(stack, home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """With a tray app on this data dir, its live base URL and key are used (the config's port and
    this keychain's key are not the proxy's here, so success proves it)."""
    from trayproxy.control.instance import write_instance
    from trayproxy.control.login import LoginRunner
    from trayproxy.control.server import ControlServer

    _, ctl = stack
    srv = ControlServer(ctl, login=LoginRunner(ctl, open_url=lambda u: None), copy=lambda t: True, on_show=lambda: None)
    ctl.engine.call(srv.start())
    try:
        write_instance(app_paths().ensure().instance_file, srv.url, pid=os.getppid())  # "another process"
        # without trusted folders Gemini CLI would not read the files: no ✓, and the step is named
        assert main(["connect", "gemini-cli"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("✗ Gemini CLI: Gemini CLI reads these settings only in folders you trust")
        assert "--trust home" in err and ctl.api_key() not in err
        assert main(["connect", "gemini-cli", "--trust", "home"]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert out.startswith("✓ Gemini CLI is connected") and ctl.api_key() not in out
        assert "now trusts every folder under" in out
        env = (home / ".gemini" / ".env").read_text()
        assert f"GOOGLE_GEMINI_BASE_URL={ctl.status().base_url}" in env
    finally:
        ctl.engine.call(srv.stop())
