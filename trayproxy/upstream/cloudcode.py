"""Google Cloud Code (`v1internal`) client: URLs, headers, envelope, base-URL failover.

Every call tries the configured base URLs in order (the daily host first by default: Google
serves new ids there before prod and sandbox) and moves to the next one on a connection error,
408, 404, 5xx, or a 429 that says Google has no capacity (`MODEL_CAPACITY_EXCEEDED`, "No
capacity available"): another host may have it, and the account is not to blame. Anything else
(2xx, 400, 401, 403, other 429s) is the answer. A call may name the host to try first (`first`):
generation goes first to the host whose catalog the account was read from, since each host keeps
its own. The User-Agent is the learned client identity (upstream/client_version.py).
Generation always uses `:streamGenerateContent?alt=sse`; `events()` turns the SSE body into
unwrapped Gemini responses.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from trayproxy.protocols.gemini import unwrap
from trayproxy.protocols.sse import SSEDecoder
from trayproxy.upstream.bigbody import LARGE_BODY, dumps_parts, in_worker
from trayproxy.upstream.client_version import FLOOR, user_agent_for
from trayproxy.upstream.errors import is_capacity
from trayproxy.upstream.transport import (
    Timeouts,
    Transport,
    TransportError,
    UpstreamRequest,
    UpstreamResponse,
)

__all__ = ["CloudCodeClient", "UpstreamStreamError", "parse_event", "session_id_for", "CLIENT_METADATA",
           "AI_CREDITS"]

_FAILOVER_STATUSES = frozenset({404, 408})
CLIENT_METADATA = {"ideType": "ANTIGRAVITY", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}
#: enabledCreditTypes: Google One AI credits pay for a request whose quota is spent (opt-in).
AI_CREDITS = ["GOOGLE_ONE_AI"]


class UpstreamStreamError(Exception):
    """The upstream stream broke after it had started (reset, timeout, error event)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


def session_id_for(key: str) -> str:
    """A stable numeric session id for the envelope, derived from a conversation key."""
    return str(-int.from_bytes(hashlib.sha256(key.encode()).digest()[:7], "big"))


