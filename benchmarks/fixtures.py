"""Realistic request bodies and upstream events for the benchmarks.

A 20-message coding-agent conversation with tools (system prompt, a user task, eight tool
call / tool result rounds, answers), in the OpenAI chat and the Anthropic Messages shapes, plus
the Gemini stream events an answer is made of (thinking, text, a function call, usage)."""

from __future__ import annotations

from typing import Any

MODEL = "gemini-3-flash"

SYSTEM = (
    "You are a coding agent working in the user's repository. Use the tools to read files, search, and run "
    "commands; keep edits minimal; explain what you changed. " * 12
)
TOOLS_SPEC = [
    ("read_file", "Read a file of the repository", {"path": {"type": "string"}, "offset": {"type": "integer"},
                                                   "limit": {"type": "integer"}}, ["path"]),
    ("grep", "Search the repository with a regular expression", {"pattern": {"type": "string"},
                                                                "path": {"type": "string"}}, ["pattern"]),
    ("run", "Run a shell command", {"command": {"type": "string"}, "timeout": {"type": "integer"}}, ["command"]),
    ("write_file", "Write a file", {"path": {"type": "string"}, "content": {"type": "string"}}, ["path", "content"]),
    ("list_dir", "List a directory", {"path": {"type": "string"}}, ["path"]),
]
CODE = "".join(f"def handler_{i}(request):\n    return respond(request, status={200 + i})\n\n" for i in range(12))
STEPS = [
    ("list_dir", {"path": "src"}, "src/app.py\nsrc/routes.py\nsrc/models.py\ntests/\n"),
    ("read_file", {"path": "src/app.py"}, CODE),
    ("grep", {"pattern": "def handler_", "path": "src"}, "\n".join(f"src/app.py:{3 * i + 1}: def handler_{i}" for i in range(12))),
    ("read_file", {"path": "src/routes.py", "offset": 0, "limit": 200}, CODE[:800]),
    ("run", {"command": "pytest -q tests/test_app.py", "timeout": 120}, "....F.\nFAILED tests/test_app.py::test_status - assert 201 == 200\n"),
    ("read_file", {"path": "tests/test_app.py"}, "def test_status(client):\n    assert client.get('/').status == 200\n" * 6),
    ("write_file", {"path": "src/app.py", "content": CODE.replace("200 + i", "200")}, "wrote 1,204 bytes"),
    ("run", {"command": "pytest -q", "timeout": 120}, "......\n6 passed in 0.41s\n"),
]


def openai_tools() -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": n, "description": d, "parameters": {
        "type": "object", "properties": p, "required": r}}} for n, d, p, r in TOOLS_SPEC]


def anthropic_tools() -> list[dict[str, Any]]:
    return [{"name": n, "description": d, "input_schema": {"type": "object", "properties": p, "required": r}}
            for n, d, p, r in TOOLS_SPEC]


def openai_chat_body(*, stream: bool = False, model: str = MODEL, last: str = "Now summarise the fix.") -> dict[str, Any]:
    """20 messages: system, user, 8 x (assistant tool call, tool result), assistant text, user."""
    import json

    msgs: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM},
                                  {"role": "user", "content": "The status test fails. Find out why and fix it."}]
    for i, (name, args, result) in enumerate(STEPS):
        cid = f"call_{i:02d}"
        msgs.append({"role": "assistant", "content": f"Step {i + 1}: let me use {name}." if i % 2 else None,
                     "tool_calls": [{"id": cid, "type": "function",
                                     "function": {"name": name, "arguments": json.dumps(args)}}]})
        msgs.append({"role": "tool", "tool_call_id": cid, "content": result})
    msgs.append({"role": "assistant", "content": "The handlers returned 200 + i; I made them return 200 and the tests pass."})
    msgs.append({"role": "user", "content": last})
    assert len(msgs) == 20
    return {"model": model, "messages": msgs, "tools": openai_tools(), "tool_choice": "auto", "stream": stream,
            "max_tokens": 4096, "temperature": 0.2}


