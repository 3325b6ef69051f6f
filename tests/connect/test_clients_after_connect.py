"""End to end: each client as its users get it (pinned and newest npm release), with no model or
option set but what `trayproxy connect` writes, run in a new project folder under the user's home
that nobody trusted, does a multi-step tool task through the proxy against the fake upstream
(tests/connect/scenario.py scripts the model): Claude Code runs Bash, then WebSearch (a search
the proxy runs as Google runs it); Codex with its own default model writes a code-mode `exec`
script, then calls a namespaced tool; Gemini CLI lists, reads and searches the web; OpenCode and
Kilo Code run bash, then read. The client's final answer quotes a word only its tool results
held. Then undo. And Codex's long sessions: automatic compaction with the provider connect wrote
goes through routes we serve."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients import CLIENT_SETS, find_cli
from tests.connect.scenario import WORD, declared, prompt, responses, scenario
from tests.connect.test_service import OPTIONS, SAMPLES
from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.proxy.stack import running_stack
from trayproxy.connect import connect, undo
from trayproxy.controller import Controller

QUOTA = {"gemini-2.5-flash": 0.9, "gemini-3-flash": 0.9, "gemini-3-pro-high": 0.9, "claude-sonnet-4-6": 0.9,
         "claude-opus-4-6-thinking": 0.9}
BINARIES = {"claude-code": "claude", "codex": "codex", "gemini-cli": "gemini", "opencode": "opencode", "kilo": "kilo"}
# how a user runs one task headless (no model, no base URL, no key: those come from connect's files);
# Claude Code needs its tools allowed to run them without a terminal to ask on
RUN = {
    "claude-code": lambda b, p: [b, "-p", p, "--output-format", "json", "--allowedTools", "Bash,WebSearch,ToolSearch"],
    "codex": lambda b, p: [b, "exec", "--skip-git-repo-check", p],
    "gemini-cli": lambda b, p: [b, "-p", p],
    "opencode": lambda b, p: [b, "run", p],
    "kilo": lambda b, p: [b, "run", p],
}

LONG = {"tools": 0}  # tool calls so far in the long-session test (bounded, so the session ends)


def _last_user_text(call: Call) -> str:
    last = call.request["contents"][-1] if call.request.get("contents") else {}
    return " ".join(p.get("text", "") for p in last.get("parts", []))


def reply(call: Call) -> Reply:
    text = json.dumps(call.request.get("contents", []))
    if "long-session" not in text:
        return scenario(call)
    if "CONTEXT CHECKPOINT" in _last_user_text(call):  # Codex's compaction turn
        return Reply.text("Summary: ran `seq 1 400` several times; each printed 1..400.")
    if "exec_command" in declared(call) and LONG["tools"] < 4:
        LONG["tools"] += 1
        return Reply.tool_call("exec_command", {"cmd": "seq 1 400"}, thoughts="Run it.")
    return Reply.text("Done. " + "The numbers went by. " * 40)


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeCloudCode, Controller]]:
    with running_stack(QUOTA, reply=reply) as s:
        yield s


@pytest.fixture
def user_dir() -> Iterator[Path]:
    """Where a user's home lives: not under /tmp (Codex refuses to set up its sandbox helpers in
    a home under the temporary folder, and no user has one there)."""
    root = Path.home() / ".cache" / "trayproxy-e2e"
    root.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(dir=root))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def clean_env(tmp_path: Path, binary: str) -> dict[str, str]:
    """The user's environment: their own home, the client on PATH, nothing pointing anywhere."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "OPENAI_", "GEMINI_", "GOOGLE_", "CODEX_", "CLAUDE_", "OPENCODE_",
                                "KILO_", "XDG_"))}
    env.update({"HOME": str(home), "PATH": f"{Path(binary).parent}:{os.environ.get('PATH', '')}",
                "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"})
    return env


def project(env: dict[str, str]) -> Path:
    """A new project folder under the user's home, never trusted, not a git repository."""
    work = Path(env["HOME"]) / "src" / "demo"
    work.mkdir(parents=True)
    (work / "notes.txt").write_text(f"The word is {WORD}.\n")
    return work


@pytest.mark.npm
@pytest.mark.parametrize("clients", CLIENT_SETS)
@pytest.mark.parametrize("client", list(BINARIES))
def test_client_does_a_tool_task_through_the_proxy_after_connect(stack, user_dir: Path, client: str,
                                                                 clients: str) -> None:
    binary = find_cli(BINARIES[client], clients)
    tmp_path = user_dir
    fake, ctl = stack
    env = clean_env(tmp_path, binary)
    for rel, text in SAMPLES[client].items():
        (Path(env["HOME"]) / rel).parent.mkdir(parents=True, exist_ok=True)
        (Path(env["HOME"]) / rel).write_text(text)
    res = connect(client, base_url=ctl.status().base_url, api_key=ctl.api_key(), backup_root=tmp_path / "bk", env=env,
                  options=OPTIONS.get(client))
    assert res.ok, res.to_dict()
    assert res.installed is not None and res.installed.binary is not None and res.installed.version
    assert res.client_run is not None and res.client_run.ok and "OK" in (res.client_run.output or "")

    work = project(env)
    before = len(fake.calls_to())
    p = subprocess.run(RUN[client](binary, prompt(client, str(work / "notes.txt"))), cwd=work,
                       env={**env, "PWD": str(work)}, capture_output=True, text=True, timeout=420,
                       stdin=subprocess.DEVNULL)
    calls = fake.calls_to()[before:]
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    assert WORD in p.stdout, (p.stdout[-2000:], p.stderr[-2000:])
    # the model got back what the client's own tools ran, step by step
    said = [r.get("name") for c in calls for r in responses(Call(c.body["model"], c.body["request"], False, False,
                                                                 lambda: "", "", 0.0))]
    expected = {"claude-code": {"Bash", "WebSearch"}, "codex": {"exec", "sleep"} if "exec" in said else {"exec_command"},
                "gemini-cli": {"list_directory", "read_file", "google_web_search"},
                "opencode": {"bash", "read"}, "kilo": {"bash", "read"}}[client]
    assert expected <= set(said), said
    searches = [c for c in calls if c.body.get("requestType") == "web_search"]
    if client in ("claude-code", "gemini-cli"):
        assert searches and all(c.body["request"]["tools"][0].get("googleSearch") is not None for c in searches)
        assert {c.body["model"] for c in searches} <= set(fake.web_search_models)

    assert undo(client, backup_root=tmp_path / "bk", env=env).ok
    for rel, text in SAMPLES[client].items():
        if client == "claude-code":  # Claude Code rewrites its own settings.json when it runs
            assert "ANTHROPIC_BASE_URL" not in (Path(env["HOME"]) / rel).read_text()
        elif client != "kilo":  # Kilo adds a permission to its config on its first run; undo keeps that
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
