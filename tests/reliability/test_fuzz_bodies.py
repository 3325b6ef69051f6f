"""Fuzzed request bodies on every route that takes one, driven in-process (aiohttp test client
against `build_app(ctx)`, upstream behind MockTransport that always answers well).

Every answer is either a success or a 4xx in the caller's protocol shape: never a 5xx (the
upstream is healthy, so a 5xx can only be trayproxy's own crash), never a dropped connection,
and nothing at ERROR or with a traceback in the app's log. Bodies mix raw non-JSON bytes,
arbitrary JSON, JSON nested deeper than the limit, and route-shaped objects whose fields are
sometimes right and sometimes junk, so the converters' deeper paths are reached too. CI runs
`CI_EXAMPLES` in all; `TRAYPROXY_FUZZ_SECONDS` makes it the long run (tests/reliability/_fuzz.py).
Headers: test_fuzz_headers.py; WebSocket messages: test_fuzz_socket.py."""

from __future__ import annotations

import asyncio
import json
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.proxy.app_stack import AppStack

from . import _fuzz
from ._shapes import error_shape

CI_EXAMPLES = 5_000
ROUTES = [
    ("openai", "/v1/chat/completions", "chat"),
    ("openai", "/v1/completions", "completions"),
    ("openai", "/v1/responses", "responses"),
    ("openai", "/v1/responses/compact", "responses"),
    ("openai", "/v1/images/generations", "images"),
    ("anthropic", "/v1/messages", "messages"),
    ("anthropic", "/v1/messages/count_tokens", "messages"),
    ("gemini", "/v1beta/models/{model}:generateContent", "gemini"),
    ("gemini", "/v1beta/models/{model}:streamGenerateContent?alt=sse", "gemini"),
    ("gemini", "/v1beta/models/{model}:countTokens", "gemini"),
    ("other", "/api/event_logging/batch", "telemetry"),
]
PER_ROUTE = -(-CI_EXAMPLES // len(ROUTES))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[asyncio.AbstractEventLoop, AppStack, _fuzz.LogWatch]]:
    with _fuzz.served_app(tmp_path_factory.mktemp("fuzz")) as s:
        yield s


@pytest.fixture(scope="module")
def watch(served: tuple[asyncio.AbstractEventLoop, AppStack, _fuzz.LogWatch]) -> _fuzz.LogWatch:
    return served[2]


@pytest.fixture(scope="module")
def client(served: tuple[asyncio.AbstractEventLoop, AppStack, _fuzz.LogWatch]) -> tuple[asyncio.AbstractEventLoop, TestClient]:
    """The proxy's app (no Controller, no monitor) over the healthy upstream, on a loop of this
    module's own: hypothesis drives it example by example with run_until_complete."""
    return served[0], served[1].client


# -- strategies -----------------------------------------------------------------------------------

short_text = st.text(max_size=12)
scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False) | short_text
json_any = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(short_text, c, max_size=4),
                        max_leaves=8)
