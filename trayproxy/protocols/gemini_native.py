"""Gemini-native clients: the thinnest path, since the upstream speaks Gemini already.

Requests pass through intact (only fields the upstream would reject are removed; for Claude
upstreams the tool schemas are rewritten as Claude needs them, `core.tool_schema`); answers are
unwrapped and relayed as SSE (`?alt=sse`), as a JSON-array stream (no `alt`, what some SDKs
read), or collected into one GenerateContentResponse.
"""

from __future__ import annotations

from typing import Any

import orjson

from trayproxy.protocols.core import config as cfg
from trayproxy.protocols.core.tool_schema import tool_schema
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import Usage, first_candidate, is_claude

__all__ = ["to_upstream", "NativeStream", "count_tokens_request", "models_list", "model_info"]

_REQUEST_KEYS = frozenset(
    {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings", "cachedContent", "labels"}
)
_ALIASES = {"system_instruction": "systemInstruction", "tool_config": "toolConfig", "generation_config": "generationConfig",
            "safety_settings": "safetySettings", "cached_content": "cachedContent"}


def _claude_tools(tools: Any, model: str) -> Any:
    """Declarations with Claude-acceptable `parameters` (from `parameters` or `parametersJsonSchema`)."""
    if not isinstance(tools, list):
        return tools
    out = []
    for tool in tools:
        decls = tool.get("functionDeclarations", tool.get("function_declarations")) if isinstance(tool, dict) else None
        if not isinstance(decls, list):
            out.append(tool)
            continue
        fixed = []
        for d in decls:
            if isinstance(d, dict):
                schema = d.get("parametersJsonSchema", d.get("parameters_json_schema", d.get("parameters")))
                d = {k: v for k, v in d.items() if k not in ("parameters", "parametersJsonSchema", "parameters_json_schema")}
                if schema is not None:
                    d["parameters"] = tool_schema(schema, model)
            fixed.append(d)
        out.append({k: v for k, v in tool.items() if k not in ("functionDeclarations", "function_declarations")}
                   | {"functionDeclarations": fixed})
    return out


def to_upstream(body: Any, model: str = "") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object", field="body")
    out: dict[str, Any] = {}
    for k, v in body.items():
        key = _ALIASES.get(k, k)
        if key in _REQUEST_KEYS:
            out[key] = v
    contents = out.get("contents")
    if not isinstance(contents, list) or not contents:
        raise RequestError("contents must be a non-empty list of {role, parts}", field="contents")
    for i, c in enumerate(contents):
        if not isinstance(c, dict) or not isinstance(c.get("parts"), list):
            raise RequestError("each content needs a parts list", field=f"contents[{i}]")
        if c.get("role") not in (None, "user", "model"):
            raise RequestError("role must be 'user' or 'model'", field=f"contents[{i}].role")
        if "role" not in c:
            contents[i] = {**c, "role": "user"}
    si = out.get("systemInstruction")
    if isinstance(si, str):
        out["systemInstruction"] = {"parts": [{"text": si}]}
    tools = out.get("tools")
    if is_claude(model) and isinstance(tools, list):
        out["tools"] = list(cfg.remembered_tools("gemini", model, tools, lambda: _claude_tools(tools, model)))
    return out


def count_tokens_request(body: Any, model: str = "") -> dict[str, Any]:
    if isinstance(body, dict) and isinstance(body.get("generateContentRequest"), dict):
        body = body["generateContentRequest"]
    req = to_upstream(body, model)
    req.pop("safetySettings", None)
    return req


class NativeStream:
    """Relays unwrapped responses. `mode`: 'sse', 'array' (JSON-array stream) or 'json'."""

    def __init__(self, *, mode: str) -> None:
        self.mode = mode
        self.usage: Usage | None = None
        self.signatures: dict[str, str] = {}
        self.produced_output = False
        self.upstream_finish: str | None = None
        self._first = True
        self._parts: list[dict[str, Any]] = []
        self._last: dict[str, Any] = {}

    def feed(self, resp: dict[str, Any]) -> list[bytes]:
        self._last = resp
        meta = resp.get("usageMetadata")
        if meta is not None and isinstance(meta, dict):
            self.usage = Usage.from_metadata(meta)
        cand = first_candidate(resp)
        fr = cand.get("finishReason")
        if fr and isinstance(fr, str):
            self.upstream_finish = fr
        content = cand.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        if isinstance(parts, list) and parts:
            self.produced_output = True
            if self.mode == "json":
                self._merge(parts)
        if self.mode == "sse":
            return [b"data: " + orjson.dumps(resp) + b"\r\n\r\n"]
        if self.mode == "array":
            prefix = b"[" if self._first else b",\r\n"
            self._first = False
            return [prefix + orjson.dumps(resp)]
        return []

    def _merge(self, parts: list[dict[str, Any]]) -> None:
        for p in parts:
            if not isinstance(p, dict):
                continue
            prev = self._parts[-1] if self._parts else None
            if (
                prev is not None
                and "text" in p and "text" in prev
                and bool(p.get("thought")) == bool(prev.get("thought"))
                and "thoughtSignature" not in prev
            ):
                merged = {**prev, "text": prev["text"] + p["text"]}
                if "thoughtSignature" in p:
                    merged["thoughtSignature"] = p["thoughtSignature"]
                self._parts[-1] = merged
            else:
                self._parts.append(dict(p))

    def finish(self) -> list[bytes]:
        if self.mode == "array":
            return [b"]" if not self._first else b"[]"]
        return []

    def fail(self, message: str) -> list[bytes]:
        err = {"error": {"code": 502, "message": message, "status": "UNAVAILABLE"}}
        if self.mode == "sse":
            return [b"data: " + orjson.dumps(err) + b"\r\n\r\n"]
        if self.mode == "array":
            prefix = b"[" if self._first else b",\r\n"
            self._first = False
            return [prefix + orjson.dumps(err) + b"]"]
        return []

    def result(self) -> dict[str, Any]:
        cand = dict(first_candidate(self._last))
        cand["content"] = {"role": "model", "parts": self._parts}
        cand.setdefault("index", 0)
        if self.upstream_finish:
            cand["finishReason"] = self.upstream_finish
        out: dict[str, Any] = {"candidates": [cand]}
        for k in ("usageMetadata", "modelVersion", "responseId", "promptFeedback"):
            if k in self._last:
                out[k] = self._last[k]
        return out


def model_info(name: str) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name,
        "description": f"{name} served by trayproxy",
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
    }


def models_list(names: list[str]) -> dict[str, Any]:
    return {"models": [model_info(n) for n in names]}
