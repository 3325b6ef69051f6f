"""The fake upstream's side of the end-to-end client tasks: one multi-step tool task per client,
scripted from what the client's request declares and which tool results it already carries, so
the same script serves every version of a client.

A task's prompt names it (`TASK-<client> notes at <path>`); each step is a tool call the client
itself must run, the last answer quotes the word its notes file holds, which only a tool result
can have told it. Requests without a task (connect's round trip, the client's "OK" run) are
answered "OK"; Gemini CLI's router gets its JSON; OpenCode's and Kilo's title requests a title;
search requests (a googleSearch tool) get the fake's grounded answer."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.replies import Call, Reply

__all__ = ["WORD", "scenario", "prompt", "declared", "responses"]

WORD = "pelican-47"
_TASK = re.compile(r"TASK-([a-z-]+) notes at (\S+)")


def prompt(client: str, notes: str) -> str:
    return (f"TASK-{client} notes at {notes}: read the notes with your tools, then look up trayproxy on the web "
            "where you can, and tell me the word the notes hold.")


def declared(call: Call) -> list[str]:
    return [d["name"] for t in call.request.get("tools") or [] for d in t.get("functionDeclarations") or []]


def responses(call: Call) -> list[dict[str, Any]]:
    return [p["functionResponse"] for c in call.request.get("contents") or [] for p in c.get("parts") or []
            if "functionResponse" in p]


def _system(call: Call) -> str:
    si = call.request.get("systemInstruction") or {}
    return " ".join(p.get("text", "") for p in si.get("parts") or [] if isinstance(p, dict))


def _plan(client: str, notes: str, tools: list[str]) -> list[tuple[str, dict[str, Any]]]:
    if client == "claude-code":
        steps: list[tuple[str, dict[str, Any]]] = [("Bash", {"command": f"cat {notes}", "description": "Read the notes"})]
        if "WebSearch" not in tools and "ToolSearch" in tools:  # 2.1.3xx loads WebSearch on demand
            steps.append(("ToolSearch", {"query": "select:WebSearch", "max_results": 5}))
        return steps + [("WebSearch", {"query": "trayproxy"})]
    if client == "codex":
        if "exec" in tools:  # code mode: the model writes JavaScript that calls Codex's tools
            js = f'const r = await tools.exec_command({{cmd: "cat {notes}"}});\ntext(r.output);'
            return [("exec", {"input": js}), ("sleep", {"duration_ms": 10})]
        return [("exec_command", {"cmd": f"cat {notes}"})]
    if client == "gemini-cli":
        return [("list_directory", {"dir_path": notes.rsplit("/", 1)[0]}), ("read_file", {"file_path": notes}),
                ("google_web_search", {"query": "trayproxy"})]
    return [("bash", {"command": f"cat {notes}", "description": "Read the notes"}), ("read", {"filePath": notes})]


def scenario(call: Call) -> Reply:
    system = _system(call)
    if "complexity_score" in json.dumps(call.request.get("generationConfig") or {}):  # Gemini CLI's router
        return Reply.text('{"complexity_reasoning": "a small task", "complexity_score": 10}', chunks=1)
    if "title generator" in system.lower():
        return Reply.text("Reading the notes", chunks=1)
    task = _TASK.search(json.dumps(call.request.get("contents") or []))
    if task is None:
        return Reply.text("OK")
    client, notes = task.group(1), task.group(2).rstrip('.:",\\')
    tools = declared(call)
    done = [r.get("name") for r in responses(call)]
    for name, args in _plan(client, notes, tools):
        if name in tools and name not in done:
            return Reply.tool_call(name, args)
    said = json.dumps(responses(call))
    return Reply.text(f"DONE. The notes hold the word {WORD}." if WORD in said else "DONE, but no tool told me the word.")
