"""The path every generation request takes, whatever protocol the client speaks.

1. Pick an account for the upstream model (sticky per conversation) among the accounts whose
   catalog serves it (proxy.resolve made the plan), get its access token. When all of them
   fail before anything was sent, the handler runs again for the id other accounts would use.
2. Send the request; on 429/5xx/connection errors cool that account down and try the next
   one; on 401 refresh the token and retry once; on 403 take the account out of rotation.
3. Peek: nothing is sent to the client until the converter has produced its first bytes. An
   empty or cut-off answer (no output, `MALFORMED_FUNCTION_CALL`) is retried once, so a client
   never gets an empty success.
4. Stream: relay converted frames as they arrive; pings during long silences; on proxy stop,
   on an upstream break or timeout, end with the protocol's own error event, never a silent
   truncation. A client that goes away cancels the upstream request.
5. Record the request in the monitor, whatever happened.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from aiohttp import web

from trayproxy.accounts.catalog import resolve_for
from trayproxy.accounts.cooldown import classify, upstream_message
from trayproxy.accounts.pool import Unavailable
from trayproxy.accounts.service import TokenUnavailable
from trayproxy.accounts.store import Account
from trayproxy.protocols.gemini import Usage
from trayproxy.proxy.context import CONTEXT, ProxyContext
from trayproxy.proxy.errors import Protocol as ClientProtocol
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.resolve import (
    fit_output,
    may_replan,
    not_served_error,
    output_cap,
    plan_for,
    refresh_catalog,
    replan,
    tried_targets,
)
from trayproxy.upstream.cloudcode import CloudCodeClient, UpstreamStreamError, session_id_for
from trayproxy.upstream.transport import TransportError, UpstreamResponse

__all__ = ["StreamMachine", "Job", "Outcome", "OUTCOME", "CLIENT_MODEL", "run_generation", "record_request"]

log = logging.getLogger("trayproxy.pipeline")
MAX_ATTEMPTS = 8
_BODY_KEEP = 256 * 1024
# An answer with no output is legitimate only when the model ran out of tokens or was blocked;
# anything else (no finish reason, STOP, MALFORMED_FUNCTION_CALL, ...) is a failed answer.
_LEGIT_EMPTY = frozenset({"MAX_TOKENS", "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE"})


def _empty(machine: StreamMachine) -> bool:
    return not machine.produced_output and machine.upstream_finish not in _LEGIT_EMPTY


class StreamMachine(Protocol):
    usage: Usage | None
    signatures: dict[str, str]
    produced_output: bool
    upstream_finish: str | None

    def feed(self, resp: dict[str, Any]) -> list[bytes]: ...

    def finish(self) -> list[bytes]: ...

    def fail(self, message: str) -> list[bytes]: ...

    def result(self) -> dict[str, Any]: ...


@dataclass
class Job:
    protocol: ClientProtocol
    client_model: str
    upstream_model: str
    request: dict[str, Any]  # Gemini GenerateContentRequest (inner)
    make_machine: Callable[[], StreamMachine]
    stream: bool
    session_key: str | None = None
    content_type: str = "text/event-stream"
    ping_frame: bytes | None = b": ping\n\n"
    ping_interval: float = 15.0
    request_type: str = "agent"
    on_result: Callable[[dict[str, Any], StreamMachine], dict[str, Any]] | None = None
    # account id -> upstream id it serves this request with (None: from proxy.resolve's plan)
    accounts: Mapping[str, str] | None = None


@dataclass
class Outcome:
    """What happened, for the monitor."""

    status: int = 0
    outcome: str = "ok"
    account_id: str | None = None
    upstream_model: str | None = None
    upstream: str | None = None
    error: str | None = None
    ttfb_ms: float | None = None
    usage: Usage | None = None
    stream: bool = False
    started: float = field(default_factory=time.monotonic)
    body: bytearray | None = None  # streamed response, kept only when the monitor stores bodies

    def keep(self, data: bytes) -> None:
        if self.body is not None and len(self.body) < _BODY_KEEP:
            self.body += data[: _BODY_KEEP - len(self.body)]


OUTCOME = web.RequestKey("trayproxy_outcome", Outcome)
CLIENT_MODEL = web.RequestKey("trayproxy_client_model", str)
STREAM_STARTED = web.RequestKey("trayproxy_stream_started", bool)


# -- opening an upstream stream with failover --------------------------------------------------


@dataclass
class _Opened:
    account: Account
    resp: UpstreamResponse
    events: AsyncIterator[dict[str, Any]]


async def _open(ctx: ProxyContext, job: Job, exclude: set[str], out: Outcome,
                failures: list[tuple[int, str]]) -> _Opened:
    """Open a 200 stream on some account, or raise ProxyError in the client's terms.
    `failures` collects (status, message) of this request's failed attempts, across calls."""
    service = ctx.extra["accounts"]
    for _ in range(MAX_ATTEMPTS):
        last_status, last_error = failures[-1] if failures else (502, None)
        if job.accounts is not None and not job.accounts and ctx.pool.usable():
            raise not_served_error(ctx, job.client_model)
        pick = ctx.pool.select(job.upstream_model, session=job.session_key, exclude=frozenset(exclude),
                               models=job.accounts or None)
        if isinstance(pick, Unavailable):
            _maybe_retarget(job)
            if exclude and last_error and last_status != 429:
                # This request's own attempts failed for other reasons than rate limits (timeouts,
                # 5xx): say that, not "rate-limited", even though those accounts now cool down.
                raise ProxyError(last_status, f"Every account failed for this request. Last error: {last_error}",
                                 retry_after=pick.retry_after)
            if pick.retry_after is not None:
                raise ProxyError(429, pick.reason, retry_after=pick.retry_after, code="rate_limit_exceeded")
            if exclude and last_error:
                raise ProxyError(last_status, f"Every account failed for this request. Last error: {last_error}",
                                 retry_after=_soonest(ctx, exclude, job.upstream_model) if last_status == 429 else None)
            raise ProxyError(503, pick.reason, code="no_account")
        acc = pick
        out.account_id = acc.id
        try:
            opened = await _try_account(ctx, service, job, acc)
        except _Failover as f:
            ctx.pool.release(acc.id)
            exclude.add(acc.id)
            failures.append((f.status, f.message))
            continue
        except BaseException:
            ctx.pool.release(acc.id)
            raise
        return opened
    last_status, last_error = failures[-1] if failures else (502, "no attempt was made")
    raise ProxyError(last_status, f"Every account failed for this request. Last error: {last_error}",
                     retry_after=_soonest(ctx, exclude, job.upstream_model) if last_status == 429 else None)


