"""The fake upstream's static data: model catalog, tiers, default hosts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["GENERATE", "DEFAULT_HOSTS", "THINKING_MARKERS", "TIERS", "ALLOWED_TIERS", "ModelSpec", "DEFAULT_MODELS"]

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
