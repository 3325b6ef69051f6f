"""The model lists clients read: what the pool really serves, plus the names that resolve.

One entry per id some usable account serves (display name and token limits from its catalog),
then aliases: the user's exact model_mapping names, retired ids Google forwards, and common
client names, each listed only where it resolves on some account. Each protocol gets its own
fields: OpenAI `/v1/models` (Anthropic's shape when the caller sends `anthropic-version`),
Gemini `/v1beta/models` (`inputTokenLimit`, `outputTokenLimit`, `displayName`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from trayproxy.accounts.catalog import pool_models, resolve_pool
from trayproxy.accounts.models import COMMON_NAMES, Resolution
from trayproxy.proxy.context import ProxyContext

__all__ = ["Entry", "entries", "find", "openai_model", "anthropic_model", "gemini_model"]

_CREATED = 1_700_000_000
_GEMINI_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]


@dataclass(frozen=True)
class Entry:
    id: str
    display_name: str
    input_limit: int | None
    output_limit: int | None
    provider: str | None
    alias_of: str | None = None  # the id it resolves to first (aliases only)


def _owner(model: str, provider: str | None) -> str:
    p = (provider or "").lower()
    m = model.lower()
    if "anthropic" in p or m.startswith("claude"):
        return "anthropic"
    if "openai" in p or m.startswith("gpt"):
        return "openai"
    return "google"


def _first_target(res: dict[str, Resolution]) -> str:
    return sorted(res.values(), key=lambda r: (r.rank, r.target))[0].target


def _alias(name: str, target: str, listed: list[Entry]) -> Entry:
    base = next((e for e in listed if e.id == target), None)
    if base is None:
        return Entry(name, f"{name} (-> {target})", None, None, None, target)
    return Entry(name, f"{name} (-> {base.display_name})", base.input_limit, base.output_limit, base.provider, target)


def entries(ctx: ProxyContext) -> list[Entry]:
    usable = ctx.pool.usable()
    served = pool_models(usable)
    out: list[Entry] = []
    for mid, q in served.items():
        # the catalog's maxTokens is the input limit (Gemini's inputTokenLimit)
        out.append(Entry(mid, q.display_name or mid, q.max_tokens, q.max_output_tokens, q.provider))
    mapping = ctx.config().model_mapping
    names: set[str] = {k for k in mapping if "*" not in k}
    names.update(COMMON_NAMES)
    for acc in usable:
        names.update(acc.deprecated_models)
    for name in sorted(names - set(served)):
        res = resolve_pool(usable, name, mapping)
        if res:
            out.append(_alias(name, _first_target(res), out))
    return out


def find(ctx: ProxyContext, name: str) -> Entry | None:
    """The entry for one name: a listed one, or any other name that resolves on some account."""
    listed = entries(ctx)
    for e in listed:
        if e.id == name:
            return e
    res = resolve_pool(ctx.pool.usable(), name, ctx.config().model_mapping)
    if not res:
        return None
    return _alias(name, _first_target(res), listed)


def openai_model(e: Entry) -> dict[str, Any]:
    d: dict[str, Any] = {"id": e.id, "object": "model", "created": _CREATED, "owned_by": _owner(e.alias_of or e.id, e.provider),
                         "display_name": e.display_name}
    if e.input_limit is not None:
        d["context_window"] = e.input_limit
    if e.output_limit is not None:
        d["max_output_tokens"] = e.output_limit
    if e.alias_of:
        d["alias_of"] = e.alias_of
    return d


def anthropic_model(e: Entry) -> dict[str, Any]:
    d: dict[str, Any] = {"type": "model", "id": e.id, "display_name": e.display_name,
                         "created_at": datetime.fromtimestamp(_CREATED, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if e.input_limit is not None:
        d["max_input_tokens"] = e.input_limit
    if e.output_limit is not None:
        d["max_tokens"] = e.output_limit
    return d


def gemini_model(e: Entry) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": f"models/{e.id}", "baseModelId": e.alias_of or e.id, "version": "001", "displayName": e.display_name,
        "description": f"{e.display_name}, served by trayproxy",
        "supportedGenerationMethods": list(_GEMINI_METHODS),
    }
    if e.input_limit is not None:
        d["inputTokenLimit"] = e.input_limit
    if e.output_limit is not None:
        d["outputTokenLimit"] = e.output_limit
    return d
