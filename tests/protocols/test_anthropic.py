"""Tests for trayproxy.protocols.anthropic.

Golden fixtures live in tests/protocols/golden/anthropic/:
- requests/*.json: an Anthropic request -> the exact Gemini request (tool `parameters` are
  written as {"$clean_schema": <input_schema>} and checked against `tool_schema` itself (the
  cleaned schema, rewritten for Claude on Claude upstreams: tests/protocols/core/test_tool_schema.py), so
  the fixtures do not depend on the schema cleaner's details);
- responses/*.json: upstream events -> the exact SSE frames, the non-streaming Message, the
  remembered signatures and the failure verdict;
- background.json: request bodies -> is_background_request.

`TRAYPROXY_REGEN_GOLDEN=1 pytest tests/protocols/test_anthropic.py` rewrites the expected parts
(review the diff!). Independent checks (protocol invariants, the anthropic SDK's own
accumulator, round trips) keep the goldens honest.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic as anthropic_sdk
import orjson
import pytest

from tests.fakes import validation as fake_validation
from trayproxy.protocols import anthropic as ap
from trayproxy.protocols import anthropic_tools as at
from trayproxy.protocols.core.tool_schema import tool_schema
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import BYPASS_SIGNATURE, is_thinking_model
from trayproxy.protocols.schema import clean_schema
from trayproxy.protocols.sse import SSEDecoder

try:  # the anthropic SDK's HTTP client (httpx2 in recent releases, httpx before)
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

GOLDEN = Path(__file__).parent / "golden" / "anthropic"
REGEN = os.environ.get("TRAYPROXY_REGEN_GOLDEN") == "1"


def _load(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def _save(path: Path, obj: Any) -> None:
    path.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")


def _ids() -> Any:
    n = {"i": 0}

    def new_id(prefix: str) -> str:
        n["i"] += 1
        return f"{prefix}gen{n['i']:02d}"

    return new_id


# -- requests ---------------------------------------------------------------------------------


def _mark_schemas(req: dict[str, Any], body: dict[str, Any], model: str) -> dict[str, Any]:
    """Check every declaration's parameters == tool_schema(input_schema, model), then replace them
    by a marker so the golden file is independent of the cleaner's exact output."""
    schemas = {
        t["name"]: t.get("input_schema") or {"type": "object", "properties": {}}
        for t in body.get("tools", [])
        if t.get("type") in (None, "custom")
    }
    for i, t in enumerate(body.get("tools", [])):  # Anthropic's typed client tools, with their documented schema
        if t.get("type") not in (None, "custom") and not at.is_search(t.get("type")):
            schemas[t["name"]] = at.classify(t, f"tools[{i}]").schema
    req = orjson.loads(orjson.dumps(req))
    for tool in req.get("tools", []):
        for decl in tool.get("functionDeclarations", []):
            assert decl["parameters"] == tool_schema(schemas[decl["name"]], model), decl["name"]
            decl["parameters"] = {"$clean_schema": schemas[decl["name"]]}
    gc = req.get("generationConfig", {})
    if "responseSchema" in gc:
        fmt = (body.get("output_config") or {}).get("format") or body.get("output_format")
        assert isinstance(fmt, dict)
        assert gc["responseSchema"] == clean_schema(fmt["schema"], require_object=False)
        gc["responseSchema"] = {"$clean_schema": fmt["schema"]}
    return req


def _convert(case: dict[str, Any]) -> dict[str, Any]:
    body = orjson.loads(orjson.dumps(case["body"]))  # the converter must not need the caller's copy
    if case.get("kind") == "count_tokens":
        out = ap.count_tokens_request(body, upstream_model=case["upstream_model"])
        return {"request": _mark_schemas(out["request"], case["body"], case["upstream_model"])}
    out = ap.to_gemini(body, upstream_model=case["upstream_model"], signatures=case.get("signatures", {}))
    return _mark_schemas(out, case["body"], case["upstream_model"])


REQUEST_CASES = sorted((GOLDEN / "requests").glob("*.json"))


@pytest.mark.parametrize("path", REQUEST_CASES, ids=[p.stem for p in REQUEST_CASES])
def test_request_golden(path: Path) -> None:
    case = _load(path)
    actual = _convert(case)
    if REGEN:
        case["expected"] = actual
        _save(path, case)
    assert "expected" in case, f"{path.name} has no expected output; regenerate and review it"
    assert actual == case["expected"]
    _check_gemini_request(actual.get("request", actual))


