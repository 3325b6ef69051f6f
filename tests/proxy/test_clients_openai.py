"""OpenAI clients against a running proxy and the fake upstream: the official SDK (chat,
streaming with usage, a signed two-turn tool call, image input, JSON mode, Responses API with
previous_response_id, error classes), Codex CLI running one shell command, and OpenCode and Kilo
Code (chat completions) running one with the model the user picks (`run -m`)."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.clients import CLIENT_SETS, codex_env, find_cli, kilo_env, opencode_env
from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.proxy.stack import running_stack
from trayproxy.controller import Controller

MODEL = "gemini-3-flash"  # a thinking model: the fake signs its function calls and checks them
QUOTA = {MODEL: 0.9, "gemini-2.5-flash": 0.9, "gemini-3-pro-high": 0.9}
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000100"
    "05fe02fea7d8a6e80000000049454e44ae426082")).decode()


def scenario(call: Call) -> Reply:
    req = call.request
    contents = req.get("contents", [])
    last = contents[-1] if contents else {}
    responses = [p["functionResponse"] for p in last.get("parts", []) if "functionResponse" in p]
    if responses:
        return Reply.text(f"Tool result: {json.dumps(responses[0].get('response'))}")
    tools = [d["name"] for t in req.get("tools", []) for d in t.get("functionDeclarations", [])]
    for name, args in (("get_weather", {"city": "Paris"}), ("shell", {"command": ["bash", "-lc", "echo hello-from-codex"]}),
                       ("exec_command", {"cmd": "echo hello-from-codex"}),
                       ("bash", {"command": "echo hello-from-opencode", "description": "Say hello"})):
        if name in tools:
            return Reply.tool_call(name, args, thoughts="Let me call the tool.")
    if req.get("generationConfig", {}).get("responseMimeType") == "application/json":
        return Reply.text('{"answer": 42}')
    return Reply.echo(describe="describe" in json.dumps(contents))


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeCloudCode, Controller]]:
    with running_stack(QUOTA, reply=scenario) as s:
        yield s


@pytest.fixture()
def client(stack) -> openai.OpenAI:
    _, ctl = stack
    return openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}}]


def test_chat_non_stream_and_stream_with_usage(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "system", "content": "Be brief."},
                                                              {"role": "user", "content": "Hello chat"}])
    assert r.choices[0].message.content == "Echo: Hello chat" and r.choices[0].finish_reason == "stop"
    assert r.usage and r.usage.total_tokens > 0
    chunks = list(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hello stream"}],
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: Hello stream"
    assert chunks[-1].choices == [] and chunks[-1].usage and chunks[-1].usage.total_tokens > 0


def test_legacy_completions(client: openai.OpenAI) -> None:
    r = client.completions.create(model=MODEL, prompt="Complete me", max_tokens=50)
    assert r.object == "text_completion" and r.choices[0].text == "Echo: Complete me"
    text = "".join(c.choices[0].text for c in client.completions.create(model=MODEL, prompt="Stream me", stream=True)
                   if c.choices)
    assert text == "Echo: Stream me"


def test_two_turn_tool_call_with_signatures(stack, client: openai.OpenAI) -> None:
    fake, _ = stack
    msgs: list[dict] = [{"role": "user", "content": "Weather in Paris?"}]
    r = client.chat.completions.create(model=MODEL, messages=msgs, tools=TOOLS)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    tc = choice.message.tool_calls[0]
    assert tc.function.name == "get_weather" and json.loads(tc.function.arguments) == {"city": "Paris"}
    # the client drops every unknown field, as OpenAI clients do: only id/name/arguments go back
    msgs += [{"role": "assistant", "content": None, "tool_calls": [
        {"id": tc.id, "type": "function", "function": {"name": tc.function.name, "arguments": tc.function.arguments}}]},
        {"role": "tool", "tool_call_id": tc.id, "content": json.dumps({"temp": 21})}]
    stream = client.chat.completions.create(model=MODEL, messages=msgs, tools=TOOLS, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "21" in text
    sent = fake.last().body["request"]["contents"]
    call_parts = [p for c in sent for p in c["parts"] if "functionCall" in p]
    assert call_parts and call_parts[0]["thoughtSignature"] != "skip_thought_signature_validator"


def test_image_and_json_mode(stack, client: openai.OpenAI) -> None:
    fake, _ = stack
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "text", "text": "describe"}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}])
    assert r.choices[0].message.content
    parts = fake.last().body["request"]["contents"][-1]["parts"]
    assert any(p.get("inlineData", {}).get("mimeType") == "image/png" for p in parts)
    r = client.chat.completions.create(model=MODEL, response_format={"type": "json_object"},
                                       messages=[{"role": "user", "content": "answer in json"}])
    assert json.loads(r.choices[0].message.content or "") == {"answer": 42}


def test_responses_api(stack, client: openai.OpenAI) -> None:
    r = client.responses.create(model=MODEL, instructions="Be brief.", input="Hello responses")
    assert r.output_text == "Echo: Hello responses" and r.status == "completed"
    with client.responses.stream(model=MODEL, input="Hello streamed responses") as s:
        events = [e.type for e in s]
        final = s.get_final_response()
    assert events[0] == "response.created" and events[-1] == "response.completed"
    assert final.output_text == "Echo: Hello streamed responses"
    tools = [{"type": "function", "name": "get_weather", "description": "Weather", "parameters": TOOLS[0]["function"]["parameters"]}]
    first = client.responses.create(model=MODEL, input="Weather in Paris?", tools=tools)
    fc = next(o for o in first.output if o.type == "function_call")
    second = client.responses.create(model=MODEL, previous_response_id=first.id, tools=tools,
                                     input=[{"type": "function_call_output", "call_id": fc.call_id, "output": '{"temp": 19}'}])
    assert "19" in second.output_text


def test_error_classes(stack, client: openai.OpenAI) -> None:
    _, ctl = stack
    bad = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key="sk-wrong-123456", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model=MODEL, messages=[])
    assert "messages" in str(ei.value)
    for a in ctl.store.all():
        ctl.pool.cool_down(a.id, MODEL, 30, "quota")
    try:
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    finally:
        ctl.pool.clear_cooldowns()


@pytest.mark.npm
@pytest.mark.parametrize("clients", CLIENT_SETS)
def test_codex_exec_runs_one_shell_command(stack, tmp_path: Path, clients: str) -> None:
    codex = find_cli("codex", clients)
    fake, ctl = stack
    env, work = codex_env(tmp_path, ctl.status().openai_base_url, ctl.api_key(), MODEL)
    before = len(fake.calls_to())
    p = subprocess.run([codex, "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                        "Run `echo hello-from-codex` in the shell and report its output"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    later = fake.calls_to()[before:]
    assert any("functionResponse" in json.dumps(r.body) and "hello-from-codex" in json.dumps(r.body) for r in later), \
        (p.stdout[-2000:], p.stderr[-2000:])


@pytest.mark.npm
@pytest.mark.parametrize("clients", CLIENT_SETS)
@pytest.mark.parametrize("name", ["opencode", "kilo"])
def test_opencode_and_kilo_run_one_shell_command_with_a_picked_model(stack, tmp_path: Path, name: str,
                                                                     clients: str) -> None:
    binary = find_cli(name, clients)
    fake, ctl = stack
    env, work = (opencode_env if name == "opencode" else kilo_env)(tmp_path, ctl.status().base_url, ctl.api_key(), MODEL)
    before = len(fake.calls_to())
    p = subprocess.run([binary, "run", "-m", f"trayproxy/{MODEL}", "Run `echo hello-from-opencode` in the shell"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    later = fake.calls_to()[before:]
    assert {r.body["model"] for r in later} == {MODEL}
    assert any("functionResponse" in json.dumps(r.body) and "hello-from-opencode" in json.dumps(r.body) for r in later), \
        (p.stdout[-2000:], p.stderr[-2000:])
