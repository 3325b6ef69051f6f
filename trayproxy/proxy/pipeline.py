"""The upstream side of every request, whatever protocol the client speaks: one plan's job, run
with failover across the accounts that may serve it.

1. Pick an account for the plan's target (sticky per conversation) among the plan's accounts,
   get its access token. When all of them fail before anything was sent and other accounts
   would serve the name with another id, raise `Replan`: the generic handler (proxy/handler.py)
   plans again with what is known now; nothing is re-read or re-parsed. When every account's
   quota is spent and the person allowed it (`use_ai_credits`), the accounts are tried once more
   with Google One AI credits paying (`enabledCreditTypes`).
2. Send the request: the inner request as the target model takes it (protocols/core/
   model_rules.py: thinking level or budget, Claude's VALIDATED calling), to the host whose
   catalog the account was read from first. An error answer goes through the triage
   (accounts.triage): wait and retry the same account, cool it (or one of its models) down and
   try the next, pause it for verification, disable it, retry without earlier thinking, or give
   the client its error; a quota reset longer than five hours marks the group's weekly window
   spent; a model-not-found whose re-read catalog lost the newest id of its family is Google's
   version gate (the client version alarm). On 401 refresh the token and retry once. When nobody
   can serve, the client hears the truth: 429 only when every account is really limited, 503/502
   for an outage, 403 with the link when only accounts needing verification are left. Client
   errors name accounts by short id. A token count (`count`) takes the same accounts and
   failover, without the triage's rests.
3. Peek: nothing is sent to the client until the converter has produced its first bytes and the
   answer cannot be one of Google's notices inside a 200 (protocols/core/refusal.py). A retired
   model's notice ("... is no longer available. Please switch to X") is a model-not-found: every
   account forwards the id to X from now on, the catalog is re-read and the request is planned
   again, so the client gets X's answer. A refused client version raises the one alarm
   (upstream/client_version.py) and the client gets a clear error in its own shape. An empty or
   cut-off answer (no output, `MALFORMED_FUNCTION_CALL`) is retried once, so a client never gets
   an empty success.
4. Stream (proxy.relay) or collect (`collect`): relay converted frames as they arrive, or build
   the whole answer. What was learned (retries, failures, tried targets) lives in the request's
   `Retry` value (proxy/retry.py), passed along, with its deadline: no account, host or plan is
   tried once it has passed, a wait for an upstream is cut at it (504, `_within`), and a stream
   that runs past it ends with the protocol's error event (proxy.relay). An upstream that sends
   only keep-alives is cut at `request_timeout`, like a silent one (upstream/cloudcode.py).
5. The monitor records the request (proxy/front.py, `record`), whatever happened.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from aiohttp import web

from trayproxy.accounts.catalog import resolve_for
from trayproxy.accounts.cooldown import BARE_COOLDOWN, BARE_FANOUT
from trayproxy.accounts.models import newest_of_family
from trayproxy.accounts.pool import Unavailable
from trayproxy.accounts.service import TokenUnavailable
from trayproxy.accounts.store import Account
from trayproxy.accounts.triage import OUTAGE_KINDS, classify
from trayproxy.json_types import JSON
from trayproxy.monitor.record import RequestRecord
from trayproxy.protocols.core import envelope as envelope_rules
from trayproxy.protocols.core import model_rules
from trayproxy.protocols.core.refusal import Refusal, RefusalWatch
from trayproxy.proxy.context import ProxyContext
from trayproxy.proxy.errors import ProxyError
from trayproxy.proxy.exchange import Exchange
from trayproxy.proxy.job import Job, Opened, Sink, StreamMachine, empty, succeeded
from trayproxy.proxy.relay import relay
from trayproxy.proxy.resolve import fit_output, not_served_error, output_cap, refresh_catalog
from trayproxy.proxy.retry import MAX_ATTEMPTS, Failure, Retry
from trayproxy.upstream.cloudcode import CloudCodeClient, UpstreamStreamError, parse_event, session_id_for
from trayproxy.upstream.errors import describe_network_error
from trayproxy.upstream.transport import TransportError
from trayproxy.upstream.words import client_error

__all__ = ["Replan", "stream", "collect", "count", "record", "new_retry", "deadline_error"]

log = logging.getLogger("trayproxy.pipeline")
T = TypeVar("T")
NO_CREDITS_REST = 6 * 3600.0  # an account Google said has no AI credits is not tried with them for this long


class Replan(Exception):
    """Plan the request again: `tried` (every account serving it failed or rests, others would
    serve the name with another id), or None (a catalog was just re-read)."""

    def __init__(self, tried: str | None) -> None:
        super().__init__(tried)
        self.tried = tried


# -- 1. an account, with failover ---------------------------------------------------------------


async def _with_account(ctx: ProxyContext, ex: Exchange, job: Job, retry: Retry,
                        attempt: Callable[[Account], Awaitable[T]]) -> tuple[Account, T]:
    """`attempt(account)` on some account of the plan, the next one after each `Failure`. The
    account stays held (pool in-flight count) until the caller releases it."""
    plan = job.plan
    for _ in range(MAX_ATTEMPTS):
        if retry.past(ctx.clock()):
            raise deadline_error(retry)
        if not plan.accounts and ctx.pool.usable():
            raise not_served_error(ctx, job.client_model)
        pick = ctx.pool.select(plan.target, session=job.session_key, exclude=frozenset(retry.excluded),
                               models=plan.accounts or None, paying=retry.paying)
        if isinstance(pick, Unavailable):
            if pick.status == 429 and not retry.paying and ctx.config().use_ai_credits:
                # Every account's quota is spent: once more, with Google One AI credits paying.
                retry.paying = True
                retry.excluded -= retry.quota_spent
                continue
            _maybe_retarget(job, retry)
            raise _final_error(pick, retry, job)
        acc = pick
        ex.account_id = acc.id
        ex.sent = time.monotonic()  # the added latency ends here (metrics): the attempt is the upstream's
        try:
            return acc, await attempt(acc)
        except Failure as f:
            ctx.pool.release(acc.id)
            retry.excluded.add(acc.id)
            retry.failures.append(f)
            if f.kind == "quota":
                retry.quota_spent.add(acc.id)
            if f.kind == "bare_429":
                retry.bare += 1
                if retry.bare >= BARE_FANOUT:  # one request must not bench the whole pool
                    raise _final_error(None, retry, job) from None
            continue
        except BaseException:
            ctx.pool.release(acc.id)
            raise
    raise _final_error(None, retry, job)


def new_retry(ctx: ProxyContext) -> Retry:
    """A request's retry state as it begins, with its deadline (`request_deadline` from now)."""
    return Retry.starting(ctx.clock(), float(ctx.config().request_deadline))


