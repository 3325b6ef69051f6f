"""API routes: thin handlers that parse, map the model, and hand a Job to the pipeline."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson
from aiohttp import web

from trayproxy.accounts.models import VALID_MODEL_RE
from trayproxy.protocols import gemini_native
from trayproxy.protocols.errors import RequestError
from trayproxy.proxy import listing
from trayproxy.proxy.body import read_chunks
from trayproxy.proxy.context import CONTEXT
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.offload import BIG_BODY, BODY_SIZE, EmptyBody, is_big, loads_sliced, off_loop
from trayproxy.proxy.pipeline import CLIENT_MODEL, Job, run_generation
from trayproxy.proxy.resolve import not_served_error, plan_for, pool_output_cap, upstream_model
from trayproxy.proxy.session import session_key
from trayproxy.proxy.zai_dispatch import relay_to_zai, use_zai
from trayproxy.upstream.bigbody import LARGE_BODY, in_worker

__all__ = ["register_routes", "read_json", "client_model"]

T = TypeVar("T")


BODY_READ_TIMEOUT = 60.0


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object. A big one (1 MiB or more) is read as its chunks, then joined
    and parsed in worker threads, a slice at a time (proxy/offload.py), and marked so that the
    upstream side serialises it off the loop too (`LARGE_BODY`). A small one is read and parsed
    inline, as cheaply as aiohttp allows."""
    raw: bytes | None = request._read_bytes  # already read (a decoded body, a handler run again)
    if raw is None:
        length = request.content_length
        if length is not None and length < BIG_BODY:
            raw = await _in_time(request, request.read())
        else:  # big, or of unknown length (chunked)
            chunks = await _in_time(request, read_chunks(request))
            size = sum(len(c) for c in chunks)
            raw = await in_worker(b"".join, chunks) if size >= BIG_BODY else b"".join(chunks)
            request._read_bytes = raw  # what read() and the monitor see
    big = len(raw) >= BIG_BODY
    request[BODY_SIZE] = len(raw)
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
    return body


async def _in_time(request: web.Request, reading: Awaitable[T]) -> T:
    """aiohttp bounds a body's size (client_max_size), not the time a slow one may take. A body
    that has all arrived needs no timer."""
    if request.content.is_eof():
        return await reading
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(BODY_READ_TIMEOUT):  # no extra Task, unlike wait_for
                return await reading
        return await asyncio.wait_for(reading, BODY_READ_TIMEOUT)  # pragma: no cover - 3.10
    except asyncio.TimeoutError:
        raise ProxyError(408, f"The request body did not arrive within {BODY_READ_TIMEOUT:g} s") from None


def client_model(request: web.Request, value: Any, *, field: str = "model") -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestError("A model name is required", field=field)
    name = value.strip()
    if name.startswith("models/"):
        name = name[7:]
    if not VALID_MODEL_RE.match(name) or ".." in name:
        raise RequestError(f"{value!r} is not a valid model name", field=field)
    request[CLIENT_MODEL] = name
    return name


def _speaks_gemini(request: web.Request) -> bool:
    """The Google SDKs also read /v1/models; they send their own headers or ?key=."""
    h = request.headers
    return "x-goog-api-client" in h or "x-goog-api-key" in h or "key" in request.query


async def openai_models(request: web.Request) -> web.Response:
    """/v1/models: OpenAI's list, or Anthropic's / Gemini's when the caller speaks those."""
    ctx = request.app[CONTEXT]
    found = listing.entries(ctx)
    if _speaks_gemini(request):
        return web.json_response({"models": [listing.gemini_model(e) for e in found]})
    if "anthropic-version" in request.headers:
        data = [listing.anthropic_model(e) for e in found]
        return web.json_response({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None})
    body = {"object": "list", "data": [listing.openai_model(e) for e in found]}
    return web.json_response(body, dumps=lambda o: orjson.dumps(o).decode())


