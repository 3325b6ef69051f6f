"""End to end: `connect` with the real client installed (pinned and newest), in a fresh home with
the user's sample files; the client itself then answers through the proxy with only the files
connect wrote (no base URL or key in its environment or on its command line). And Codex's long
sessions: automatic compaction with the provider connect wrote goes through routes we serve."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients import CLIENT_SETS, find_cli
from tests.connect.test_service import SAMPLES
from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.proxy.stack import running_stack
from trayproxy.connect import connect, undo
from trayproxy.controller import Controller

QUOTA = {"gemini-2.5-flash": 0.9, "gemini-3-flash": 0.9, "gemini-3-pro-high": 0.9, "claude-sonnet-4-6": 0.9,
         "claude-opus-4-6-thinking": 0.9}
BINARIES = {"claude-code": "claude", "codex": "codex", "gemini-cli": "gemini"}


LONG = {"tools": 0}  # tool calls so far in the long-session test (bounded, so the session ends)


def _last_user_text(call: Call) -> str:
    last = call.request["contents"][-1] if call.request.get("contents") else {}
    return " ".join(p.get("text", "") for p in last.get("parts", []))


def scenario(call: Call) -> Reply:
    text = json.dumps(call.request.get("contents", []))
    if "long-session" not in text:
        return Reply.text("OK")
    if "CONTEXT CHECKPOINT" in _last_user_text(call):  # Codex's compaction turn
        return Reply.text("Summary: ran `seq 1 400` several times; each printed 1..400.")
    tools = [d["name"] for t in call.request.get("tools", []) for d in t.get("functionDeclarations", [])]
    if "exec_command" in tools and LONG["tools"] < 4:
        LONG["tools"] += 1
        return Reply.tool_call("exec_command", {"cmd": "seq 1 400"}, thoughts="Run it.")
    return Reply.text("Done. " + "The numbers went by. " * 40)


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeCloudCode, Controller]]:
    with running_stack(QUOTA, reply=scenario) as s:
        yield s


def clean_env(tmp_path: Path, binary: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "OPENAI_", "GEMINI_", "GOOGLE_", "CODEX_", "CLAUDE_"))}
    env.update({"HOME": str(home), "PATH": f"{Path(binary).parent}:{os.environ.get('PATH', '')}",
                "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"})
    return env


@pytest.mark.npm
@pytest.mark.parametrize("clients", CLIENT_SETS)
@pytest.mark.parametrize("client", list(BINARIES))
def test_client_answers_through_the_proxy_after_connect(stack, tmp_path: Path, client: str, clients: str) -> None:
    binary = find_cli(BINARIES[client], clients)
    fake, ctl = stack
    env = clean_env(tmp_path, binary)
    for rel, text in SAMPLES[client].items():
        (Path(env["HOME"]) / rel).parent.mkdir(parents=True, exist_ok=True)
        (Path(env["HOME"]) / rel).write_text(text)
    before = len(fake.calls_to())
    res = connect(client, base_url=ctl.status().base_url, api_key=ctl.api_key(), backup_root=tmp_path / "bk", env=env)
    assert res.ok, res.to_dict()
    assert res.installed is not None and res.installed.binary is not None and res.installed.version
    assert res.client_run is not None and res.client_run.ok and "OK" in (res.client_run.output or "")
    # the round trip plus the client's own requests reached the upstream through the proxy
    assert len(fake.calls_to()) >= before + 2
    assert undo(client, backup_root=tmp_path / "bk", env=env).ok
    for rel, text in SAMPLES[client].items():
        assert (Path(env["HOME"]) / rel).read_text() == text


@pytest.mark.npm
@pytest.mark.parametrize("clients", CLIENT_SETS)
def test_codex_long_session_compacts_through_served_routes(stack, tmp_path: Path, clients: str) -> None:
    codex = find_cli("codex", clients)
    fake, ctl = stack
    env = clean_env(tmp_path, codex)
    res = connect("codex", base_url=ctl.status().base_url, api_key=ctl.api_key(), backup_root=tmp_path / "bk",
                  env=env, run_client=False)
    assert res.ok, res.to_dict()
    cfg = Path(env["HOME"]) / ".codex" / "config.toml"
    cfg.write_text('model = "gemini-3-flash"\nmodel_auto_compact_token_limit = 1000\n' + cfg.read_text())
    LONG["tools"] = 0
    ctl.monitor.flush()
    seen_before = {r["id"] for r in ctl.monitor.recent(limit=1000)}
    calls_before = len(fake.calls_to())
    work = tmp_path / "work"
    work.mkdir()
    p = subprocess.run([codex, "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                        "long-session: run `seq 1 400` a few times and summarise"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, (p.stdout[-1500:], p.stderr[-2500:])
    later = fake.calls_to()[calls_before:]
    # Codex compacted the conversation (its compaction prompt went upstream as a turn) ...
    assert any("CONTEXT CHECKPOINT" in json.dumps(c.body) for c in later), "no compaction happened"
    # ... and everything it called is a route the proxy serves, answered without error
    ctl.monitor.flush()
    rows = [r for r in ctl.monitor.recent(limit=1000) if r["id"] not in seen_before]
    routes = Counter((r["route"], r["status"]) for r in rows)
    assert rows and set(routes) == {("/v1/responses", 200)}, routes
