"""Responses API converter: request -> chat body (golden), Gemini stream -> Responses events."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from trayproxy.protocols import openai_chat
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.openai_responses import (
    ResponsesStream,
    input_items,
    request_echo,
    to_chat,
    to_gemini,
    tool_set,
)

JSON = dict[str, Any]


def ids() -> Callable[[str], str]:
    counter = itertools.count(1)
    return lambda prefix: f"{prefix}{next(counter)}"


# -- request side ----------------------------------------------------------------------------------

CODEX_BODY: JSON = {
    "model": "gemini-3-pro",
    "instructions": "You are Codex.",
    "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions/>"}]},
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is in this picture? "},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
            ],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "hmm"}],
         "encrypted_content": "opaque"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "shell",
         "arguments": "{\"command\":[\"ls\"]}"},
        {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_b", "name": "apply_patch",
         "input": "*** Begin Patch\n*** End Patch"},
        {"type": "function_call_output", "call_id": "call_a", "output": "a.png"},
        {"type": "custom_tool_call_output", "call_id": "call_b",
         "output": [{"type": "input_text", "text": "Done"}]},
        {"type": "local_shell_call", "id": "lsh_1", "call_id": "call_c", "status": "completed",
         "action": {"type": "exec", "command": ["pwd"], "env": {}, "working_directory": "/w"}},
        {"type": "local_shell_call_output", "id": "call_c", "output": "/w"},
        {"type": "function_call_output", "call_id": "call_zz", "output": "stray"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {"role": "user", "content": "thanks"},
    ],
    "tools": [
        {"type": "function", "name": "shell", "description": "Run a command",
         "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}, "strict": False},
        {"type": "custom", "name": "apply_patch", "description": "Edit files",
         "format": {"type": "grammar", "syntax": "lark", "definition": "start: patch"}},
        {"type": "local_shell"},
        {"type": "web_search"},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "reasoning": {"effort": "high", "summary": "auto"},
    "max_output_tokens": 2048,
    "temperature": 0.5,
    "top_p": 0.9,
    "text": {"format": {"type": "json_schema", "name": "answer", "strict": True,
                        "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
    "store": False,
    "stream": True,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "conv-1",
}

CODEX_CHAT: JSON = {
    "model": "gemini-3-pro",
    "messages": [
        {"role": "system", "content": "You are Codex."},
        {"role": "developer", "content": "<permissions/>"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture? "},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "auto"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Let me look.",
            "reasoning_content": "hmm",
            "tool_calls": [
                {"id": "call_a", "type": "function",
                 "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}},
                {"id": "call_b", "type": "function",
                 "function": {"name": "apply_patch",
                              "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\"}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "a.png"},
        {"role": "tool", "tool_call_id": "call_b", "content": "Done"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_c", "type": "function",
                 "function": {"name": "local_shell", "arguments": "{\"command\":[\"pwd\"],\"workdir\":\"/w\"}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_c", "content": "/w"},
        {"role": "user", "content": "[Output of tool call call_zz]\nstray"},
        # a hosted call of an earlier turn is a note in the assistant's turn, never dropped (#25)
        {"role": "assistant", "content": "(web search)"},
        {"role": "user", "content": "thanks"},
    ],
    "tools": [
        {"type": "function", "function": {
            "name": "shell", "description": "Run a command",
            "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}, "strict": False}},
        {"type": "function", "function": {
            "name": "apply_patch",
            # "no markdown fence": Codex runs a fenced `exec` input as JavaScript and fails (#25)
            "description": "Edit files\n\nPut the whole tool input, as raw text (no JSON, no markdown fence), "
                           "in the `input` argument. "
                           "It must follow this lark grammar:\nstart: patch",
            "parameters": {"type": "object",
                           "properties": {"input": {"type": "string", "description": "The raw tool input."}},
                           "required": ["input"]}}},
        {"type": "function", "function": {
            "name": "local_shell", "description": "Run a command on the user's machine.",
            "parameters": {"type": "object", "properties": {
                "command": {"type": "array", "items": {"type": "string"},
                            "description": "The command and its arguments, e.g. [\"bash\", \"-lc\", \"ls\"]."},
                "workdir": {"type": "string", "description": "The working directory."},
                "timeout_ms": {"type": "integer", "description": "Timeout in milliseconds."}},
                "required": ["command"]}}},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "temperature": 0.5,
    "top_p": 0.9,
    "max_completion_tokens": 2048,
    "reasoning_effort": "high",
    "response_format": {"type": "json_schema", "json_schema": {
        "name": "answer", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}, "strict": True}},
    "prompt_cache_key": "conv-1",
}


def test_codex_request_golden() -> None:
    assert to_chat(CODEX_BODY, history=None) == CODEX_CHAT


def test_string_input_and_history_come_first() -> None:
    history = [
        {"type": "message", "role": "user", "content": "first"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        {"id": "msg_9", "type": "message", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "answer", "annotations": []}]},
    ]
    chat = to_chat({"model": "m", "input": "second", "instructions": "be brief"}, history=history)
    assert chat == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": "second"},
        ],
    }


def test_output_for_a_call_made_in_history_is_a_tool_message() -> None:
    history = [{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"x\":1}"}]
    chat = to_chat({"model": "m", "input": [{"type": "function_call_output", "call_id": "c1",
                                             "output": [{"type": "input_text", "text": "r"},
                                                        {"type": "input_image", "image_url": "https://x/y.png"}]}]},
                   history=history)
    assert chat["messages"][-1] == {
        "role": "tool", "tool_call_id": "c1",
        "content": [{"type": "text", "text": "r"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
    }


def test_hosted_tools_only_gives_no_tools_and_no_tool_choice() -> None:
    chat = to_chat({"model": "m", "input": "q", "tools": [{"type": "web_search_preview"}, {"type": "file_search"}],
                    "tool_choice": "required"}, history=None)
    assert "tools" not in chat and "tool_choice" not in chat


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", "none"),
        ("required", "required"),
        ({"type": "function", "name": "f"}, {"type": "function", "function": {"name": "f"}}),
        ({"type": "custom", "name": "apply_patch"}, {"type": "function", "function": {"name": "apply_patch"}}),
        ({"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "f"}]},
         {"type": "allowed_tools",
          "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "f"}}]}}),
        ({"type": "allowed_tools", "mode": "auto", "tools": [{"type": "web_search"}]}, "auto"),
        ({"type": "web_search_preview"}, "auto"),
    ],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    body = {"model": "m", "input": "q", "tool_choice": choice,
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}
    assert to_chat(body, history=None)["tool_choice"] == expected


def test_json_object_format_and_text_format() -> None:
    assert to_chat({"model": "m", "input": "q", "text": {"format": {"type": "json_object"}}},
                   history=None)["response_format"] == {"type": "json_object"}
    assert "response_format" not in to_chat({"model": "m", "input": "q", "text": {"format": {"type": "text"}}},
                                            history=None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": "q"}, "model"),
        ({"model": "", "input": "q"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": 5}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": [7]}, "input[0]"),
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": ["ok", {"type": "function_call", "name": "f"}]}, "input[1].call_id"),
        ({"model": "m", "input": [{"type": "function_call", "call_id": "c"}]}, "input[0].name"),
        ({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{x"}]},
         "input[0].arguments"),
        ({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}]},
         "input[0].arguments"),
        ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
         "input[0].content[0].file_id"),
        ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_video"}]}]},
         "input[0].content[0].type"),
        ({"model": "m", "input": "q", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "m", "input": "q", "temperature": "hot"}, "temperature"),
        ({"model": "m", "input": "q", "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"model": "m", "input": "q", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"model": "m", "input": "q", "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "m", "input": "q", "text": {"format": {"type": "json_schema"}}}, "text.format.schema"),
    ],
)
def test_invalid_requests_name_the_field(body: JSON, field: str) -> None:
    with pytest.raises(RequestError) as ei:
        to_chat(body, history=None)
    assert ei.value.field == field


def test_empty_input_is_fine_with_history() -> None:
    chat = to_chat({"model": "m", "input": []}, history=[{"role": "user", "content": "hi"}])
    assert chat["messages"] == [{"role": "user", "content": "hi"}]


def test_input_items_normalises_a_string() -> None:
    assert input_items({"input": "hi"}) == [{"type": "message", "role": "user", "content": "hi"}]


def test_request_echo_defaults() -> None:
    echo = request_echo({"model": "m", "input": "x"})
    assert echo["tools"] == [] and echo["tool_choice"] == "auto" and echo["parallel_tool_calls"] is True
    assert echo["store"] is True and echo["text"] == {"format": {"type": "text"}}
    assert request_echo({"store": False})["store"] is False


# -- response side ---------------------------------------------------------------------------------


def chunk(*parts: JSON, finish: str | None = None, usage: JSON | None = None, wrap: bool = True) -> JSON:
    cand: JSON = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        cand["finishReason"] = finish
    resp: JSON = {"candidates": [cand]}
    if usage:
        resp["usageMetadata"] = usage
    return {"response": resp} if wrap else resp


USAGE = {"promptTokenCount": 100, "candidatesTokenCount": 20, "thoughtsTokenCount": 7,
         "cachedContentTokenCount": 40, "totalTokenCount": 127}


def machine(stream: bool = True, body: JSON | None = None,
            on_complete: Callable[[JSON], None] | None = None) -> ResponsesStream:
    body = body or {"model": "gpt-x", "input": "hi"}
    return ResponsesStream(model="gpt-x", response_id="resp_1", created_at=1_700_000_000, stream=stream,
                           new_id=ids(), request_echo=request_echo(body), on_complete=on_complete)


def parse(frames: list[bytes]) -> list[JSON]:
    """Frames -> event payloads, checking the framing and the sequence numbers."""
    events = []
    for f in frames:
        head, _, rest = f.partition(b"\n")
        assert head.startswith(b"event: ") and rest.startswith(b"data: ") and rest.endswith(b"\n\n")
        ev = orjson.loads(rest[6:-2])
        assert head[7:].decode() == ev["type"]
        events.append(ev)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


def run(m: ResponsesStream, *chunks: JSON) -> list[JSON]:
    frames: list[bytes] = []
    for c in chunks:
        frames += m.feed(c)
    frames += m.finish()
    return parse(frames)


def test_text_answer_exact_events() -> None:
    m = machine()
    evs = run(m, chunk({"text": "Hel"}), chunk({"text": "lo"}, finish="STOP", usage=USAGE))
    created = {
        "id": "resp_1", "object": "response", "created_at": 1_700_000_000, "status": "in_progress",
        "background": False, "error": None, "incomplete_details": None, "instructions": None,
        "max_output_tokens": None, "max_tool_calls": None, "model": "gpt-x", "output": [],
        "parallel_tool_calls": True, "previous_response_id": None, "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None}, "service_tier": "default", "store": True,
        "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
        "top_logprobs": 0, "top_p": 1.0, "truncation": "disabled", "usage": None, "user": None, "metadata": {},
    }
    part_empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    part_full = {"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []}
    msg_done = {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant", "content": [part_full]}
    usage = {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40}, "output_tokens": 27,
             "output_tokens_details": {"reasoning_tokens": 7}, "total_tokens": 127}
    base = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    assert evs == [
        {"type": "response.created", "sequence_number": 0, "response": created},
        {"type": "response.in_progress", "sequence_number": 1, "response": created},
        {"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
         "item": {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []}},
        {"type": "response.content_part.added", "sequence_number": 3, **base, "part": part_empty},
        {"type": "response.output_text.delta", "sequence_number": 4, **base, "delta": "Hel", "logprobs": []},
        {"type": "response.output_text.delta", "sequence_number": 5, **base, "delta": "lo", "logprobs": []},
        {"type": "response.output_text.done", "sequence_number": 6, **base, "text": "Hello", "logprobs": []},
        {"type": "response.content_part.done", "sequence_number": 7, **base, "part": part_full},
        {"type": "response.output_item.done", "sequence_number": 8, "output_index": 0, "item": msg_done},
        {"type": "response.completed", "sequence_number": 9,
         "response": {**created, "status": "completed", "output": [msg_done], "usage": usage}},
    ]
    assert m.result() == evs[-1]["response"]


def test_reasoning_then_tool_call() -> None:
    body = {"model": "gpt-x", "input": "hi", "tools": [{"type": "function", "name": "get_weather"}]}
    m = machine(body=body)
    evs = run(
        m,
        chunk({"text": "Think", "thought": True}),
        chunk({"text": "ing", "thought": True, "thoughtSignature": "SIG-T"}),
        chunk({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}, finish="STOP", usage=USAGE),
    )
    assert [e["type"] for e in evs] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed",
    ]
    assert evs[2]["item"] == {"id": "rs_1", "type": "reasoning", "summary": []}
    assert evs[6] == {"type": "response.reasoning_summary_text.done", "sequence_number": 6, "item_id": "rs_1",
                      "output_index": 0, "summary_index": 0, "text": "Thinking"}
    assert evs[9]["item"] == {"id": "fc_3", "type": "function_call", "status": "in_progress", "arguments": "",
                              "call_id": "call_2", "name": "get_weather"}
    assert evs[10]["delta"] == '{"city":"Paris"}' and evs[10]["item_id"] == "fc_3" and evs[10]["output_index"] == 1
    assert evs[11]["arguments"] == '{"city":"Paris"}' and evs[11]["name"] == "get_weather"
    final = evs[-1]["response"]
    assert final["status"] == "completed"
    assert final["output"] == [
        {"id": "rs_1", "type": "reasoning", "status": "completed",
         "summary": [{"type": "summary_text", "text": "Thinking"}]},
        {"id": "fc_3", "type": "function_call", "status": "completed", "arguments": '{"city":"Paris"}',
         "call_id": "call_2", "name": "get_weather"},
    ]
    # the thought's signature goes to the call after it, and to the reasoning text itself
    assert m.signatures == {"call_2": "SIG-T", openai_chat.reasoning_key("Thinking"): "SIG-T"}


def test_call_keeps_upstream_id_and_own_signature() -> None:
    m = machine()
    run(m, chunk({"text": "", "thought": True, "thoughtSignature": "T0"}, {"text": "x"}),
        chunk({"functionCall": {"id": "up-1", "name": "f", "args": {}}, "thoughtSignature": "S1"},
              {"functionCall": {"name": "g"}}, finish="STOP"))
    assert m.signatures == {"up-1": "S1"}
    calls = [o for o in m.result()["output"] if o["type"] == "function_call"]
    assert [(c["call_id"], c["arguments"]) for c in calls] == [("up-1", "{}"), ("call_3", "{}")]


def test_custom_and_local_shell_tools_come_back_as_their_own_items() -> None:
    body = {"model": "gpt-x", "input": "hi", "tools": [{"type": "custom", "name": "apply_patch"},
                                                       {"type": "local_shell"}]}
    m = machine(body=body)
    evs = run(m, chunk({"functionCall": {"name": "apply_patch", "args": {"input": "*** Begin Patch"}}},
                       {"functionCall": {"name": "local_shell", "args": {"command": "ls -la", "workdir": "/w"}}},
                       finish="STOP"))
    types = [e["type"] for e in evs]
    assert types[2:] == [
        "response.output_item.added", "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done", "response.output_item.done",
        "response.output_item.added", "response.output_item.done", "response.completed",
    ]
    assert evs[4]["input"] == "*** Begin Patch"
    out = m.result()["output"]
    assert out[0] == {"id": "ctc_2", "type": "custom_tool_call", "status": "completed", "call_id": "call_1",
                      "name": "apply_patch", "input": "*** Begin Patch"}
    assert out[1] == {"id": "lsh_4", "type": "local_shell_call", "status": "completed", "call_id": "call_3",
                      "action": {"type": "exec", "command": ["bash", "-lc", "ls -la"], "env": {},
                                 "working_directory": "/w"}}


@pytest.mark.parametrize(("finish", "reason"), [("MAX_TOKENS", "max_output_tokens"), ("SAFETY", "content_filter")])
def test_incomplete(finish: str, reason: str) -> None:
    stored: list[JSON] = []
    m = machine(on_complete=stored.append)
    evs = run(m, chunk({"text": "partial"}, finish=finish, usage=USAGE))
    assert [e["type"] for e in evs][-2:] == ["response.output_item.done", "response.incomplete"]
    assert evs[-2]["item"]["status"] == "incomplete"
    final = evs[-1]["response"]
    assert final["status"] == "incomplete" and final["incomplete_details"] == {"reason": reason}
    assert final["output"][0]["content"][0]["text"] == "partial"
    assert stored == [final]


def test_malformed_function_call_fails() -> None:
    stored: list[JSON] = []
    m = machine(on_complete=stored.append)
    evs = run(m, chunk({"text": "I will call"}), chunk(finish="MALFORMED_FUNCTION_CALL"))
    assert [e["type"] for e in evs][-1] == "response.failed"
    final = evs[-1]["response"]
    assert final["status"] == "failed" and final["error"]["code"] == "server_error"
    assert "MALFORMED_FUNCTION_CALL" in final["error"]["message"]
    assert final["output"][0]["status"] == "incomplete"
    assert stored == []  # failed answers are not stored for previous_response_id


def test_nothing_is_emitted_before_output_and_empty_answer_fails() -> None:
    m = machine()
    assert m.feed(chunk(usage=USAGE)) == [] and not m.produced_output
    assert m.feed(chunk({"text": "", "thought": True, "thoughtSignature": "S"})) == []
    assert not m.produced_output
    m.feed(chunk(finish="STOP"))
    assert m.upstream_finish == "STOP"
    evs = parse(m.finish())
    assert [e["type"] for e in evs] == ["response.created", "response.in_progress", "response.failed"]
    assert "empty" in evs[-1]["response"]["error"]["message"]


def test_fail_mid_stream_and_nothing_after() -> None:
    m = machine()
    frames = m.feed(chunk({"text": "Hello"}))
    frames += m.fail("The upstream answer broke off")
    evs = parse(frames)
    assert evs[-1]["type"] == "response.failed"
    assert evs[-1]["response"]["error"] == {"code": "server_error", "message": "The upstream answer broke off"}
    assert m.finish() == [] and m.fail("again") == [] and m.feed(chunk({"text": "late"})) == []


def test_non_streaming_collects_the_same_response() -> None:
    stored: list[JSON] = []
    m = machine(stream=False, on_complete=stored.append)
    frames: list[bytes] = []
    frames += m.feed(chunk({"text": "a", "thought": True}, wrap=False))
    frames += m.feed(chunk({"text": "b"}, finish="STOP", usage=USAGE, wrap=False))
    frames += m.finish()
    assert frames == []
    r = m.result()
    assert r["status"] == "completed" and [o["type"] for o in r["output"]] == ["reasoning", "message"]
    assert r["usage"]["output_tokens"] == 27 and stored == [r]


def test_text_after_tool_call_opens_a_new_message() -> None:
    m = machine()
    run(m, chunk({"text": "one"}, {"functionCall": {"name": "f"}}, {"text": "two"}, finish="STOP"))
    out = m.result()["output"]
    assert [o["type"] for o in out] == ["message", "function_call", "message"]
    assert out[0]["id"] != out[2]["id"]


# -- the openai SDK reads what we produce ------------------------------------------------------------


def sdk_client(raw: bytes) -> Any:
    openai = pytest.importorskip("openai")
    httpx = pytest.importorskip("httpx2") if not _has("httpx") else pytest.importorskip("httpx")

    def handler(request: Any) -> Any:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=raw)

    return openai.OpenAI(api_key="sk-test", base_url="http://proxy.test/v1",
                         http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def _has(mod: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(mod) is not None


def test_sdk_stream_accumulator_builds_the_final_response() -> None:
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}},
             {"type": "custom", "name": "apply_patch"}]
    m = machine(body={"model": "gpt-x", "input": "hi", "tools": tools})
    frames: list[bytes] = []
    for c in (chunk({"text": "plan", "thought": True}), chunk({"text": "Hello"}),
              chunk({"text": " world"}, {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "apply_patch", "args": {"input": "*** Begin Patch"}}},
                    finish="STOP", usage=USAGE)):
        frames += m.feed(c)
    frames += m.finish()
    client = sdk_client(b"".join(frames))
    with client.responses.stream(model="gpt-x", input="hi", tools=tools) as s:
        seen = [ev.type for ev in s]
        final = s.get_final_response()
    assert seen[0] == "response.created" and seen[-1] == "response.completed"
    assert final.id == "resp_1" and final.status == "completed"
    assert final.output_text == "Hello world"
    assert [o.type for o in final.output] == ["reasoning", "message", "function_call", "custom_tool_call"]
    assert final.output[2].arguments == '{"city":"Paris"}' and final.output[3].input == "*** Begin Patch"
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens == 7


@pytest.mark.parametrize("finish", ["MAX_TOKENS", "MALFORMED_FUNCTION_CALL"])
def test_sdk_parses_incomplete_and_failed(finish: str) -> None:
    m = machine()
    frames = m.feed(chunk({"text": "cut"}, finish=finish)) + m.finish()
    client = sdk_client(b"".join(frames))
    events = list(client.responses.create(model="gpt-x", input="hi", stream=True))
    last = events[-1]
    assert type(last).__name__ == ("ResponseIncompleteEvent" if finish == "MAX_TOKENS" else "ResponseFailedEvent")
    assert last.response.id == "resp_1"


def test_reasoning_items_precede_their_assistant_turn() -> None:
    items = [
        {"role": "user", "content": "q"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "A"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "text"}]},
        {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "B"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "r"},
        {"type": "reasoning", "id": "rs_3", "summary": []},
        {"type": "reasoning", "id": "rs_4", "summary": [{"type": "summary_text", "text": "dangling"}]},
        {"role": "user", "content": "next"},
    ]
    assert to_chat({"model": "m", "input": items}, history=None)["messages"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "text", "reasoning_content": "A"},
        {"role": "assistant", "content": None, "reasoning_content": "B",
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
        {"role": "user", "content": "next"},
    ]


def test_signature_only_part_after_an_unsigned_call() -> None:
    m = machine()
    run(m, chunk({"functionCall": {"id": "c9", "name": "f", "args": {}}}, {"text": "", "thoughtSignature": "LATE"},
                 finish="STOP"))
    assert m.signatures == {"c9": "LATE"}


def test_claude_tool_loop_round_trip_replays_signed_thinking() -> None:
    """Output items + signatures of one turn -> the next request through the chat converter:
    Claude's signed thinking and the call's signature go back where the upstream put them."""
    body = {"model": "claude-sonnet-4-5-thinking", "input": "weather?", "reasoning": {"effort": "medium"},
            "tools": [{"type": "function", "name": "get_weather",
                       "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]}
    m = machine(body=body)
    run(m, chunk({"text": "I should look it up.", "thought": True}),
        chunk({"text": "", "thought": True, "thoughtSignature": "CLAUDE-SIG"}),
        chunk({"functionCall": {"id": "toolu_1", "name": "get_weather", "args": {"city": "Paris"}}}, finish="STOP"))
    output = m.result()["output"]
    follow = {**body, "input": [{"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"}]}
    history = [{"role": "user", "content": "weather?"}, *output]
    req = openai_chat.to_gemini(to_chat(follow, history=history), upstream_model="claude-sonnet-4-5-thinking",
                                signatures=m.signatures)
    model_turn = req["contents"][1]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][0] == {"text": "I should look it up.", "thought": True,
                                      "thoughtSignature": "CLAUDE-SIG"}
    call = model_turn["parts"][1]
    assert call["functionCall"]["id"] == "toolu_1" and call["thoughtSignature"] == "CLAUDE-SIG"
    assert req["contents"][2]["parts"][0]["functionResponse"]["id"] == "toolu_1"
    assert "thinkingConfig" in req["generationConfig"]  # the loop turn starts with signed thinking


def test_item_reference_is_resolved_by_id() -> None:
    history = [{"id": "msg_1", "type": "message", "role": "user", "content": "remembered"}]
    chat = to_chat({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}, history=history)
    assert chat["messages"] == [{"role": "user", "content": "remembered"}, {"role": "user", "content": "remembered"}]
    with pytest.raises(RequestError) as ei:
        to_chat({"model": "m", "input": ["x", {"type": "item_reference", "id": "nope"}]}, history=None)
    assert ei.value.field == "input[1].id"


# -- namespace tools (Codex's multi_agent_v1) -------------------------------------------------------

NAMESPACE_TOOL = {"type": "namespace", "name": "multi_agent_v1", "description": "Sub-agents.", "tools": [
    {"type": "function", "name": "close_agent", "description": "Close an agent.", "strict": False,
     "parameters": {"type": "object", "properties": {"target": {"type": "string"}}, "required": ["target"]}},
    {"type": "function", "name": "wait_agent", "parameters": {"type": "object", "properties": {}}},
]}


def test_namespace_tools_are_offered_as_their_functions() -> None:
    chat = to_chat({"model": "m", "input": "q", "tools": [NAMESPACE_TOOL]}, history=None)
    assert [t["function"]["name"] for t in chat["tools"]] == ["close_agent", "wait_agent"]
    assert chat["tools"][0]["function"]["parameters"] == NAMESPACE_TOOL["tools"][0]["parameters"]


def test_a_call_to_a_namespace_function_names_its_namespace() -> None:
    """Codex dispatches a function_call by namespace and name (checked with the real CLI: without the
    namespace it answers `unsupported call`)."""
    m = machine(stream=False, body={"model": "gpt-x", "input": "q", "tools": [NAMESPACE_TOOL]})
    m.feed(chunk({"functionCall": {"name": "close_agent", "args": {"target": "a1"}}}, finish="STOP"))
    m.finish()
    (item,) = m.result()["output"]
    assert item["type"] == "function_call" and item["name"] == "close_agent"
    assert item["namespace"] == "multi_agent_v1" and orjson.loads(item["arguments"]) == {"target": "a1"}


# -- goldens: tests/protocols/golden/openai_responses/{requests,responses} ------------------------------
# requests: a Responses body (+ stored history) -> the exact Gemini request, which the fake's
# Google-style validation must accept; responses: upstream frames -> the exact SSE events and the
# collected response. TRAYPROXY_REGEN_GOLDEN=1 rewrites `expected` (review the diff).

GOLDEN = Path(__file__).parent / "golden" / "openai_responses"
REGEN = os.environ.get("TRAYPROXY_REGEN_GOLDEN") == "1"


def _golden(kind: str) -> list[Path]:
    return sorted((GOLDEN / kind).glob("*.json"))


def _save(path: Path, case: JSON) -> None:
    path.write_bytes(orjson.dumps(case, option=orjson.OPT_INDENT_2) + b"\n")


@pytest.mark.parametrize("path", _golden("requests"), ids=lambda p: p.stem)
def test_request_golden(path: Path) -> None:
    from tests.fakes.validation import Issues, validate_request

    case = orjson.loads(path.read_bytes())
    got = to_gemini(case["body"], history=case.get("history"), upstream_model=case["upstream_model"],
                    signatures=case.get("signatures", {}))
    if REGEN:
        case["expected"] = got
        _save(path, case)
    assert got == case["expected"]
    validate_request(got, Issues())


@pytest.mark.parametrize("path", _golden("responses"), ids=lambda p: p.stem)
def test_response_golden(path: Path) -> None:
    case = orjson.loads(path.read_bytes())
    body = case["body"]
    m = ResponsesStream(model=body["model"], response_id="resp_1", created_at=1_700_000_000, stream=case["stream"],
                        new_id=ids(), request_echo=request_echo(body), tools=tool_set(body, None))
    frames: list[bytes] = []
    for ev in case["events"]:
        frames += m.feed(ev)
    frames += m.finish()
    got = {"events": parse(frames), "result": m.result(), "signatures": m.signatures}
    if REGEN:
        case["expected"] = got
        _save(path, case)
    assert got == case["expected"]


@pytest.mark.parametrize("itype", ["other", "mcp_call", "context_compaction", "computer_call"])
def test_an_input_item_type_not_understood_is_a_400_naming_it(itype: str) -> None:
    body = {"model": "m", "input": [{"type": "message", "role": "user", "content": "hi"},
                                    {"type": itype, "id": "x_1", "encrypted_content": "opaque"}]}
    with pytest.raises(RequestError) as e:
        to_chat(body, history=None)
    assert itype in str(e.value) and e.value.field == "input[1].type"
