"""Anthropic clients against a running proxy and the fake upstream: the official SDK
(create, stream helper, thinking + tool round trip, image, count_tokens, error classes) and
Claude Code running one Bash tool call."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from tests.clients import CLIENT_SETS, claude_code_env, find_cli
from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.proxy.stack import running_stack
from trayproxy.controller import Controller

QUOTA = {"claude-sonnet-4-6": 0.9, "claude-opus-4-6-thinking": 0.9, "gemini-2.5-flash": 0.9, "gemini-3-flash": 0.9}
# 1x1 transparent PNG
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000100"
    "05fe02fea7d8a6e80000000049454e44ae426082")).decode()


def scenario(call: Call) -> Reply:
    contents = call.request.get("contents", [])
    last = contents[-1] if contents else {}
    responses = [p["functionResponse"] for p in last.get("parts", []) if "functionResponse" in p]
    if responses:
        out = json.dumps(responses[0].get("response"))
        return Reply.text(f"The tool said {out}.", thoughts="The tool answered; summarise it." if call.thinking else None)
    tools = [d["name"] for t in call.request.get("tools", []) for d in t.get("functionDeclarations", [])]
    if "Bash" in tools:
        return Reply.tool_call("Bash", {"command": "echo hello-from-bash", "description": "Print a greeting"},
                               thoughts="I should run the command." if call.thinking else None)
    if "get_time" in tools:
        return Reply.tool_call("get_time", {"zone": "UTC"}, thoughts="Need the time." if call.thinking else None)
    return Reply.echo(describe="describe" in json.dumps(contents))


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeCloudCode, Controller]]:
    with running_stack(QUOTA, reply=scenario, emails=("a@example.com", "b@example.com")) as s:
        yield s


@pytest.fixture()
def client(stack) -> anthropic.Anthropic:
    _, ctl = stack
    return anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)


def test_create_and_stream(client: anthropic.Anthropic) -> None:
    m = client.messages.create(model="claude-sonnet-4-6", max_tokens=200,
                               system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
                               messages=[{"role": "user", "content": "Say hi"}])
    assert m.content[0].type == "text" and m.content[0].text == "Echo: Say hi"
    assert m.stop_reason == "end_turn" and m.usage.output_tokens > 0
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=200,
                                messages=[{"role": "user", "content": "Stream hi"}]) as s:
        pieces = list(s.text_stream)
        final = s.get_final_message()
    assert len(pieces) >= 2 and "".join(pieces) == "Echo: Stream hi" == final.content[0].text


def test_thinking_tool_round_trip(stack, client: anthropic.Anthropic) -> None:
    fake, _ = stack
    tools = [{"name": "get_time", "description": "Current time", "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": False,
        "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}]
    msgs: list[dict] = [{"role": "user", "content": "What time is it?"}]
    kw = {"model": "claude-opus-4-1-20250805", "max_tokens": 4000, "tools": tools,
          "thinking": {"type": "enabled", "budget_tokens": 2000}}
    first = client.messages.create(messages=msgs, **kw)
    assert first.stop_reason == "tool_use"
    kinds = [b.type for b in first.content]
    assert kinds[0] == "thinking" and "tool_use" in kinds
    assert first.content[0].signature
    tu = next(b for b in first.content if b.type == "tool_use")
    assert tu.name == "get_time" and tu.input == {"zone": "UTC"}
    msgs += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tu.id, "content": "12:00"}]}]
    # streamed second turn: the signatures must make it back upstream (the fake checks them)
    with client.messages.stream(messages=msgs, **kw) as s:
        final = s.get_final_message()
    assert final.stop_reason == "end_turn"
    assert "12:00" in next(b for b in final.content if b.type == "text").text
    assert fake.last().body["model"] == "claude-opus-4-6-thinking"


def test_image_and_count_tokens(stack, client: anthropic.Anthropic) -> None:
    fake, _ = stack
    m = client.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "text", "text": "describe this"}]}])
    assert "media=1" in m.content[0].text or "image/png" in m.content[0].text
    parts = fake.last().body["request"]["contents"][-1]["parts"]
    assert any(p.get("inlineData", {}).get("mimeType") == "image/png" for p in parts)
    n = client.messages.count_tokens(model="claude-sonnet-4-6", messages=[{"role": "user", "content": "count these words"}])
    assert n.input_tokens > 0
    assert fake.last("countTokens").body["request"]["contents"]


def test_error_classes(stack, client: anthropic.Anthropic) -> None:
    _, ctl = stack
    bad = anthropic.Anthropic(base_url=ctl.status().base_url, api_key="sk-wrong-123456", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError) as ei:
        client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "robot", "content": "x"}])
    assert "role" in str(ei.value)
    for a in ctl.store.all():
        ctl.pool.cool_down(a.id, "claude-sonnet-4-6", 30, "quota")
    try:
        with pytest.raises(anthropic.RateLimitError) as ei2:
            client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}])
        assert 1 <= int(ei2.value.response.headers["retry-after"]) <= 30
    finally:
        ctl.pool.clear_cooldowns()


@pytest.mark.npm
@pytest.mark.parametrize("clients", CLIENT_SETS)
def test_claude_code_runs_one_bash_tool_call(stack, tmp_path: Path, clients: str) -> None:
    claude = find_cli("claude", clients)
    fake, ctl = stack
    env, work = claude_code_env(tmp_path, ctl.status().base_url, ctl.api_key())
    before = len(fake.calls_to())
    p = subprocess.run([claude, "-p", "Run the shell command `echo hello-from-bash` and tell me what it printed",
                        "--allowedTools", "Bash", "--output-format", "json"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=240)
    out = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
    assert p.returncode == 0 and not out.get("is_error"), (p.stdout[-2000:], p.stderr[-2000:])
    # the Bash tool really ran, and its output went back upstream in a functionResponse
    assert "hello-from-bash" in out["result"]
    later = fake.calls_to()[before:]
    assert any("functionResponse" in json.dumps(r.body) and "hello-from-bash" in json.dumps(r.body) for r in later)