def _check_gemini_request(req: dict[str, Any]) -> None:
    """Things the upstream rejects, whatever the golden says."""
    contents = req["contents"]
    assert contents, "no contents"
    for k in range(1, len(contents)):
        assert contents[k - 1]["role"] != contents[k]["role"], "consecutive turns with the same role"
    for turn in contents:
        assert turn["role"] in ("user", "model")
        assert turn["parts"], "empty turn"
        for part in turn["parts"]:
            if "text" in part:
                assert part["text"].strip(), "empty text part"
            assert not any(k.startswith("_") for k in part), part
    blob = orjson.dumps(req)
    assert b"cache_control" not in blob
    assert b"tp1." not in blob, "a client-side signature tag leaked upstream"
    gc = req.get("generationConfig", {})
    tc = gc.get("thinkingConfig", {})
    if "thinkingBudget" in tc and tc["thinkingBudget"]:
        assert gc["maxOutputTokens"] > tc["thinkingBudget"]


def _issued_by(case: dict[str, Any]) -> dict[str, str]:
    """raw signature -> the fake upstream's family that issued it, from the case's own data:
    tagged signatures say so; untagged remembered ones were issued by this upstream."""
    fake_family = {"claude": "claude", "gemini2": "gemini", "gemini3": "gemini"}
    issued: dict[str, str] = {}
    sigs = [
        b.get("signature")
        for m in case["body"]["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
    ]
    for value in [*sigs, *case.get("signatures", {}).values()]:
        if not isinstance(value, str) or not value:
            continue
        family, raw = ap.decode_signature(value)
        if family is not None:
            issued[raw] = fake_family.get(family, family)
        elif value in case.get("signatures", {}).values():
            issued[raw] = fake_validation.model_family(case["upstream_model"])
    return issued


@pytest.mark.parametrize("path", REQUEST_CASES, ids=[p.stem for p in REQUEST_CASES])
def test_fake_upstream_accepts_the_request(path: Path) -> None:
    """The fake Cloud Code's validator (field names, types, turn order, signature and Claude
    thinking rules) accepts what we send."""
    case = _load(path)
    model = case["upstream_model"]
    if case.get("kind") == "count_tokens":
        fake_validation.validate_count_tokens(ap.count_tokens_request(case["body"], upstream_model=model))
        return
    req = ap.to_gemini(case["body"], upstream_model=model, signatures=case.get("signatures", {}))
    fake_validation.validate_request(req, fake_validation.Issues())
    family = fake_validation.model_family(model)
    if is_thinking_model(model):
        issued = _issued_by(case)
        fake_validation.check_signatures(req["contents"], family, issued.get)
    if family == "claude":
        thinking = req["generationConfig"].get("thinkingConfig", {}).get("includeThoughts") is True
        fake_validation.check_claude_thinking(req["contents"], thinking)


def test_golden_cases_cover_the_brief() -> None:
    names = {p.stem for p in REQUEST_CASES}
    for needed in (
        "claude_thinking_tool_round_trip",
        "gemini_thinking_tool_round_trip",
        "cross_family_to_claude",
        "cross_family_to_gemini",
        "images",
        "pdf_documents",
        "system_blocks_cache_control",
        "tool_choice_auto",
        "tool_choice_any",
        "tool_choice_tool",
        "tool_choice_none",
        "count_tokens",
    ):
        assert needed in names


def test_request_body_is_not_mutated() -> None:
    case = _load(GOLDEN / "requests" / "gemini_thinking_tool_round_trip.json")
    body = case["body"]
    before = orjson.dumps(body)
    ap.to_gemini(body, upstream_model=case["upstream_model"], signatures=case["signatures"])
    assert orjson.dumps(body) == before


BASE = {"model": "claude-sonnet-4-5", "max_tokens": 100}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": "m", "max_tokens": True, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({**BASE}, "messages"),
        ({**BASE, "messages": []}, "messages"),
        ({**BASE, "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({**BASE, "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {**BASE, "messages": [{"role": "user", "content": [{"type": "audio"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {**BASE, "messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]},
            "messages[0].content[0].tool_use_id",
        ),
        (
            {
                **BASE,
                "messages": [{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "b"}]}],
            },
            "messages[0].content[0]",
        ),
        (
            {
                **BASE,
                "messages": [
                    {"role": "assistant", "content": [{"type": "tool_use", "name": "b", "input": {}}]}
                ],
            },
            "messages[0].content[0].id",
        ),
        (
            {
                **BASE,
                "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]}],
            },
            "messages[0].content[0].source.data",
        ),
        (
            {
                **BASE,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                    }
                ],
            },
            "messages[0].content[0].source.type",
        ),
        (
            {**BASE, "system": [{"type": "image"}], "messages": [{"role": "user", "content": "x"}]},
            "system[0]",
        ),
        ({**BASE, "messages": [{"role": "user", "content": "   "}]}, "messages"),
        (
            {**BASE, "thinking": {"type": "enabled"}, "messages": [{"role": "user", "content": "x"}]},
            "thinking.budget_tokens",
        ),
        (
            {**BASE, "thinking": {"type": "sometimes"}, "messages": [{"role": "user", "content": "x"}]},
            "thinking.type",
        ),
        ({**BASE, "temperature": "hot", "messages": [{"role": "user", "content": "x"}]}, "temperature"),
        ({**BASE, "stop_sequences": "END", "messages": [{"role": "user", "content": "x"}]}, "stop_sequences"),
        (
            {
                **BASE,
                "tools": [{"name": "a", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": "b"},
                "messages": [{"role": "user", "content": "x"}],
            },
            "tool_choice.name",
        ),
        (
            {**BASE, "tools": [{"description": "no name"}], "messages": [{"role": "user", "content": "x"}]},
            "tools[0].name",
        ),
        # typed tools the upstream cannot serve: a 400 naming them, never left out without a word
        (
            {**BASE, "tools": [{"name": "a", "input_schema": {"type": "object"}},
                               {"type": "web_fetch_20250910", "name": "web_fetch"}],
             "messages": [{"role": "user", "content": "x"}]},
            "tools[1].type",
        ),
        (
            {**BASE, "tools": [{"type": "code_execution_20250825", "name": "code_execution"}],
             "messages": [{"role": "user", "content": "x"}]},
            "tools[0].type",
        ),
        (
            {**BASE, "tools": [{"type": "computer_20250124", "name": "computer", "display_width_px": 1024,
                                "display_height_px": 768}],
             "messages": [{"role": "user", "content": "x"}]},
            "tools[0].type",
        ),
        (
            {
                **BASE,
                "output_config": {"format": {"type": "xml"}},
                "messages": [{"role": "user", "content": "x"}],
            },
            "output_config.format.type",
        ),
        (
            {
                **BASE,
                "output_format": {"type": "json_schema"},
                "messages": [{"role": "user", "content": "x"}],
            },
            "output_format.schema",
        ),
    ],
)
def test_invalid_requests_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(RequestError) as e:
        ap.to_gemini(body, upstream_model="gemini-3-pro-preview", signatures={})
    assert e.value.field == field
    assert e.value.status == 400
    assert e.value.message.endswith(".")


def test_max_tokens_clamped_to_the_model_cap() -> None:
    body = {**BASE, "max_tokens": 200_000, "messages": [{"role": "user", "content": "x"}]}
    assert (
        ap.to_gemini(body, upstream_model="claude-sonnet-4-6", signatures={})["generationConfig"][
            "maxOutputTokens"
        ]
        == 64000
    )
    assert (
        ap.to_gemini(body, upstream_model="gemini-3-flash", signatures={})["generationConfig"][
            "maxOutputTokens"
        ]
        == 65536
    )


def test_stop_sequences_capped_at_five() -> None:
    body = {**BASE, "stop_sequences": list("abcdefg"), "messages": [{"role": "user", "content": "x"}]}
    gc = ap.to_gemini(body, upstream_model="gemini-3-flash", signatures={})["generationConfig"]
    assert gc["stopSequences"] == list("abcde")


def test_thinking_on_non_thinking_gemini_is_not_sent() -> None:
    body = {
        **BASE,
        "max_tokens": 8000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [{"role": "user", "content": "x"}],
    }
    gc = ap.to_gemini(body, upstream_model="gemini-2.0-flash", signatures={})["generationConfig"]
    assert "thinkingConfig" not in gc and gc["maxOutputTokens"] == 8000


def test_adaptive_budget_too_small_turns_thinking_off() -> None:
    body = {
        **BASE,
        "max_tokens": 3000,
        "thinking": {"type": "adaptive"},
        "messages": [{"role": "user", "content": "x"}],
    }
    gc = ap.to_gemini(body, upstream_model="claude-opus-4-6-thinking", signatures={})["generationConfig"]
    assert gc == {"maxOutputTokens": 3000}


# -- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("claude-opus-4-6-thinking", "claude"),
        ("claude-sonnet-4-6", "claude"),
        ("gemini-2.5-flash", "gemini2"),
        ("gemini-3-pro-preview", "gemini3"),
        ("gemini-3.1-pro-low", "gemini3"),
        ("gemini-pro-agent", "gemini3"),
        ("gemini-3-flash-agent", "gemini3"),
        ("models/gemini-3-flash", "gemini3"),
        ("gpt-oss-120b-medium", "gptoss"),
        ("Some.Model", "m-some-model"),
    ],
)
def test_signature_family(model: str, family: str) -> None:
    assert ap.signature_family(model) == family


def test_signature_tag_round_trip() -> None:
    raw = "Ab+/=.x"
    tagged = ap.encode_signature(raw, model="gemini-3-pro-preview")
    assert tagged == "tp1.gemini3.Ab+/=.x"
    assert ap.decode_signature(tagged) == ("gemini3", raw)
    assert ap.decode_signature("ErUBCkYIAxgC") == (None, "ErUBCkYIAxgC")
    assert ap.decode_signature("tp1.") == (None, "tp1.")
    assert ap.decode_signature("tp1.claude.") == (None, "tp1.claude.")


# -- responses --------------------------------------------------------------------------------

FRAME = re.compile(rb"\Aevent: ([a-z_]+)\ndata: (\{.*\})\n\n\Z", re.S)


def _split_frames(frames: list[bytes]) -> list[tuple[str, Any]]:
    out = []
    for f in frames:
        m = FRAME.match(f)
        assert m, f"badly framed SSE: {f!r}"
        name, data = m.group(1).decode(), orjson.loads(m.group(2))
        assert data["type"] == name
        out.append((name, data))
    return out


def _run(case: dict[str, Any], *, stream: bool) -> tuple[ap.MessagesStream, list[bytes]]:
    s = ap.MessagesStream(
        model=case["model"],
        message_id="msg_golden",
        stream=stream,
        new_id=_ids(),
        upstream_model=case["upstream_model"],
    )
    frames: list[bytes] = []
    for ev in case["events"]:
        frames.extend(s.feed(ev))
    ending = case["ending"]
    if ending == "finish":
        frames.extend(s.finish())
    else:
        frames.extend(s.fail(ending["fail"], error_type=ending.get("error_type", "api_error")))
    return s, frames


def _check_protocol(events: list[tuple[str, Any]]) -> None:
    """Anthropic's event grammar, independent of any golden file."""
    if events and events[0][0] == "error":
        assert len(events) == 1
        return
    names = [n for n, _ in events]
    assert names[0] == "message_start"
    msg = events[0][1]["message"]
    assert msg["content"] == [] and msg["stop_reason"] is None and msg["stop_sequence"] is None
    assert set(msg["usage"]) >= {"input_tokens", "output_tokens", "cache_read_input_tokens"}
    open_index: int | None = None
    open_type = ""
    next_index = 0
    last_delta = None
    ended = False
    for name, data in events[1:]:
        assert not ended or name == "message_stop", "events after message_delta"
        if name == "content_block_start":
            assert open_index is None, "two blocks open"
            assert data["index"] == next_index
            block = data["content_block"]
            open_index, open_type, last_delta = data["index"], block["type"], None
            next_index += 1
            if block["type"] == "tool_use":
                assert block["input"] == {}
            if block["type"] == "thinking":
                assert block == {"type": "thinking", "thinking": "", "signature": ""}
            if block["type"] == "text":
                assert block == {"type": "text", "text": ""}
        elif name == "content_block_delta":
            assert data["index"] == open_index
            dtype = data["delta"]["type"]
            allowed = {
                "text": {"text_delta"},
                "thinking": {"thinking_delta", "signature_delta"},
                "tool_use": {"input_json_delta"},
            }[open_type]
            assert dtype in allowed
            assert last_delta != "signature_delta", "signature_delta must be the block's last delta"
            last_delta = dtype
        elif name == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
        elif name == "message_delta":
            assert open_index is None
            assert data["delta"]["stop_reason"] in (
                "end_turn",
                "max_tokens",
                "stop_sequence",
                "tool_use",
                "refusal",
            )
            ended = True
        elif name == "message_stop":
            assert ended
        elif name == "error":
            assert events[-1] == (name, data)
            return
        else:
            raise AssertionError(f"unexpected event {name}")
    assert names[-1] == "message_stop"


RESPONSE_CASES = sorted((GOLDEN / "responses").glob("*.json"))


@pytest.mark.parametrize("path", RESPONSE_CASES, ids=[p.stem for p in RESPONSE_CASES])
def test_response_golden(path: Path) -> None:
    case = _load(path)
    s, frames = _run(case, stream=True)
    events = _split_frames(frames)
    actual = {
        "expected_sse": [[n, d] for n, d in events],
        "expected_result": s.result(),
        "expected_signatures": s.signatures,
        "expected_failure": s.failure,
        "expected_produced_output": s.produced_output,
    }
    if REGEN:
        case.update(actual)
        _save(path, case)
    for key, value in actual.items():
        assert key in case, f"{path.name} lacks {key}; regenerate and review it"
        assert value == case[key], key
    _check_protocol(events)
    # The SSE decoder of the project reads the concatenated stream back identically.
    decoded = SSEDecoder().feed(b"".join(frames))
    assert [(e.event, e.json()) for e in decoded] == events


@pytest.mark.parametrize("path", RESPONSE_CASES, ids=[p.stem for p in RESPONSE_CASES])
def test_non_streaming_collects_the_same_message(path: Path) -> None:
    case = _load(path)
    streamed, _ = _run(case, stream=True)
    s, frames = _run(case, stream=False)
    assert frames == []
    assert s.result() == streamed.result()
    assert s.signatures == streamed.signatures
    assert s.produced_output == streamed.produced_output


def _sdk_client(payload: bytes, content_type: str) -> anthropic_sdk.Anthropic:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=payload, headers={"content-type": content_type})

    return anthropic_sdk.Anthropic(
        api_key="sk-test",
        base_url="http://trayproxy.test",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def _sdk_dump(message: Any) -> dict[str, Any]:
    d: dict[str, Any] = message.model_dump(mode="json", exclude_none=True)
    d["content"] = [{k: v for k, v in b.items() if k != "citations"} for b in d["content"]]
    return d


def _ok_cases() -> Iterator[Path]:
    for p in RESPONSE_CASES:
        c = _load(p)
        if c["ending"] == "finish" and c.get("expected_failure") is None:
            yield p


OK_CASES = list(_ok_cases())


@pytest.mark.parametrize("path", OK_CASES, ids=[p.stem for p in OK_CASES])
def test_anthropic_sdk_accumulates_our_stream(path: Path) -> None:
    case = _load(path)
    s, frames = _run(case, stream=True)
    client = _sdk_client(b"".join(frames) + s.ping(), "text/event-stream")
    with client.messages.stream(
        model="test-model", max_tokens=1024, messages=[{"role": "user", "content": "x"}]
    ) as st:
        final = st.get_final_message()
    ours = s.result()
    assert _sdk_dump(final) == {k: v for k, v in ours.items() if v is not None}
    # and the non-streaming body parses into the same Message
    client = _sdk_client(orjson.dumps(ours), "application/json")
    created = client.messages.create(
        model="test-model", max_tokens=1024, messages=[{"role": "user", "content": "x"}]
    )
    assert _sdk_dump(created) == _sdk_dump(final)


def test_sdk_text_stream_and_tool_input() -> None:
    case = _load(GOLDEN / "responses" / "gemini_thinking_tool_calls.json")
    s, frames = _run(case, stream=True)
    client = _sdk_client(b"".join(frames), "text/event-stream")
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as st:
        final = st.get_final_message()
    tools = [b for b in final.content if b.type == "tool_use"]
    assert [(t.name, t.input) for t in tools] == [
        ("Read", {"file_path": "/a.py"}),
        ("Bash", {"command": "ls -la"}),
        ("Ping", {}),
    ]
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "thinking" and final.content[0].signature.startswith("tp1.gemini3.")


@pytest.mark.parametrize("name", ["malformed_after_text", "empty_answer", "fail_mid_stream"])
def test_sdk_raises_on_our_error_events(name: str) -> None:
    case = _load(GOLDEN / "responses" / f"{name}.json")
    _, frames = _run(case, stream=True)
    client = _sdk_client(b"".join(frames), "text/event-stream")
    with pytest.raises(anthropic_sdk.APIStatusError) as e:
        with client.messages.stream(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        ) as st:
            st.get_final_message()
    assert "error" in str(e.value)


def test_ping_frame() -> None:
    s = ap.MessagesStream(model="m", message_id="msg_1", stream=True, new_id=_ids())
    assert s.ping() == b'event: ping\ndata: {"type":"ping"}\n\n'


def test_nothing_is_emitted_before_content_and_after_the_end() -> None:
    s = ap.MessagesStream(
        model="m", message_id="msg_1", stream=True, new_id=_ids(), upstream_model="gemini-3-flash"
    )
    assert (
        s.feed(
            {"candidates": [{"content": {"parts": [{"text": ""}]}}], "usageMetadata": {"promptTokenCount": 5}}
        )
        == []
    )
    assert not s.produced_output and s.usage is not None and s.usage.prompt == 5
    assert s.feed({"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}]})
    assert s.produced_output and s.upstream_finish == "STOP"
    assert s.finish()[-1] == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert s.finish() == [] and s.fail("late") == []
    assert s.feed({"candidates": [{"content": {"parts": [{"text": "b"}]}}]}) == []


def test_wrapped_and_unwrapped_events_are_the_same() -> None:
    ev = {"candidates": [{"content": {"parts": [{"text": "hi"}]}, "finishReason": "STOP"}]}
    a = ap.MessagesStream(model="m", message_id="x", stream=True, new_id=_ids())
    b = ap.MessagesStream(model="m", message_id="x", stream=True, new_id=_ids())
    assert a.feed(ev) + a.finish() == b.feed({"response": ev}) + b.finish()


# -- round trips: what we stream, the client sends back ---------------------------------------


def _answer(upstream_model: str, events: list[dict[str, Any]]) -> ap.MessagesStream:
    s = ap.MessagesStream(
        model="claude-opus-4-6",
        message_id="msg_rt",
        stream=False,
        new_id=_ids(),
        upstream_model=upstream_model,
    )
    for ev in events:
        s.feed(ev)
    s.finish()
    return s


def _next_request(content: list[dict[str, Any]], tool_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-opus-4-6",
        "max_tokens": 32000,
        "tools": [
            {
                "name": "Bash",
                "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
            }
        ],
        "messages": [
            {"role": "user", "content": "run it"},
            {"role": "assistant", "content": content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "done"}]},
        ],
        **extra,
    }


def _model_turn(req: dict[str, Any]) -> list[dict[str, Any]]:
    turns = [c for c in req["contents"] if c["role"] == "model"]
    assert len(turns) == 1
    parts: list[dict[str, Any]] = turns[0]["parts"]
    return parts


GEMINI_EVENTS: list[dict[str, Any]] = [
    {"candidates": [{"content": {"parts": [{"text": "plan", "thought": True}]}}]},
    {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {
                            "functionCall": {"name": "Bash", "args": {"command": "ls"}, "id": "fc1"},
                            "thoughtSignature": "GSIG1",
                        }
                    ]
                },
                "finishReason": "STOP",
            }
        ]
    },
]
CLAUDE_EVENTS: list[dict[str, Any]] = [
    {
        "candidates": [
            {"content": {"parts": [{"text": "plan", "thought": True, "thoughtSignature": "CSIG1"}]}}
        ]
    },
    {
        "candidates": [
            {
                "content": {"parts": [{"functionCall": {"name": "Bash", "args": {"command": "ls"}}}]},
                "finishReason": "STOP",
            }
        ]
    },
]
THINK = {"thinking": {"type": "enabled", "budget_tokens": 4000}}


