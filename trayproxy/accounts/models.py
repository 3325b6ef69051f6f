"""Model mapping: the names clients send -> the upstream model that serves them.

Order: the user's exact `model_mapping` entries, then the user's `*` wildcard entries (most
specific wins: most literal characters, then longest pattern, then alphabetical), then the
built-in table below, then family rules for Claude names, then the name itself (Gemini names
pass through). Kept as data so the settings page and /v1/models can show it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

__all__ = ["BUILTIN_MAPPING", "resolve_model", "known_aliases", "model_family", "quota_key", "VALID_MODEL_RE"]

# Names that reach an upstream URL or envelope must look like model ids; nothing else passes.
VALID_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-:@/]{0,127}$")

BUILTIN_MAPPING: dict[str, str] = {
    # Claude Code and Anthropic SDK names
    "claude-sonnet-4-6": "claude-sonnet-4-6",
    "claude-sonnet-4-6-thinking": "claude-sonnet-4-6-thinking",
    "claude-sonnet-4-5": "claude-sonnet-4-6",
    "claude-sonnet-4-5-thinking": "claude-sonnet-4-6-thinking",
    "claude-sonnet-4-5-20250929": "claude-sonnet-4-6",
    "claude-sonnet-4-20250514": "claude-sonnet-4-6",
    "claude-3-7-sonnet-20250219": "claude-sonnet-4-6",
    "claude-3-5-sonnet-20241022": "claude-sonnet-4-6",
    "claude-3-5-sonnet-20240620": "claude-sonnet-4-6",
    "claude-opus-4": "claude-opus-4-6-thinking",
    "claude-opus-4-1-20250805": "claude-opus-4-6-thinking",
    "claude-opus-4-5-20251101": "claude-opus-4-6-thinking",
    "claude-opus-4-5-thinking": "claude-opus-4-6-thinking",
    "claude-opus-4-6": "claude-opus-4-6-thinking",
    "claude-opus-4-6-thinking": "claude-opus-4-6-thinking",
    "claude-haiku-4-5-20251001": "gemini-2.5-flash",
    "claude-3-5-haiku-20241022": "gemini-2.5-flash",
    "claude-3-haiku-20240307": "gemini-2.5-flash",
    # OpenAI names
    "gpt-4o": "gemini-2.5-flash",
    "gpt-4o-mini": "gemini-2.5-flash",
    "gpt-4.1": "gemini-3-pro-high",
    "gpt-4.1-mini": "gemini-2.5-flash",
    "gpt-4-turbo": "gemini-2.5-flash",
    "gpt-4": "gemini-2.5-flash",
    "gpt-3.5-turbo": "gemini-2.5-flash",
    "gpt-5": "gemini-3-pro-high",
    "gpt-5-mini": "gemini-3-flash",
    "gpt-5-codex": "gemini-3-pro-high",
    "o3": "gemini-3-pro-high",
    "o4-mini": "gemini-3-flash",
    # Gemini aliases
    "gemini-3-pro": "gemini-3-pro-preview",
    "gemini-3.1-pro": "gemini-3.1-pro-preview",
    "gemini-3-pro-high": "gemini-3-pro-high",
    "gemini-3-flash-preview": "gemini-3-flash",
    "gemini-2.5-flash-lite": "gemini-2.5-flash",
}

_FAMILY_RULES: tuple[tuple[str, str], ...] = (
    ("opus", "claude-opus-4-6-thinking"),
    ("sonnet", "claude-sonnet-4-6"),
    ("haiku", "gemini-2.5-flash"),
)


def _specificity(pattern: str) -> tuple[int, int, str]:
    literal = len(pattern) - pattern.count("*")
    return (-literal, -len(pattern), pattern)


@lru_cache(maxsize=512)
def _wildcard_re(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$")


def resolve_model(name: str, custom: Mapping[str, str] | None = None) -> str:
    custom = custom or {}
    if name in custom:
        return custom[name]
    wild = sorted((p for p in custom if "*" in p), key=_specificity)
    for p in wild:
        if _wildcard_re(p).match(name):
            return custom[p]
    if name in BUILTIN_MAPPING:
        return BUILTIN_MAPPING[name]
    low = name.lower()
    if low.startswith("models/"):
        return resolve_model(name[7:], custom)
    if low.startswith("claude"):
        for needle, target in _FAMILY_RULES:
            if needle in low:
                return target
    return name


def known_aliases(custom: Mapping[str, str] | None = None) -> list[str]:
    names = set(BUILTIN_MAPPING)
    names.update(k for k in (custom or {}) if "*" not in k)
    return sorted(names)


def model_family(model: str) -> str:
    """'claude' or 'gemini' (or 'other'): whose signatures a model accepts."""
    m = model.lower()
    if "claude" in m:
        return "claude"
    if "gemini" in m:
        return "gemini"
    return "other"


def quota_key(model: str, available: Iterable[str]) -> str | None:
    """The name under which an account reports quota for `model`, if it reports it at all."""
    avail = set(available)
    if model in avail:
        return model
    return None