def deadline_error(retry: Retry) -> ProxyError:
    """What the client hears when its request's deadline passed before an answer began."""
    fails = retry.failures
    tried = f" {len(fails)} attempt{'s' if len(fails) != 1 else ''} failed; last error: {fails[-1].message}" if fails else ""
    return ProxyError(504, f"No answer within the request's deadline of {retry.budget:g} s (setting "
                           f"request_deadline).{tried}", code="deadline_exceeded")


async def _within(ctx: ProxyContext, retry: Retry, work: Awaitable[T]) -> T:
    """`work`, cut at the request's deadline (504): nothing has gone to the client yet, so
    cancelling the wait for an upstream (a hung host, a slow account) is safe."""
    left = retry.deadline - ctx.clock()
    if left == float("inf"):
        return await work
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(max(0.0, left)) as cm:
                return await work
        return await asyncio.wait_for(work, max(0.0, left))  # pragma: no cover - 3.10
    except asyncio.TimeoutError:
        if sys.version_info >= (3, 11) and not cm.expired():
            raise  # not ours: some inner wait's own timeout
        raise deadline_error(retry) from None


def _final_error(pick: Unavailable | None, retry: Retry, job: Job) -> ProxyError:
    """What the client hears when no account served: the pool's view of every account, and what
    this request's own attempts ran into."""
    fails = retry.failures
    kinds = {f.kind for f in fails}
    if pick is not None and pick.status == 429:
        paid = (" Google One AI credits could not pay either (none left on these accounts)." if retry.paying
                else "")
        return ProxyError(429, pick.reason + paid, retry_after=pick.retry_after, code=pick.code)
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
            f"Google answered 'Resource has been exhausted' with no quota details on {retry.bare} account"
            f"{'s' if retry.bare != 1 else ''}. This is often Google refusing this request's content (for "
            f"example identity or billing lines in the system prompt), not a quota, so the accounts rest only "
            f"{BARE_COOLDOWN:g} s. Retry shortly; if it keeps happening, the request itself is the cause.",
            code="upstream_refused", retry_after=BARE_COOLDOWN,
        )
    if pick is not None and pick.status == 403:
        return ProxyError(403, pick.reason, code=pick.code)
    if last is not None:
        status = 503 if last.status == 429 else last.status
        retry_after = pick.retry_after if pick is not None else None
        return ProxyError(status, f"Every account failed for this request ({len(fails)} tried). "
                          f"Last error: {last.message}", retry_after=retry_after if status in (429, 503) else None)
    assert pick is not None
    return ProxyError(pick.status, pick.reason, code=pick.code,
                      retry_after=pick.retry_after if pick.status in (429, 503) else None)