def test_round_trip_gemini_signature_returns_to_the_call() -> None:
    s = _answer("gemini-3-pro-preview", GEMINI_EVENTS)
    content = s.result()["content"]
    assert s.signatures == {"fc1": "tp1.gemini3.GSIG1"}
    req = ap.to_gemini(
        _next_request(content, "fc1", **THINK), upstream_model="gemini-3-pro-preview", signatures={}
    )
    assert _model_turn(req) == [
        {
            "functionCall": {"name": "Bash", "args": {"command": "ls"}, "id": "fc1"},
            "thoughtSignature": "GSIG1",
        }
    ]
    # same family, another tier the effort variants switch to
    req = ap.to_gemini(
        _next_request(content, "fc1", **THINK), upstream_model="gemini-pro-agent", signatures={}
    )
    assert _model_turn(req)[0]["thoughtSignature"] == "GSIG1"


def test_round_trip_client_dropped_thinking_uses_memory() -> None:
    s = _answer("gemini-3-pro-preview", GEMINI_EVENTS)
    only_tools = [b for b in s.result()["content"] if b["type"] == "tool_use"]
    req = ap.to_gemini(
        _next_request(only_tools, "fc1"), upstream_model="gemini-3-pro-preview", signatures=s.signatures
    )
    assert _model_turn(req)[0]["thoughtSignature"] == "GSIG1"
    # without memory: the documented bypass value, never an invented one
    req = ap.to_gemini(_next_request(only_tools, "fc1"), upstream_model="gemini-3-pro-preview", signatures={})
    assert _model_turn(req)[0]["thoughtSignature"] == BYPASS_SIGNATURE


