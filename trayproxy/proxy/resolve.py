"""Which upstream model serves a client's model name, per account, for one request.

`plan(ctx, name, tried)` resolves the name on every usable account (accounts.catalog), groups
the accounts by the id they would send, and picks the group to use: the closest resolution
first (the name itself or a rule for it before a family guess), then one that can serve now,
then the best tier and most quota. The result is a `Plan`, a plain value: the request is built
for its `target` and only its `accounts` may take it (the pipeline hands them to the pool), so a
name an account does not list never reaches the upstream. When the whole group fails before
anything was sent, or the upstream says an id an account listed is unknown and its catalog is
re-read, the generic handler plans again with the failed target in `tried` (proxy/retry.py).

A name no account can place is a 404 in the client's protocol listing some served models.

A plan is remembered per name and pool state: it is a function of the config, the accounts'
records (flags, catalogs, tiers), the pool's cooldowns (`AccountPool.version`) and the clock only
where a cooldown ends or a used-up quota resets (`AccountPool.next_change`). While none of these
moved, the remembered plan is the one `plan` would make (it cost ~85k instructions a request).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

from trayproxy.accounts.catalog import pool_models, resolve_pool
from trayproxy.accounts.models import VALID_MODEL_RE, Resolution
from trayproxy.accounts.pool import tier_rank
from trayproxy.accounts.store import Account
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.errors import ProxyError

__all__ = ["Plan", "plan", "not_served_error", "refresh_catalog", "recommended", "fit_output", "output_cap"]

log = logging.getLogger("trayproxy.resolve")


@dataclass(frozen=True, slots=True)
class Plan:
    """One request's choice: `target` is sent, by one of `accounts` (id -> target)."""

    name: str
    target: str
    accounts: dict[str, str]
    resolutions: dict[str, Resolution] = field(default_factory=dict)
    others: bool = False  # other accounts would send a different id for this name
    cap: int | None = None  # the smallest output limit the group's catalogs give for target (the
    # converters' default; the chosen account's own limit is applied when the envelope is built)
    level: str | None = None  # the thinking level the name asked for, when the target takes levels


def recommended(accounts: list[Account]) -> list[str]:
    """Every served id, the upstream's default and recommended order first."""
    served = pool_models(accounts)
    first: list[str] = [a.default_model for a in accounts if a.default_model]
    for a in accounts:
        first.extend(a.model_order)
    return list(dict.fromkeys([m for m in first if m in served] + list(served)))


def not_served_error(ctx: ProxyContext, name: str) -> ProxyError:
    served = recommended(ctx.pool.usable())
    few = ", ".join(served[:8]) + (f" and {len(served) - 8} more" if len(served) > 8 else "")
    return ProxyError(
        404,
        f"No account serves the model {name!r} and no rule places it. Served now: {few or 'nothing'}. "
        "Use one of these, or map the name in the settings page's Models tab (model_mapping); "
        "`trayproxy models` shows what each name resolves to.",
        code="model_not_found",
    )


def _choose(ctx: ProxyContext, res: dict[str, Resolution], skip: frozenset[str],
            usable: list[Account]) -> str | None:
    by_id = {a.id: a for a in usable}
    best: tuple[tuple[int, int, int, int, str], str] | None = None
    # once a group was tried, only groups as close as the closest one are worth another plan
    closest = min((r.rank for r in res.values()), default=0)
    for acc_id, r in res.items():
        acc = by_id.get(acc_id)
        if acc is None or r.target in skip or (skip and r.rank > max(1, closest)):
            continue
        q = acc.models.get(r.target)
        remaining = 10 if q is None or q.remaining is None else int(q.remaining * 10)
        key = (r.rank, int(not ctx.pool.ready(acc, r.target)), -tier_rank(acc.tier), -remaining, r.target)
        if best is None or key < best[0]:
            best = (key, r.target)
    return best[1] if best else None


@dataclass(slots=True)
class _Remembered:
    state: tuple[object, ...]  # what the plan was made from (`_state`)
    until: float  # when a cooldown ends or a quota resets: the clock then changes the plan
    plan: Plan


_PLANS = 256  # names (with tried targets) remembered per context


def _state(ctx: ProxyContext, cfg: object, accounts: list[Account]) -> tuple[object, ...]:
    """Everything `plan` reads besides the clock: the config (a new object at every change), the
    z.ai client, the pool's cooldowns, and of each account what resolution and choice read
    (a catalog is replaced whole when it is re-read, and `quota_updated` moves with it; the quota
    windows are replaced whole too)."""
    state: list[object] = [cfg, ctx.zai, ctx.pool.version]
    for a in accounts:
        state += (a, a.disabled, a.project, a.tier, a.models, len(a.models), a.quota_updated,
                  a.deprecated_models, a.model_order, a.web_search_models, a.quota_windows)
    return tuple(state)