class _Replan(Exception):
    """Plan the request again: `tried` (every account serving it failed or rests, others would
    serve the name with another id), or None (a catalog was just re-read)."""

    def __init__(self, tried: str | None) -> None:
        super().__init__(tried)
        self.tried = tried


def _maybe_retarget(job: Job) -> None:
    """Plan again when other accounts would serve the name with another id that is as close a
    match. Not when the client asked for this very id (a served id is a choice: a busy account
    means a 429), and never into another family unless already there (a busy Claude account
    means a 429, not an answer from Gemini)."""
    plan = plan_for(job.upstream_model)
    if plan is None or not plan.others or not may_replan():
        return
    mine = [r for r in plan.resolutions.values() if r.target == job.upstream_model]
    if any(r.pinned for r in mine):
        return
    tried = tried_targets() | {job.upstream_model}
    rank = min((r.rank for r in mine), default=0)
    if any(r.target not in tried and r.rank <= max(1, rank) for r in plan.resolutions.values()):
        raise _Replan(job.upstream_model)


def _soonest(ctx: ProxyContext, account_ids: set[str], model: str) -> float:
    """Seconds until the first of these accounts may serve the model again (at least 1)."""
    waits = [ctx.pool.cooldown_left(a, model) for a in account_ids]
    return max(1.0, min((w for w in waits if w > 0), default=1.0))


class _Failover(Exception):
    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