def test_round_trip_claude_keeps_thinking_first_and_on() -> None:
    s = _answer("claude-opus-4-6-thinking", CLAUDE_EVENTS)
    content = s.result()["content"]
    tool_id = content[1]["id"]
    assert tool_id == "toolu_gen01"
    assert s.signatures == {tool_id: "tp1.claude.CSIG1"}
    req = ap.to_gemini(
        _next_request(content, tool_id, **THINK), upstream_model="claude-opus-4-6-thinking", signatures={}
    )
    parts = _model_turn(req)
    assert parts[0] == {"text": "plan", "thought": True, "thoughtSignature": "CSIG1"}
    assert parts[1]["thoughtSignature"] == "CSIG1"
    assert req["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 4000}


def test_round_trip_switching_family_degrades_instead_of_failing() -> None:
    g = _answer("gemini-3-pro-preview", GEMINI_EVENTS).result()["content"]
    req = ap.to_gemini(
        _next_request(g, "fc1", **THINK), upstream_model="claude-opus-4-6-thinking", signatures={}
    )
    parts = _model_turn(req)
    assert parts == [
        {
            "functionCall": {"name": "Bash", "args": {"command": "ls"}, "id": "fc1"},
            "thoughtSignature": BYPASS_SIGNATURE,
        }
    ]
    assert "thinkingConfig" not in req["generationConfig"]
    c = _answer("claude-opus-4-6-thinking", CLAUDE_EVENTS).result()["content"]
    req = ap.to_gemini(
        _next_request(c, c[1]["id"], **THINK), upstream_model="gemini-2.5-flash", signatures={}
    )
    assert _model_turn(req)[0]["thoughtSignature"] == BYPASS_SIGNATURE
    assert b"CSIG1" not in orjson.dumps(req)


def test_claude_thinking_stays_on_when_loop_is_not_at_the_end() -> None:
    body = {
        **THINK,
        "model": "m",
        "max_tokens": 32000,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
            {"role": "assistant", "content": "done"},
            {"role": "user", "content": "next task"},
        ],
    }
    req = ap.to_gemini(body, upstream_model="claude-opus-4-6-thinking", signatures={})
    assert req["generationConfig"]["thinkingConfig"]["includeThoughts"] is True


