"""Conversation keys: which requests belong to the same conversation, so they stay on one
account and the upstream's prompt cache keeps hitting."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

__all__ = ["session_key"]

_HEADER_KEYS = ("x-session-id", "session_id", "x-claude-code-session-id", "conversation_id", "x-conversation-id")


def _first_user_text(body: dict[str, Any]) -> str:
    for key in ("messages", "contents", "input"):
        items = body.get(key)
        if isinstance(items, str):
            return items
        if not isinstance(items, list):
            continue
        for m in items:
            if not isinstance(m, dict) or m.get("role") not in ("user", None):
                continue
            c = m.get("content", m.get("parts"))
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                texts = [
                    p.get("text", "")
                    for p in c
                    if isinstance(p, dict) and isinstance(p.get("text"), str) and "<system-reminder>" not in p["text"]
                ]
                if any(texts):
                    return "\n".join(texts)
    return ""


def session_key(protocol: str, body: dict[str, Any], headers: Mapping[str, str]) -> str | None:
    for h in _HEADER_KEYS:
        v = headers.get(h)
        if v:
            return f"h:{v}"
    meta = body.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("user_id"), str) and meta["user_id"]:
        return f"u:{meta['user_id']}"
    for k in ("prompt_cache_key", "user"):
        v = body.get(k)
        if isinstance(v, str) and v:
            return f"{k}:{v}"
    text = _first_user_text(body)
    if not text:
        return None
    digest = hashlib.sha256(f"{protocol}\0{text}".encode()).hexdigest()[:24]
    return f"t:{digest}"
