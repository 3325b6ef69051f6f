"""Whether an Anthropic request goes to z.ai, and relaying it there.

Modes: `exclusive` always; `pooled` as one more slot in the rotation (round robin over the
usable Google accounts + 1); `fallback` only when no Google account can serve the model right
now (none configured, all cooling down or disabled).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from aiohttp import web

from trayproxy.accounts.models import VALID_MODEL_RE
from trayproxy.accounts.pool import Unavailable
from trayproxy.proxy.context import CONTEXT, ProxyContext
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.exchange import Exchange
from trayproxy.upstream.transport import TransportError
from trayproxy.upstream.zai import ZaiError, zai_model

__all__ = ["use_zai", "relay_to_zai"]

_counter = itertools.count()


def use_zai(ctx: ProxyContext, upstream_model: str) -> bool:
    cfg = ctx.config().zai
    if not cfg.enabled or cfg.dispatch_mode == "off" or ctx.zai is None:
        return False
    if cfg.dispatch_mode == "exclusive":
        return True
    if cfg.dispatch_mode == "pooled":
        slots = ctx.pool.active_count() + 1
        return next(_counter) % slots == 0
    # fallback
    pick = ctx.pool.select(upstream_model)
    if isinstance(pick, Unavailable):
        return True
    ctx.pool.release(pick.id)
    return False


async def relay_to_zai(request: web.Request, out: Exchange, body: dict[str, Any], path: str,
                       model: str) -> web.StreamResponse:
    """Forward to z.ai. `model` is the client's model name, already validated."""
    ctx = request.app[CONTEXT]
    assert ctx.zai is not None
    cfg = ctx.config().zai
    target = zai_model(model, cfg)
    if not VALID_MODEL_RE.match(target):
        raise ProxyError(400, f"The z.ai model map turns {model!r} into {target!r}, which is not a model name")
    out.upstream_model, out.upstream, out.stream = target, "zai", bool(body.get("stream"))
    started = time.monotonic()
    try:
        resp = await ctx.zai.forward(path, {**body, "model": target}, dict(request.headers))
    except ZaiError as e:
        raise ProxyError(400, str(e)) from e
    except TransportError as e:
        raise ProxyError(504 if e.timeout else 502, f"z.ai could not be reached: {e}") from e
    try:
        headers = {"X-Trayproxy-Model": target, "X-Trayproxy-Account": "zai"}
        ctype = resp.headers.get("content-type", "application/json")
        out.status = resp.status
        if resp.status >= 400:
            out.outcome = "error"
            raw = await resp.read()
            out.error = raw[:300].decode("utf-8", "replace")
            if resp.status in (401, 403):
                # z.ai refused *our* z.ai key: the client's key is fine, so do not say 401 to it.
                raise ProxyError(502, f"z.ai refused the configured z.ai API key (HTTP {resp.status}): "
                                 f"{out.error}. Check it in Settings > z.ai.")
            extra = {"Retry-After": resp.headers["retry-after"]} if "retry-after" in resp.headers else {}
            return web.Response(status=resp.status, body=raw, headers={**headers, **extra, "Content-Type": ctype})
        if "text/event-stream" not in ctype:
            raw = await resp.read()
            out.ttfb_ms = (time.monotonic() - started) * 1000
            _usage_from_json(out, raw)
            return web.Response(status=resp.status, body=raw, headers={**headers, "Content-Type": ctype})
        sresp = web.StreamResponse(status=resp.status, headers={**headers, "Content-Type": ctype, "Cache-Control": "no-cache"})
        await sresp.prepare(request)
        out.streaming = True
        first = True
        try:
            async for chunk in resp.iter_chunks():
                if first:
                    out.ttfb_ms = (time.monotonic() - started) * 1000
                    first = False
                await sresp.write(chunk)
        except TransportError as e:
            out.outcome, out.error = "error", f"z.ai stream broke: {e}"
            from trayproxy.protocols.sse import encode_event

            await sresp.write(encode_event("error", {"type": "error", "error": {"type": "api_error",
                                                                              "message": f"z.ai stream broke: {e}"}}))
        await sresp.write_eof()
        return sresp
    finally:
        resp.close()


def _usage_from_json(out: Exchange, raw: bytes) -> None:
    import orjson

    from trayproxy.protocols.gemini import Usage

    try:
        u = orjson.loads(raw).get("usage") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return
    if isinstance(u, dict):
        cached = int(u.get("cache_read_input_tokens") or 0)
        out.usage = Usage(prompt=int(u.get("input_tokens") or 0) + cached, output=int(u.get("output_tokens") or 0),
                          cached=cached)
