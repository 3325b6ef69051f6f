"""The fake upstream's static data: model catalogs, tiers, default hosts.

Google's catalog moves (shared/reference/upstream-as-it-is.md §1): DEFAULT_MODELS is the 2025
catalog the v1 tests were written against; CATALOG_2026 is what peers saw in the second half of
2026, with DEPRECATED_2026 (Google's `deprecatedModelIds` forwarding rules for the retired ids),
DEFAULT_AGENT_MODEL_2026 and AGENT_SORTS_2026. `FakeCloudCode.use_catalog()` switches a fake to
it; `add_account(models=[...])` gives one account a subset (tiers differ).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["GENERATE", "DEFAULT_HOSTS", "THINKING_MARKERS", "TIERS", "ALLOWED_TIERS", "ModelSpec", "DEFAULT_MODELS",
           "CATALOG_2026", "DEPRECATED_2026", "DEFAULT_AGENT_MODEL_2026", "AGENT_SORTS_2026", "FREE_TIER_2026",
           "provider_of", "DEFAULT_WEB_SEARCH", "WEB_SEARCH_2026", "GROUNDING_REDIRECT"]

GENERATE = ("streamGenerateContent", "generateContent")
DEFAULT_HOSTS = ("sandbox", "daily", "prod")
THINKING_MARKERS = ["thinking", "gemini-2.5", "gemini-3", "pro-agent"]
TIERS: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "FREE": ({"id": "free-tier", "name": "Gemini Code Assist for individuals"}, None),
    "STANDARD": ({"id": "standard-tier", "name": "Gemini Code Assist"}, None),
    "PRO": ({"id": "standard-tier", "name": "Gemini Code Assist"}, {"id": "g1-pro-tier", "name": "Google AI Pro"}),
    "ULTRA": ({"id": "standard-tier", "name": "Gemini Code Assist"},
              {"id": "g1-ultra-tier", "name": "Google AI Ultra"}),
}
ALLOWED_TIERS = [
    {"id": "free-tier", "name": "Gemini Code Assist for individuals", "isDefault": True,
     "userDefinedCloudaicompanionProject": False},
    {"id": "standard-tier", "name": "Gemini Code Assist", "userDefinedCloudaicompanionProject": True},
]


@dataclass
class ModelSpec:
    display_name: str
    max_output_tokens: int = 65536
    max_tokens: int = 1048576
    supports_images: bool = True
    recommended: bool = True
    provider: str | None = None  # apiProvider; derived from the id when None


def provider_of(model: str, spec: ModelSpec) -> str:
    if spec.provider:
        return spec.provider
    if model.startswith("claude"):
        return "API_PROVIDER_ANTHROPIC_VERTEX"
    if model.startswith("gpt"):
        return "API_PROVIDER_OPENAI_VERTEX"
    return "API_PROVIDER_GOOGLE_GEMINI"


DEFAULT_MODELS: dict[str, ModelSpec] = {
    "gemini-2.5-flash": ModelSpec("Gemini 2.5 Flash"),
    "gemini-2.5-flash-lite": ModelSpec("Gemini 2.5 Flash Lite"),
    "gemini-2.5-flash-thinking": ModelSpec("Gemini 2.5 Flash (Thinking)"),
    "gemini-2.5-pro": ModelSpec("Gemini 2.5 Pro"),
    "gemini-3-flash": ModelSpec("Gemini 3 Flash"),
    "gemini-3-pro-high": ModelSpec("Gemini 3 Pro (High)"),
    "gemini-3-pro-low": ModelSpec("Gemini 3 Pro (Low)"),
    "gemini-3.1-pro-high": ModelSpec("Gemini 3.1 Pro (High)"),
    "gemini-3.1-pro-low": ModelSpec("Gemini 3.1 Pro (Low)"),
    "gemini-3-pro-image": ModelSpec("Gemini 3 Pro Image", max_output_tokens=32768),
    "claude-sonnet-4-6": ModelSpec("Claude Sonnet 4.6", max_output_tokens=64000, max_tokens=200000),
    "claude-sonnet-4-6-thinking": ModelSpec("Claude Sonnet 4.6 (Thinking)", max_output_tokens=64000,
                                            max_tokens=200000),
    "claude-opus-4-6-thinking": ModelSpec("Claude Opus 4.6 (Thinking)", max_output_tokens=64000, max_tokens=200000),
    "gpt-oss-120b-medium": ModelSpec("GPT-OSS 120B (Medium)", max_output_tokens=32768, max_tokens=131072,
                                     supports_images=False),
}


_CLAUDE = {"max_output_tokens": 64000, "max_tokens": 200000}
CATALOG_2026: dict[str, ModelSpec] = {
    "gemini-3.8-flash-high": ModelSpec("Gemini 3.8 Flash (High)"),
    "gemini-3.8-flash-low": ModelSpec("Gemini 3.8 Flash (Low)"),
    "gemini-3.5-flash-lite": ModelSpec("Gemini 3.5 Flash Lite", max_output_tokens=32768),
    "gemini-3-flash-agent": ModelSpec("Gemini 3 Flash Agent", recommended=False),
    "gemini-pro-agent": ModelSpec("Gemini Pro Agent"),
    "gemini-3.1-pro-low": ModelSpec("Gemini 3.1 Pro (Low)"),
    "gemini-3.1-flash-image": ModelSpec("Gemini 3.1 Flash Image", max_output_tokens=32768, max_tokens=65536),
    "gemini-3.1-flash-lite": ModelSpec("Gemini 3.1 Flash Lite", max_output_tokens=32768, recommended=False),
    "claude-sonnet-4-6": ModelSpec("Claude Sonnet 4.6", **_CLAUDE),  # type: ignore[arg-type]
    "claude-sonnet-4-6-thinking": ModelSpec("Claude Sonnet 4.6 (Thinking)", **_CLAUDE),  # type: ignore[arg-type]
    "claude-opus-4-6-thinking": ModelSpec("Claude Opus 4.6 (Thinking)", **_CLAUDE),  # type: ignore[arg-type]
    "gpt-oss-120b-medium": ModelSpec("GPT-OSS 120B (Medium)", max_output_tokens=32768, max_tokens=131072,
                                     supports_images=False),
}
# Google's forwarding rules for what it retired (old id -> replacement), as fetchAvailableModels
# carries them; some replacements were retired again (chains).
DEPRECATED_2026: dict[str, str] = {
    "gemini-3.1-pro-high": "gemini-pro-agent",
    "gemini-3-pro-high": "gemini-3.1-pro-high",
    "gemini-3-pro-low": "gemini-3.1-pro-low",
    "gemini-3-pro-preview": "gemini-pro-agent",
    "gemini-3.1-pro-preview": "gemini-pro-agent",
    "gemini-2.5-flash": "gemini-3.8-flash-high",
    "gemini-2.5-flash-thinking": "gemini-3.8-flash-high",
    "gemini-3-flash": "gemini-3.8-flash-high",
    "gemini-2.5-flash-lite": "gemini-3.5-flash-lite",
    "gemini-3-pro-image": "gemini-3.1-flash-image",
}
DEFAULT_AGENT_MODEL_2026 = "gemini-3.8-flash-high"
AGENT_SORTS_2026: list[dict[str, Any]] = [
    {"displayName": "Recommended", "groups": [
        {"modelIds": ["gemini-pro-agent", "gemini-3.8-flash-high", "gemini-3.8-flash-low"]},
        {"modelIds": ["claude-opus-4-6-thinking", "claude-sonnet-4-6", "claude-sonnet-4-6-thinking"]},
        {"modelIds": ["gpt-oss-120b-medium", "gemini-3.1-pro-low", "gemini-3.5-flash-lite"]},
    ]},
]
# webSearchModelIds (reference §7): the ids that may run Google Search grounding; a googleSearch
# tool on any other id is refused with 400. Small Gemini models in both catalogs, never Claude.
DEFAULT_WEB_SEARCH: tuple[str, ...] = ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-3-flash")
WEB_SEARCH_2026: tuple[str, ...] = ("gemini-3.1-flash-lite", "gemini-3.5-flash-lite", "gemini-3.8-flash-low")
# Grounding chunks link to the sources through Google's redirector (reference §7).
GROUNDING_REDIRECT = "https://vertexaisearch.cloud.google.com/grounding-api-redirect/"

# What a free account lists in the 2026 catalog: no Claude, no pro agent, no image model.
FREE_TIER_2026: tuple[str, ...] = ("gemini-3.8-flash-low", "gemini-3.5-flash-lite", "gemini-3.1-pro-low",
                                   "gpt-oss-120b-medium")
