"""The path every generation request takes, whatever protocol the client speaks.

1. Pick an account for the upstream model (sticky per conversation) among the accounts whose
   catalog serves it (proxy.resolve made the plan), get its access token. When all of them
   fail before anything was sent, the handler runs again for the id other accounts would use.
2. Send the request; an error answer goes through the triage (accounts.triage): wait and retry
   the same account, cool it (or one of its models) down and try the next, pause it for
   verification, disable it, retry without earlier thinking, or give the client its error. On
   401 refresh the token and retry once. When nobody can serve, the client hears the truth: 429
   only when every account is really limited, 503/502 for an outage, 403 with the link when
   only accounts needing verification are left. Client errors name accounts by short id.
3. Peek: nothing is sent to the client until the converter has produced its first bytes. An
   empty or cut-off answer (no output, `MALFORMED_FUNCTION_CALL`) is retried once, so a client
   never gets an empty success.
4. Stream (proxy.relay): relay converted frames as they arrive; pings during long silences; on
   proxy stop, on an upstream break or timeout, end with the protocol's own error event, never a
   silent truncation. A client that goes away cancels the upstream request.
5. Record the request in the monitor, whatever happened.
"""

from __future__ import annotations

import itertools
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from trayproxy.accounts.catalog import resolve_for
from trayproxy.accounts.cooldown import BARE_COOLDOWN, BARE_FANOUT
from trayproxy.accounts.pool import Unavailable
from trayproxy.accounts.service import TokenUnavailable
from trayproxy.accounts.store import Account
from trayproxy.accounts.triage import OUTAGE_KINDS, classify
from trayproxy.monitor.record import RequestRecord
from trayproxy.protocols.core import envelope as envelope_rules
from trayproxy.proxy.context import CONTEXT, ProxyContext
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.job import (
    CLIENT_MODEL,
    OUTCOME,
    STREAM_STARTED,
    Job,
    Opened,
    Outcome,
    StreamMachine,
    answer_headers,
    empty,
    succeeded,
)
from trayproxy.proxy.relay import relay
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
from trayproxy.upstream.cloudcode import CloudCodeClient, UpstreamStreamError, parse_event, session_id_for
from trayproxy.upstream.errors import describe_network_error
from trayproxy.upstream.transport import TransportError

__all__ = ["StreamMachine", "Job", "Outcome", "OUTCOME", "CLIENT_MODEL", "STREAM_STARTED", "run_generation",
           "record_request"]

log = logging.getLogger("trayproxy.pipeline")
MAX_ATTEMPTS = 8
# -- opening an upstream stream with failover --------------------------------------------------


