"""The generic handler: the steps every client request takes, written once, for every API route
and every message of the Responses WebSocket. What differs per protocol is asked of its adapter
(proxy/adapters/).

1. Read the body (`read_json`: a small one inline, a big one in chunks, parsed off the loop).
2. The adapter parses it into a `Call`: the model name, streamed or not, the conversation key,
   a generation or a token count.
3. z.ai takes it instead, when configured for this route (Anthropic's) and this model.
4. Plan: which upstream id serves the call and on which accounts (proxy/resolve.py), skipping
   what the request's `Retry` (proxy/retry.py) says was tried.
5. Convert: the adapter builds the Gemini request for the plan's target (in a worker thread
   for a big body).
6. Run it (proxy/pipeline.py): count tokens, or generate, streamed to the sink as it arrives or
   collected whole (image requests: n copies side by side, merged); a web search runs as Google
   runs it (proxy/search.py). When the pipeline asks for
   a new plan (`Replan`), back to 4 with what was learned; nothing is read or parsed again.
7. The answer goes out in the client's shape; errors are raised as ProxyError / RequestError and
   rendered in the client's shape by the front middleware (proxy/front.py) or the socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import orjson
from aiohttp import web

from trayproxy.accounts.store import Account
from trayproxy.json_types import JSON, MAX_DEPTH, deeper_than
from trayproxy.protocols.errors import RequestError
from trayproxy.protocols.gemini import Usage
from trayproxy.proxy import pipeline, search
from trayproxy.proxy.adapters import Adapter
from trayproxy.proxy.body import read_body
from trayproxy.proxy.context import CONTEXT, ProxyContext
from trayproxy.proxy.exchange import EXCHANGE, Exchange
from trayproxy.proxy.guards import check_model
from trayproxy.proxy.job import Call, Job, Sink, StreamMachine, answer_headers
from trayproxy.proxy.offload import BIG_BODY, EmptyBody, loads_sliced, off_loop
from trayproxy.proxy.relay import HttpSink
from trayproxy.proxy.resolve import Plan, plan
from trayproxy.upstream.bigbody import LARGE_BODY, in_worker

__all__ = ["route", "serve", "read_json", "parse_json"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route(adapter: Adapter) -> Handler:
    """The aiohttp handler of a route served by `adapter`."""

    async def handle(request: web.Request) -> web.StreamResponse:
        ex = request[EXCHANGE]
        ctx = request.app[CONTEXT]
        # The parsed body goes straight into serve(): a local here would keep it alive for as
        # long as an answer streams (25 KB per open stream of an agent turn), after serve()
        # and Job.release() have let go of it.
        return await serve(ctx, ex, adapter, await read_json(request, ex), request.match_info, HttpSink(request))

    return handle


async def serve(ctx: ProxyContext, ex: Exchange, adapter: Adapter, body: JSON, route: Mapping[str, str],
                sink: Sink) -> web.StreamResponse:
    """Steps 2-7 for one parsed body (the WebSocket calls this for each message)."""
    call = adapter.parse(ctx, ex, body, route)
    del body
    if not ex.big:
        call.raw = ex.raw
    ex.client_model = call.name
    if ex.client_key is not None and ex.client_key.models:  # a client key limited to some models
        check_model(ex.client_key, call.name, lambda: plan(ctx, call.name).target)
    if adapter.zai_path is not None and isinstance(sink, HttpSink) and _zai_on(ctx):
        from trayproxy.proxy.zai_dispatch import relay_to_zai, use_zai

        if use_zai(ctx, plan(ctx, call.name).target):
            return await relay_to_zai(sink.request, ex, call.body, adapter.zai_path, call.name)
    if call.count:
        return await _count(ctx, ex, adapter, call, sink)
    if call.search is not None:
        return await search.serve(ctx, ex, adapter, call, sink)
    if call.stream and not call.collect:
        return await _stream(ctx, ex, adapter, call, sink)
    return await _whole(ctx, ex, adapter, call, sink)


def _zai_on(ctx: ProxyContext) -> bool:
    zai = ctx.config().zai
    return ctx.zai is not None and zai.enabled and zai.dispatch_mode != "off"


async def _job(ctx: ProxyContext, ex: Exchange, adapter: Adapter, call: Call, p: Plan) -> Job:
    signatures = ctx.signatures.snapshot() if ex.big else ctx.signatures
    request = await off_loop(ex.big, adapter.convert, call, p, signatures)
    content_type, ping = adapter.frames(call)
    return Job(p, request, call, make_machine=adapter.machine(ctx, call, p), stream=call.stream and not call.collect,
               session_key=call.session_key, content_type=content_type, ping_frame=ping,
               request_type=adapter.request_type)


async def _stream(ctx: ProxyContext, ex: Exchange, adapter: Adapter, call: Call, sink: Sink) -> web.StreamResponse:
    retry = pipeline.new_retry(ctx)
    while True:
        job = await _job(ctx, ex, adapter, call, adapter.plan(ctx, call, retry))
        try:
            return await pipeline.stream(ctx, ex, job, retry, sink)
        except pipeline.Replan as r:
            retry.replanned(r.tried)


async def _collected(ctx: ProxyContext, ex: Exchange, adapter: Adapter,
                     call: Call) -> tuple[JSON, StreamMachine, Account, Job]:
    retry = pipeline.new_retry(ctx)
    while True:
        job = await _job(ctx, ex, adapter, call, adapter.plan(ctx, call, retry))
        try:
            result, machine, acc = await pipeline.collect(ctx, ex, job, retry)
            return result, machine, acc, job
        except pipeline.Replan as r:
            retry.replanned(r.tried)


async def _whole(ctx: ProxyContext, ex: Exchange, adapter: Adapter, call: Call, sink: Sink) -> web.StreamResponse:
    if call.copies == 1:
        result, machine, acc, job = await _collected(ctx, ex, adapter, call)
        results = [result]
    else:
        outs = await asyncio.gather(*(_collected(ctx, ex, adapter, call) for _ in range(call.copies)),
                                    return_exceptions=True)
        done = [o for o in outs if not isinstance(o, BaseException)]
        if not done:
            raise next(o for o in outs if isinstance(o, BaseException))
        results = [o[0] for o in done]
        usages = [o[1].usage or Usage() for o in done]
        ex.usage = Usage(prompt=sum(u.prompt for u in usages), output=sum(u.output for u in usages),
                         reasoning=sum(u.reasoning for u in usages), total=sum(u.total for u in usages))
        _, machine, acc, job = done[0]
    answer = adapter.answer(ctx, call, results)
    headers = answer_headers(job, acc)
    if call.stream:  # answered whole although the client asked for a stream: as its frames
        frames = adapter.whole_frames(call, answer) or []
        ex.streaming = True
        await sink.open({"Content-Type": job.content_type, "Cache-Control": "no-cache", **headers})
        await sink.write(b"".join(frames))
        return await sink.close()
    return sink.whole(orjson.dumps(answer), headers)


async def _count(ctx: ProxyContext, ex: Exchange, adapter: Adapter, call: Call, sink: Sink) -> web.StreamResponse:
    retry = pipeline.new_retry(ctx)
    while True:
        p = adapter.plan(ctx, call, retry)
        ex.upstream_model, ex.upstream = p.target, "google"
        # the model inside the request, as `models/<id>` (gemini-cli; a top-level model is refused)
        job = Job(p, {"model": f"models/{p.target}", **adapter.count_request(call, p)}, call, kind="count")
        try:
            total = await pipeline.count(ctx, ex, job, retry)
            return sink.whole(orjson.dumps(adapter.count_answer(total)), {"X-Trayproxy-Model": p.target})
        except pipeline.Replan as r:
            retry.replanned(r.tried)


# -- 1. the body -------------------------------------------------------------------------------


async def read_json(request: web.Request, ex: Exchange) -> JSON:
    """The body as a JSON object: read by the front middleware (proxy/body.py, within the limit
    and the read deadline, decoded) and parsed here. A big one (1 MiB or more) is parsed in a
    worker thread, a slice at a time (proxy/offload.py), and marked so that the upstream side
    serialises it off the loop too (`LARGE_BODY`); a small one inline."""
    if ex.raw is None:
        ex.raw = await read_body(request)
    return await parse_json(ex.raw, ex)


async def parse_json(raw: bytes, ex: Exchange) -> JSON:
    big = ex.big = len(raw) >= BIG_BODY
    if big != LARGE_BODY.get():
        LARGE_BODY.set(big)  # for this request's task (and the tasks it starts)
    try:
        if big:
            body = await in_worker(loads_sliced, raw)
        elif not raw.strip():
            raise EmptyBody()
        else:
            body = orjson.loads(raw)
    except EmptyBody:
        raise RequestError("The request body is empty; send a JSON object", field="body") from None
    except ValueError as e:  # orjson.JSONDecodeError is one
        raise RequestError(f"The request body is not valid JSON: {e}", field="body") from None
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object", field="body")
    if await off_loop(big, deeper_than, body):
        raise RequestError(f"The request body is nested more than {MAX_DEPTH} levels deep", field="body")
    return body