# -- background requests ----------------------------------------------------------------------


BACKGROUND = _load(GOLDEN / "background.json")


@pytest.mark.parametrize("case", BACKGROUND, ids=[c["name"] for c in BACKGROUND])
def test_background_detection(case: dict[str, Any]) -> None:
    assert ap.is_background_request(case["body"]) is case["expected"]


def test_background_cases_cover_both_answers() -> None:
    assert {c["expected"] for c in BACKGROUND} == {True, False}
    assert ap.is_background_request({}) is False
    assert ap.is_background_request({"messages": "x"}) is False


# -- multi-turn agent loop against the fake Cloud Code's own rules ----------------------------


class _FakeUpstream:
    """The fake Cloud Code's validation and reply rendering, without HTTP: every request must
    pass its signature and Claude-thinking checks, as the real upstream's would."""

    def __init__(self) -> None:
        import hashlib
        import itertools

        self._hash = hashlib.sha256
        self._ids = itertools.count(1)
        self.issued: dict[str, str] = {}

    def sign(self, model: str) -> str:
        import base64

        family = fake_validation.model_family(model)
        n = next(self._ids)
        sig = base64.b64encode(
            f"{family}:{n}:".encode() + self._hash(f"{family}{n}".encode()).digest()
        ).decode()
        self.issued[sig] = family
        return sig

    def generate(self, model: str, req: dict[str, Any], reply: Any) -> list[dict[str, Any]]:
        from tests.fakes.replies import Call

        fake_validation.validate_request(orjson.loads(orjson.dumps(req)), fake_validation.Issues())
        thinking = is_thinking_model(model)
        tc = req.get("generationConfig", {}).get("thinkingConfig", {})
        if thinking:
            fake_validation.check_signatures(
                req["contents"], fake_validation.model_family(model), self.issued.get
            )
            if fake_validation.model_family(model) == "claude":
                enabled = bool(tc.get("includeThoughts") or tc.get("thinkingBudget"))
                fake_validation.check_claude_thinking(req["contents"], enabled)
        call = Call(
            model=model,
            request=req,
            thinking=thinking,
            include_thoughts=bool(tc.get("includeThoughts")),
            sign=lambda: self.sign(model),
            response_id="r1",
            now=0.0,
        )
        chunks: list[dict[str, Any]] = reply.render(call)
        return chunks


