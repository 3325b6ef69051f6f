"""A web search, run as Google runs it (the handler's step 6 for a call whose adapter found a search:
`Call.search`, a `protocols.search.SearchAsk`).

1. Plan: a model the account lists in `webSearchModelIds` (fetchAvailableModels), never the chat
   model unless it is listed: the id the client's name resolves to when the account lists it,
   else the first listed one that can answer now. Accounts that list none are left out; when no
   account lists any, their catalogs are read once more, and then the client hears so (400
   `web_search_unavailable`), in its own protocol, before anything is sent to Google.
2. Convert: the adapter's request for that model, made a search (`protocols.search`: one
   `googleSearch` tool, the domain and place rules in the instruction), sent with
   `requestType: "web_search"` and no session id, collected whole (the pipeline's failover).
   Should Google still refuse the search on that model (400: the catalog moved), the accounts'
   catalogs are read again and the search is planned again, once; a second refusal is a clear
   error naming the model, never Google's 400 passed through.
3. What it found: the grounding's redirect links resolved to the pages (`upstream/links.py`:
   bounded, cached), sources outside `allowed_domains` or in `blocked_domains` dropped.
4. Answer: the adapter's `search_answer` (the protocol's own result shape) whole, or as the
   stream's frames (`search_frames`).
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from aiohttp import web

from trayproxy.accounts.catalog import resolve_pool, search_models
from trayproxy.accounts.store import Account
from trayproxy.protocols import gemini_native
from trayproxy.protocols import search as searching
from trayproxy.protocols.search import SearchAsk
from trayproxy.proxy import pipeline
from trayproxy.proxy.adapters.base import Adapter
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.exchange import Exchange
from trayproxy.proxy.job import Call, Job, Sink, answer_headers
from trayproxy.proxy.offload import off_loop
from trayproxy.proxy.resolve import Plan, output_cap, refresh_catalog
from trayproxy.proxy.retry import Retry

__all__ = ["serve", "search_plan"]

log = logging.getLogger("trayproxy.search")


def _unavailable(detail: str = "") -> ProxyError:
    return ProxyError(
        400,
        "Web search is not available: none of the signed-in Google accounts lists a model that may run "
        "Google Search (webSearchModelIds in its model catalog)" + (f"; {detail}" if detail else "") +
        ". Nothing was sent to Google.", code="web_search_unavailable")


def search_plan(ctx: ProxyContext, call: Call, retry: Retry) -> Plan | None:
    """The search model and the accounts that list it (None: no account lists one)."""
    usable = ctx.pool.usable()
    chat = resolve_pool(usable, call.plan_name or call.name, ctx.config().model_mapping, ctx.pool.resting)
    groups: dict[str, list[Account]] = {}
    preferred: str | None = None
    for acc in usable:
        listed = [m for m in search_models(acc) if m not in retry.tried_targets]
        if not listed:
            continue
        resting = ctx.pool.resting(acc)
        r = chat.get(acc.id)
        if r is not None and r.target in listed:
            target = r.target
            preferred = preferred or target
        else:
            target = next((m for m in listed if m not in resting), listed[0])
        groups.setdefault(target, []).append(acc)
    if not groups:
        return None
    target = preferred if preferred in groups else max(groups, key=lambda t: len(groups[t]))
    accounts = {a.id: target for a in groups[target]}
    caps = [c for a in groups[target] if (c := output_cap(a, target))]
    return Plan(call.name, target, accounts, cap=min(caps) if caps else None)


async def _reread(ctx: ProxyContext, accounts: list[Account]) -> None:
    await asyncio.gather(*(refresh_catalog(ctx, a) for a in accounts[:8]))


async def serve(ctx: ProxyContext, ex: Exchange, adapter: Adapter, call: Call, sink: Sink) -> web.StreamResponse:
    ask: SearchAsk = call.search
    retry = pipeline.new_retry(ctx)
    reread = refused = False
    while True:
        plan = search_plan(ctx, call, retry)
        if plan is None:
            if not ctx.pool.usable():
                plan = Plan(call.name, call.name, {})  # the pool says why nobody can serve (503/429)
            elif not reread:
                reread = True
                await _reread(ctx, ctx.pool.usable())
                continue
            else:
                raise _unavailable()
        signatures = ctx.signatures.snapshot() if ex.big else ctx.signatures
        request = searching.search_request(await off_loop(ex.big, adapter.convert, call, plan, signatures), ask)
        job = Job(plan, request, call, make_machine=lambda: gemini_native.NativeStream(mode="json"),
                  stream=False, session_key=None, request_type="web_search")
        try:
            result, machine, acc = await pipeline.collect(ctx, ex, job, retry)
            break
        except pipeline.Replan as r:
            retry.replanned(r.tried)
        except ProxyError as e:
            if e.status != 400 or not str(e).startswith("Upstream rejected"):
                raise
            if refused or not retry.may_replan():
                raise ProxyError(400, f"Google refused the web search on {plan.target}, which the account's catalog "
                                      f"lists in webSearchModelIds: {e}", code="web_search_unavailable") from None
            refused = True  # the catalog moved: read it again, plan again
            log.info("Google refused a web search on %s; re-reading the catalogs", plan.target)
            await _reread(ctx, [a for a in ctx.pool.usable() if a.id in plan.accounts])
            retry.replanned(plan.target)
    found = searching.found(result)
    resolved = await ctx.links.resolve(s.url for s in found.sources) if ctx.links is not None else {}
    found = searching.filtered(searching.with_links(found, resolved), ask)
    answer = adapter.search_answer(ctx, call, found, machine.usage, resolved)
    headers = answer_headers(job, acc)
    if not call.stream:
        return sink.whole(orjson.dumps(answer), headers)
    content_type, _ = adapter.frames(call)
    ex.streaming = True
    await sink.open({"Content-Type": content_type, "Cache-Control": "no-cache", **headers})
    await sink.write(b"".join(adapter.search_frames(call, answer)))
    return await sink.close()