async def _try_account(ctx: ProxyContext, service: Any, job: Job, acc: Account) -> _Opened:
    request = fit_output(dict(job.request), output_cap(acc, job.upstream_model))
    if job.session_key:
        request["sessionId"] = session_id_for(job.session_key)
    envelope = CloudCodeClient.envelope(
        project=acc.project or "",
        model=job.upstream_model,
        request=request,
        request_id=f"agent/{uuid.uuid4()}",
        request_type=job.request_type,
    )
    refreshed = False
    while True:
        try:
            token = await service.access_token(acc, force=refreshed)
        except TokenUnavailable as e:
            if not e.revoked:
                ctx.pool.cool_down(acc.id, None, 30.0, str(e))
            raise _Failover(str(e), 503) from e
        try:
            resp = await ctx.upstream.stream_generate(token, envelope)
        except TransportError as e:
            ctx.pool.cool_down(acc.id, job.upstream_model, 10.0, f"network: {e}")
            raise _Failover(f"Cloud Code could not be reached: {e}", 504 if e.timeout else 502) from e
        if resp.status == 200:
            return _Opened(acc, resp, ctx.upstream.events(resp))
        try:
            body = await resp.read()
        except TransportError as e:
            ctx.pool.cool_down(acc.id, job.upstream_model, 10.0, f"network: {e}")
            raise _Failover(f"the upstream's HTTP {resp.status} answer broke off: {e}", 504 if e.timeout else 502) from e
        if resp.status == 401 and not refreshed:
            refreshed = True
            service.forget_token(acc.id)
            continue
        verdict = classify(
            resp.status, resp.headers, body, now=ctx.clock(), repeats=ctx.pool.failures(acc.id, job.upstream_model)
        )
        log.info("account %s got %s (%s) for %s", acc.id[:8], resp.status, verdict.kind, job.upstream_model)
        if verdict.kind == "forbidden":
            ctx.pool.disable(acc.id, f"forbidden (403): {verdict.message[:300]}")
            raise _Failover(f"account forbidden: {verdict.message}", 503)
        if verdict.cooldown is not None:
            ctx.pool.cool_down(
                acc.id, job.upstream_model if verdict.model_scoped else None, verdict.cooldown,
                f"{verdict.kind}: {verdict.message[:200]}",
            )
        if verdict.failover:
            raise _Failover(f"HTTP {resp.status}: {verdict.message}", 429 if resp.status == 429 else 502)
        if verdict.kind == "not_found":
            # The account's catalog listed it but the upstream says no: the catalog moved. Take
            # the id off this account now, re-read its catalog, and let another account serve.
            acc.models.pop(job.upstream_model, None)
            await refresh_catalog(ctx, acc)
            plan = plan_for(job.upstream_model)
            fresh = (resolve_for(acc, plan.name, ctx.config().model_mapping, ctx.pool.resting(acc))
                     if plan is not None else None)
            if plan is not None and may_replan() and (fresh is None or fresh.target != job.upstream_model):
                raise _Replan(None)  # this account now sends something else (or nothing) for the name
            raise _Failover(f"the upstream does not know the model {job.upstream_model!r} on this account "
                            f"(requested as {job.client_model!r}), though its catalog listed it", 404)
        status = resp.status if 400 <= resp.status < 500 else 502
        raise ProxyError(status, f"Upstream rejected the request: {upstream_message(body)}")


# -- running a job -----------------------------------------------------------------------------


def _headers(job: Job, acc: Account) -> dict[str, str]:
    return {"X-Trayproxy-Account": acc.id, "X-Trayproxy-Model": job.upstream_model}


async def run_generation(request: web.Request, job: Job) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    if job.accounts is None:
        plan = plan_for(job.upstream_model)
        job.accounts = plan.accounts if plan is not None else None
    try:
        return await _run(request, ctx, job)
    except _Replan as r:
        # Nothing was sent: run the handler again, which plans with what is known now.
        replan(r.tried)
        return await request.match_info.handler(request)