def _maybe_retarget(job: Job, retry: Retry) -> None:
    """Plan again when other accounts would serve the name with another id that is as close a
    match. Not when the client asked for this very id (a served id is a choice: a busy account
    means a 429), and never into another family unless already there (a busy Claude account
    means a 429, not an answer from Gemini)."""
    plan = job.plan
    if not plan.others or not retry.may_replan():
        return
    mine = [r for r in plan.resolutions.values() if r.target == plan.target]
    if any(r.pinned for r in mine):
        return
    tried = retry.tried_targets | {plan.target}
    rank = min((r.rank for r in mine), default=0)
    if any(r.target not in tried and r.rank <= max(1, rank) for r in plan.resolutions.values()):
        raise Replan(plan.target)


# -- 2. one account's attempt ------------------------------------------------------------------


def _envelope(ctx: ProxyContext, job: Job, acc: Account, request: JSON, kind: str, paying: bool = False) -> JSON:
    """The Cloud Code envelope for this account: the output cap of the model on it (its live
    catalog), the request type's rules, what the model takes (thinking level or budget, Claude's
    VALIDATED calling), the conversation's session id; AI credits when they pay."""
    inner = envelope_rules.for_request_type(fit_output(dict(request), output_cap(acc, job.upstream_model)), kind)
    inner = model_rules.for_model(inner, job.upstream_model, job.plan.level)
    if job.session_key:
        inner["sessionId"] = session_id_for(job.session_key)
    return CloudCodeClient.envelope(
        project=acc.project or "",
        model=job.upstream_model,
        request=inner,
        request_id=envelope_rules.request_id(kind, int(ctx.clock() * 1000),
                                             _uuid4()),
        request_type=kind,
        credits=paying,
    )


_UUID_CLEAR = 0xC000 << 48 | 0xF000 << 64  # the variant and version bits of a UUID's int
_UUID_SET = 0x8000 << 48 | 0x4000 << 64  # RFC 4122 variant, version 4


def _uuid4() -> str:
    """str(uuid.UUID(int=random.getrandbits(128), version=4)), without building a UUID object
    (its checked constructor cost more than the rest of the envelope's ids, every request)."""
    h = f"{random.getrandbits(128) & ~_UUID_CLEAR | _UUID_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


async def _token(ctx: ProxyContext, acc: Account, *, force: bool) -> str:
    try:
        return await ctx.accounts.access_token(acc, force=force)
    except TokenUnavailable as e:
        why = "network" if e.network else "auth"
        if not e.revoked:
            ctx.pool.cool_down(acc.id, None, 30.0, str(e), kind=why)
        raise Failure(str(e), 503, kind=why) from e


