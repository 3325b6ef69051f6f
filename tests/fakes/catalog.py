"""The fake upstream's static data: model catalogs, tiers, default hosts.

Google's catalog moves (shared/reference/upstream-as-it-is.md §1 and §7): CATALOG_2025 is the
catalog the v1 tests were written against; CATALOG_2026 is what peers saw in the summer of 2026,
with DEPRECATED_2026 (Google's `deprecatedModelIds` forwarding rules for the retired ids),
DEFAULT_AGENT_MODEL_2026 and AGENT_SORTS_2026. CATALOG_2026_09 (September 2026, the fake's
default: DEFAULT_MODELS) has the tiered Flash ids (`gemini-3.x-flash-tiered`: one id whose effort
is chosen with `thinkingLevel`, served on the daily host first and only to clients reporting at
least version 2.9.0), 3.5 Flash-Lite, the pro agent and Claude 4.6, and still lists a retired
Flash (`gemini-3.5-flash-low`) that answers with a refusal text inside a 200
(RETIRED_2026_09). `FakeCloudCode.use_catalog()` switches a fake to another catalog;
`add_account(models=[...])` gives one account a subset (tiers differ).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["GENERATE", "DEFAULT_HOSTS", "THINKING_MARKERS", "TIERS", "ALLOWED_TIERS", "ModelSpec", "DEFAULT_MODELS",
           "CATALOG_2025", "CATALOG_2026", "DEPRECATED_2026", "DEFAULT_AGENT_MODEL_2026", "AGENT_SORTS_2026",
           "FREE_TIER_2026", "CATALOG_2026_09", "DEPRECATED_2026_09", "DEFAULT_AGENT_MODEL_2026_09",
           "AGENT_SORTS_2026_09", "FREE_TIER_2026_09", "RETIRED_2026_09", "GATE_VERSION", "provider_of",
           "quota_group", "DEFAULT_WEB_SEARCH", "WEB_SEARCH_2025", "WEB_SEARCH_2026", "WEB_SEARCH_2026_09",
           "GROUNDING_REDIRECT"]

GENERATE = ("streamGenerateContent", "generateContent")
DEFAULT_HOSTS = ("daily", "prod", "sandbox")
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
    levels: bool = False  # effort chosen with thinkingConfig.thinkingLevel (the tiered Flash ids)
    min_version: str | None = None  # clients reporting a lower version (or not `antigravity/hub/`) never see it
    hosts: tuple[str, ...] | None = None  # the hosts that serve it (None: every host)
    shows_thoughts: bool = True  # tiered Flash thinks but returns no thought parts


def provider_of(model: str, spec: ModelSpec) -> str:
    if spec.provider:
        return spec.provider
    if model.startswith("claude"):
        return "API_PROVIDER_ANTHROPIC_VERTEX"
    if model.startswith("gpt"):
        return "API_PROVIDER_OPENAI_VERTEX"
    return "API_PROVIDER_GOOGLE_GEMINI"


def quota_group(model: str) -> str:
    """The quota group a model counts against in retrieveUserQuotaSummary: Gemini models share
    one, Claude and GPT-OSS ("3p") the other."""
    return "gemini" if "gemini" in model.lower() else "3p"


CATALOG_2025: dict[str, ModelSpec] = {
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
# tool on any other id is refused with 400. Small Gemini models in every catalog, never Claude.
WEB_SEARCH_2025: tuple[str, ...] = ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-3-flash")
WEB_SEARCH_2026: tuple[str, ...] = ("gemini-3.1-flash-lite", "gemini-3.5-flash-lite", "gemini-3.8-flash-low")
# Grounding chunks link to the sources through Google's redirector (reference §7).
GROUNDING_REDIRECT = "https://vertexaisearch.cloud.google.com/grounding-api-redirect/"

# What a free account lists in the 2026 catalog: no Claude, no pro agent, no image model.
FREE_TIER_2026: tuple[str, ...] = ("gemini-3.8-flash-low", "gemini-3.5-flash-lite", "gemini-3.1-pro-low",
                                   "gpt-oss-120b-medium")


# The version Google's gate asks for before it serves the newest ids (CPA a834917e8: 2.9.0).
GATE_VERSION = "2.9.0"
_NEW = {"levels": True, "min_version": GATE_VERSION, "shows_thoughts": False}
CATALOG_2026_09: dict[str, ModelSpec] = {
    "gemini-3.8-flash-tiered": ModelSpec("Gemini 3.8 Flash", hosts=("daily",), **_NEW),  # type: ignore[arg-type]
    "gemini-3.7-flash-tiered": ModelSpec("Gemini 3.7 Flash", hosts=("daily", "prod"), **_NEW),  # type: ignore[arg-type]
    "gemini-3.6-flash-high": ModelSpec("Gemini 3.6 Flash (High)"),
    "gemini-3.5-flash-low": ModelSpec("Gemini 3.5 Flash (Low)", recommended=False),
    "gemini-3.5-flash-lite": ModelSpec("Gemini 3.5 Flash Lite", max_output_tokens=32768),
    "gemini-3.1-flash-lite": ModelSpec("Gemini 3.1 Flash Lite", max_output_tokens=32768, recommended=False),
    "gemini-3-flash": ModelSpec("Gemini 3 Flash"),
    "gemini-3-flash-agent": ModelSpec("Gemini 3 Flash Agent", recommended=False),
    "gemini-pro-agent": ModelSpec("Gemini Pro Agent"),
    "gemini-3.1-pro-low": ModelSpec("Gemini 3.1 Pro (Low)"),
    "gemini-3.1-flash-image": ModelSpec("Gemini 3.1 Flash Image", max_output_tokens=32768, max_tokens=65536),
    "claude-sonnet-4-6": ModelSpec("Claude Sonnet 4.6", **_CLAUDE),  # type: ignore[arg-type]
    "claude-opus-4-6-thinking": ModelSpec("Claude Opus 4.6 (Thinking)", **_CLAUDE),  # type: ignore[arg-type]
    "gpt-oss-120b-medium": ModelSpec("GPT-OSS 120B (Medium)", max_output_tokens=32768, max_tokens=131072,
                                     supports_images=False),
}
DEPRECATED_2026_09: dict[str, str] = {
    "gemini-3.1-pro-high": "gemini-pro-agent",
    "gemini-3-pro-high": "gemini-3.1-pro-high",
    "gemini-3-pro-low": "gemini-3.1-pro-low",
    "gemini-3-pro-preview": "gemini-pro-agent",
    "gemini-3.1-pro-preview": "gemini-pro-agent",
    "gemini-2.5-flash": "gemini-3-flash",
    "gemini-2.5-flash-thinking": "gemini-3-flash",
    "gemini-2.5-flash-lite": "gemini-3.5-flash-lite",
    "gemini-2.5-pro": "gemini-pro-agent",
    "gemini-3-pro-image": "gemini-3.1-flash-image",
    "claude-sonnet-4-6-thinking": "claude-sonnet-4-6",
}
# Listed, but retired: generation answers 200 with this text (sub2api #6452), as the model's answer.
RETIRED_2026_09: dict[str, str] = {
    "gemini-3.5-flash-low": "Gemini 3.5 Flash is no longer available. Please switch to Gemini 3.7 Flash in the "
                            "latest version of Antigravity.",
}
DEFAULT_AGENT_MODEL_2026_09 = "gemini-3.8-flash-tiered"
AGENT_SORTS_2026_09: list[dict[str, Any]] = [
    {"displayName": "Recommended", "groups": [
        {"modelIds": ["gemini-pro-agent", "gemini-3.8-flash-tiered", "gemini-3.7-flash-tiered"]},
        {"modelIds": ["claude-opus-4-6-thinking", "claude-sonnet-4-6"]},
        {"modelIds": ["gpt-oss-120b-medium", "gemini-3.1-pro-low", "gemini-3.5-flash-lite", "gemini-3-flash"]},
    ]},
]
# A free account in September 2026: no pro agent, no Opus, no image model.
WEB_SEARCH_2026_09: tuple[str, ...] = ("gemini-3.1-flash-lite", "gemini-3.5-flash-lite", "gemini-3-flash")
FREE_TIER_2026_09: tuple[str, ...] = ("gemini-3.7-flash-tiered", "gemini-3-flash", "gemini-3.5-flash-lite",
                                      "gemini-3.1-pro-low", "claude-sonnet-4-6", "gpt-oss-120b-medium")
DEFAULT_MODELS: dict[str, ModelSpec] = CATALOG_2026_09
DEFAULT_WEB_SEARCH: tuple[str, ...] = WEB_SEARCH_2026_09
