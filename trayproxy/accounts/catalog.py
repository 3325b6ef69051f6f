"""An account's model catalog, read from `fetchAvailableModels` (pure, no I/O).

The upstream says per account which ids it serves right now (with display name, provider, token
limits and quota), which retired ids forward to which new ones (`deprecatedModelIds`), its
default model, its recommended order (`agentModelSorts`) and which ids may run Google Search
grounding (`webSearchModelIds`: a search on any other id is refused with 400). This module turns that answer into
the fields of an Account record, so resolution, account choice and the model lists all read one
source, and a restart serves from the saved copy at once. A `remainingFraction` Google left out
is unknown (None), never "used up": fresh free-tier Claude quotas list only a reset time
(upstream-as-it-is §7). Ids the account learned are retired (a refusal text inside a 200 naming
a replacement: `learn_retired`) stay out of its catalog and forward to the replacement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trayproxy.accounts.models import Resolution, name_from_display, resolve
from trayproxy.accounts.store import Account, ModelQuota

__all__ = ["Catalog", "parse_catalog", "apply_catalog", "served_ids", "pool_models", "resolve_for", "resolve_pool",
           "learn_retired", "id_for_display", "parse_time", "search_models"]

# Ids the catalog lists that are not models a client can ask for (internal tab/chat ids) are
# left out; everything a client could name starts with one of these.
_KEEP_PREFIXES = ("gemini", "claude", "gpt", "image", "imagen")


@dataclass
class Catalog:
    models: dict[str, ModelQuota] = field(default_factory=dict)
    deprecated: dict[str, str] = field(default_factory=dict)
    default_model: str | None = None
    order: list[str] = field(default_factory=list)
    web_search: list[str] = field(default_factory=list)


def parse_time(value: Any) -> float | None:
    """An RFC 3339 time Google wrote (`resetTime`) as epoch seconds; None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.isdigit():  # proto3 JSON writes int64 as a string
        return int(value)
    return None


def _model(info: dict[str, Any]) -> ModelQuota:
    qi = info.get("quotaInfo")
    remaining: float | None = None
    reset: float | None = None
    if isinstance(qi, dict):
        rf = qi.get("remainingFraction")
        # left out: unknown (a fresh free-tier Claude quota lists only its reset), never "used up"
        remaining = float(rf) if isinstance(rf, (int, float)) and not isinstance(rf, bool) else None
        reset = parse_time(qi.get("resetTime"))
    name = info.get("displayName")
    provider = info.get("apiProvider")
    return ModelQuota(
        remaining=remaining,
        reset_time=reset,
        display_name=name if isinstance(name, str) and name else None,
        max_output_tokens=_int(info.get("maxOutputTokens")),
        max_tokens=_int(info.get("maxTokens")),
        provider=provider if isinstance(provider, str) and provider else None,
    )


def parse_catalog(data: Any) -> Catalog:
    """The catalog in a fetchAvailableModels answer; anything malformed is skipped, not fatal."""
    cat = Catalog()
    if not isinstance(data, dict):
        return cat
    models = data.get("models")
    if isinstance(models, dict):
        for mid, info in models.items():
            if isinstance(mid, str) and isinstance(info, dict) and mid.lower().startswith(_KEEP_PREFIXES):
                cat.models[mid] = _model(info)
    dep = data.get("deprecatedModelIds")
    if isinstance(dep, dict):
        for old, rule in dep.items():
            new = rule.get("newModelId") if isinstance(rule, dict) else rule
            if isinstance(old, str) and isinstance(new, str) and new and new != old:
                cat.deprecated[old] = new
    default = data.get("defaultAgentModelId")
    if isinstance(default, str) and default:
        cat.default_model = default
    search = data.get("webSearchModelIds")
    if isinstance(search, list):
        cat.web_search = list(dict.fromkeys(m.strip() for m in search if isinstance(m, str) and m.strip()))
    sorts = data.get("agentModelSorts")
    seen: set[str] = set()
    if isinstance(sorts, list):
        for sort in sorts:
            groups = sort.get("groups") if isinstance(sort, dict) else None
            for g in groups if isinstance(groups, list) else []:
                ids = g.get("modelIds") if isinstance(g, dict) else None
                for mid in ids if isinstance(ids, list) else []:
                    if isinstance(mid, str) and mid not in seen:
                        seen.add(mid)
                        cat.order.append(mid)
    return cat