async def _run(request: web.Request, ctx: ProxyContext, job: Job) -> web.StreamResponse:
    out = Outcome(upstream_model=job.upstream_model, upstream="google", stream=job.stream)
    request[OUTCOME] = out
    exclude: set[str] = set()
    failures: list[tuple[int, str]] = []
    empty_retries = 0
    while True:
        opened = await _open(ctx, job, exclude, out, failures)
        acc = opened.account
        machine = job.make_machine()
        try:
            if not job.stream:
                result = await _collect(opened, machine)
                # Nothing has been sent yet: an empty or broken answer is retried once, then
                # reported; it never goes out as a success.
                failure = getattr(machine, "failure", None)
                if (_empty(machine) or failure) and empty_retries < 1:
                    empty_retries += 1
                    continue
                if _empty(machine):
                    raise ProxyError(502, "The upstream returned an empty answer twice "
                                     f"(finish reason {machine.upstream_finish or 'missing'}).")
                if failure:
                    raise ProxyError(502, str(failure))
                _done(ctx, machine, acc, job, out)
                if job.on_result is not None:
                    result = job.on_result(result, machine)
                out.status = 200
                return web.Response(body=orjson.dumps(result), content_type="application/json",
                                    headers=_headers(job, acc))
            peeked = await _peek(opened, machine)
            if peeked is None:
                if empty_retries < 1:
                    empty_retries += 1
                    continue
                raise ProxyError(502, "The upstream returned an empty answer twice "
                                 f"(finish reason {machine.upstream_finish or 'missing'}).")
            return await _relay(request, ctx, job, opened, machine, peeked[0], peeked[1], out)
        except _PeekFailed as e:
            ctx.pool.cool_down(acc.id, job.upstream_model, 8.0, f"stream broke: {e}")
            exclude.add(acc.id)
            failures.append((504 if e.timeout else 502, f"the upstream answer broke off before it began: {e}"))
            continue
        finally:
            ctx.pool.release(acc.id)
            opened.resp.close()


class _PeekFailed(Exception):
    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


async def _collect(opened: _Opened, machine: StreamMachine) -> dict[str, Any]:
    try:
        async for ev in opened.events:
            machine.feed(ev)
    except UpstreamStreamError as e:
        if not machine.produced_output:
            raise _PeekFailed(str(e), timeout=e.timeout) from e
        raise ProxyError(502, f"The upstream answer broke off: {e}") from e
    machine.finish()
    return machine.result()


async def _peek(opened: _Opened, machine: StreamMachine) -> tuple[list[bytes], bool] | None:
    """Feed events until the machine has real output for the client.

    Returns (frames, ended): `ended` when the whole answer was already read. None when the
    answer is empty or cut off in a way worth one retry (nothing has been sent yet)."""
    held: list[bytes] = []
    try:
        async for ev in opened.events:
            held.extend(machine.feed(ev))
            if machine.produced_output:
                return held, False
    except UpstreamStreamError as e:
        raise _PeekFailed(str(e), timeout=e.timeout) from e
    if _empty(machine):
        return None
    return held + machine.finish(), True


def _done(ctx: ProxyContext, machine: StreamMachine, acc: Account, job: Job, out: Outcome) -> None:
    ctx.pool.report_success(acc.id, job.upstream_model)
    if machine.signatures:
        ctx.signatures.remember(machine.signatures.items())
    out.usage = machine.usage


