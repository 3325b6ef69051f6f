"""Gemini shapes shared by every converter: the upstream speaks Gemini, so all roads pass here.

Pure code. The upstream (Cloud Code v1internal) answers with Gemini `GenerateContentResponse`
objects, sometimes wrapped as `{"response": {...}}`; `unwrap` removes that. `Usage` reads
`usageMetadata`. Client-protocol converters build on these instead of re-reading raw dicts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BYPASS_SIGNATURE",
    "SAFETY_OFF",
    "IdFactory",
    "Usage",
    "unwrap",
    "first_candidate",
    "iter_parts",
    "finish_reason",
    "is_thinking_model",
    "is_claude",
    "SIGNATURE_PREFIX",
    "signature_family",
    "encode_signature",
    "decode_signature",
    "part_as_text",
]

#: The value the upstream documents as "no signature available, skip validation". It is the
#: only signature trayproxy ever sends that it did not receive from the upstream itself.
BYPASS_SIGNATURE = "skip_thought_signature_validator"

#: Generates ids for things a client protocol needs but the upstream did not give
#: (tool-call ids, message ids). Called with a prefix such as "call_" or "msg_".
#: Injected so converters stay deterministic under test.
IdFactory = Callable[[str], str]

SAFETY_OFF: list[dict[str, str]] = [
    {"category": c, "threshold": "OFF"}
    for c in (
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
    )
]


def unwrap(obj: Any) -> dict[str, Any]:
    """Remove the `{"response": ...}` wrapper Cloud Code puts around Gemini responses (beside it:
    `traceId`, `metadata`, and `consumedCredits` / `remainingCredits` when AI credits paid)."""
    if isinstance(obj, dict):
        inner = obj.get("response")
        if isinstance(inner, dict) and "candidates" not in obj:
            return inner
        return obj
    return {}


def first_candidate(resp: dict[str, Any]) -> dict[str, Any]:
    cands = resp.get("candidates")
    if isinstance(cands, list) and cands and isinstance(cands[0], dict):
        return cands[0]
    return {}


def iter_parts(resp: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Parts of the first candidate, skipping anything that is not a dict."""
    content = first_candidate(resp).get("content")
    if isinstance(content, dict):
        parts = content.get("parts")
        if isinstance(parts, list):
            for p in parts:
                if isinstance(p, dict):
                    yield p


def finish_reason(resp: dict[str, Any]) -> str | None:
    fr = first_candidate(resp).get("finishReason")
    return fr if isinstance(fr, str) and fr else None


def is_claude(model: str) -> bool:
    """Whether an upstream model is one of Anthropic's (stricter about schemas and thinking)."""
    return model.lower().startswith("claude")


def is_thinking_model(model: str) -> bool:
    """Whether an upstream model thinks (and so signs its function calls)."""
    m = model.lower()
    if m.startswith("claude"):
        return "thinking" in m
    return m.startswith("gemini-2.5") or m.startswith("gemini-3") or "pro-agent" in m or "thinking" in m


@dataclass(slots=True)
class Usage:
    """Token counts as the upstream reports them (`usageMetadata`)."""

    prompt: int = 0  # all input tokens, cached ones included
    output: int = 0  # visible output (candidates) tokens
    reasoning: int = 0  # thought tokens
    cached: int = 0  # prompt tokens served from cache
    total: int = 0

    @classmethod
    def from_metadata(cls, meta: Any) -> Usage:
        if not isinstance(meta, dict):
            return cls()

        def num(key: str) -> int:
            v = meta.get(key)
            return int(v) if isinstance(v, (int, float)) else 0

        u = cls(
            prompt=num("promptTokenCount"),
            output=num("candidatesTokenCount"),
            reasoning=num("thoughtsTokenCount"),
            cached=num("cachedContentTokenCount"),
            total=num("totalTokenCount"),
        )
        if not u.total:
            u.total = u.prompt + u.output + u.reasoning
        return u

    @classmethod
    def from_response(cls, resp: dict[str, Any]) -> Usage | None:
        meta = resp.get("usageMetadata")
        return cls.from_metadata(meta) if isinstance(meta, dict) else None


# -- thought signatures ------------------------------------------------------------------------
#
# Signatures are only valid for the model family that issued them. trayproxy hands them to
# clients tagged `tp1.<family>.<raw>` (clients return them unchanged), so a later request can
# tell whether a signature may be replayed to its upstream model, without server memory.

SIGNATURE_PREFIX = "tp1."


def signature_family(model: str) -> str:
    """The family whose signatures a model accepts: claude, gemini2, gemini3, gptoss, m-<name>."""
    m = model.lower().strip()
    if m.startswith("models/"):
        m = m[len("models/") :]
    if m.startswith("claude"):
        return "claude"
    if m.startswith("gemini-2") or m.startswith("gemini-1"):
        return "gemini2"
    if m.startswith("gemini"):
        return "gemini3"
    if m.startswith("gpt-oss"):
        return "gptoss"
    return "m-" + re.sub(r"[^a-z0-9-]", "-", m)


def encode_signature(raw: str, *, model: str) -> str:
    """The client-visible form of an upstream signature issued by `model`."""
    return f"{SIGNATURE_PREFIX}{signature_family(model)}.{raw}"


def decode_signature(value: str) -> tuple[str | None, str]:
    """`(family, raw)` for a tagged signature, `(None, value)` for anything else."""
    if value.startswith(SIGNATURE_PREFIX):
        family, sep, raw = value[len(SIGNATURE_PREFIX) :].partition(".")
        if sep and family and raw:
            return family, raw
    return None, value


def part_as_text(part: dict[str, Any]) -> str | None:
    """How a non-text answer part reads in a text-only client protocol: inline images as
    markdown data URLs, executed code and its output as fenced blocks."""
    d = part.get("inlineData")
    if isinstance(d, dict):
        mime, data = d.get("mimeType", "application/octet-stream"), d.get("data", "")
        return f"\n![image](data:{mime};base64,{data})\n" if data else None
    ec = part.get("executableCode")
    if isinstance(ec, dict):
        lang = str(ec.get("language", "")).lower().replace("language_unspecified", "")
        return f"\n```{lang}\n{ec.get('code', '')}\n```\n"
    cr = part.get("codeExecutionResult")
    if isinstance(cr, dict):
        return f"\n```\n{cr.get('output', '')}\n```\n"
    return None
