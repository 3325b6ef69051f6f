"""A strict Claude upstream end to end, through the running proxy and the fake upstream (which
refuses, for Claude models, what Claude behind Cloud Code refuses: upstream-as-it-is §4):

- union-typed tools from the anthropic and openai SDKs reach Claude models flattened, and Gemini
  models unchanged;
- Claude Code's, Codex's and Gemini CLI's real tool lists (tests/protocols/fixtures/client_tools)
  pass through each client's own route to Claude and to Gemini;
- Claude Code's billing header and the Agent SDK identity line never reach Claude (which would
  answer a bare 429);
- a thought signature the upstream refuses is retried once without the earlier thinking.

The SDK tests use the running proxy; the raw requests go to the proxy's app in the test's loop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import anthropic
import openai
import pydantic
import pytest

from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.protocols.core.test_tool_schema import UNION_TOOL
from tests.proxy.app_stack import AppStack, app_stack
from tests.proxy.stack import running_stack
from trayproxy.controller import Controller

FIXTURES = Path(__file__).parents[1] / "protocols" / "fixtures" / "client_tools"
CLAUDE, CLAUDE_THINKING, GEMINI = "claude-sonnet-4-6", "claude-opus-4-6-thinking", "gemini-3-flash"
QUOTA = {CLAUDE: 0.9, CLAUDE_THINKING: 0.9, GEMINI: 0.9}


def scenario(call: Call) -> Reply:
    contents = call.request.get("contents", [])
    if any("functionResponse" in p for p in contents[-1].get("parts", [])):
        return Reply.text("Done with the tool.")
    return Reply.echo()


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeCloudCode, Controller]]:
    """The running proxy, for the SDKs."""
    with running_stack(QUOTA, reply=scenario) as s:
        yield s


@pytest.fixture()
async def app(tmp_path: Path) -> AsyncIterator[tuple[FakeCloudCode, AppStack]]:
    """The same upstream and account, the proxy's app in the test's loop."""
    fake = FakeCloudCode()
    fake.strict_models = False
    fake.add_account("a@example.com", quota=QUOTA)
    fake.default_reply = scenario
    async with app_stack(tmp_path, fake=fake, emails=("a@example.com",), auth_mode="strict") as s:
        yield fake, s


def _declarations(fake: FakeCloudCode) -> list[dict[str, Any]]:
    req = fake.last().body["request"]
    return [d for t in req.get("tools", []) for d in t.get("functionDeclarations", [])]


def _has_union(schema: Any) -> bool:
    return any(k in json.dumps(schema) for k in ('"anyOf"', '"nullable"'))


# -- the SDKs with union-typed tools -------------------------------------------------------------


def test_anthropic_sdk_union_tool_on_claude_and_gemini(stack) -> None:
    fake, ctl = stack
    client = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    tool = {"name": "search", "description": "Search the code", "input_schema": UNION_TOOL}
    for model, flattened in ((CLAUDE, True), (CLAUDE_THINKING, True), (GEMINI, False)):
        m = client.messages.create(model=model, max_tokens=500, tools=[tool],  # type: ignore[list-item]
                                   messages=[{"role": "user", "content": "find the fox"}])
        assert m.content[-1].type == "text" and "find the fox" in m.content[-1].text, model
        (decl,) = _declarations(fake)
        assert _has_union(decl["parameters"]) is not flattened, model


class Place(pydantic.BaseModel):
    path: str
    line: int | None = None


class Search(pydantic.BaseModel):
    """Search the code."""

    query: str = pydantic.Field(min_length=1, description="What to look for")
    target: str | Place
    mode: Literal["fast", "slow"] = "fast"
    limit: int | None = pydantic.Field(default=None, ge=1, le=50)


def test_openai_sdk_union_tools_chat_and_responses_on_claude(stack) -> None:
    fake, ctl = stack
    client = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    tool = openai.pydantic_function_tool(Search)
    assert '"anyOf"' in json.dumps(tool)  # what the SDK sends is a union-typed schema
    chat = client.chat.completions.create(model=CLAUDE, tools=[tool],
                                          messages=[{"role": "user", "content": "find the fox"}])
    assert "find the fox" in (chat.choices[0].message.content or "")
    (decl,) = _declarations(fake)
    assert decl["name"] == "Search" and not _has_union(decl["parameters"])
    assert set(decl["parameters"]["properties"]) == {"query", "target", "mode", "limit"}
    fn = tool["function"]
    resp = client.responses.create(model=CLAUDE, input="find the fox", tools=[{
        "type": "function", "name": fn["name"], "description": fn.get("description"),
        "parameters": fn["parameters"], "strict": True}])
    assert "find the fox" in resp.output_text
    (decl,) = _declarations(fake)
    assert not _has_union(decl["parameters"])


# -- real client tool lists through each route ----------------------------------------------------


def _fixture(name: str) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text())["tools"]
    return tools


async def _post(ctl: AppStack, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, _, raw = await ctl.post(path, body, headers={"Authorization": f"Bearer {ctl.api_key()}"})
    return status, json.loads(raw)


@pytest.mark.parametrize("model", [CLAUDE, CLAUDE_THINKING, GEMINI])
async def test_claude_code_tools_through_messages(app, model: str) -> None:
    fake, ctl = app
    tools = _fixture("claude_code.json")
    assert '"anyOf"' in json.dumps(tools)
    status, body = await _post(ctl, "/v1/messages", {"model": model, "max_tokens": 1000, "tools": tools,
                                               "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200, body
    decls = _declarations(fake)
    assert [d["name"] for d in decls] == [t["name"] for t in tools if t.get("type") in (None, "custom")]


@pytest.mark.parametrize("model", [CLAUDE_THINKING, GEMINI])
async def test_remembered_tool_schemas_are_what_a_fresh_rewrite_gives(app, model: str) -> None:
    """Tool lists are remembered across requests: nothing along the way (the
    converter, output caps, request types, the thinking retry) may change a remembered one."""
    from trayproxy.protocols.core import tool_schema as ts

    fake, ctl = app
    tools = _fixture("claude_code.json")
    sent = []
    for _ in range(3):
        status, body = await _post(ctl, "/v1/messages", {"model": model, "max_tokens": 1000, "tools": tools,
                                                   "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200, body
        sent.append(_declarations(fake))
    assert sent[0] == sent[1] == sent[2]
    fresh = [ts.tool_schema(t["input_schema"], model) for t in tools if "input_schema" in t]
    assert [d["parameters"] for d in sent[2] if "parameters" in d] == fresh


@pytest.mark.parametrize("model", [CLAUDE, GEMINI])
async def test_codex_tools_through_responses(app, model: str) -> None:
    fake, ctl = app
    tools = _fixture("codex.json")
    status, body = await _post(ctl, "/v1/responses", {"model": model, "input": "hi", "tools": tools})
    assert status == 200, body
    names = {d["name"] for d in _declarations(fake)}
    namespaced = {f["name"] for t in tools if t["type"] == "namespace" for f in t["tools"]}
    assert namespaced and {t["name"] for t in tools if t["type"] == "function"} | namespaced == names


@pytest.mark.parametrize("model", [CLAUDE, GEMINI])
async def test_gemini_cli_tools_through_generate_content(app, model: str) -> None:
    fake, ctl = app
    tools = _fixture("gemini_cli.json")
    assert "parametersJsonSchema" in json.dumps(tools)
    status, body = await _post(ctl, f"/v1beta/models/{model}:generateContent",
                         {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "tools": tools})
    assert status == 200, body
    decls = _declarations(fake)
    assert len(decls) == sum(len(t.get("functionDeclarations", [])) for t in tools)
    if model == CLAUDE:
        assert all("parametersJsonSchema" not in d and not _has_union(d.get("parameters")) for d in decls)


async def test_the_fake_really_refuses_union_schemas_for_claude(app) -> None:
    """The counterpart that makes the tests above mean something."""
    _, ctl = app
    status, body = await _post(ctl, f"/v1beta/models/{GEMINI}:generateContent", {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [{"functionDeclarations": [{"name": "t", "parameters": {
            "type": "OBJECT", "properties": {"x": {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]}}}}]}]})
    assert status == 200, body  # Gemini takes it
    fake, _ = app
    from tests.fakes.validation import GoogleError, check_claude_tools
    with pytest.raises(GoogleError):
        check_claude_tools(fake.last().body["request"]["tools"])


# -- system prompt hygiene ------------------------------------------------------------------------


def test_agent_sdk_identity_and_billing_header_never_reach_claude(stack) -> None:
    fake, ctl = stack
    client = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    m = client.messages.create(model=CLAUDE, max_tokens=200, messages=[{"role": "user", "content": "hello"}], system=[
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.279.c3d; cc_entrypoint=sdk-ts; cch=41e0a;"},
        {"type": "text", "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK."},
        {"type": "text", "text": "Work in /src."}])
    assert m.stop_reason == "end_turn"
    system = [p["text"] for p in fake.last().body["request"]["systemInstruction"]["parts"]]
    assert system == ["You are Claude Code, Anthropic's official CLI for Claude.", "Work in /src."]


# -- signature recovery --------------------------------------------------------------------------


def test_refused_signature_is_retried_once_without_earlier_thinking_anthropic(stack) -> None:
    fake, ctl = stack
    client = anthropic.Anthropic(base_url=ctl.status().base_url, api_key=ctl.api_key(), max_retries=0)
    before = len(fake.calls_to())
    foreign = "tp1.claude.Rk9SRUlHTi1TSUdOQVRVUkU="  # the right family, but never issued by this upstream
    m = client.messages.create(
        model=CLAUDE_THINKING, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 2000},
        tools=[{"name": "Read", "description": "Read a file", "input_schema": {
            "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}],
        messages=[
            {"role": "user", "content": "Read main.py"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should read it.", "signature": foreign},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "main.py"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "print(1)"}]},
        ])
    assert m.content[-1].type == "text" and m.content[-1].text == "Done with the tool."
    calls = fake.calls_to()[before:]
    assert len(calls) == 2 and calls[0].status == 400  # (the second one's status is recorded once it has ended)
    retried = calls[1].body["request"]
    assert not any(p.get("thought") for c in retried["contents"] for p in c["parts"])
    assert "thinkingConfig" not in retried["generationConfig"]


async def test_refused_signature_is_retried_once_gemini_native(app) -> None:
    fake, ctl = app
    before = len(fake.calls_to())
    status, body = await _post(ctl, f"/v1beta/models/{GEMINI}:generateContent", {"contents": [
        {"role": "user", "parts": [{"text": "Read main.py"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "Read", "args": {"path": "main.py"}},
                                     "thoughtSignature": "Rk9SRUlHTi1TSUdOQVRVUkU="}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "Read", "response": {"result": "print(1)"}}}]},
    ], "tools": [{"functionDeclarations": [{"name": "Read", "parameters": {"type": "OBJECT", "properties": {}}}]}]})
    assert status == 200, body
    calls = fake.calls_to()[before:]
    assert len(calls) == 2 and calls[0].status == 400  # (the second one's status is recorded once it has ended)
    part = calls[1].body["request"]["contents"][1]["parts"][0]
    assert part["thoughtSignature"] == "skip_thought_signature_validator"


async def test_no_retry_when_there_is_no_thinking_to_remove(app) -> None:
    fake, ctl = app
    fake.account("a@example.com").script(Reply.error(400, message="Corrupted thought signature."))
    before = len(fake.calls_to())
    status, body = await _post(ctl, f"/v1beta/models/{GEMINI}:generateContent",
                         {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert status == 400 and "Corrupted thought signature" in json.dumps(body)
    assert len(fake.calls_to()) - before == 1


def test_refused_signature_is_retried_once_openai_chat(stack) -> None:
    """The chat route replays remembered signatures; one the upstream refuses (another session's) is
    retried once, with the bypass value on the call and no earlier thinking."""
    fake, ctl = stack
    ctl.ctx.signatures.remember([("call_old", "tp1.claude.Rk9SRUlHTi1TSUdOQVRVUkU=")])
    client = openai.OpenAI(base_url=ctl.status().openai_base_url, api_key=ctl.api_key(), max_retries=0)
    before = len(fake.calls_to())
    chat = client.chat.completions.create(model=CLAUDE_THINKING, tools=[{"type": "function", "function": {
        "name": "Read", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}], messages=[
        {"role": "user", "content": "Read main.py"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_old", "type": "function", "function": {"name": "Read", "arguments": '{"path": "main.py"}'}}]},
        {"role": "tool", "tool_call_id": "call_old", "content": "print(1)"},
    ])
    assert chat.choices[0].message.content == "Done with the tool."
    calls = fake.calls_to()[before:]
    assert len(calls) == 2 and calls[0].status == 400
    assert calls[0].body["request"]["contents"][1]["parts"][0]["thoughtSignature"] == "Rk9SRUlHTi1TSUdOQVRVUkU="
    assert calls[1].body["request"]["contents"][1]["parts"][0]["thoughtSignature"] == "skip_thought_signature_validator"
