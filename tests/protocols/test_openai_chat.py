"""openai_chat: golden fixtures (chat body in -> Gemini request out; upstream events in ->
client frames / chat.completion out), invalid input, and the openai SDK reading our stream.

Fixtures live in tests/protocols/golden/openai_chat/{requests,responses}/*.json. After a
deliberate behaviour change, regenerate with TRAYPROXY_REGEN_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import BYPASS_SIGNATURE
from trayproxy.protocols.openai_chat import ChatStream, reasoning_key, to_gemini

GOLDEN = Path(__file__).parent / "golden" / "openai_chat"
REGEN = os.environ.get("TRAYPROXY_REGEN_GOLDEN") == "1"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def save(path: Path, case: dict[str, Any]) -> None:
    path.write_bytes(orjson.dumps(case, option=orjson.OPT_INDENT_2) + b"\n")


def cases(kind: str) -> list[Path]:
    found = sorted((GOLDEN / kind).glob("*.json"))
    assert found, f"no golden files under {GOLDEN / kind}"
    return found


def counter_ids() -> Any:
    n = itertools.count(1)
    return lambda prefix: f"{prefix}{next(n)}"


def decode_frame(frame: bytes) -> Any:
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n"), frame
    body = frame[6:-2]
    assert b"\n" not in body
    return "[DONE]" if body == b"[DONE]" else orjson.loads(body)


def run_stream(case: dict[str, Any]) -> tuple[ChatStream, list[bytes]]:
    m = ChatStream(
        model="gpt-4o",
        completion_id="chatcmpl-1",
        created=1_700_000_000,
        stream=case["stream"],
        include_usage=case["include_usage"],
        new_id=counter_ids(),
    )
    frames: list[bytes] = []
    for ev in case["events"]:
        frames += m.feed(ev)
    if case["end"] == "finish":
        frames += m.finish()
    else:
        frames += m.fail("The upstream answer broke off: reset")
    return m, frames


# -- golden: requests -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", cases("requests"), ids=lambda p: p.stem)
def test_request_golden(path: Path) -> None:
    case = load(path)
    got = to_gemini(case["body"], upstream_model=case["upstream_model"], signatures=case["signatures"])
    if REGEN:
        case["expected"] = got
        save(path, case)
    assert got == case["expected"]
    orjson.dumps(got)  # JSON-serialisable as is


# -- golden: responses ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", cases("responses"), ids=lambda p: p.stem)
def test_response_golden(path: Path) -> None:
    case = load(path)
    m, frames = run_stream(case)
    got = {
        "frames": [decode_frame(f) for f in frames],
        "result": m.result(),
        "signatures": m.signatures,
        "produced_output": m.produced_output,
        "upstream_finish": m.upstream_finish,
        "failure": m.failure,
    }
    if REGEN:
        case["expected"] = got
        save(path, case)
    assert got == case["expected"]
    if not case["stream"]:
        assert frames == []


# -- framing rules that hold for every streamed fixture ------------------------------------------


@pytest.mark.parametrize("path", [p for p in cases("responses") if load(p)["stream"]], ids=lambda p: p.stem)
def test_stream_framing(path: Path) -> None:
    case = load(path)
    _, raw = run_stream(case)
    frames = [decode_frame(f) for f in raw]
    assert frames[-1] == "[DONE]" and frames.count("[DONE]") == 1
    body = frames[:-1]
    if any("error" in f for f in body):
        assert "error" in body[-1] and set(body[-1]["error"]) == {"message", "type", "code", "param"}
        return
    seen_role: set[int] = set()
    finished: set[int] = set()
    for k, f in enumerate(body):
        assert f["object"] == "chat.completion.chunk"
        assert f["id"] == "chatcmpl-1" and f["model"] == "gpt-4o"
        if case["include_usage"]:
            assert "usage" in f
            if k == len(body) - 1:
                assert f["choices"] == [] and f["usage"]["total_tokens"] >= 0
                continue
            assert f["usage"] is None
        else:
            assert "usage" not in f
        assert len(f["choices"]) == 1
        ch = f["choices"][0]
        assert set(ch) == {"index", "delta", "logprobs", "finish_reason"}
        idx = ch["index"]
        assert idx not in finished, "a delta after the choice's finish chunk"
        # role exactly once per choice, on its first chunk
        assert ("role" in ch["delta"]) == (idx not in seen_role)
        seen_role.add(idx)
        if ch["finish_reason"] is not None:
            finished.add(idx)
    assert finished == seen_role


def test_stream_parses_with_openai_sdk_accumulator() -> None:
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk

    case = load(GOLDEN / "responses" / "parallel_tool_calls.json")
    _, raw = run_stream(case)
    state = ChatCompletionStreamState()
    for f in raw:
        obj = decode_frame(f)
        if obj != "[DONE]":
            state.handle_chunk(ChatCompletionChunk.model_validate(obj))
    done = state.get_final_completion()
    msg = done.choices[0].message
    assert done.choices[0].finish_reason == "tool_calls"
    calls = msg.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [  # type: ignore[union-attr]
        ("call_1", "Bash", '{"command":"ls"}'),
        ("call_2", "get_time", "{}"),
        ("upstream-id-9", "Read", '{"path":"/a"}'),
    ]


def test_non_stream_result_validates_with_openai_sdk() -> None:
    from openai.types.chat import ChatCompletion

    for path in cases("responses"):
        case = load(path)
        m, _ = run_stream(case)
        ChatCompletion.model_validate(m.result())


# -- request behaviour details --------------------------------------------------------------------


def _user(text: str = "hi") -> dict[str, Any]:
    return {"role": "user", "content": text}


def test_signature_rules() -> None:
    body = {
        "model": "m",
        "messages": [
            _user(),
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "b", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "a", "content": "1"},
            {"role": "tool", "tool_call_id": "b", "content": "2"},
        ],
    }
    sigs = {"a": "REAL", "b": "tp1.claude.CSIG"}

    def call_sigs(model: str) -> list[str | None]:
        req = to_gemini(body, upstream_model=model, signatures=sigs)
        return [p.get("thoughtSignature") for p in req["contents"][1]["parts"]]

    assert call_sigs("gemini-2.5-flash") == ["REAL", BYPASS_SIGNATURE]  # claude tag not replayed to gemini
    assert call_sigs("claude-sonnet-4-6-thinking") == ["REAL", "CSIG"]
    assert call_sigs("gemini-2.0-flash") == ["REAL", None]  # non-thinking: no invented signature


def test_reasoning_needs_exact_signed_text() -> None:
    body = {
        "model": "m",
        "messages": [_user(), {"role": "assistant", "content": "x", "reasoning_content": "why"}, _user()],
    }
    model_turn = to_gemini(body, upstream_model="gemini-2.5-pro", signatures={})["contents"][1]
    assert model_turn["parts"] == [{"text": "x"}]
    sig = {reasoning_key("why"): "S"}
    model_turn = to_gemini(body, upstream_model="gemini-2.5-pro", signatures=sig)["contents"][1]
    assert model_turn["parts"] == [{"text": "why", "thought": True, "thoughtSignature": "S"}, {"text": "x"}]
    sig = {reasoning_key("why not"): "S"}
    model_turn = to_gemini(body, upstream_model="gemini-2.5-pro", signatures=sig)["contents"][1]
    assert model_turn["parts"] == [{"text": "x"}]


@pytest.mark.parametrize(
    ("effort", "model", "expected"),
    [
        (None, "gemini-2.5-pro", {"includeThoughts": True}),
        ("low", "gemini-2.5-pro", {"includeThoughts": True, "thinkingBudget": 1024}),
        ("medium", "gemini-3-pro-preview", {"includeThoughts": True, "thinkingBudget": 8192}),
        ("high", "gemini-2.5-flash", {"includeThoughts": True, "thinkingBudget": 24576}),
        ("minimal", "gemini-2.5-flash", {"includeThoughts": False, "thinkingBudget": 0}),
        ("none", "gemini-2.5-pro", {"includeThoughts": False, "thinkingBudget": 128}),
        ("high", "gemini-2.0-flash", None),
        (None, "claude-sonnet-4-6-thinking", {"includeThoughts": True, "thinkingBudget": 16000}),
        ("none", "claude-sonnet-4-6-thinking", None),
        ("high", "claude-sonnet-4-6", None),
    ],
)
def test_reasoning_effort(effort: str | None, model: str, expected: dict[str, Any] | None) -> None:
    body: dict[str, Any] = {"model": "m", "messages": [_user()]}
    if effort is not None:
        body["reasoning_effort"] = effort
    gc = to_gemini(body, upstream_model=model, signatures={}).get("generationConfig", {})
    assert gc.get("thinkingConfig") == expected


def test_claude_budget_fits_under_max_completion_tokens() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "messages": [_user()],
        "max_completion_tokens": 5000,
        "reasoning_effort": "high",
    }
    gc = to_gemini(body, upstream_model="claude-opus-4-6-thinking", signatures={})["generationConfig"]
    assert gc["maxOutputTokens"] == 5000
    assert gc["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 3976}
    body["max_completion_tokens"] = 1500  # no room for a 1024-token budget plus an answer
    gc = to_gemini(body, upstream_model="claude-opus-4-6-thinking", signatures={})["generationConfig"]
    assert "thinkingConfig" not in gc and gc["maxOutputTokens"] == 1500


@pytest.mark.parametrize(
    ("model", "effort", "max_out", "thinking"),
    [
        # legacy max_tokens counts visible tokens only: the budget is added on top
        (
            "claude-opus-4-6-thinking",
            "high",
            5000 + 24576,
            {"includeThoughts": True, "thinkingBudget": 24576},
        ),
        ("claude-opus-4-6-thinking", None, 5000 + 16000, {"includeThoughts": True, "thinkingBudget": 16000}),
        ("gemini-2.5-pro", None, 5000 + 8192, {"includeThoughts": True, "thinkingBudget": 8192}),
        ("gemini-2.5-pro", "low", 5000 + 1024, {"includeThoughts": True, "thinkingBudget": 1024}),
        ("gemini-2.5-pro", "none", 5000 + 128, {"includeThoughts": False, "thinkingBudget": 128}),
        ("gemini-2.5-flash", "minimal", 5000, {"includeThoughts": False, "thinkingBudget": 0}),
        ("gemini-2.0-flash", "high", 5000, None),
    ],
)
def test_max_tokens_leaves_room_for_thinking(
    model: str, effort: str | None, max_out: int, thinking: dict[str, Any] | None
) -> None:
    body: dict[str, Any] = {"model": "m", "messages": [_user()], "max_tokens": 5000}
    if effort:
        body["reasoning_effort"] = effort
    gc = to_gemini(body, upstream_model=model, signatures={})["generationConfig"]
    assert gc["maxOutputTokens"] == max_out
    assert gc.get("thinkingConfig") == thinking
    body["max_tokens"] = 65000
    gc = to_gemini(body, upstream_model=model, signatures={})["generationConfig"]
    assert gc["maxOutputTokens"] <= (64000 if model.startswith("claude") else 65536)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ({"type": "function", "function": {"name": "g"}}, {"mode": "ANY", "allowedFunctionNames": ["g"]}),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    body = {
        "model": "m",
        "messages": [_user()],
        "tools": [
            {"type": "function", "function": {"name": "f"}},
            {"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}},
        ],
        "tool_choice": choice,
    }
    req = to_gemini(body, upstream_model="gemini-2.5-flash", signatures={})
    assert req["toolConfig"] == {"functionCallingConfig": expected}
    assert req["tools"] == [
        {
            "functionDeclarations": [
                {"name": "f"},
                {"name": "g", "parameters": {"type": "OBJECT", "properties": {}}},
            ]
        }
    ]


def test_input_body_is_not_mutated() -> None:
    path = GOLDEN / "requests" / "tool_round_trip_signatures.json"
    case = load(path)
    before = orjson.dumps(case["body"])
    to_gemini(case["body"], upstream_model=case["upstream_model"], signatures=case["signatures"])
    assert orjson.dumps(case["body"]) == before


# -- invalid input ---------------------------------------------------------------------------------


def _tool_msgs(args: str) -> list[dict[str, Any]]:
    return [
        _user(),
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}],
        },
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}
                ],
            },
            "messages[0].content[0].image_url",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}],
                    }
                ],
            },
            "messages[0].content[0].image_url",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "video", "video": {}}]}]},
            "messages[0].content[0].type",
        ),
        ({"model": "m", "messages": _tool_msgs("{not json")}, "messages[1].tool_calls[0].function.arguments"),
        ({"model": "m", "messages": _tool_msgs("[1]")}, "messages[1].tool_calls[0].function.arguments"),
        ({"model": "m", "messages": [_user()], "temperature": 3}, "temperature"),
        ({"model": "m", "messages": [_user()], "top_p": "1"}, "top_p"),
        ({"model": "m", "messages": [_user()], "max_tokens": 0}, "max_tokens"),
        ({"model": "m", "messages": [_user()], "n": 9}, "n"),
        ({"model": "m", "messages": [_user()], "stop": [1]}, "stop"),
        ({"model": "m", "messages": [_user()], "reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"model": "m", "messages": [_user()], "response_format": {"type": "xml"}}, "response_format.type"),
        (
            {
                "model": "m",
                "messages": [_user()],
                "response_format": {"type": "json_schema", "json_schema": {}},
            },
            "response_format.json_schema",
        ),
        ({"model": "m", "messages": [_user()], "tools": [{"type": "web_search"}]}, "tools[0].type"),
        (
            {
                "model": "m",
                "messages": [_user()],
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function", "function": {"name": "g"}},
            },
            "tool_choice.function.name",
        ),
        ({"model": "m", "messages": [{"role": "assistant", "content": ""}]}, "messages"),
    ],
)
def test_invalid_requests(body: dict[str, Any], field: str) -> None:
    with pytest.raises(RequestError) as e:
        to_gemini(body, upstream_model="gemini-2.5-flash", signatures={})
    assert e.value.field == field
    assert e.value.status == 400 and e.value.message


# -- stream state ------------------------------------------------------------------------------


def test_feed_after_finish_is_ignored_and_finish_is_idempotent() -> None:
    m = ChatStream(
        model="x", completion_id="c", created=1, stream=True, include_usage=False, new_id=counter_ids()
    )
    assert m.feed({"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}]})
    tail = m.finish()
    assert tail[-1] == b"data: [DONE]\n\n"
    assert m.finish() == [] and m.fail("late") == []
    assert m.feed({"candidates": [{"content": {"parts": [{"text": "b"}]}}]}) == []


def test_empty_stream_is_a_failure_not_a_success() -> None:
    m = ChatStream(
        model="x", completion_id="c", created=1, stream=True, include_usage=True, new_id=counter_ids()
    )
    m.feed(
        {"candidates": [{"content": {"parts": [{"text": "hmm", "thought": True}]}, "finishReason": "STOP"}]}
    )
    assert m.produced_output  # reasoning was seen
    frames = [decode_frame(f) for f in m.finish()]
    assert frames[0]["error"]["message"] == "The model returned an empty answer. Please retry."
    assert frames[-1] == "[DONE]"


@pytest.mark.parametrize("path", cases("requests"), ids=lambda p: p.stem)
def test_request_golden_passes_google_validation(path: Path) -> None:
    """The fake upstream's Google-style checks (field names, schema keys, call/response pairing,
    claude thinking rules) accept every request we build."""
    from tests.fakes.validation import Issues, check_claude_thinking, validate_request

    case = load(path)
    req = case["expected"]
    validate_request(req, Issues())
    if case["upstream_model"].startswith("claude"):
        thinking = "thinkingConfig" in req.get("generationConfig", {})
        check_claude_thinking(req["contents"], thinking)


def test_tagged_signatures_round_trip_only_to_the_same_family() -> None:
    m = ChatStream(
        model="x",
        completion_id="c",
        created=1,
        stream=False,
        include_usage=False,
        new_id=counter_ids(),
        upstream_model="gemini-3-pro-preview",
    )
    m.feed(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "R0VN"}]
                    },
                    "finishReason": "STOP",
                }
            ]
        }
    )
    m.finish()
    assert m.signatures == {"call_1": "tp1.gemini3.R0VN"}
    body = {
        "model": "m",
        "messages": [
            _user(),
            {"role": "assistant", "tool_calls": m.result()["choices"][0]["message"]["tool_calls"]},
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ],
    }

    def sig(model: str) -> Any:
        return to_gemini(body, upstream_model=model, signatures=m.signatures)["contents"][1]["parts"][0].get(
            "thoughtSignature"
        )

    assert sig("gemini-3-flash") == "R0VN"
    assert sig("gemini-2.5-pro") == BYPASS_SIGNATURE
    assert sig("claude-sonnet-4-6-thinking") == BYPASS_SIGNATURE
    assert sig("claude-sonnet-4-6") is None


_scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=6))
_part = st.one_of(
    st.text(max_size=5),
    st.fixed_dictionaries({"type": st.just("text"), "text": st.one_of(st.text(max_size=5), _scalar)}),
    st.fixed_dictionaries(
        {
            "type": st.just("image_url"),
            "image_url": st.fixed_dictionaries(
                {"url": st.sampled_from(["https://x/y.png", "data:image/png;base64,AAAA", "x", "data:,"])}
            ),
        }
    ),
    st.dictionaries(st.sampled_from(["type", "text", "image_url"]), _scalar, max_size=2),
)
_call = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["a", "b", ""]),
        "type": st.just("function"),
        "function": st.fixed_dictionaries(
            {
                "name": st.sampled_from(["f", "g", ""]),
                "arguments": st.sampled_from(["{}", '{"x":1}', "", "[", "1"]),
            }
        ),
    }
)
_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "bot"])},
    optional={
        "content": st.one_of(_scalar, st.lists(_part, max_size=3)),
        "tool_calls": st.lists(_call, max_size=2),
        "tool_call_id": st.sampled_from(["a", "b", "zz"]),
        "name": st.sampled_from(["f", "g"]),
        "reasoning_content": st.text(max_size=5),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_message, min_size=1, max_size=6),
    st.sampled_from(["gemini-2.5-flash", "gemini-2.0-flash", "claude-sonnet-4-6-thinking"]),
)
def test_fuzz_only_request_errors_and_valid_requests(messages: list[dict[str, Any]], model: str) -> None:
    from tests.fakes.validation import Issues, check_claude_thinking, validate_request

    body = {"model": "m", "messages": messages, "tools": [{"type": "function", "function": {"name": "f"}}]}
    try:
        req = to_gemini(body, upstream_model=model, signatures={"a": "c2ln"})
    except RequestError as e:
        assert e.message and e.status == 400
        return
    validate_request(req, Issues())
    if model.startswith("claude"):
        check_claude_thinking(req["contents"], "thinkingConfig" in req.get("generationConfig", {}))


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=20), st.text(max_size=20), st.integers(min_value=0, max_value=2**40), st.booleans(),
       st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4))
def test_chunks_are_the_bytes_of_encoding_the_whole_chunk(cid: str, model: str, created: int, usage: bool,
                                                         texts: list[str]) -> None:
    """The fixed chunk fields are serialised once; every frame is still exactly encode_data of the chunk."""
    from trayproxy.protocols.sse import DONE, encode_data

    m = ChatStream(model=model, completion_id=cid, created=created, stream=True, include_usage=usage,
                   new_id=lambda p: p + "1")
    frames: list[bytes] = []
    for t in texts:
        frames += m.feed({"candidates": [{"content": {"parts": [{"text": t}]}}]})
    frames += m.feed({"candidates": [{"finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 3}})
    frames += m.finish()
    assert frames[-1] == DONE
    for f in frames[:-1]:
        obj = orjson.loads(f[len(b"data: "):])
        assert list(obj)[:5] == ["id", "object", "created", "model", "choices"]
        assert (obj["id"], obj["model"], obj["created"], "usage" in obj) == (cid, model, created, usage)
        assert f == encode_data(obj)