def anthropic_body(*, stream: bool = False, model: str = MODEL, last: str = "Now summarise the fix.") -> dict[str, Any]:
    """The same conversation as Anthropic Messages: 20 messages (tool results in user turns)."""
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "The status test fails. Find out why and fix it."}]
    for i, (name, args, result) in enumerate(STEPS):
        tid = f"toolu_{i:02d}"
        content: list[dict[str, Any]] = []
        if i % 2:
            content.append({"type": "text", "text": f"Step {i + 1}: let me use {name}."})
        content.append({"type": "tool_use", "id": tid, "name": name, "input": args})
        msgs.append({"role": "assistant", "content": content})
        msgs.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid, "content": result}]})
    msgs.append({"role": "assistant", "content": [{"type": "text", "text": "The handlers returned 200 + i; fixed."}]})
    msgs.append({"role": "user", "content": [{"type": "text", "text": last}]})
    # 19 so far (no system message in Anthropic's list); the system prompt is the 20th "message"
    return {"model": model, "system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
            "messages": msgs, "tools": anthropic_tools(), "tool_choice": {"type": "auto"}, "stream": stream,
            "max_tokens": 4096}


def gemini_events(n_text: int = 20) -> list[dict[str, Any]]:
    """One answer as unwrapped Gemini stream events: 2 thought chunks, n_text text chunks, a
    function call, and the final chunk with finish reason and usage."""
    ev: list[dict[str, Any]] = []

    def chunk(parts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {"candidates": [{"content": {"role": "model", "parts": parts}, **extra}], "modelVersion": MODEL,
                "responseId": "resp-bench-0001"}

    ev.append(chunk([{"text": "The user wants a summary of ", "thought": True}]))
    ev.append(chunk([{"text": "the change I made.", "thought": True, "thoughtSignature": "c2lnbmF0dXJl" * 8}]))
    for i in range(n_text):
        ev.append(chunk([{"text": f"word{i} of the summary, describing the fix in plain terms. "}]))
    ev.append(chunk([{"functionCall": {"name": "run", "args": {"command": "pytest -q", "timeout": 120}},
                      "thoughtSignature": "c2lnbmF0dXJl" * 8}]))
    last = chunk([], finishReason="STOP")
    last["candidates"][0]["content"]["parts"] = [{"text": ""}]
    last["usageMetadata"] = {"promptTokenCount": 3120, "candidatesTokenCount": 410, "thoughtsTokenCount": 32,
                             "totalTokenCount": 3562, "cachedContentTokenCount": 2048}
    ev.append(last)
    return ev


def text_event(i: int) -> dict[str, Any]:
    """A typical streamed text chunk (~130 B on the wire)."""
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": f"token{i} and some more words "}]}}],
            "modelVersion": MODEL, "responseId": "resp-bench-0001"}


def big_openai_chat_body(mb: float = 30.0) -> dict[str, Any]:
    """The agent conversation repeated (each tool result grown by 20 KB) until the body is `mb`
    megabytes: about 1,500 messages, the shape of a long agent session with big file reads."""
    import orjson

    body = openai_chat_body()
    first, rounds, last = body["messages"][0], body["messages"][1:-1], body["messages"][-1]
    blob = "\n# padding line of a long file read\n" * 560
    msgs: list[dict[str, Any]] = [first]
    size, n = len(orjson.dumps(body)), 0
    while size < mb * 1e6:
        for m in rounds:
            m = dict(m)
            if m.get("tool_calls"):
                m["tool_calls"] = [dict(m["tool_calls"][0], id=f"call_{n}")]
            if m["role"] == "tool":
                m["tool_call_id"], m["content"] = f"call_{n}", m["content"] + blob
                n += 1
            size += len(orjson.dumps(m)) + 1
            msgs.append(m)
    msgs.append(last)
    body["messages"] = msgs
    return body