async def openai_model(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    name = client_model(request, request.match_info["model"])
    found = listing.find(ctx, name)
    if found is None:
        raise not_served_error(ctx, name)
    if _speaks_gemini(request):
        return web.json_response(listing.gemini_model(found))
    if "anthropic-version" in request.headers:
        return web.json_response(listing.anthropic_model(found))
    return web.json_response(listing.openai_model(found))


# -- OpenAI ----------------------------------------------------------------------------------


async def _openai_generation(request: web.Request, *, legacy: bool) -> web.StreamResponse:
    """/v1/chat/completions and the legacy /v1/completions: same flow, different converter."""
    from trayproxy.protocols import openai_chat, openai_completions

    ctx = request.app[CONTEXT]
    body = await read_json(request)
    name = client_model(request, body.get("model"))
    target = upstream_model(ctx, name)
    stream = bool(body.get("stream"))
    opts = body.get("stream_options")
    if opts is not None and not isinstance(opts, dict):
        raise RequestError("stream_options must be an object like {\"include_usage\": true}", field="stream_options")
    include_usage = bool((opts or {}).get("include_usage")) if stream else False
    if legacy:
        gemini_req = await off_loop(is_big(request), openai_completions.to_gemini, body, upstream_model=target)
        machine_cls: type[openai_chat.ChatStream] = openai_completions.CompletionStream
    else:
        big = is_big(request)
        gemini_req = await off_loop(big, openai_chat.to_gemini, body, upstream_model=target,
                                    signatures=ctx.signatures.snapshot() if big else ctx.signatures,
                                    cap=pool_output_cap(ctx, target))
        machine_cls = openai_chat.ChatStream
    cid = ctx.new_id("cmpl-" if legacy else "chatcmpl-")
    created = int(ctx.clock())
    job = Job(
        protocol="openai",
        client_model=name,
        upstream_model=target,
        request=gemini_req,
        make_machine=lambda: machine_cls(
            model=name, completion_id=cid, created=created, stream=stream, include_usage=include_usage,
            new_id=ctx.new_id, upstream_model=target,
        ),
        stream=stream,
        session_key=session_key("openai", body, request.headers),
    )
    del body, gemini_req  # the Job holds what the stream needs; keep nothing else alive
    return await run_generation(request, job)


async def openai_chat(request: web.Request) -> web.StreamResponse:
    return await _openai_generation(request, legacy=False)


async def openai_completions(request: web.Request) -> web.StreamResponse:
    return await _openai_generation(request, legacy=True)


# -- Anthropic -------------------------------------------------------------------------------


async def anthropic_messages(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    body = await read_json(request)
    name = client_model(request, body.get("model"))
    target = upstream_model(ctx, name)
    if use_zai(ctx, target):
        return await relay_to_zai(request, body, "/v1/messages", name)
    from trayproxy.protocols import anthropic

    if anthropic.is_background_request(body):
        target = upstream_model(ctx, ctx.config().background_model)
    stream = bool(body.get("stream"))
    big = is_big(request)
    gemini_req = await off_loop(big, anthropic.to_gemini, body, upstream_model=target,
                                signatures=ctx.signatures.snapshot() if big else ctx.signatures,
                                cap=pool_output_cap(ctx, target))
    mid = ctx.new_id("msg_")
    probe = anthropic.MessagesStream(model=name, message_id=mid, stream=True, new_id=ctx.new_id, upstream_model=target)
    job = Job(
        protocol="anthropic",
        client_model=name,
        upstream_model=target,
        request=gemini_req,
        make_machine=lambda: anthropic.MessagesStream(
            model=name, message_id=mid, stream=stream, new_id=ctx.new_id, upstream_model=target
        ),
        stream=stream,
        session_key=session_key("anthropic", body, request.headers),
        ping_frame=probe.ping(),
    )
    del body, gemini_req, probe
    return await run_generation(request, job)


async def anthropic_count_tokens(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    body = await read_json(request)
    name = client_model(request, body.get("model"))
    target = upstream_model(ctx, name)
    if use_zai(ctx, target):
        return await relay_to_zai(request, body, "/v1/messages/count_tokens", name)
    from trayproxy.protocols import anthropic

    req = anthropic.count_tokens_request(body, upstream_model=target)
    total = await count_tokens(request, target, req.get("request", req))
    return web.json_response({"input_tokens": total})


async def count_tokens(request: web.Request, target: str, gemini_req: dict[str, Any]) -> int:
    """Ask the upstream's countTokens on some account (with failover)."""
    ctx = request.app[CONTEXT]
    service = ctx.accounts
    tried: set[str] = set()
    last = "no account could count tokens"
    for _ in range(4):
        plan = plan_for(target)
        pick = ctx.pool.select(target, exclude=frozenset(tried), models=plan.accounts if plan and plan.accounts else None)
        from trayproxy.accounts.pool import Unavailable

        if isinstance(pick, Unavailable):
            if not tried:  # the pool says why (429 only when every account is really limited)
                raise ProxyError(pick.status, pick.reason, retry_after=pick.retry_after, code=pick.code)
            raise ProxyError(503, f"countTokens failed: {last}")
        try:
            token = await service.access_token(pick)
            status, data, raw = await ctx.upstream.count_tokens(token, {"model": target, **gemini_req})
        except Exception as e:  # token or network trouble: next account
            last = str(e)
            tried.add(pick.id)
            continue
        finally:
            ctx.pool.release(pick.id)
        if status == 200 and isinstance(data, dict):
            inner = data.get("response", data)
            total = inner.get("totalTokens") if isinstance(inner, dict) else None
            if isinstance(total, int):
                return total
        if status in (400, 404):
            raise ProxyError(status, f"countTokens was rejected: {raw[:300].decode('utf-8', 'replace')}")
        last = f"HTTP {status}"
        tried.add(pick.id)
    raise ProxyError(502, f"countTokens failed: {last}")


# -- Gemini ----------------------------------------------------------------------------------


async def gemini_models(request: web.Request) -> web.Response:
    found = listing.entries(request.app[CONTEXT])
    return web.json_response({"models": [listing.gemini_model(e) for e in found]})


async def gemini_model_or_call(request: web.Request) -> web.StreamResponse:
    tail = request.match_info["tail"]
    ctx = request.app[CONTEXT]
    if request.method == "GET":
        name = client_model(request, tail)
        found = listing.find(ctx, name)
        if found is None:
            raise not_served_error(ctx, name)
        return web.json_response(listing.gemini_model(found))
    if ":" in tail:
        model_part, method = tail.rsplit(":", 1)
    elif tail.endswith("/countTokens"):
        model_part, method = tail[: -len("/countTokens")], "countTokens"
    else:
        model_part, method = tail, "generateContent"
    name = client_model(request, model_part)
    target = upstream_model(ctx, name)
    body = await read_json(request)
    if method == "countTokens":
        total = await count_tokens(request, target, gemini_native.count_tokens_request(body, target))
        return web.json_response({"totalTokens": total})
    if method not in ("generateContent", "streamGenerateContent"):
        raise RequestError(f"Unsupported method {method!r}; use generateContent, streamGenerateContent or countTokens")
    stream = method == "streamGenerateContent"
    mode = "json" if not stream else ("sse" if request.query.get("alt") == "sse" else "array")
    job = Job(
        protocol="gemini",
        client_model=name,
        upstream_model=target,
        request=await off_loop(is_big(request), gemini_native.to_upstream, body, target),
        make_machine=lambda: gemini_native.NativeStream(mode=mode),
        stream=stream,
        session_key=session_key("gemini", body, request.headers),
        content_type="text/event-stream" if mode == "sse" else "application/json",
        ping_frame=b": ping\r\n\r\n" if mode == "sse" else None,
    )
    del body
    return await run_generation(request, job)


# -- misc ------------------------------------------------------------------------------------


async def telemetry_sink(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=200)


def register_routes(app: web.Application) -> None:
    r = app.router
    for prefix in ("/v1", "/v1/v1", ""):
        r.add_get(f"{prefix}/models", openai_models)
        r.add_post(f"{prefix}/chat/completions", openai_chat)
        r.add_post(f"{prefix}/completions", openai_completions)
        r.add_post(f"{prefix}/messages", anthropic_messages)
        r.add_post(f"{prefix}/messages/count_tokens", anthropic_count_tokens)
    r.add_get("/v1/models/{model:[^/:]+}", openai_model)
    r.add_get("/v1beta/models", gemini_models)
    r.add_route("*", "/v1beta/models/{tail:.+}", gemini_model_or_call)
    r.add_post("/v1/models/{tail:.+:.+}", gemini_model_or_call)
    r.add_post("/api/event_logging/batch", telemetry_sink)
    r.add_post("/v1/api/event_logging/batch", telemetry_sink)
