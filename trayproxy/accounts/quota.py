"""Reading the upstream's account answers (pure): project, tier and the Google One AI credit
balance from `loadCodeAssist`, per-model quota from `fetchAvailableModels` (the whole catalog is
read in accounts.catalog, both quota windows in accounts.quota_windows)."""

from __future__ import annotations

from typing import Any

from trayproxy.accounts.store import ModelQuota

__all__ = ["parse_load_code_assist", "parse_models", "format_tier", "parse_credits"]

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


def parse_credits(data: Any) -> int | None:
    """The GOOGLE_ONE_AI balance in `paidTier.availableCredits` (None: not reported)."""
    paid = data.get("paidTier") if isinstance(data, dict) else None
    credits = paid.get("availableCredits") if isinstance(paid, dict) else None
    if not isinstance(credits, list):
        return None
    for c in credits:
        if isinstance(c, dict) and c.get("creditType") == "GOOGLE_ONE_AI":
            amount = c.get("creditAmount")
            if isinstance(amount, int) and not isinstance(amount, bool):
                return amount
            if isinstance(amount, str) and amount.isdigit():
                return int(amount)
    return None


def parse_models(data: Any) -> dict[str, ModelQuota]:
    """Per-model quota and limits from fetchAvailableModels (the catalog's `models`)."""
    from trayproxy.accounts.catalog import parse_catalog

    return parse_catalog(data).models


def format_tier(tier: str | None) -> str:
    return tier or "unknown"