async def _open_on(ctx: ProxyContext, job: Job, acc: Account, retry: Retry) -> Opened:
    """Open a 200 stream on this account, or raise Failure (next account), Replan or ProxyError."""
    # The request type (image_gen / web_search / agent) and id the upstream model wants.
    kind = job.request_type if job.request_type != "agent" else envelope_rules.request_type_for(
        job.upstream_model, job.request)
    envelope = _envelope(ctx, job, acc, job.request, kind, retry.paying)
    refreshed = retried_same = False
    model = job.upstream_model
    while True:
        token = await _token(ctx, acc, force=refreshed)
        try:
            resp = await ctx.upstream.stream_generate(token, envelope, until=retry.deadline,
                                                      first=acc.catalog_host)
        except TransportError as e:
            why = describe_network_error(e)
            ctx.pool.cool_down(acc.id, model, 10.0, f"network: {why}", kind="network")
            raise Failure(f"Cloud Code could not be reached: {why}", 504 if e.timeout else 502, kind="network") from e
        if resp.status == 200:
            idle = float(ctx.config().request_timeout)
            return Opened(acc, resp, ctx.upstream.payloads(resp, idle=idle, clock=ctx.clock))
        try:
            body = await resp.read()
        except TransportError as e:
            ctx.pool.cool_down(acc.id, model, 10.0, f"network: {e}", kind="network")
            raise Failure(f"the upstream's HTTP {resp.status} answer broke off: {e}", 504 if e.timeout else 502,
                          kind="network") from e
        if resp.status == 401 and not refreshed:
            refreshed = True
            ctx.accounts.forget_token(acc.id)
            continue
        v = classify(resp.status, resp.headers, body, now=ctx.clock(), repeats=ctx.pool.failures(acc.id, model))
        log.info("account %s got %s (%s) for %s", acc.label, resp.status, v.kind, model)
        if v.retry_same is not None and not retried_same:
            retried_same = True
            await ctx.sleep(v.retry_same)
            continue
        if v.strip_thinking:
            # A thought signature the upstream refuses (another model, account or session): once
            # per request, send it again without the earlier turns' thinking (protocols/core).
            if not retry.stripped:
                retry.stripped = True
                fixed = envelope_rules.without_thinking(job.request, model)
                if fixed != job.request:  # else there is no thinking to remove: a retry would change nothing
                    log.info("account %s refused a thought signature; retrying without earlier thinking",
                             acc.label)
                    job.request = fixed
                    envelope = _envelope(ctx, job, acc, fixed, kind, retry.paying)
                    continue
            raise ProxyError(400, f"Upstream rejected the request: {v.message}")
        if v.pause:
            ctx.pool.pause_for_verification(acc.id, link=v.link, link_text=v.link_text, message=v.summary)
        if v.disable:
            ctx.pool.disable(acc.id, v.summary, link=v.link, by="google")
        if v.kind == "credits":
            ctx.pool.no_credits(acc.id, NO_CREDITS_REST)
        if v.cooldown is not None:
            ctx.pool.cool_down(acc.id, model if v.model_scoped else None, v.cooldown,
                               f"{v.summary}: {v.message[:200]}", kind=v.kind)
            if v.group_quota:  # a reset days away: the group's weekly window is spent
                ctx.accounts.quota_spent(acc, model, v.cooldown)
        if v.refresh_catalog:  # a model-not-found
            # The account's catalog listed it but the upstream says no: the catalog moved. Take
            # the id off this account now, re-read its catalog, and plan again if the account now
            # sends something else for the name; otherwise another account of the group serves.
            # The newest id of its family gone from the same host's catalog is Google's version
            # gate, not a retirement: the client version alarm.
            acc.models.pop(model, None)
            host = acc.catalog_host
            await refresh_catalog(ctx, acc)
            if model not in acc.models and acc.catalog_host == host and acc.models and \
                    newest_of_family(model, acc.models):
                ctx.identity.gated(model)
            plan = job.plan
            fresh = resolve_for(acc, plan.name, ctx.config().model_mapping, ctx.pool.resting(acc))
            if retry.may_replan() and (fresh is None or fresh.target != model):
                raise Replan(None)
        if v.failover:
            raise Failure(f"HTTP {resp.status}: {v.message}", resp.status, kind=v.kind, link=v.link)
        status = resp.status if 400 <= resp.status < 500 else 502
        raise ProxyError(status, f"Upstream rejected the request: {v.message}")


async def _count_on(ctx: ProxyContext, job: Job, acc: Account) -> int:
    """countTokens on this account: the total, or Failure (next account) or a client error. A
    count spends no generation quota, so its errors put no account to rest."""
    refreshed = False
    while True:
        token = await _token(ctx, acc, force=refreshed)
        try:
            status, data, raw = await ctx.upstream.count_tokens(token, job.request)
        except TransportError as e:
            raise Failure(f"Cloud Code could not be reached: {describe_network_error(e)}",
                          504 if e.timeout else 502, kind="network") from e
        if status == 401 and not refreshed:
            refreshed = True
            ctx.accounts.forget_token(acc.id)
            continue
        if status == 200 and isinstance(data, dict):
            inner = data.get("response", data)
            total = inner.get("totalTokens") if isinstance(inner, dict) else None
            if isinstance(total, int):
                return total
            raise Failure("countTokens answered without a total", 502)
        if status in (400, 404):
            raise ProxyError(status, f"countTokens was rejected: {raw[:300].decode('utf-8', 'replace')}")
        raise Failure(f"countTokens failed: HTTP {status}", 503 if status == 429 else 502,
                      kind="server" if status >= 500 else "count")