junk = json_any


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid-looking value, sometimes anything at all."""
    return st.one_of(valid, valid, valid, junk)


models = maybe(st.sampled_from(["gemini-2.5-flash", "gemini-3-flash", "claude-sonnet-4-5", "gpt-4o", "gemini-3-pro-high",
                                "claude-opus-4-5-thinking", "x", "../etc", "a/b", "models/gemini-2.5-flash", " "]))
text = st.text(max_size=24)
schema = maybe(st.fixed_dictionaries({"type": st.sampled_from(["object", "string", "array", "integer"])},
                                     optional={"properties": st.dictionaries(short_text, json_any, max_size=3),
                                               "required": st.lists(short_text, max_size=3),
                                               "items": json_any, "enum": st.lists(scalars, max_size=3)}))
tool_name = maybe(st.sampled_from(["get_weather", "shell", "Read", "mcp__x__y", "a" * 70, "1bad", "has space", "ünï", ""]))
args_json = maybe(st.sampled_from(['{"a": 1}', "{}", "", "not json", '{"city": "Paris"}']))
call_id = maybe(st.sampled_from(["call_1", "call_2", "toolu_1", ""]))

# OpenAI chat
oa_part = st.fixed_dictionaries(
    {"type": maybe(st.sampled_from(["text", "image_url", "input_audio", "file", "refusal"]))},
    optional={"text": maybe(text), "image_url": maybe(st.fixed_dictionaries({"url": maybe(st.sampled_from([
        "data:image/png;base64,iVBORw0KGgo=", "https://example.com/a.png", "data:,", "data:image/png;base64,@@"]))})),
        "input_audio": json_any, "file": json_any})
oa_tool_call = st.fixed_dictionaries({"id": call_id, "type": maybe(st.just("function")),
                                      "function": maybe(st.fixed_dictionaries({"name": tool_name, "arguments": args_json}))})
oa_message = st.fixed_dictionaries(
    {"role": maybe(st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"]))},
    optional={"content": maybe(text | st.lists(oa_part, max_size=3)), "tool_calls": maybe(st.lists(oa_tool_call, max_size=2)),
              "tool_call_id": call_id, "name": tool_name, "reasoning_content": maybe(text)})
oa_tool = st.fixed_dictionaries({"type": maybe(st.just("function")), "function": maybe(st.fixed_dictionaries(
    {"name": tool_name}, optional={"description": text, "parameters": schema, "strict": st.booleans()}))})
chat = st.fixed_dictionaries(
    {"model": models, "messages": maybe(st.lists(oa_message, max_size=5))},
    optional={"stream": maybe(st.booleans()), "stream_options": maybe(st.fixed_dictionaries({"include_usage": maybe(st.booleans())})),
              "tools": maybe(st.lists(oa_tool, max_size=2)),
              "tool_choice": maybe(st.sampled_from(["auto", "none", "required"]) | st.fixed_dictionaries(
                  {"type": st.just("function"), "function": st.fixed_dictionaries({"name": tool_name})})),
              "max_tokens": maybe(st.integers(-5, 100_000)), "max_completion_tokens": maybe(st.integers(-5, 100_000)),
              "temperature": maybe(st.floats(-1, 3)), "top_p": maybe(st.floats(-1, 2)), "n": maybe(st.integers(-1, 5)),
              "stop": maybe(text | st.lists(text, max_size=5)), "reasoning_effort": maybe(st.sampled_from(["low", "medium", "high", "minimal"])),
              "response_format": maybe(st.fixed_dictionaries({"type": st.sampled_from(["json_object", "json_schema", "text"])},
                                                              optional={"json_schema": json_any})),
              "seed": maybe(st.integers()), "user": text})
completions = st.fixed_dictionaries(
    {"model": models, "prompt": maybe(text | st.lists(text, max_size=3) | st.lists(st.integers(0, 1000), max_size=5))},
    optional={"stream": maybe(st.booleans()), "max_tokens": maybe(st.integers(-5, 100_000)), "suffix": maybe(text),
              "echo": maybe(st.booleans()), "logprobs": maybe(st.integers(0, 5)), "n": maybe(st.integers(-1, 3)),
              "stop": maybe(text | st.lists(text, max_size=5)), "best_of": maybe(st.integers(0, 3))})
# OpenAI Responses
rs_content = st.fixed_dictionaries({"type": maybe(st.sampled_from(["input_text", "output_text", "input_image", "input_file"]))},
                                   optional={"text": maybe(text), "image_url": maybe(text), "file_data": maybe(text)})
rs_item = st.one_of(
    st.fixed_dictionaries({"role": maybe(st.sampled_from(["user", "assistant", "system", "developer"])),
                           "content": maybe(text | st.lists(rs_content, max_size=3))}, optional={"type": st.just("message")}),
    st.fixed_dictionaries({"type": st.just("function_call"), "call_id": call_id, "name": tool_name, "arguments": args_json}),
    st.fixed_dictionaries({"type": st.just("function_call_output"), "call_id": call_id, "output": maybe(text)}),
    st.fixed_dictionaries({"type": maybe(st.sampled_from(["reasoning", "item_reference"]))},
                          optional={"id": text, "summary": json_any, "encrypted_content": text}),
)
responses = st.fixed_dictionaries(
    {"model": models, "input": maybe(text | st.lists(rs_item, max_size=4))},
    optional={"stream": maybe(st.booleans()), "instructions": maybe(text), "previous_response_id": maybe(text),
              "tools": maybe(st.lists(st.fixed_dictionaries({"type": maybe(st.sampled_from(["function", "web_search"]))},
                                                            optional={"name": tool_name, "parameters": schema}), max_size=2)),
              "tool_choice": maybe(st.sampled_from(["auto", "none", "required"])),
              "reasoning": maybe(st.fixed_dictionaries({}, optional={"effort": st.sampled_from(["low", "high"]), "summary": text})),
              "max_output_tokens": maybe(st.integers(-5, 100_000)), "text": json_any, "store": maybe(st.booleans())})
# Anthropic
an_block = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": maybe(text)}, optional={"cache_control": json_any}),
    st.fixed_dictionaries({"type": st.just("image"), "source": maybe(st.fixed_dictionaries(
        {"type": st.sampled_from(["base64", "url"]), "media_type": st.sampled_from(["image/png", "text/plain"]),
         "data": st.sampled_from(["iVBORw0KGgo=", "@@", ""])}))}),
    st.fixed_dictionaries({"type": st.just("tool_use"), "id": call_id, "name": tool_name, "input": maybe(st.dictionaries(short_text, scalars, max_size=3))}),
    st.fixed_dictionaries({"type": st.just("tool_result"), "tool_use_id": call_id},
                          optional={"content": maybe(text | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": text}), max_size=2)),
                                    "is_error": st.booleans()}),
    st.fixed_dictionaries({"type": maybe(st.sampled_from(["thinking", "redacted_thinking", "document", "server_tool_use"]))},
                          optional={"thinking": text, "signature": text, "data": text, "source": json_any}),
)
an_message = st.fixed_dictionaries({"role": maybe(st.sampled_from(["user", "assistant"])),
                                    "content": maybe(text | st.lists(an_block, max_size=3))})
messages = st.fixed_dictionaries(
    {"model": models, "messages": maybe(st.lists(an_message, max_size=5))},
    optional={"max_tokens": maybe(st.integers(-5, 200_000)), "stream": maybe(st.booleans()),
              "system": maybe(text | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": text}), max_size=3)),
              "tools": maybe(st.lists(st.fixed_dictionaries({"name": tool_name}, optional={
                  "description": text, "input_schema": schema, "type": st.sampled_from(["custom", "web_search_20250305"])}), max_size=2)),
              "tool_choice": maybe(st.fixed_dictionaries({"type": st.sampled_from(["auto", "any", "tool", "none"])},
                                                         optional={"name": tool_name})),
              "thinking": maybe(st.fixed_dictionaries({"type": st.sampled_from(["enabled", "disabled"])},
                                                      optional={"budget_tokens": st.integers(-5, 100_000)})),
              "temperature": maybe(st.floats(-1, 3)), "top_k": maybe(st.integers(-1, 100)),
              "stop_sequences": maybe(st.lists(text, max_size=5)), "metadata": json_any,
              "output_config": json_any})
# Gemini
g_part = st.one_of(
    st.fixed_dictionaries({"text": maybe(text)}, optional={"thought": st.booleans(), "thoughtSignature": text}),
    st.fixed_dictionaries({"inlineData": maybe(st.fixed_dictionaries({"mimeType": text, "data": text}))}),
    st.fixed_dictionaries({"functionCall": maybe(st.fixed_dictionaries({"name": tool_name, "args": json_any}))}),
    st.fixed_dictionaries({"functionResponse": maybe(st.fixed_dictionaries({"name": tool_name, "response": json_any}))}),
    st.dictionaries(short_text, json_any, max_size=2),
)
gemini = st.fixed_dictionaries(
    {"contents": maybe(st.lists(st.fixed_dictionaries({"role": maybe(st.sampled_from(["user", "model"])),
                                                       "parts": maybe(st.lists(g_part, max_size=3))}), max_size=4))},
    optional={"systemInstruction": maybe(st.fixed_dictionaries({"parts": st.lists(g_part, max_size=2)})),
              "generationConfig": maybe(st.fixed_dictionaries({}, optional={
                  "maxOutputTokens": st.integers(-5, 100_000), "temperature": st.floats(-1, 3),
                  "thinkingConfig": json_any, "responseMimeType": text, "responseSchema": schema})),
              "tools": maybe(st.lists(st.fixed_dictionaries({"functionDeclarations": st.lists(st.fixed_dictionaries(
                  {"name": tool_name}, optional={"parameters": schema}), max_size=2)}), max_size=2)),
              "safetySettings": json_any, "toolConfig": json_any, "cachedContent": text})
images = st.fixed_dictionaries(
    {"prompt": maybe(text)},
    optional={"model": models, "n": maybe(st.integers(-1, 5)), "size": maybe(st.sampled_from(
        ["1024x1024", "1792x1024", "1024x1792", "256x256", "x", ""])), "response_format": maybe(st.sampled_from(
            ["b64_json", "url"])), "quality": maybe(st.sampled_from(["standard", "hd", "high"])), "style": json_any})
telemetry = st.fixed_dictionaries({"events": st.lists(json_any, max_size=3)})
SHAPED = {"chat": chat, "completions": completions, "responses": responses, "messages": messages, "gemini": gemini,
          "images": images, "telemetry": telemetry}
deep_json = st.integers(100, 400).map(lambda n: b'{"model": "gemini-2.5-flash", "x": ' + b"[" * n + b"]" * n + b"}")

# Bodies that serve, to be mutated a little: the shaped strategies above are junk somewhere
# nearly always (a 400 at the first field), these reach the converters and stream machines.
_M = "gemini-2.5-flash"
_TOOL = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
VALID: dict[str, list[dict[str, Any]]] = {
    "chat": [
        {"model": _M, "messages": [{"role": "user", "content": "hi"}]},
        {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True}, "messages": [
            {"role": "system", "content": "be brief"}, {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
                "name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
         "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": _TOOL}}]},
    ],
    "completions": [{"model": _M, "prompt": "hi", "max_tokens": 5}, {"model": _M, "prompt": ["a", "b"], "stream": True}],
    "responses": [
        {"model": _M, "input": "hi"},
        {"model": "gpt-5.1-codex", "stream": True, "instructions": "be brief", "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"}],
         "tools": [{"type": "function", "name": "get_weather", "parameters": _TOOL}], "reasoning": {"effort": "low"}},
    ],
    "messages": [
        {"model": _M, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        {"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": True, "system": [{"type": "text", "text": "brief"}],
         "messages": [{"role": "user", "content": "weather?"},
                      {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_weather",
                                                         "input": {"city": "Paris"}}]},
                      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]}],
         "tools": [{"name": "get_weather", "input_schema": _TOOL}], "thinking": {"type": "enabled", "budget_tokens": 1024}},
    ],
    "gemini": [
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        {"contents": [{"role": "user", "parts": [{"text": "weather?"}]}],
         "systemInstruction": {"parts": [{"text": "brief"}]}, "generationConfig": {"maxOutputTokens": 50},
         "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": _TOOL}]}]},
    ],
    "images": [{"prompt": "a cat", "model": "gemini-3-pro-image"}, {"prompt": "a dog", "n": 2, "size": "1792x1024"}],
    "telemetry": [{"events": [{"event_type": "x"}]}],
}


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*at, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A body that serves, with up to three of its values replaced, removed or joined by junk."""
    body = json.loads(json.dumps(draw(st.sampled_from(VALID[kind]))))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(body)))
        if not path:
            continue
        parent = body
        for p in path[:-1]:
            parent = parent[p]
        op = draw(st.sampled_from(["junk", "junk", "drop", "extra"]))
        if op == "junk":
            parent[path[-1]] = draw(junk)
        elif op == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(short_text)] = draw(junk)
        else:
            parent.append(draw(junk))
    return body
