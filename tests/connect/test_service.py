"""connect / check / undo against a running proxy and the fake upstream: the round trip uses the
files just written and names the model that answered; undo is byte for byte; what is wrong is
said plainly (proxy not running, stale key, something else on the port, newer client)."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.connect.samples import (
    CLAUDE_SETTINGS,
    CODEX_CONFIG,
    GEMINI_ENV,
    GEMINI_SETTINGS,
    KILO_CONFIG,
    OPENCODE_AUTH,
    OPENCODE_CONFIG,
)
from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Reply
from tests.proxy.stack import running_stack
from trayproxy.connect import CLIENTS, check, connect, status, summary, undo
from trayproxy.controller import Controller

QUOTA = {"gemini-2.5-flash": 0.9, "gemini-3-flash": 0.9, "gemini-3-pro-high": 0.9, "claude-sonnet-4-6": 0.9}
SAMPLES = {
    "claude-code": {".claude/settings.json": CLAUDE_SETTINGS},
    "codex": {".codex/config.toml": CODEX_CONFIG},
    "gemini-cli": {".gemini/settings.json": GEMINI_SETTINGS, ".gemini/.env": GEMINI_ENV},
    "opencode": {".config/opencode/opencode.jsonc": OPENCODE_CONFIG, ".local/share/opencode/auth.json": OPENCODE_AUTH},
    "kilo": {".config/kilo/kilo.jsonc": KILO_CONFIG},
}
# what connect is told the user chose, per client (Gemini CLI: trust the folders under home)
OPTIONS = {"gemini-cli": {"trust": "home"}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeCloudCode, Controller]]:
    # A home of its own: module fixtures are made before the per-test TRAYPROXY_HOME, and connect's
    # backups live in the data dir, so two modules sharing the session's home saw each other's.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRAYPROXY_HOME", str(tmp_path_factory.mktemp("connect-home")))
        with running_stack(QUOTA, reply=lambda call: Reply.text("OK")) as s:
            yield s


def user_home(tmp_path: Path, client: str) -> dict[str, str]:
    home = tmp_path / "home"
    for rel, text in SAMPLES[client].items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(text)
        os.chmod(home / rel, 0o644)
    return {"HOME": str(home), "PATH": str(tmp_path / "no-clients")}


@pytest.mark.parametrize("client", list(CLIENTS))
def test_connect_proves_it_and_undo_restores_byte_for_byte(stack, tmp_path: Path, client: str) -> None:
    fake, ctl = stack
    env = user_home(tmp_path, client)
    originals = {p: p.read_bytes() for p in (Path(env["HOME"]) / rel for rel in SAMPLES[client])}
    before = len(fake.calls_to())
    res = connect(client, base_url=ctl.status().base_url, api_key=ctl.api_key(), backup_root=tmp_path / "bk", env=env,
                  options=OPTIONS.get(client))
    assert res.ok, res.to_dict()
    assert res.round_trip is not None and res.round_trip.text == "OK"
    # the model named is what the proxy says served the request, and the request went upstream
    assert res.model == fake.last().body["model"]
    assert len(fake.calls_to()) == before + 1
    assert res.client_run is None  # not installed on this PATH
    assert res.backup and set(res.files) >= {str(p) for p in originals}
    for p in originals:
        assert p.read_bytes() != originals[p]
        assert stat.S_IMODE(p.stat().st_mode) == 0o600  # it may hold the key now
    assert summary(res)[0].startswith(f"✓ {res.title} is connected — {res.model} answered")
    assert ctl.api_key() not in "\n".join(summary(res)) and ctl.api_key() not in json.dumps(res.to_dict())
    [row] = [r for r in status(base_url=ctl.status().base_url, backup_root=tmp_path / "bk", env=env) if r["client"] == client]
    assert row["connected"] and row["can_undo"] and row["installed"]["binary"] is None

    again = connect(client, base_url=ctl.status().base_url, api_key=ctl.api_key(), backup_root=tmp_path / "bk", env=env,
                    options=OPTIONS.get(client))
    assert again.ok and again.unchanged and again.backup is None

    created = [Path(f) for f in res.files if Path(f) not in originals]
    done = undo(client, backup_root=tmp_path / "bk", env=env)
    assert done.ok
    for p, data in originals.items():
        assert p.read_bytes() == data
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
    assert not any(p.exists() for p in created)  # files connect created are gone again
    assert not undo(client, backup_root=tmp_path / "bk", env=env).ok


def test_undo_of_a_first_connect_removes_the_files_it_created(stack, tmp_path: Path) -> None:
    _, ctl = stack
    env = {"HOME": str(tmp_path / "empty-home"), "PATH": str(tmp_path)}
    res = connect("gemini-cli", base_url=ctl.status().base_url, api_key=ctl.api_key(), backup_root=tmp_path / "bk",
                  env=env, options={"trust": "home"})
    assert res.ok and len(res.files) == 3
    assert undo("gemini-cli", backup_root=tmp_path / "bk", env=env).ok
    assert not (tmp_path / "empty-home" / ".gemini").exists() or not any((tmp_path / "empty-home" / ".gemini").iterdir())


def test_check_says_what_is_wrong(stack, tmp_path: Path) -> None:
    _, ctl = stack
    env = {"HOME": str(tmp_path / "h"), "PATH": str(tmp_path)}
    base = ctl.status().base_url
    res = check("codex", base_url=base, api_key=ctl.api_key(), env=env)
    assert not res.ok and "not connected" in (res.problem or "")
    assert connect("codex", base_url=base, api_key="sk-stale-key-0000000000", backup_root=tmp_path / "bk", env=env).problem
    res = check("codex", base_url=base, api_key=ctl.api_key(), env=env)
    assert not res.ok and "401" in (res.problem or "") and "connect again" in (res.problem or "")
    assert any("not the proxy's current key" in n for n in res.notes)
    assert "sk-stale-key-0000000000" not in json.dumps(res.to_dict())

    port = free_port()
    res = connect("claude-code", base_url=f"http://127.0.0.1:{port}", api_key=ctl.api_key(), backup_root=tmp_path / "bk", env=env)
    assert not res.ok and "is the proxy running?" in (res.problem or "")
    assert res.files  # written anyway, and undo is there
    assert undo("claude-code", backup_root=tmp_path / "bk", env=env).ok


def test_something_else_on_the_port_is_not_taken_for_the_proxy(tmp_path: Path) -> None:
    class Other(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = b'{"content": [{"type": "text", "text": "hi"}]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), Other)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        env = {"HOME": str(tmp_path), "PATH": str(tmp_path)}
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        res = connect("claude-code", base_url=base, api_key="sk-x-123456789", backup_root=tmp_path / "bk", env=env)
        assert not res.ok and "not trayproxy" in (res.problem or "")
    finally:
        srv.shutdown()


def test_installed_client_newer_than_tested_is_warned_and_runs_without_the_key_on_its_command_line(
        stack, tmp_path: Path) -> None:
    _, ctl = stack
    bindir = tmp_path / "bin"
    bindir.mkdir()
    argv_log = tmp_path / "argv"
    script = bindir / "claude"
    script.write_text("#!/bin/sh\n"
                      f'if [ "$1" = --version ]; then echo "99.1.0 (Claude Code)"; exit 0; fi\n'
                      f'printf "%s\\n" "$@" > {argv_log}\n'
                      'echo \'{"type":"result","is_error":false,"result":"OK"}\'\n')
    script.chmod(0o755)
    env = {"HOME": str(tmp_path / "h"), "PATH": f"{bindir}:/usr/bin:/bin", "ANTHROPIC_API_KEY": "sk-shell-0000000"}
    res = connect("claude-code", base_url=ctl.status().base_url, api_key=ctl.api_key(), backup_root=tmp_path / "bk", env=env)
    assert res.ok, res.to_dict()
    assert res.installed is not None and res.installed.version == "99.1.0" and res.installed.newer_than_tested
    assert any("newer than the newest version tested" in n for n in res.notes)
    assert res.client_run is not None and res.client_run.ok and res.client_run.output == "OK"
    argv = argv_log.read_text()
    assert "-p" in argv and ctl.api_key() not in argv


@pytest.mark.parametrize("client", list(CLIENTS))
def test_undo_keeps_what_the_user_changed_after_connect(stack, tmp_path: Path, client: str) -> None:
    """Undo takes back what connect changed, nothing else: a setting the user added to the same
    file after connecting stays (#27: undo used to put the old bytes back over it)."""
    _, ctl = stack
    env = user_home(tmp_path, client)
    home = Path(env["HOME"])
    assert connect(client, base_url=ctl.status().base_url, api_key=ctl.api_key(), backup_root=tmp_path / "bk",
                   env=env, run_client=False, options=OPTIONS.get(client)).ok
    first = home / next(iter(SAMPLES[client]))
    later = {"claude-code": ('"model": "opus",', '"model": "opus",\n  "theme": "dark",'),
             "codex": ('approval_policy = "on-request"', 'approval_policy = "never"'),
             "gemini-cli": ('"vimMode": true', '"vimMode": false'),
             "opencode": ('"share": "manual"', '"share": "disabled"'),
             "kilo": ('"autoupdate": true', '"autoupdate": false')}[client]
    text = first.read_text()
    assert later[0] in text, text
    first.write_text(text.replace(later[0], later[1]))
    done = undo(client, backup_root=tmp_path / "bk", env=env)
    assert done.ok, done.problem
    for rel, original in SAMPLES[client].items():
        expected = original.replace(later[0], later[1]) if home / rel == first else original
        assert (home / rel).read_text() == expected


def test_undo_keeps_a_symlinked_settings_file_a_symlink(stack, tmp_path: Path) -> None:
    _, ctl = stack
    env = user_home(tmp_path, "claude-code")
    settings = Path(env["HOME"]) / ".claude" / "settings.json"
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "claude.json").write_text(CLAUDE_SETTINGS)
    settings.unlink()
    settings.symlink_to(dotfiles / "claude.json")
    assert connect("claude-code", base_url=ctl.status().base_url, api_key=ctl.api_key(),
                   backup_root=tmp_path / "bk", env=env, run_client=False).ok
    assert settings.is_symlink() and "ANTHROPIC_BASE_URL" in (dotfiles / "claude.json").read_text()
    assert undo("claude-code", backup_root=tmp_path / "bk", env=env).ok
    assert settings.is_symlink() and (dotfiles / "claude.json").read_text() == CLAUDE_SETTINGS


