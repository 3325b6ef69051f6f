"""Gemini-native clients against a running proxy and the fake upstream: google-genai, the
seed's google.generativeai snippet, and Gemini CLI."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients import CLIENT_SETS, find_cli, gemini_cli_env
from tests.fakes.cloudcode import FakeCloudCode
from tests.fakes.replies import Call, Reply
from tests.proxy.stack import running_stack
from trayproxy.controller import Controller

QUOTA = {"gemini-3-flash": 0.9, "gemini-2.5-flash": 0.9}


def weather_or_echo(call: Call) -> Reply:
    contents = call.request.get("contents", [])
    last = contents[-1] if contents else {}
    if any("functionResponse" in p for p in last.get("parts", [])):
        fr = next(p["functionResponse"] for p in last["parts"] if "functionResponse" in p)
        return Reply.text(f"It is {fr['response'].get('temperature', '?')} degrees.")
    tools = [d["name"] for t in call.request.get("tools", []) for d in t.get("functionDeclarations", [])]
    if "get_weather" in tools:
        return Reply.tool_call("get_weather", {"city": "Paris"})
    return Reply.echo()


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeCloudCode, Controller]]:
    with running_stack(QUOTA, reply=weather_or_echo) as s:
        yield s


def test_google_genai_generate_stream_count_and_function_round_trip(stack) -> None:
    from google import genai
    from google.genai import types

    fake, ctl = stack
    client = genai.Client(api_key=ctl.api_key(), http_options={"base_url": ctl.status().base_url})
    r = client.models.generate_content(model="gemini-3-flash", contents="Hello genai")
    assert r.text == "Echo: Hello genai"
    assert r.usage_metadata is not None and r.usage_metadata.total_token_count
    chunks = [c.text for c in client.models.generate_content_stream(model="gemini-3-flash", contents="Hello stream")]
    assert len(chunks) >= 2 and "".join(chunks) == "Echo: Hello stream"
    ct = client.models.count_tokens(model="gemini-3-flash", contents="count me please")
    assert ct.total_tokens and ct.total_tokens > 0
    # a function-call round trip: the signature from the first answer must come back
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather in a city",
        parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]))])
    cfg = types.GenerateContentConfig(tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    contents: list[types.Content] = [types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])]
    first = client.models.generate_content(model="gemini-3-flash", contents=contents, config=cfg)
    call = first.candidates[0].content.parts[-1]
    assert call.function_call and call.function_call.name == "get_weather" and call.thought_signature
    contents += [first.candidates[0].content,
                 types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
                     name="get_weather", response={"temperature": 21}))])]
    second = client.models.generate_content(model="gemini-3-flash", contents=contents, config=cfg)
    assert second.text == "It is 21 degrees."


def test_seed_snippet_with_google_generativeai(stack) -> None:
    _, ctl = stack
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import google.generativeai as genai_old

    genai_old.configure(api_key=ctl.api_key(), transport="rest",
                        client_options={"api_endpoint": ctl.status().base_url})
    text = genai_old.GenerativeModel("gemini-3-flash").generate_content("Hello").text
    assert text == "Echo: Hello"


def test_errors_in_google_shape_map_to_sdk_exceptions(stack) -> None:
    from google import genai
    from google.genai import errors

    _, ctl = stack
    bad = genai.Client(api_key="sk-wrong-key-123", http_options={"base_url": ctl.status().base_url})
    with pytest.raises(errors.ClientError) as ei:
        bad.models.generate_content(model="gemini-3-flash", contents="x")
    assert ei.value.code == 401 and ei.value.status == "UNAUTHENTICATED"


@pytest.mark.npm
@pytest.mark.parametrize("clients", CLIENT_SETS)
def test_gemini_cli_answers_a_prompt(stack, tmp_path: Path, clients: str) -> None:
    gemini = find_cli("gemini", clients)
    fake, ctl = stack
    env, work = gemini_cli_env(tmp_path, ctl.status().base_url, ctl.api_key())
    before = len(fake.calls_to())
    p = subprocess.run([gemini, "-p", "Say hello to the proxy", "-m", "gemini-3-flash"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Echo:" in p.stdout and "Say hello to the proxy" in p.stdout
    assert len(fake.calls_to()) > before