raw_bytes = st.one_of(st.binary(max_size=60), st.sampled_from([b"", b" ", b"null", b"[]", b"[1,2]", b'"x"', b"{", b"{}}",
                                                               b"\xff\xfe{}", b'{"model":"gemini-2.5-flash"']))
url_model = st.one_of(st.sampled_from(["gemini-2.5-flash", "gemini-3-flash"]),
                      st.text(alphabet=string.printable, min_size=1, max_size=20).map(lambda s: quote(s, safe="")))


def body_strategy(kind: str) -> st.SearchStrategy[bytes]:
    shaped = SHAPED[kind].map(lambda d: json.dumps(d).encode())
    near = mutated(kind).map(lambda d: json.dumps(d).encode())
    anyjson = json_any.map(lambda d: json.dumps(d).encode())
    return st.one_of(shaped, shaped, shaped, near, near, near, anyjson, raw_bytes, deep_json)


# -- crashes this fuzzer found (minimal bodies), kept as regressions -------------------------------

FOUND_CRASHES = [
    pytest.param("/v1/chat/completions", {"model": "gemini-2.5-flash", "stream": True, "stream_options": [1],
                                          "messages": [{"role": "user", "content": "hi"}]},
                 id="chat-stream_options-list"),
    pytest.param("/v1/messages", {"model": "gemini-2.5-flash", "max_tokens": 10,
                                  "messages": [{"role": "user", "content": [{"type": 1, "text": "hi"}]}]},
                 id="messages-non-string-block-type"),
    pytest.param("/v1/messages", {"model": "gemini-2.5-flash", "max_tokens": 10, "system": [{"type": ["text"]}],
                                  "messages": [{"role": "user", "content": "hi"}]},
                 id="messages-non-string-system-block-type"),
]