def test_a_port_or_key_change_names_the_clients_and_one_update_fixes_them(stack, tmp_path: Path) -> None:
    from trayproxy.connect.command import update_stale

    _, ctl = stack
    env = user_home(tmp_path, "claude-code")
    base, key, root = ctl.status().base_url, ctl.api_key(), tmp_path / "bk"
    old = f"http://127.0.0.1:{free_port()}"
    assert connect("claude-code", base_url=old, api_key=key, backup_root=root, env=env, run_client=False).files
    assert connect("codex", base_url=base, api_key="sk-old-key-0000000000", backup_root=root, env=env,
                   run_client=False).files
    rows = {r["client"]: r for r in status(base_url=base, backup_root=root, env=env, versions=False, api_key=key)}
    assert (rows["claude-code"]["stale"], rows["claude-code"]["points_at"]) == ("port", old)
    assert rows["codex"]["stale"] == "key" and rows["gemini-cli"]["stale"] is None
    res = check("claude-code", base_url=base, api_key=key, env=env, run_client=False)
    assert any("trayproxy connect claude-code" in n for n in res.notes)
    # the window says it with its own button, in its language (connect/words.py)
    from trayproxy.connect.words import notice
    from trayproxy.i18n import translator

    _, body = notice(res, translator("de"))
    assert "„Beheben“" in body and "trayproxy connect" not in body
    fixed = update_stale(base, key, root, run_client=False, env=env)
    assert [r.client for r in fixed] == ["claude-code", "codex"] and all(r.ok for r in fixed)
    assert not any(r["stale"] for r in status(base_url=base, backup_root=root, env=env, versions=False, api_key=key))
    settings = Path(env["HOME"]) / ".claude" / "settings.json"
    assert undo("claude-code", backup_root=root, env=env).ok  # one step back: the old port again
    assert json.loads(settings.read_text())["env"]["ANTHROPIC_BASE_URL"] == old
    assert undo("claude-code", backup_root=root, env=env).ok
    assert settings.read_text() == CLAUDE_SETTINGS
