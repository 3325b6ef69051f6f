"""Reading the upstream's account answers (pure): project and tier from `loadCodeAssist`,
per-model quota from `fetchAvailableModels` (the whole catalog is read in accounts.catalog)."""

from __future__ import annotations

from typing import Any

from trayproxy.accounts.store import ModelQuota

__all__ = ["parse_load_code_assist", "parse_models", "format_tier"]

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


def parse_models(data: Any) -> dict[str, ModelQuota]:
    """Per-model quota and limits from fetchAvailableModels (the catalog's `models`)."""
    from trayproxy.accounts.catalog import parse_catalog

    return parse_catalog(data).models


def format_tier(tier: str | None) -> str:
    return tier or "unknown"
