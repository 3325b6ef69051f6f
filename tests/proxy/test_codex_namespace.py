"""Codex's namespace tools (multi_agent_v1: spawn_agent, close_agent, ...) end to end with the real
Codex CLI: the model's call reaches Codex's own tool (its answer is the tool's, not `unsupported
call`), because the function_call item names its namespace."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients import find_cli
from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.proxy.stack import running_stack
from trayproxy.controller import Controller

MODEL = "gemini-3-flash"


def reply(call: Call) -> Reply:
    if any("functionResponse" in p for p in call.request["contents"][-1]["parts"]):
        return Reply.text("The agent is closed.")
    tools = [d["name"] for t in call.request.get("tools", []) for d in t.get("functionDeclarations", [])]
    if "close_agent" in tools:
        return Reply.tool_call("close_agent", {"target": "agent-that-does-not-exist"})
    return Reply.echo()


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeCloudCode, Controller]]:
    with running_stack({MODEL: 0.9}, reply=reply) as s:
        yield s


@pytest.mark.npm
def test_codex_runs_a_namespace_tool(stack, tmp_path: Path) -> None:
    codex = find_cli("codex")
    fake, ctl = stack
    home, work = tmp_path / "home", tmp_path / "work"
    (home / ".codex").mkdir(parents=True)
    work.mkdir()
    (home / ".codex" / "config.toml").write_text(
        f'model = "{MODEL}"\nmodel_provider = "trayproxy"\n\n[model_providers.trayproxy]\nname = "trayproxy"\n'
        f'base_url = "{ctl.status().openai_base_url}"\nenv_key = "TRAYPROXY_API_KEY"\nwire_api = "responses"\n')
    env = {**os.environ, "HOME": str(home), "CODEX_HOME": str(home / ".codex"), "TRAYPROXY_API_KEY": ctl.api_key(),
           "NO_COLOR": "1"}
    p = subprocess.run([codex, "exec", "--skip-git-repo-check", "Close the agent"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    results = [part["functionResponse"]["response"] for r in fake.calls_to() for c in r.body["request"]["contents"]
               for part in c["parts"] if "functionResponse" in part and part["functionResponse"]["name"] == "close_agent"]
    assert results, p.stderr[-3000:]
    said = json.dumps(results[-1])
    assert "unsupported call" not in said and "agent-that-does-not-exist" in said, said