# (upstream model, reply kind) per step; the client answers every tool call and continues.
AGENT_STEPS = [
    ("gemini-3-pro-preview", "calls2"),
    ("gemini-3-pro-preview", "call"),
    ("claude-opus-4-6-thinking", "call"),  # family switch inside the tool loop
    ("claude-opus-4-6-thinking", "calls2"),
    ("gemini-pro-agent", "call"),  # back to Gemini, another tier
    ("gemini-2.5-flash", "call"),  # another Gemini generation
    ("claude-opus-4-6-thinking", "text"),
]


@pytest.mark.parametrize(
    "keep_thinking", [True, False], ids=["client_keeps_thinking", "client_strips_thinking"]
)
@pytest.mark.parametrize("thinking", [{"type": "enabled", "budget_tokens": 4000}, {"type": "adaptive"}, None])
def test_agent_loop_across_families_never_upsets_the_upstream(keep_thinking: bool, thinking: Any) -> None:
    from tests.fakes.replies import Reply

    upstream = _FakeUpstream()
    memory: dict[str, str] = {}
    tools = [
        {"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}
    ]
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Fix the build"}]
    body: dict[str, Any] = {
        "model": "claude-opus-4-6",
        "max_tokens": 32000,
        "tools": tools,
        "messages": messages,
    }
    if thinking is not None:
        body["thinking"] = thinking
    replayed = 0
    for step, (model, kind) in enumerate(AGENT_STEPS):
        req = ap.to_gemini(body, upstream_model=model, signatures=memory)
        replayed += sum(
            1
            for c in req["contents"]
            for p in c["parts"]
            if p.get("thoughtSignature") not in (None, BYPASS_SIGNATURE)
        )
        if kind == "text":
            reply = Reply.text("All done.")
        elif kind == "call":
            reply = Reply.tool_call("Bash", {"command": f"make step{step}"})
        else:
            reply = Reply.tool_calls([("Bash", {"command": f"a{step}"}), ("Bash", {"command": f"b{step}"})])
        s = ap.MessagesStream(
            model="claude-opus-4-6",
            message_id=f"msg_{step}",
            stream=True,
            new_id=_ids(),
            upstream_model=model,
        )
        frames: list[bytes] = []
        for chunk in upstream.generate(model, req, reply):
            frames.extend(s.feed({"response": chunk}))
        frames.extend(s.finish())
        _check_protocol(_split_frames(frames))
        assert s.failure is None
        memory.update(s.signatures)
        content = s.result()["content"]
        if not keep_thinking:
            content = [b for b in content if b["type"] != "thinking"]
        messages.append({"role": "assistant", "content": content})
        tool_ids = [b["id"] for b in content if b["type"] == "tool_use"]
        if kind == "text":
            assert not tool_ids
            break
        assert len(tool_ids) == (2 if kind == "calls2" else 1)
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": t, "content": "ok"} for t in tool_ids],
            }
        )
    # Real signatures were replayed (not only the bypass value): continuity was kept where possible.
    assert replayed > 0


