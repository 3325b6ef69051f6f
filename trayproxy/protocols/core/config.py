"""Request pieces outside `contents`: tool declarations, toolConfig, generationConfig (output caps
and thinking per upstream family) and the assembled GenerateContentRequest.

Output caps come from the live catalog when the caller has it (`cap=`); the numbers here are
defaults only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeGuard, TypeVar, cast

import orjson

from trayproxy.json_types import JSON
from trayproxy.protocols.core.tool_schema import tool_schema
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import SAFETY_OFF, is_claude, is_thinking_model

__all__ = [
    "CLAUDE_CAP",
    "GEMINI_CAP",
    "MIN_BUDGET",
    "DEFAULT_CLAUDE_BUDGET",
    "MAX_STOPS",
    "is_claude",
    "is_int",
    "is_num",
    "output_cap",
    "declaration",
    "Declarations",
    "stop_sequences",
    "calling_config",
    "quiet_thinking",
    "build_request",
]


#: Default output caps per family, used when the catalog gave none.
CLAUDE_CAP = 64000
GEMINI_CAP = 65536
#: Smallest thinking budget worth sending to Claude (Anthropic's own minimum).
MIN_BUDGET = 1024
#: Budget a Claude `-thinking` upstream gets when the client named none.
DEFAULT_CLAUDE_BUDGET = 16000
#: Gemini takes at most five stop sequences.
MAX_STOPS = 5


def is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def output_cap(model: str, cap: int | None = None) -> int:
    """The most output tokens `model` may be asked for: the catalog's number when known."""
    if is_int(cap) and cap > 0:
        return cap
    return CLAUDE_CAP if is_claude(model) else GEMINI_CAP


def declaration(name: str, description: Any, schema: Any, model: str) -> JSON:
    """A functionDeclaration for `model`'s family (`core.tool_schema`); `schema` None: no parameters."""
    decl: JSON = {"name": name}
    if isinstance(description, str) and description:
        decl["description"] = description
    if schema is not None:
        decl["parameters"] = tool_schema(schema, model)
    return decl


class Declarations:
    """functionDeclarations being collected from a client's tools: names present and unique, the
    schema an object, written for the upstream family (`core.tool_schema`)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.decls: list[JSON] = []

    def add(self, name: Any, description: Any, schema: Any, where: str, *, schema_field: str) -> None:
        if not isinstance(name, str) or not name:
            raise RequestError("A tool needs a `name`.", field=f"{where}.name")
        if any(d["name"] == name for d in self.decls):
            raise RequestError(f"Tool {name!r} is declared twice.", field=f"{where}.name")
        if schema is not None and not isinstance(schema, dict):
            raise RequestError(f"`{schema_field}` must be a JSON Schema object.", field=f"{where}.{schema_field}")
        self.decls.append(declaration(name, description, schema, self.model))


T = TypeVar("T")
#: Bounds of the memo: a client that changes its tools every request (dynamic tool sets) costs a
#: few MB at most, never a growing heap.
_MEMO_MAX = 64
_MEMO_MAX_BYTES = 2 * 1024 * 1024
_memo: dict[tuple[str, bool, bytes], Any] = {}
_memo_bytes = 0


def remembered_tools(kind: str, model: str, tools: Any, build: Callable[[], T]) -> T:
    """`build()` (a converter's declarations from the client's `tools`), remembered per distinct
    tools list and upstream family: clients send the same tools with every request (Claude
    Code's 24 tools took 330 µs to rewrite for Claude each time; a lookup is one dumps). Only a
    successful build is kept (a bad list raises its error every time); the result is shared, so
    callers copy the lists they may change and never change a declaration."""
    try:
        key = (kind, is_claude(model), orjson.dumps(tools))
    except TypeError:
        return build()
    global _memo_bytes
    hit = _memo.get(key)
    if hit is None:
        hit = build()
        if len(key[2]) > _MEMO_MAX_BYTES // 4:
            return hit  # one huge list is converted each time rather than crowding out the rest
        if len(_memo) >= _MEMO_MAX or _memo_bytes + len(key[2]) > _MEMO_MAX_BYTES:
            _memo.clear()
            _memo_bytes = 0
        _memo[key] = hit
        _memo_bytes += len(key[2])
    return cast(T, hit)


def stop_sequences(value: Any, field: str, *, one_string: bool = False) -> list[str] | None:
    """Up to five non-empty stop sequences (a single string too, where the protocol allows it)."""
    if value is None:
        return None
    if one_string and isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        kind = "a string or a list of strings" if one_string else "a list of strings"
        raise RequestError(f"`{field}` must be {kind}.", field=field)
    return [s for s in value if s][:MAX_STOPS] or None


def calling_config(mode: str, names: list[str] | None = None) -> JSON:
    """toolConfig for a calling mode (AUTO / ANY / NONE), optionally limited to some names."""
    fcc: JSON = {"mode": mode}
    if names:
        fcc["allowedFunctionNames"] = names
    return {"functionCallingConfig": fcc}


def quiet_thinking(model: str) -> JSON | None:
    """thinkingConfig for "no thinking shown": None for upstreams that do not think (and Claude,
    which thinks only when asked); thought-less Gemini thinking, with no budget on 2.5 Flash."""
    if is_claude(model) or not is_thinking_model(model):
        return None
    cfg: JSON = {"includeThoughts": False}
    if model.lower().startswith("gemini-2.5-flash"):
        cfg["thinkingBudget"] = 0
    return cfg


def build_request(
    contents: list[JSON],
    *,
    system: list[JSON] | None = None,
    decls: list[JSON] | None = None,
    web_search: bool = False,
    tool_config: JSON | None = None,
    generation: JSON | None = None,
    safety: bool = True,
) -> JSON:
    """The inner GenerateContentRequest; empty pieces are left out."""
    req: JSON = {"contents": contents}
    if system:
        req["systemInstruction"] = {"role": "user", "parts": system}
    if decls:
        req["tools"] = [{"functionDeclarations": decls}]
        if tool_config is not None:
            req["toolConfig"] = tool_config
    elif web_search:
        req["tools"] = [{"googleSearch": {}}]
    if generation is not None:
        req["generationConfig"] = generation
    if safety:
        req["safetySettings"] = [dict(s) for s in SAFETY_OFF]
    return req