class CloudCodeClient:
    def __init__(
        self,
        transport: Transport,
        *,
        base_urls: Callable[[], list[str]],
        timeouts: Callable[[], Timeouts],
        clock: Callable[[], float] = time.time,
        user_agent: Callable[[], str] = lambda: user_agent_for(FLOOR),
    ) -> None:
        self.transport = transport
        self._base_urls = base_urls
        self._timeouts = timeouts
        self.clock = clock
        self._user_agent = user_agent

    def headers(self, access_token: str, *, extra_agent: str = "") -> dict[str, str]:
        return {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
            "Accept": "*/*",
            "User-Agent": self._user_agent() + extra_agent,
        }

    def user_agent(self) -> str:
        return self._user_agent()

    def base_urls(self) -> list[str]:
        return self._base_urls()

    async def call(
        self,
        method: str,
        access_token: str,
        body: dict[str, Any],
        *,
        query: str = "",
        timeouts: Timeouts | None = None,
        until: float | None = None,
        first: str | None = None,
        extra_agent: str = "",
    ) -> UpstreamResponse:
        """POST `<base>:<method>` with failover across base URLs (`first` tried first when it is
        one of them). Raises TransportError only when no base URL gave any HTTP answer. No next
        base URL is tried once the clock has passed `until` (the request's deadline). The
        answer's `base` says which base URL gave it. The body of a big client request
        (`LARGE_BODY`) is serialised in a worker thread, a slice at a time, and sent in parts."""
        data: bytes | list[bytes] = (await in_worker(dumps_parts, body) if LARGE_BODY.get()
                                     else orjson.dumps(body))
        headers = self.headers(access_token, extra_agent=extra_agent)
        t = timeouts or self._timeouts()
        last: UpstreamResponse | None = None
        last_error: TransportError | None = None
        bases = self._base_urls()
        if first in bases and bases[0] != first:
            bases = [first, *(b for b in bases if b != first)]
        for i, base in enumerate(bases):
            if i and until is not None and self.clock() >= until:
                break
            url = f"{base}:{method}" + (f"?{query}" if query else "")
            try:
                resp = await self.transport.send(UpstreamRequest("POST", url, headers, data, t))
            except TransportError as e:
                last_error = e
                continue
            resp.base = base
            more = i < len(bases) - 1
            if more and (resp.status in _FAILOVER_STATUSES or resp.status >= 500 or resp.status == 429):
                # Keep the body of the last failure so the caller can read its reasons.
                body_bytes = await resp.read()
                if resp.status == 429 and not is_capacity(resp.status, body_bytes):
                    if last is not None:
                        last.close()
                    return _replay(resp, body_bytes)  # the account's own limit: the answer
                if last is not None:
                    last.close()
                last = _replay(resp, body_bytes)
                continue
            if last is not None:
                last.close()
            return resp
        if last is not None:
            return last
        raise last_error or TransportError("no Cloud Code base URL is configured" if not bases
                                           else "the request's deadline passed")

    async def json_call(self, method: str, access_token: str, body: dict[str, Any], *,
                        extra_agent: str = "") -> tuple[int, Any, bytes]:
        status, data, raw, _ = await self.json_call_at(method, access_token, body, extra_agent=extra_agent)
        return status, data, raw

    async def json_call_at(self, method: str, access_token: str, body: dict[str, Any], *,
                           extra_agent: str = "") -> tuple[int, Any, bytes, str | None]:
        """(status, JSON or None, raw body, the base URL that answered)."""
        resp = await self.call(method, access_token, body, timeouts=Timeouts(connect=10.0, read=30.0),
                               extra_agent=extra_agent)
        raw = await resp.read()
        try:
            data = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            data = None
        return resp.status, data, raw, resp.base

    # -- helpers for account set-up ----------------------------------------------------------
    async def load_code_assist(self, access_token: str) -> tuple[int, Any, bytes]:
        return await self.json_call("loadCodeAssist", access_token, {"metadata": dict(CLIENT_METADATA)})

    async def onboard_user(self, access_token: str, tier_id: str, project: str | None = None) -> tuple[int, Any, bytes]:
        """One `onboardUser` call: a long-running operation `{name, done, response?}`; call it
        again until `done` (the free tier takes no project)."""
        body: dict[str, Any] = {"tierId": tier_id, "metadata": dict(CLIENT_METADATA)}
        if project:
            body["cloudaicompanionProject"] = project
        return await self.json_call("onboardUser", access_token, body, extra_agent=" google-api-nodejs-client/10.3.0")

    async def fetch_available_models(self, access_token: str,
                                     project: str | None) -> tuple[int, Any, bytes, str | None]:
        """The account's catalog, from the first host that answers (daily first by default), and
        that host's base URL: each host keeps its own catalog."""
        return await self.json_call_at("fetchAvailableModels", access_token, {"project": project} if project else {})

    async def quota_summary(self, access_token: str, project: str | None) -> tuple[int, Any, bytes]:
        """retrieveUserQuotaSummary: the 5-hour and weekly buckets per model group."""
        return await self.json_call("retrieveUserQuotaSummary", access_token, {"project": project} if project else {})

    # -- generation --------------------------------------------------------------------------
    @staticmethod
    def envelope(
        *, project: str, model: str, request: dict[str, Any], request_id: str, request_type: str = "agent",
        credits: bool = False,
    ) -> dict[str, Any]:
        env = {
            "project": project,
            "model": model,
            "request": request,
            "requestId": request_id,
            "userAgent": "antigravity",
            "requestType": request_type,
        }
        if credits:  # at the top of the envelope, beside project and model (CPA, AM)
            env["enabledCreditTypes"] = list(AI_CREDITS)
        return env

    async def stream_generate(self, access_token: str, envelope: dict[str, Any], *,
                              until: float | None = None, first: str | None = None) -> UpstreamResponse:
        return await self.call("streamGenerateContent", access_token, envelope, query="alt=sse", until=until,
                               first=first)

    async def count_tokens(self, access_token: str, request: dict[str, Any]) -> tuple[int, Any, bytes]:
        return await self.json_call("countTokens", access_token, {"request": request})

    @staticmethod
    async def events(resp: UpstreamResponse) -> AsyncIterator[dict[str, Any]]:
        """Unwrapped Gemini responses from an SSE body; raises UpstreamStreamError if it breaks."""
        async for batch in CloudCodeClient.payloads(resp):
            for data in batch:
                obj = parse_event(data)
                if obj is not None:
                    yield obj

    @staticmethod
    async def payloads(resp: UpstreamResponse, *, idle: float | None = None,
                       clock: Callable[[], float] = time.monotonic) -> AsyncIterator[list[bytes]]:
        """The SSE body's event data, one list per body chunk (the events that arrived together,
        never an empty list); `parse_event` makes each an unwrapped Gemini response. A relay
        parses them one by one, so the first goes out before the rest are read. Raises
        UpstreamStreamError if the body breaks off, or when `idle` seconds pass without an event
        while the upstream sends only keep-alives (comments, blank lines): the transport's read
        timeout sees bytes and waits on, for ever."""
        dec = SSEDecoder()
        last = clock()
        try:
            async for chunk in resp.iter_chunks():
                batch = dec.feed_data(chunk)
                if batch:
                    yield batch
                if any(batch):  # an event with data (b"": an empty one, a keep-alive too)
                    last = clock()
                elif idle is not None and clock() - last > idle:
                    raise UpstreamStreamError(f"the upstream sent only keep-alives for {idle:g} s", timeout=True)
            batch = dec.close_data()
            if batch:
                yield batch
        except TransportError as e:
            raise UpstreamStreamError(str(e), timeout=e.timeout) from e
        finally:
            resp.close()


def parse_event(data: bytes) -> dict[str, Any] | None:
    """One event's data -> the unwrapped Gemini response (None for an empty event or `[DONE]`);
    UpstreamStreamError for an error event or data that is not JSON."""
    if not data or data == b"[DONE]":
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        text = data.decode("utf-8", "replace")  # what a text decoder would have made of it
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise UpstreamStreamError(f"the upstream sent an unreadable event: {text[:120]!r}") from e
    if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
        err = obj["error"]
        raise UpstreamStreamError(str(err.get("message") or err))
    return unwrap(obj)


def _replay(resp: UpstreamResponse, body: bytes) -> UpstreamResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield body

    out = UpstreamResponse(resp.status, resp.headers, chunks())
    out.base = resp.base
    return out