@pytest.mark.parametrize(("path", "body"), FOUND_CRASHES)
def test_found_crashes_stay_fixed(client: tuple[asyncio.AbstractEventLoop, TestClient], path: str, body: dict[str, Any]) -> None:
    loop, c = client
    status, out = loop.run_until_complete(_post(c, path, json.dumps(body).encode()))
    assert status == 400, f"{status}: {out[:300]!r}"
    error_shape("openai" if path.startswith("/v1/c") else "anthropic", out)


# -- the test -------------------------------------------------------------------------------------


async def _post(c: TestClient, path: str, body: bytes) -> tuple[int, bytes]:
    async with c.post(path, data=body, headers={"Content-Type": "application/json"}) as resp:
        return resp.status, await resp.read()


@pytest.mark.parametrize(("protocol", "path", "kind"), ROUTES, ids=[r[1] for r in ROUTES])
def test_fuzzed_bodies_never_5xx(client: tuple[asyncio.AbstractEventLoop, TestClient], watch: _fuzz.LogWatch,
                                 protocol: str, path: str, kind: str) -> None:
    loop, c = client
    seen = {"examples": 0}
    statuses: dict[int, int] = {}

    def batch(n: int) -> None:
        @settings(max_examples=n, deadline=None, derandomize=False, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much])
        @given(body=body_strategy(kind), model=url_model)
        def check(body: bytes, model: str) -> None:
            url = path.replace("{model}", model)
            status, out = loop.run_until_complete(_post(c, url, body))
            seen["examples"] += 1
            statuses[status] = statuses.get(status, 0) + 1
            assert status < 500, f"{url} -> {status}: {out[:400]!r}\nbody: {body[:600]!r}"
            if status >= 400 and protocol != "other":
                if status == 404 and protocol == "gemini" and "{model}" in path:
                    # a model segment that does not match the route at all is an unknown route
                    pass
                error_shape(protocol, out)
            _fuzz.assert_clean_log(watch, f"{url} with {body[:300]!r}")

        check()

    took = _fuzz.run_budget(batch, ci_examples=PER_ROUTE, seconds=_fuzz.share("bodies", len(ROUTES)))
    _fuzz.record(f"bodies {path}", {"examples": seen["examples"], "statuses": statuses, "findings": 0,
                                    "seconds": round(took, 1)})