def apply_catalog(acc: Account, cat: Catalog, now: float, host: str | None = None) -> None:
    """Make `cat` (read from `host`) the account's catalog (the record is saved by the caller).
    Ids it learned are retired stay out, forwarding to their replacement (Google's own rules win)."""
    acc.models = {m: q for m, q in cat.models.items() if m not in acc.retired}
    acc.deprecated_models = {**acc.retired, **cat.deprecated} if acc.retired else cat.deprecated
    acc.default_model = cat.default_model
    acc.model_order = cat.order
    acc.web_search_models = cat.web_search
    acc.quota_updated = now
    acc.catalog_host = host


def id_for_display(acc: Account, display: str, mapping: Mapping[str, str]) -> str | None:
    """The id this account serves under a display name a refusal text used ("Gemini 3.7 Flash"):
    the id so named, else one whose name starts with it, else where the name's words resolve."""
    want = display.strip().rstrip(".!").lower()
    named = [(m, (q.display_name or "").lower()) for m, q in acc.models.items()]
    for m, name in named:
        if name == want:
            return m
    for m, name in named:
        if name.startswith(want + " ") or name.startswith(want + "("):
            return m
    r = resolve(name_from_display(display), served_ids(acc), deprecated=acc.deprecated_models, mapping=mapping)
    return r.target if r is not None else None


def learn_retired(acc: Account, old: str, new: str) -> None:
    """Google said `old` is no longer available and to switch to `new` (an id this account
    serves): `old` leaves the catalog and forwards to `new` from now on (saved by the caller)."""
    acc.retired = {**acc.retired, old: new}
    acc.models = {m: q for m, q in acc.models.items() if m != old}
    acc.deprecated_models = {**acc.deprecated_models, old: new}


def served_ids(acc: Account) -> list[str] | None:
    """The ids this account serves, or None while its catalog has never been read."""
    if acc.quota_updated is None and not acc.models:
        return None
    return list(acc.models)


def pool_models(accounts: Iterable[Account]) -> dict[str, ModelQuota]:
    """Every id some account serves, with the most complete description any account gives."""
    out: dict[str, ModelQuota] = {}
    for acc in accounts:
        for mid, q in acc.models.items():
            have = out.get(mid)
            if have is None or (have.display_name is None and q.display_name) or (
                    have.max_tokens is None and q.max_tokens):
                out[mid] = q
    return dict(sorted(out.items()))


# Resolutions are remembered per account until its catalog or the mapping changes (each request
# resolves its name on every account; the family rules are not free). The entry holds the very
# objects it was computed from and is valid only while the account still has them.
_MEMO: dict[str, tuple[tuple[object, ...], tuple[object, ...], dict[str, Resolution | None]]] = {}
_MEMO_NAMES = 1000


def resolve_for(acc: Account, name: str, mapping: Mapping[str, str],
                resting: frozenset[str] = frozenset()) -> Resolution | None:
    """Where `name` goes on this account (see accounts.models for the order); `resting`: its ids
    that cannot answer now (the pool knows), which a family rule avoids."""
    objects = (acc.models, acc.deprecated_models, acc.model_order, mapping)
    values = (len(acc.models), acc.quota_updated, resting)
    memo = _MEMO.get(acc.id)
    if memo is None or memo[1] != values or any(a is not b for a, b in zip(memo[0], objects, strict=True)):
        memo = _MEMO[acc.id] = (objects, values, {})
    cache = memo[2]
    if name in cache:
        return cache[name]
    r = resolve(name, served_ids(acc), deprecated=acc.deprecated_models, mapping=mapping, order=acc.model_order,
                resting=resting)
    if len(cache) < _MEMO_NAMES:
        cache[name] = r
    return r


def resolve_pool(accounts: Iterable[Account], name: str, mapping: Mapping[str, str],
                 resting: Callable[[Account], frozenset[str]] | None = None) -> dict[str, Resolution]:
    """account id -> where `name` goes on it, for every account that can place it."""
    out: dict[str, Resolution] = {}
    for acc in accounts:
        r = resolve_for(acc, name, mapping, resting(acc) if resting is not None else frozenset())
        if r is not None:
            out[acc.id] = r
    return out


def search_models(acc: Account) -> list[str]:
    """The ids this account may run a Google Search on: listed in webSearchModelIds and served."""
    return [m for m in acc.web_search_models if m in acc.models]
