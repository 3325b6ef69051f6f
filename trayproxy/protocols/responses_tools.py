"""OpenAI Responses tool declarations -> the function tools the upstream model is offered, and the
way back: which Responses tool each offered function stands for. Pure code.

Where tools are declared (all read, in this order; a later declaration of a name replaces an
earlier one):
1. the request's top-level `tools`;
2. `additional_tools` input items: Codex 0.169+ with its own default ("Responses Lite") models
   sends `tools` empty and declares everything in one such item (role developer), re-sent at the
   start of every request and kept in a `previous_response_id` chain;
3. `tool_search_output` items: the tools a client-side tool search loaded.

What each tool becomes (`ToolRef.kind` says how a call to it goes back to the client):
- `function` -> itself; `custom` (freeform, e.g. Codex `exec` with a lark grammar, `apply_patch`)
  -> a function with one string argument `input`, the grammar in its description; a call comes
  back as a `custom_tool_call` with that `input`;
- `local_shell` -> a function `local_shell`; `tool_search` (execution client) -> a function
  `tool_search` with the tool's parameters, a call comes back as a `tool_search_call`;
- `namespace` (Codex's `functions`, `clock`, `collaboration`, `multi_agent_v1`) -> its members,
  each under its own name; a member whose name another tool also has is offered as
  `<namespace>__<name>` (the `functions` namespace and top-level tools keep the bare name). A
  call names its namespace again (`"namespace": "clock", "name": "sleep"`), as Codex requires;
- `web_search*` (hosted) -> not a function: `ToolSet.search` (proxy/search.py runs it);
- other hosted tools (file_search, image_generation, computer_use, mcp, code_interpreter):
  not offered (the upstream does not run them for us).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trayproxy.json_types import JSON
from trayproxy.protocols.errors import RequestError

__all__ = ["ToolRef", "ToolSet", "collect", "LOCAL_SHELL_TOOL", "TOOL_SEARCH_TOOL", "SEARCH_TYPES",
           "custom_parameters"]

#: The function name a Responses `local_shell` tool is offered to the upstream model under.
LOCAL_SHELL_TOOL = "local_shell"
#: ... and a client-executed `tool_search` tool.
TOOL_SEARCH_TOOL = "tool_search"
SEARCH_TYPES = ("web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11")
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_MAX_NAME = 64


@dataclass(frozen=True, slots=True)
class ToolRef:
    """What an offered function stands for on the client's side."""

    kind: str  # "function" | "custom" | "local_shell" | "tool_search"
    name: str  # the client's own name
    namespace: str | None = None


@dataclass
class ToolSet:
    chat: list[JSON] = field(default_factory=list)  # chat-shaped function tools, in order
    refs: dict[str, ToolRef] = field(default_factory=dict)  # offered name -> its tool
    search: JSON | None = None  # the hosted web_search tool, when declared
    by_client: dict[tuple[str | None, str], str] = field(default_factory=dict)  # (namespace, name) -> offered

    def offered(self, namespace: Any, name: str) -> str:
        """The offered name of the client's tool `name` (in `namespace`), for a call the client
        replays; a tool no longer declared keeps a name built the same way."""
        ns = _ns(namespace)
        found = self.by_client.get((ns, name))
        if found is not None:
            return found
        return name if ns is None else _qualified(ns, name)

    @property
    def names(self) -> set[str]:
        return set(self.refs)


def custom_parameters() -> JSON:
    return {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The raw tool input."}},
        "required": ["input"],
    }


def _qualified(namespace: str, name: str) -> str:
    return _UNSAFE.sub("_", f"{namespace}__{name}")[:_MAX_NAME]


def _custom_description(tool: JSON) -> str:
    desc = tool.get("description")
    desc = desc if isinstance(desc, str) else ""
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        syntax = fmt.get("syntax") or "grammar"
        desc = (
            f"{desc}\n\nPut the whole tool input, as raw text (no JSON, no markdown fence), in the `input` "
            f"argument. It must follow this {syntax} grammar:\n{fmt['definition']}"
        ).strip()
    return desc


def _chat(name: str, description: Any, parameters: Any, strict: Any) -> JSON:
    fn: JSON = {"name": name}
    if isinstance(description, str) and description:
        fn["description"] = description
    if isinstance(parameters, dict):
        fn["parameters"] = parameters
    if isinstance(strict, bool):
        fn["strict"] = strict
    return {"type": "function", "function": fn}


_LOCAL_SHELL_PARAMS: JSON = {
    "type": "object",
    "properties": {
        "command": {"type": "array", "items": {"type": "string"},
                    "description": "The command and its arguments, e.g. [\"bash\", \"-lc\", \"ls\"]."},
        "workdir": {"type": "string", "description": "The working directory."},
        "timeout_ms": {"type": "integer", "description": "Timeout in milliseconds."},
    },
    "required": ["command"],
}