def test_system_role_messages_join_the_system_instruction() -> None:
    # Claude Code sends some instructions as messages with role "system".
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 100,
        "system": "Base rules.",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "Extra rule."}]},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "again"},
        ],
    }
    req = ap.to_gemini(body, upstream_model="gemini-3-flash", signatures={})
    assert [p["text"] for p in req["systemInstruction"]["parts"]] == ["Base rules.", "Extra rule."]
    assert [c["role"] for c in req["contents"]] == ["user", "model", "user"]


def test_deltas_are_the_bytes_of_encoding_the_whole_event() -> None:
    """content_block_delta frames are built without their dict; they must be exactly encode_event's."""
    from trayproxy.protocols.sse import encode_event

    s = ap.MessagesStream(model="m", message_id="msg_1", stream=True, new_id=lambda p: p + "1",
                          upstream_model="gemini-3-flash")
    frames: list[bytes] = []
    for part in ({"text": "é \"q\" \u2028"}, {"text": "t", "thought": True}, {"functionCall": {"name": "f", "args": {"a": [1]}}},
                 {"text": "end"}):
        frames += s.feed({"candidates": [{"content": {"parts": [part]}}]})
    deltas = [f for f in frames if f.startswith(b"event: content_block_delta\n")]
    assert len(deltas) == 4
    for f in deltas:
        obj = orjson.loads(f.split(b"\ndata: ", 1)[1])
        assert f == encode_event("content_block_delta", obj)