async def _relay(
    request: web.Request,
    ctx: ProxyContext,
    job: Job,
    opened: _Opened,
    machine: StreamMachine,
    first: list[bytes],
    ended: bool,
    out: Outcome,
) -> web.StreamResponse:
    resp = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": job.content_type,
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            **_headers(job, opened.account),
        },
    )
    origin = request.headers.get("Origin")
    if origin:
        resp.headers["Access-Control-Allow-Origin"] = origin
    await resp.prepare(request)
    request[STREAM_STARTED] = True
    out.status = 200
    out.ttfb_ms = (time.monotonic() - out.started) * 1000
    if ctx.monitor is not None and ctx.monitor.store_bodies:
        out.body = bytearray()
    out.keep(b"".join(first))
    await resp.write(b"".join(first))
    job.request = {}  # committed: no retry can need it, and a long stream should not keep it
    if ended:
        _done(ctx, machine, opened.account, job, out)
        await resp.write_eof()
        return resp
    last_write = time.monotonic()
    finished = False

    async def pump() -> None:
        nonlocal last_write, finished
        async for ev in opened.events:
            frames = machine.feed(ev)
            if frames:
                data = b"".join(frames) if len(frames) > 1 else frames[0]
                if out.body is not None:
                    out.keep(data)
                await resp.write(data)
                last_write = time.monotonic()
        finished = True

    reader = asyncio.ensure_future(pump())
    stopper = asyncio.ensure_future(ctx.stopping.wait())
    try:
        while True:
            done, _ = await asyncio.wait({reader, stopper}, timeout=job.ping_interval,
                                         return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                break
            if stopper in done:
                reader.cancel()
                out.outcome = "shutdown"
                out.error = "trayproxy stopped while the answer was streaming"
                await resp.write(b"".join(machine.fail("trayproxy is stopping; the answer was cut short")))
                await resp.write_eof()
                return resp
            if job.ping_frame and time.monotonic() - last_write >= job.ping_interval * 0.9:
                await resp.write(job.ping_frame)
                last_write = time.monotonic()
        try:
            reader.result()
        except UpstreamStreamError as e:
            out.outcome = "error"
            out.error = f"upstream stream broke: {e}"
            ctx.pool.cool_down(opened.account.id, job.upstream_model, 8.0, out.error)
            await resp.write(b"".join(machine.fail(f"The upstream answer broke off: {e}")))
            await resp.write_eof()
            return resp
        if finished:
            tail = machine.finish()
            if tail:
                await resp.write(b"".join(tail))
            _done(ctx, machine, opened.account, job, out)
        await resp.write_eof()
        return resp
    except (ConnectionResetError, asyncio.CancelledError):
        out.outcome = "client_disconnect"
        out.error = "the client closed the connection before the answer was complete"
        raise
    except Exception as e:  # a bug after the headers went out: end the stream properly, once
        log.exception("error while relaying a stream")
        out.outcome, out.error = "error", f"internal error while streaming: {e}"
        try:
            await resp.write(b"".join(machine.fail("trayproxy hit an internal error; the answer was cut short")))
            await resp.write_eof()
        except Exception:
            pass
        return resp
    finally:
        out.usage = machine.usage
        for t in (reader, stopper):
            if not t.done():
                t.cancel()
        await asyncio.gather(reader, stopper, return_exceptions=True)


# -- monitor ---------------------------------------------------------------------------------


def record_request(request: web.Request, status: int, started_wall: float, started_mono: float,
                   client_model: str | None, protocol: str, error: str | None,
                   response_body: bytes | None = None) -> None:
    ctx = request.app[CONTEXT]
    mon = ctx.monitor
    if mon is None:
        return
    out: Outcome | None = request.get(OUTCOME)
    from trayproxy.monitor import RequestRecord

    usage = out.usage if out else None
    if out and out.status:
        status, outcome = out.status, out.outcome
    else:
        outcome = "ok" if status < 400 else ("client_disconnect" if status == 499 else "error")
    bodies = mon.store_bodies
    rec = RequestRecord(
        id=uuid.uuid4().hex,
        ts=started_wall,
        method=request.method,
        route=request.path,
        protocol=protocol,
        client_model=client_model,
        upstream_model=out.upstream_model if out else None,
        account_id=out.account_id if out else None,
        upstream=out.upstream if out else None,
        status=status,
        outcome=outcome,
        duration_ms=(time.monotonic() - started_mono) * 1000,
        ttfb_ms=out.ttfb_ms if out else None,
        input_tokens=usage.prompt if usage else 0,
        output_tokens=(usage.output + usage.reasoning) if usage else 0,
        cached_tokens=usage.cached if usage else 0,
        reasoning_tokens=usage.reasoning if usage else 0,
        stream=out.stream if out else False,
        error=(out.error if out and out.error else error),
        user_agent=request.headers.get("User-Agent"),
        request_body=getattr(request, "_read_bytes", None) if bodies else None,
        response_body=(bytes(out.body) if out and out.body is not None else response_body) if bodies else None,
    )
    mon.record(rec)