@dataclass(slots=True)
class _Entry:
    namespace: str | None
    kind: str
    name: str
    chat: JSON


def _entries(tools: Any, where: str, namespace: str | None, out: list[_Entry], search: list[JSON]) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise RequestError("tools must be a list", field=where)
    for i, tool in enumerate(tools):
        tw = f"{where}[{i}]"
        if not isinstance(tool, dict):
            raise RequestError("each tool must be an object", field=tw)
        ttype = tool.get("type")
        name = tool.get("name")
        if ttype == "function":
            inner = tool.get("function")
            fn: JSON = inner if isinstance(inner, dict) else tool  # the chat shape is tolerated
            fname = fn.get("name")
            if not isinstance(fname, str) or not fname:
                raise RequestError("a function tool needs a name", field=f"{tw}.name")
            out.append(_Entry(namespace, "function", fname,
                              _chat(fname, fn.get("description"), fn.get("parameters"), fn.get("strict"))))
        elif ttype == "custom":
            if not isinstance(name, str) or not name:
                raise RequestError("a custom tool needs a name", field=f"{tw}.name")
            out.append(_Entry(namespace, "custom", name, _chat(name, _custom_description(tool), custom_parameters(), None)))
        elif ttype == "local_shell":
            out.append(_Entry(namespace, "local_shell", LOCAL_SHELL_TOOL,
                              _chat(LOCAL_SHELL_TOOL, "Run a command on the user's machine.", _LOCAL_SHELL_PARAMS, None)))
        elif ttype == "tool_search" and tool.get("execution", "client") == "client":
            params = tool.get("parameters") if isinstance(tool.get("parameters"), dict) else {
                "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
            out.append(_Entry(namespace, "tool_search", TOOL_SEARCH_TOOL,
                              _chat(TOOL_SEARCH_TOOL, tool.get("description"), params, None)))
        elif ttype == "namespace":
            if not isinstance(name, str) or not name:
                raise RequestError("a namespace tool needs a name", field=f"{tw}.name")
            _entries(tool.get("tools") or [], f"{tw}.tools", name, out, search)
        elif isinstance(ttype, str) and ttype in SEARCH_TYPES:
            search.append(tool)
        # file_search, image_generation, computer_use*, mcp, code_interpreter: hosted tools the
        # upstream does not run for us; not offered.


def collect(tools: Any, items: Iterable[JSON]) -> ToolSet:
    """Every tool the request declares (see the module comment), with the names they are offered
    under. `items`: the conversation (stored history, then this request's input)."""
    entries: list[_Entry] = []
    search: list[JSON] = []
    _entries(tools, "tools", None, entries, search)
    for n, item in enumerate(items):
        itype = item.get("type")
        if itype == "additional_tools":
            _entries(item.get("tools"), f"input[{n}].tools", None, entries, search)
        elif itype == "tool_search_output":
            _entries(item.get("tools"), f"input[{n}].tools", None, entries, search)
    # later declarations of the same tool replace earlier ones
    latest: dict[tuple[str | None, str], _Entry] = {}
    for e in entries:
        key = (_ns(e.namespace), e.name)
        latest.pop(key, None)
        latest[key] = e
    bare: dict[str, int] = {}
    for e in latest.values():
        bare[e.name] = bare.get(e.name, 0) + 1
    # names: top-level and `functions` tools first keep theirs; a clash elsewhere is qualified
    names: dict[tuple[str | None, str], str] = {}
    taken: set[str] = set()
    for key, e in sorted(latest.items(), key=lambda kv: kv[0][0] is not None):
        offered = e.name
        if (bare[e.name] > 1 and key[0] is not None) or offered in taken:
            offered = _qualified(e.namespace or "tools", e.name)
        k = 2
        while offered in taken:
            offered = f"{_qualified(e.namespace or 'tools', e.name)[:_MAX_NAME - 3]}_{k}"
            k += 1
        taken.add(offered)
        names[key] = offered
    out = ToolSet(search=search[-1] if search else None)
    for key, e in latest.items():
        offered = names[key]
        chat = e.chat
        if offered != e.name:
            chat = {"type": "function", "function": {**chat["function"], "name": offered}}
        out.chat.append(chat)
        out.refs[offered] = ToolRef(e.kind, e.name, e.namespace)
        out.by_client[key] = offered
    return out


def _ns(namespace: Any) -> str | None:
    """A namespace as the key of its tools: `functions` is the default one (Codex calls its
    tools with or without naming it)."""
    return namespace if isinstance(namespace, str) and namespace and namespace != "functions" else None