# -- 3./4. running a job -------------------------------------------------------------------------


async def count(ctx: ProxyContext, ex: Exchange, job: Job, retry: Retry) -> int:
    """The token count of `job.request` from some account of the plan."""
    acc, total = await _within(ctx, retry, _with_account(ctx, ex, job, retry, lambda acc: _count_on(ctx, job, acc)))
    ctx.pool.release(acc.id)
    return total


def _machine(job: Job) -> StreamMachine:
    assert job.make_machine is not None
    return job.make_machine()


async def collect(ctx: ProxyContext, ex: Exchange, job: Job, retry: Retry) -> tuple[JSON, StreamMachine, Account]:
    """The whole answer (not streamed): the machine's result, the machine, the account."""
    done = await _run(ctx, ex, job, retry, None)
    assert isinstance(done, tuple)
    return done


async def stream(ctx: ProxyContext, ex: Exchange, job: Job, retry: Retry, sink: Sink) -> web.StreamResponse:
    """The answer streamed to `sink` as it arrives (first bytes only once there is output)."""
    done = await _run(ctx, ex, job, retry, sink)
    assert not isinstance(done, tuple)
    return done


async def _run(ctx: ProxyContext, ex: Exchange, job: Job, retry: Retry,
               sink: Sink | None) -> web.StreamResponse | tuple[JSON, StreamMachine, Account]:
    ex.upstream_model, ex.upstream, ex.stream = job.upstream_model, "google", sink is not None
    while True:
        acc, opened = await _within(ctx, retry, _with_account(ctx, ex, job, retry,
                                                              lambda acc: _open_on(ctx, job, acc, retry)))
        machine = _machine(job)
        try:
            try:
                if sink is None:
                    result = await _within(ctx, retry, _read_all(ctx, retry, opened, machine))
                    failure = getattr(machine, "failure", None)
                    answered = not empty(machine) and not failure
                else:
                    peeked = await _within(ctx, retry, _peek(opened, machine))
                    failure, answered = None, peeked is not None
            except _PeekFailed as e:
                _broke_before_start(ctx, job, acc, retry, e)
                continue
            except _Refused as r:
                await _refused(ctx, job, acc, retry, r.refusal)
            if not answered:
                # Nothing has been sent yet: an empty or broken answer is retried once, then
                # reported; it never goes out as a success.
                if retry.empty_retries < 1:
                    retry.empty_retries += 1
                    continue
                raise ProxyError(502, str(failure) if failure and not empty(machine) else
                                 "The upstream returned an empty answer twice "
                                 f"(finish reason {machine.upstream_finish or 'missing'}).")
            if sink is not None:
                assert peeked is not None
                return await relay(ctx, ex, job, opened, machine, peeked[0], peeked[1], sink, retry)
            succeeded(ctx, machine, acc, job, ex)
            ex.status = 200
            return result, machine, acc
        finally:
            ctx.pool.release(acc.id)
            opened.resp.close()


def _broke_before_start(ctx: ProxyContext, job: Job, acc: Account, retry: Retry, e: _PeekFailed) -> None:
    ctx.pool.cool_down(acc.id, job.upstream_model, 8.0, f"stream broke: {e}", kind="server")
    retry.excluded.add(acc.id)
    retry.failures.append(Failure(f"the upstream answer broke off before it began: {e}",
                                  504 if e.timeout else 502, kind="server"))


