"""Request pieces outside `contents`: tool declarations, toolConfig, generationConfig (output caps
and thinking per upstream family) and the assembled GenerateContentRequest.

Output caps come from the live catalog when the caller has it (`cap=`); the numbers here are
defaults only.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from trayproxy.protocols.core.tool_schema import tool_schema
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
    "calling_config",
    "quiet_thinking",
    "build_request",
]

JSON = dict[str, Any]

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
