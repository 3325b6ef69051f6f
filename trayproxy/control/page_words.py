"""What the settings page says, in its own words: setting labels for errors, and the request-log
totals with the rows that name no account told apart (z.ai answers, requests never sent upstream)."""

from __future__ import annotations

from typing import Any

__all__ = ["SETTING_LABELS", "page_words", "by_account"]

# how the page names a setting in an error ("The port must be ..."), never by its config key
SETTING_LABELS = {
    "port": "The port", "allow_lan_access": "LAN access", "auth_mode": "The API key requirement",
    "auto_start": "Start with the app", "language": "The language", "monitor.enabled": "Record requests",
    "monitor.retention_days": "The number of days to keep requests", "monitor.store_bodies": "Store bodies",
    "zai.enabled": "The z.ai switch", "zai.base_url": "The z.ai base URL", "zai.dispatch_mode": "The z.ai mode",
    "zai.models": "The z.ai model map", "client_version": "The client version",
    "use_ai_credits": "Use Google One AI credits",
}


def by_account(rows: list[dict[str, Any]], by_upstream: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Totals per account, with the rows that name no account told apart: z.ai answers (key "zai")
    and requests never sent upstream (key None: refused, like a 401, or failed before an account
    was chosen). z.ai rows carry no account id, so their totals come from the per-upstream ones."""
    out = [r for r in rows if r["key"] is not None]
    if len(out) == len(rows):
        return out
    extra = [dict(r, key="zai") for r in by_upstream if r["key"] == "zai"]
    extra += [dict(r) for r in by_upstream if r["key"] is None]
    return sorted(out + extra, key=lambda r: -(r.get("requests") or 0))


def page_words(message: str, key: str) -> str:
    """A config error as the page says it: the setting's label instead of its config key."""
    label = SETTING_LABELS.get(key)
    if label and message.startswith(key + " "):
        message = label + message[len(key):]
    return message