class _PeekFailed(Exception):
    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class _Refused(Exception):
    """The whole answer was one of Google's notices inside a 200, not an answer."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.text)
        self.refusal = refusal


async def _refused(ctx: ProxyContext, job: Job, acc: Account, retry: Retry, refusal: Refusal) -> NoReturn:
    """A retired model: forward its id to the replacement Google names (on every account), re-read
    the catalog and plan again, so the client gets the replacement's answer. A refused client
    version: the one alarm, and a clear error for the client (nothing was sent yet)."""
    model = job.upstream_model
    if refusal.kind == "retired" and refusal.replacement:
        new = ctx.accounts.retire(model, refusal.replacement, ctx.config().model_mapping)
        log.warning("Google says %s is no longer available (switch to %s): forwarding it to %s", model,
                    refusal.replacement, new)
        await refresh_catalog(ctx, acc)
        if new is not None and retry.may_replan():
            raise Replan(None)
        raise ProxyError(404, f"Google answered that {model} is no longer available and to switch to "
                         f"{refusal.replacement}, which no account serves: \"{refusal.text}\"", code="model_not_found")
    alarm = ctx.identity.refused(refusal.text, model)
    raise ProxyError(503, client_error(alarm.to_dict(), ctx.identity.to_dict()), code="client_version_refused")


async def _read_all(ctx: ProxyContext, retry: Retry, opened: Opened, machine: StreamMachine) -> dict[str, Any]:
    watch = RefusalWatch()
    try:
        async for batch in opened.batches:
            for data in batch:
                ev = parse_event(data)
                if ev is not None:
                    watch.feed(ev)
                    machine.feed(ev)
            if retry.past(ctx.clock()):
                raise deadline_error(retry)
    except UpstreamStreamError as e:
        if not machine.produced_output:
            raise _PeekFailed(str(e), timeout=e.timeout) from e
        raise ProxyError(502, f"The upstream answer broke off: {e}") from e
    if (refusal := watch.verdict()) is not None:
        raise _Refused(refusal)
    machine.finish()
    return machine.result()


async def _peek(opened: Opened, machine: StreamMachine) -> tuple[list[bytes], bool] | None:
    """Feed events until the machine has real output for the client and the answer cannot be
    one of Google's notices (a short text that may still turn out to be one is held); the rest
    of that batch stays in `opened.rest` (the first bytes go out before it is read).

    Returns (frames, ended): `ended` when the whole answer was already read. None when the
    answer is empty or cut off in a way worth one retry (nothing has been sent yet). Raises
    _Refused when the whole answer was a notice."""
    held: list[bytes] = []
    watch = RefusalWatch()
    try:
        async for batch in opened.batches:
            for i, data in enumerate(batch):
                ev = parse_event(data)
                if ev is None:
                    continue
                watch.feed(ev)
                held += machine.feed(ev)
                if machine.produced_output and not watch.holding:
                    opened.rest = batch[i + 1:]
                    return held, False
    except UpstreamStreamError as e:
        raise _PeekFailed(str(e), timeout=e.timeout) from e
    if (refusal := watch.verdict()) is not None:
        raise _Refused(refusal)
    if empty(machine):
        return None
    return held + machine.finish(), True


# -- 5. monitor ---------------------------------------------------------------------------------

# Row ids: unique per process start (random prefix) and in order within it; 32 hex digits like
# the uuid4 they replace, without a urandom call per request.
_ROW_PREFIX = secrets.token_hex(8)
_ROW_SEQ = itertools.count()


def _row_id() -> str:
    return f"{_ROW_PREFIX}{next(_ROW_SEQ):016x}"


def record(ctx: ProxyContext, ex: Exchange, status: int, error: str | None, user_agent: str | None,
           response_body: bytes | None = None) -> None:
    """One monitor row for this exchange: what the handler noted on it, else the status the
    client got."""
    usage = ex.usage
    if ex.status:
        status, outcome = ex.status, ex.outcome
    else:
        outcome = "ok" if status < 400 else ("client_disconnect" if status == 499 else "error")
    now = time.monotonic()
    tokens_in = usage.prompt if usage else 0
    tokens_out = (usage.output + usage.reasoning) if usage else 0
    key = ex.client_key
    if key is not None and (tokens_in or tokens_out):
        ctx.limiter.spend(key, tokens_in + tokens_out, ctx.clock())
    acc = ex.account_id
    ctx.metrics.observe(ex.path, status, ex.upstream_model, acc[:8] if acc else None, key.id if key else None,
                        now - ex.started, (ex.sent - ex.started) if ex.sent is not None else None, tokens_in,
                        tokens_out)
    mon = ctx.monitor
    if mon is None:
        return
    bodies = mon.store_bodies
    # positional: a dataclass call with 22 keywords costs three times as much (every request)
    mon.record(RequestRecord(
        _row_id(), ex.started_wall, ex.method, ex.path, ex.protocol, ex.client_model, ex.upstream_model,
        ex.account_id, ex.upstream, status, outcome, (now - ex.started) * 1000, ex.ttfb_ms,
        tokens_in,  # input_tokens
        tokens_out,  # output_tokens
        usage.cached if usage else 0,  # cached_tokens
        usage.reasoning if usage else 0,  # reasoning_tokens
        ex.stream, ex.error or error, user_agent,
        ex.raw if bodies else None,  # request_body
        (bytes(ex.body) if ex.body is not None else response_body) if bodies else None,  # response_body
        key.id if key else None,  # key_id
    ))

