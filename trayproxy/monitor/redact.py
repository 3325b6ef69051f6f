"""Removing secrets from anything the monitor stores: exact known secrets and the shapes of
keys and tokens (OpenAI-style `sk-` keys, Google OAuth tokens, API keys, bearer tokens, and
JSON fields named like credentials)."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["redact_text", "redact_bytes", "MARK"]

MARK = "[REDACTED]"
_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"ya29\.[\w.\-]+"),
    re.compile(r"1//[\w\-]{20,}"),
    re.compile(r"AIza[\w\-]{30,}"),
    re.compile(r"(?i)(bearer\s+)[\w.\-~+/=]{8,}"),
    re.compile(r"(?i)([?&](?:key|api_key|access_token)=)[^&\s\"']+"),
    re.compile(
        r"(?i)(\"(?:api_?key|key|access_token|refresh_token|id_token|authorization|x-api-key|x-goog-api-key|"
        r"client_secret|password|secret|token)\"\s*:\s*\")(?:[^\"\\]|\\.)*(\")"
    ),
]


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    for s in secrets:
        if s and len(s) >= 6:
            text = text.replace(s, MARK)
    for pat in _PATTERNS:
        if pat.groups == 2:
            text = pat.sub(lambda m: m.group(1) + MARK + m.group(2), text)
        elif pat.groups == 1:
            text = pat.sub(lambda m: m.group(1) + MARK, text)
        else:
            text = pat.sub(MARK, text)
    return text


def redact_bytes(data: bytes, secrets: Iterable[str] = (), *, cap: int | None = None) -> bytes:
    text = redact_text(data.decode("utf-8", "replace"), secrets)
    out = text.encode()
    if cap is not None and len(out) > cap:
        out = out[:cap] + f"\u2026[truncated {len(out) - cap} bytes]".encode()
    return out
