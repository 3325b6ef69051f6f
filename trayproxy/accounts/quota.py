"""Reading the upstream's account answers (pure): project and tier from `loadCodeAssist`,
per-model quota from `fetchAvailableModels`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trayproxy.accounts.store import ModelQuota

__all__ = ["parse_load_code_assist", "parse_models", "format_tier"]

_KEEP_PREFIXES = ("gemini", "claude", "gpt", "image", "imagen")


def _tier_name(t: Any) -> str | None:
    if isinstance(t, dict):
        v = t.get("name") or t.get("id")
        return str(v) if v else None
    return None


def parse_load_code_assist(data: Any) -> tuple[str | None, str | None]:
    """(project, tier). project is None when the account is not onboarded for Code Assist."""
    if not isinstance(data, dict):
        return None, None
    proj = data.get("cloudaicompanionProject")
    if isinstance(proj, dict):
        proj = proj.get("id") or proj.get("name")
    project = str(proj) if isinstance(proj, str) and proj else None
    tier = _tier_name(data.get("paidTier")) or (
        _tier_name(data.get("currentTier")) if not data.get("ineligibleTiers") else None
    )
    if tier is None:
        allowed = data.get("allowedTiers")
        if isinstance(allowed, list):
            default = next((t for t in allowed if isinstance(t, dict) and t.get("isDefault")), None)
            name = _tier_name(default)
            tier = f"{name} (restricted)" if name else None
    return project, tier


def _ts(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def parse_models(data: Any) -> dict[str, ModelQuota]:
    out: dict[str, ModelQuota] = {}
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        return out
    for name, info in models.items():
        if not isinstance(name, str) or not isinstance(info, dict):
            continue
        if not name.lower().startswith(_KEEP_PREFIXES):
            continue
        qi = info.get("quotaInfo")
        remaining: float | None = None
        reset: float | None = None
        if isinstance(qi, dict):
            rf = qi.get("remainingFraction")
            remaining = float(rf) if isinstance(rf, (int, float)) else 0.0
            reset = _ts(qi.get("resetTime"))
        mo = info.get("maxOutputTokens")
        out[name] = ModelQuota(
            remaining=remaining,
            reset_time=reset,
            display_name=info.get("displayName") if isinstance(info.get("displayName"), str) else None,
            max_output_tokens=int(mo) if isinstance(mo, (int, float)) else None,
        )
    return out


def format_tier(tier: str | None) -> str:
    return tier or "unknown"