def plan(ctx: ProxyContext, name: str, tried: Set[str] = frozenset()) -> Plan:
    """The upstream id to build this request for and the accounts that may send it (see the
    module comment). `tried`: targets this request already tried, skipped now."""
    skip = frozenset(tried)
    cfg = ctx.config()
    pool = ctx.pool
    accounts = pool.accounts()
    state = _state(ctx, cfg, accounts)
    key = (name, skip)
    hit = ctx.plans.get(key)
    if hit is not None and hit.state == state and pool.clock() < hit.until:
        return hit.plan
    until = pool.next_change(accounts)  # before planning: a change while it plans is not missed
    made = _plan(ctx, name, skip)
    if len(ctx.plans) >= _PLANS:
        ctx.plans.clear()
    ctx.plans[key] = _Remembered(state, until, made)
    return made


def _plan(ctx: ProxyContext, name: str, skip: frozenset[str]) -> Plan:
    usable = ctx.pool.usable()
    mapping = ctx.config().model_mapping
    res = resolve_pool(usable, name, mapping, ctx.pool.resting)
    target = _choose(ctx, res, skip, usable)
    if target is None:
        if not usable or (res and skip):
            # nobody to serve at all (the pool says why), or every group was tried: keep the
            # first choice so the pool's own answer (503 / 429 with Retry-After) comes back
            target = _choose(ctx, res, frozenset(), usable) or name
        else:
            zai = ctx.config().zai
            if ctx.zai is not None and zai.enabled and zai.dispatch_mode != "off":
                target = name  # may still go to z.ai; a Google account never gets it (empty plan)
            else:
                raise not_served_error(ctx, name)
    if not VALID_MODEL_RE.match(target) or ".." in target or "/" in target:
        raise ProxyError(400, f"model_mapping maps {name!r} to {target!r}, which is not a valid upstream model name")
    group = {a: r.target for a, r in res.items() if r.target == target}
    caps = [c for acc in usable if acc.id in group and (c := output_cap(acc, target))]
    if not group:  # z.ai, or no catalog places it: the converters' default cap comes from any account
        caps = [c for acc in usable if (c := output_cap(acc, target))]
    level = next((r.level for r in res.values() if r.target == target and r.level), None)
    return Plan(name, target, group, res, others=any(r.target != target for r in res.values()),
                cap=min(caps) if caps else None, level=level)


_refreshing: dict[str, asyncio.Future[None]] = {}
CATALOG_REFRESH_TIMEOUT = 15.0


async def refresh_catalog(ctx: ProxyContext, acc: Account) -> None:
    """Re-read the account's catalog now (one read at a time per account; concurrent callers
    share it), after the upstream said it does not know a model the catalog listed. Like the
    background refresh it keeps a verification pause (`resume=False`). Failures are logged and
    left to the next quota refresh."""
    service = ctx.accounts
    fut = _refreshing.get(acc.id)
    if fut is None:
        async def run() -> None:
            try:
                await asyncio.wait_for(service.refresh_account(acc, resume=False), CATALOG_REFRESH_TIMEOUT)
            except Exception as e:
                log.info("catalog refresh of %s after a model-not-found failed: %s", acc.id[:8], e)
            finally:
                _refreshing.pop(acc.id, None)

        fut = _refreshing[acc.id] = asyncio.ensure_future(run())
    await asyncio.shield(fut)


def fit_output(request: dict[str, Any], cap: int | None) -> dict[str, Any]:
    """The request with `maxOutputTokens` no higher than the served model's limit from the
    account's catalog (Google refuses a larger value with a 400), and a thinking budget that
    still leaves room under it. A new dict when anything changes; the input is not touched."""
    gc = request.get("generationConfig")
    if not cap or not isinstance(gc, dict):
        return request
    mo = gc.get("maxOutputTokens")
    if not isinstance(mo, int) or isinstance(mo, bool) or mo <= cap:
        return request
    gc = {**gc, "maxOutputTokens": cap}
    tc = gc.get("thinkingConfig")
    budget = tc.get("thinkingBudget") if isinstance(tc, dict) else None
    if isinstance(tc, dict) and isinstance(budget, int) and not isinstance(budget, bool) and budget >= cap:
        gc["thinkingConfig"] = {**tc, "thinkingBudget": cap // 2}
    return {**request, "generationConfig": gc}


def output_cap(acc: Account, model: str) -> int | None:
    """The output limit of `model` on this account (its catalog); None when it does not say."""
    q = acc.models.get(model)
    return q.max_output_tokens if q is not None else None
