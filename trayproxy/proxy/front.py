"""The one middleware in front of every route: what happens to a request before its handler and
after it, in one place (one coroutine layer, not four).

1. An `Exchange` for the request (proxy/exchange.py): what the handler and the pipeline learn
   goes on it.
2. Guards (proxy/guards.py): Host, Origin and the API key; a refusal is answered at once and
   counted per kind and origin, not logged as a row.
3. The body, when the request has one, is read here for every route (proxy/body.py): within
   the body limit and the read deadline, decoded from its Content-Encoding within bounds.
4. The handler runs; a ProxyError, a RequestError or an aiohttp HTTP error becomes an answer in
   the caller's protocol (proxy/errors.py). An unexpected error is logged and answered with a
   500, unless the answer had already begun streaming.
5. Every API request is recorded in the monitor once, whatever happened (bad input, upstream
   error, client gone, proxy stopping); health checks, CORS preflights and telemetry are not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from trayproxy.protocols.errors import RequestError
from trayproxy.proxy.body import read_body
from trayproxy.proxy.context import CONTEXT
from trayproxy.proxy.errors import ProxyError, error_response, protocol_for
from trayproxy.proxy.exchange import EXCHANGE, Exchange
from trayproxy.proxy.guards import HEALTH_PATHS, REFUSAL, GuardSettings, check, cors_headers
from trayproxy.proxy.pipeline import record

__all__ = ["make_front"]

log = logging.getLogger("trayproxy.proxy")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _not_found_message(request: web.Request) -> str:
    base = f"http://{request.host}"
    return (
        f"Unknown route {request.method} {request.path}. trayproxy serves OpenAI clients at "
        f"{base}/v1 (e.g. POST /v1/chat/completions), Anthropic clients such as Claude Code at {base} "
        f"(POST /v1/messages) and Gemini clients at {base} (POST /v1beta/models/MODEL:generateContent). "
        "Check that the base URL ends in /v1 only for OpenAI clients."
    )


def _error_text(resp: web.StreamResponse) -> str | None:
    if resp.status < 400 or not isinstance(resp, web.Response) or not isinstance(resp.body, bytes):
        return None
    try:
        data = orjson.loads(resp.body)
    except orjson.JSONDecodeError:
        return resp.body[:300].decode("utf-8", "replace")
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return str(err.get("message", ""))[:500]
    return None


def _quiet(request: web.Request) -> bool:
    """Requests the monitor does not record: health checks, CORS preflights, Claude Code's telemetry."""
    path = request.path
    return request.method == "OPTIONS" or path in HEALTH_PATHS or path == "/" or "event_logging" in path


def _error(request: web.Request, ex: Exchange, e: Exception) -> web.Response:
    """A known error as an answer in the caller's protocol; an unknown one is re-raised."""
    p = ex.protocol
    if isinstance(e, ProxyError):
        return error_response(p, e.status, e.message, code=e.code, retry_after=e.retry_after, headers=e.headers)
    if isinstance(e, RequestError):
        return error_response(p, e.status, str(e), code="invalid_request")
    if isinstance(e, web.HTTPRequestEntityTooLarge):
        limit = request.app[CONTEXT].config().max_body_mb
        return error_response(p, 413, f"The request body is too large; the limit is {limit} MiB (setting "
                                      "max_body_mb).", code="request_too_large")
    if isinstance(e, web.HTTPNotFound):
        return error_response(p, 404, _not_found_message(request))
    if isinstance(e, web.HTTPMethodNotAllowed):
        return error_response(p, 405, f"{request.method} is not allowed on {request.path}; use "
                                      f"{', '.join(sorted(e.allowed_methods))}.")
    raise e


def make_front(settings: Callable[[], GuardSettings]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def front(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = request.headers
        ex = Exchange(request.method, request.path, headers, request.query, protocol_for(request.path, headers))
        request[EXCHANGE] = ex
        status, error, resp_body = 500, None, None
        try:
            refusal = check(request, settings(), ex.protocol)
            resp: web.StreamResponse
            if refusal is not None:
                ex.refused = refusal.get(REFUSAL)
                resp = refusal
            else:
                try:
                    if request.body_exists and request.match_info.http_exception is None:
                        ex.raw = await read_body(request)
                    resp = await handler(request)
                except (ProxyError, RequestError, web.HTTPRequestEntityTooLarge, web.HTTPNotFound,
                        web.HTTPMethodNotAllowed) as e:
                    resp = _error(request, ex, e)
                if "Origin" in headers and not resp.prepared:
                    resp.headers.update(cors_headers(request))
            status = resp.status
            if status >= 400:
                error = _error_text(resp)
            if isinstance(resp, web.Response) and isinstance(resp.body, bytes):
                resp_body = resp.body
            return resp
        except web.HTTPException as e:
            status = e.status
            raise
        except asyncio.CancelledError:
            status, error = 499, "the client closed the connection"
            raise
        except ConnectionError:
            raise
        except Exception:
            log.exception("Unexpected error while serving %s %s", request.method, request.path)
            if ex.streaming:
                raise  # headers are out: a second response would corrupt the stream
            resp = error_response(ex.protocol, 500,
                                  "trayproxy hit an internal error while serving this request; details are in its log.")
            status, error = 500, _error_text(resp)
            return resp
        finally:
            try:
                _record(request, ex, status, error, resp_body)
            except Exception:
                log.exception("monitor record failed")

    return front


def _record(request: web.Request, ex: Exchange, status: int, error: str | None, resp_body: bytes | None) -> None:
    ctx = request.app[CONTEXT]
    if ex.refused is not None:
        if ctx.monitor is not None:
            ctx.monitor.count_refused(ex.refused[0], ex.refused[1], status, ex.started_wall)
        return
    if not ex.recorded and not _quiet(request):
        record(ctx, ex, status, error, request.headers.get("User-Agent"), resp_body)