class _Failover(Exception):
    """This account failed this request; `kind` is the triage kind (or "network"/"auth")."""

    def __init__(self, message: str, status: int = 502, kind: str = "server", link: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.kind = kind
        self.link = link


@dataclass
class _Attempts:
    """What this request's attempts learned, across accounts (and across _open calls)."""

    failures: list[_Failover] = field(default_factory=list)
    bare: int = 0  # accounts that answered a bare 429
    stripped: bool = False  # the thinking-signature retry was used


async def _open(ctx: ProxyContext, job: Job, exclude: set[str], out: Outcome, attempts: _Attempts) -> Opened:
    """Open a 200 stream on some account, or raise ProxyError in the client's terms."""
    service = ctx.accounts
    for _ in range(MAX_ATTEMPTS):
        if job.accounts is not None and not job.accounts and ctx.pool.usable():
            raise not_served_error(ctx, job.client_model)
        pick = ctx.pool.select(job.upstream_model, session=job.session_key, exclude=frozenset(exclude),
                               models=job.accounts or None)
        if isinstance(pick, Unavailable):
            _maybe_retarget(job)
            raise _final_error(pick, attempts, job)
        acc = pick
        out.account_id = acc.id
        try:
            opened = await _try_account(ctx, service, job, acc, attempts)
        except _Failover as f:
            ctx.pool.release(acc.id)
            exclude.add(acc.id)
            attempts.failures.append(f)
            if f.kind == "bare_429":
                attempts.bare += 1
                if attempts.bare >= BARE_FANOUT:  # one request must not bench the whole pool
                    raise _final_error(None, attempts, job) from None
            continue
        except BaseException:
            ctx.pool.release(acc.id)
            raise
        return opened
    raise _final_error(None, attempts, job)


def _final_error(pick: Unavailable | None, attempts: _Attempts, job: Job) -> ProxyError:
    """What the client hears when no account served: the pool's view of every account, and what
    this request's own attempts ran into."""
    fails = attempts.failures
    kinds = {f.kind for f in fails}
    if pick is not None and pick.status == 429:
        return ProxyError(429, pick.reason, retry_after=pick.retry_after, code=pick.code)
    if fails and kinds == {"not_found"}:
        return ProxyError(
            404,
            f"No account serves the model {job.upstream_model!r} (requested as {job.client_model!r}); "
            f"{len(fails)} tried. Check the model name or add a model_mapping entry.",
            code="model_not_found",
        )
    last = fails[-1] if fails else None
    if last is not None and kinds <= OUTAGE_KINDS:
        what = ("Google has no capacity for this model right now" if kinds == {"capacity"}
                else "Google's Cloud Code is failing or cannot be reached")
        status = 503 if kinds == {"capacity"} else last.status if last.status in (502, 503, 504) else 502
        return ProxyError(status, f"{what} ({len(fails)} account{'s' if len(fails) != 1 else ''} tried). "
                          f"Last error: {last.message}", code="upstream_unavailable",
                          retry_after=pick.retry_after if pick is not None and pick.retry_after else 2.0)
    if "bare_429" in kinds and not kinds & {"quota", "rate_limit"}:
        return ProxyError(
            503,
            f"Google answered 'Resource has been exhausted' with no quota details on {attempts.bare} account"
            f"{'s' if attempts.bare != 1 else ''}. This is often Google refusing this request's content (for "
            f"example identity or billing lines in the system prompt), not a quota, so the accounts rest only "
            f"{BARE_COOLDOWN:g} s. Retry shortly; if it keeps happening, the request itself is the cause.",
            code="upstream_refused", retry_after=BARE_COOLDOWN,
        )
    if pick is not None and pick.status == 403:
        return ProxyError(403, pick.reason, code=pick.code)
    if last is not None:
        status = 503 if last.status == 429 else last.status
        retry = pick.retry_after if pick is not None else None
        return ProxyError(status, f"Every account failed for this request ({len(fails)} tried). "
                          f"Last error: {last.message}", retry_after=retry if status in (429, 503) else None)
    assert pick is not None
    return ProxyError(pick.status, pick.reason, code=pick.code,
                      retry_after=pick.retry_after if pick.status in (429, 503) else None)


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


def _sleep(ctx: ProxyContext) -> Callable[[float], Any]:
    return ctx.sleep


async def _try_account(ctx: ProxyContext, service: Any, job: Job, acc: Account, attempts: _Attempts) -> Opened:
    # The request type (image_gen / web_search / agent) and id the upstream model wants.
    kind = job.request_type if job.request_type != "agent" else envelope_rules.request_type_for(
        job.upstream_model, job.request)

    def envelope_for(inner: dict[str, Any]) -> dict[str, Any]:
        # the output cap of the model on this account (its live catalog), then the request type
        request = envelope_rules.for_request_type(fit_output(dict(inner), output_cap(acc, job.upstream_model)), kind)
        if job.session_key:
            request["sessionId"] = session_id_for(job.session_key)
        return CloudCodeClient.envelope(
            project=acc.project or "",
            model=job.upstream_model,
            request=request,
            request_id=envelope_rules.request_id(kind, int(ctx.clock() * 1000),
                                                 str(uuid.UUID(int=random.getrandbits(128), version=4))),
            request_type=kind,
        )

    envelope = envelope_for(job.request)
    refreshed = retried_same = False
    model = job.upstream_model
    while True:
        try:
            token = await service.access_token(acc, force=refreshed)
        except TokenUnavailable as e:
            why = "network" if e.network else "auth"
            if not e.revoked:
                ctx.pool.cool_down(acc.id, None, 30.0, str(e), kind=why)
            raise _Failover(str(e), 503, kind=why) from e
        try:
            resp = await ctx.upstream.stream_generate(token, envelope)
        except TransportError as e:
            why = describe_network_error(e)
            ctx.pool.cool_down(acc.id, model, 10.0, f"network: {why}", kind="network")
            raise _Failover(f"Cloud Code could not be reached: {why}", 504 if e.timeout else 502, kind="network") from e
        if resp.status == 200:
            return Opened(acc, resp, ctx.upstream.payloads(resp))
        try:
            body = await resp.read()
        except TransportError as e:
            ctx.pool.cool_down(acc.id, model, 10.0, f"network: {e}", kind="network")
            raise _Failover(f"the upstream's HTTP {resp.status} answer broke off: {e}", 504 if e.timeout else 502,
                            kind="network") from e
        if resp.status == 401 and not refreshed:
            refreshed = True
            service.forget_token(acc.id)
            continue
        v = classify(resp.status, resp.headers, body, now=ctx.clock(), repeats=ctx.pool.failures(acc.id, model))
        log.info("account %s got %s (%s) for %s", acc.label, resp.status, v.kind, model)
        if v.retry_same is not None and not retried_same:
            retried_same = True
            await _sleep(ctx)(v.retry_same)
            continue
        if v.strip_thinking:
            # A thought signature the upstream refuses (another model, account or session): once
            # per request, send it again without the earlier turns' thinking (protocols/core).
            if not attempts.stripped:
                attempts.stripped = True
                fixed = envelope_rules.without_thinking(job.request, model)
                if fixed != job.request:  # else there is no thinking to remove: a retry would change nothing
                    log.info("account %s refused a thought signature; retrying without earlier thinking",
                             acc.label)
                    job.request = fixed
                    envelope = envelope_for(fixed)
                    continue
            raise ProxyError(400, f"Upstream rejected the request: {v.message}")
        if v.pause:
            ctx.pool.pause_for_verification(acc.id, link=v.link, link_text=v.link_text, message=v.summary)
        if v.disable:
            ctx.pool.disable(acc.id, v.summary, link=v.link, by="google")
        if v.cooldown is not None:
            ctx.pool.cool_down(acc.id, model if v.model_scoped else None, v.cooldown,
                               f"{v.summary}: {v.message[:200]}", kind=v.kind)
        if v.refresh_catalog:  # a model-not-found
            # The account's catalog listed it but the upstream says no: the catalog moved. Take
            # the id off this account now, re-read its catalog, and plan again if the account now
            # sends something else for the name; otherwise another account of the group serves.
            acc.models.pop(model, None)
            await refresh_catalog(ctx, acc)
            plan = plan_for(model)
            fresh = (resolve_for(acc, plan.name, ctx.config().model_mapping, ctx.pool.resting(acc))
                     if plan is not None else None)
            if plan is not None and may_replan() and (fresh is None or fresh.target != model):
                raise _Replan(None)
        if v.failover:
            raise _Failover(f"HTTP {resp.status}: {v.message}", resp.status, kind=v.kind, link=v.link)
        status = resp.status if 400 <= resp.status < 500 else 502
        raise ProxyError(status, f"Upstream rejected the request: {v.message}")


# -- running a job -----------------------------------------------------------------------------


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
        if job.rerun is not None:
            return await job.rerun()
        return await request.match_info.handler(request)


async def _run(request: web.Request, ctx: ProxyContext, job: Job) -> web.StreamResponse:
    out = Outcome(upstream_model=job.upstream_model, upstream="google", stream=job.stream)
    request[OUTCOME] = out
    exclude: set[str] = set()
    attempts = _Attempts()
    empty_retries = 0
    while True:
        opened = await _open(ctx, job, exclude, out, attempts)
        acc = opened.account
        machine = job.make_machine()
        try:
            if not job.stream:
                result = await _collect(opened, machine)
                # Nothing has been sent yet: an empty or broken answer is retried once, then
                # reported; it never goes out as a success.
                failure = getattr(machine, "failure", None)
                if (empty(machine) or failure) and empty_retries < 1:
                    empty_retries += 1
                    continue
                if empty(machine):
                    raise ProxyError(502, "The upstream returned an empty answer twice "
                                     f"(finish reason {machine.upstream_finish or 'missing'}).")
                if failure:
                    raise ProxyError(502, str(failure))
                succeeded(ctx, machine, acc, job, out)
                if job.on_result is not None:
                    result = job.on_result(result, machine)
                out.status = 200
                return web.Response(body=orjson.dumps(result), content_type="application/json",
                                    headers=answer_headers(job, acc))
            peeked = await _peek(opened, machine)
            if peeked is None:
                if empty_retries < 1:
                    empty_retries += 1
                    continue
                raise ProxyError(502, "The upstream returned an empty answer twice "
                                 f"(finish reason {machine.upstream_finish or 'missing'}).")
            return await relay(request, ctx, job, opened, machine, peeked[0], peeked[1], out)
        except _PeekFailed as e:
            ctx.pool.cool_down(acc.id, job.upstream_model, 8.0, f"stream broke: {e}", kind="server")
            exclude.add(acc.id)
            attempts.failures.append(_Failover(f"the upstream answer broke off before it began: {e}",
                                               504 if e.timeout else 502, kind="server"))
            continue
        finally:
            ctx.pool.release(acc.id)
            opened.resp.close()


class _PeekFailed(Exception):
    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


async def _collect(opened: Opened, machine: StreamMachine) -> dict[str, Any]:
    try:
        async for batch in opened.batches:
            for data in batch:
                ev = parse_event(data)
                if ev is not None:
                    machine.feed(ev)
    except UpstreamStreamError as e:
        if not machine.produced_output:
            raise _PeekFailed(str(e), timeout=e.timeout) from e
        raise ProxyError(502, f"The upstream answer broke off: {e}") from e
    machine.finish()
    return machine.result()


async def _peek(opened: Opened, machine: StreamMachine) -> tuple[list[bytes], bool] | None:
    """Feed events until the machine has real output for the client; the rest of that batch
    stays in `opened.rest` (the first bytes go out before it is read).

    Returns (frames, ended): `ended` when the whole answer was already read. None when the
    answer is empty or cut off in a way worth one retry (nothing has been sent yet)."""
    held: list[bytes] = []
    try:
        async for batch in opened.batches:
            for i, data in enumerate(batch):
                ev = parse_event(data)
                if ev is None:
                    continue
                held += machine.feed(ev)
                if machine.produced_output:
                    opened.rest = batch[i + 1:]
                    return held, False
    except UpstreamStreamError as e:
        raise _PeekFailed(str(e), timeout=e.timeout) from e
    if empty(machine):
        return None
    return held + machine.finish(), True


# -- monitor ---------------------------------------------------------------------------------

# Row ids: unique per process start (random prefix) and in order within it; 32 hex digits like
# the uuid4 they replace, without a urandom call per request.
_ROW_PREFIX = secrets.token_hex(8)
_ROW_SEQ = itertools.count()


def _row_id() -> str:
    return f"{_ROW_PREFIX}{next(_ROW_SEQ):016x}"


def record_request(request: web.Request, status: int, started_wall: float, started_mono: float,
                   client_model: str | None, protocol: str, error: str | None,
                   response_body: bytes | None = None) -> None:
    ctx = request.app[CONTEXT]
    mon = ctx.monitor
    if mon is None:
        return
    out: Outcome | None = request.get(OUTCOME)
    usage = out.usage if out else None
    if out and out.status:
        status, outcome = out.status, out.outcome
    else:
        outcome = "ok" if status < 400 else ("client_disconnect" if status == 499 else "error")
    bodies = mon.store_bodies
    rec = RequestRecord(
        id=_row_id(),
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
