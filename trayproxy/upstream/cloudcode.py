"""Google Cloud Code (`v1internal`) client: URLs, headers, envelope, base-URL failover.

Every call tries the configured base URLs in order and moves to the next one on a connection
error, 408, 404 or 5xx; anything else (2xx, 400, 401, 403, 429) is the answer. Generation always
uses `:streamGenerateContent?alt=sse`; `events()` turns the SSE body into unwrapped Gemini
responses.
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from trayproxy.protocols.gemini import unwrap
from trayproxy.protocols.sse import SSEDecoder
from trayproxy.upstream.bigbody import LARGE_BODY, dumps_parts, in_worker
from trayproxy.upstream.transport import (
    Timeouts,
    Transport,
    TransportError,
    UpstreamRequest,
    UpstreamResponse,
)

__all__ = ["CloudCodeClient", "UpstreamStreamError", "parse_event", "session_id_for", "CLIENT_METADATA"]

CLIENT_VERSION = os.environ.get("TRAYPROXY_CLIENT_VERSION", "4.3.0")
_PLATFORM = {
    "Darwin": "Macintosh; Intel Mac OS X 10_15_7",
    "Windows": "Windows NT 10.0; Win64; x64",
}.get(platform.system(), "X11; Linux x86_64")
USER_AGENT = f"Antigravity/{CLIENT_VERSION} ({_PLATFORM}) Chrome/132.0.6834.160 Electron/39.2.3"
_FAILOVER_STATUSES = frozenset({404, 408})
CLIENT_METADATA = {"ideType": "ANTIGRAVITY", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}


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
    ) -> None:
        self.transport = transport
        self._base_urls = base_urls
        self._timeouts = timeouts
        self.clock = clock
        self._process_session = str(uuid.uuid4())

    def headers(self, access_token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
            "Accept": "*/*",
            "User-Agent": USER_AGENT,
            "x-client-name": "antigravity",
            "x-client-version": CLIENT_VERSION,
            "x-vscode-sessionid": self._process_session,
        }

    async def call(
        self,
        method: str,
        access_token: str,
        body: dict[str, Any],
        *,
        query: str = "",
        timeouts: Timeouts | None = None,
        until: float | None = None,
    ) -> UpstreamResponse:
        """POST `<base>:<method>` with failover across base URLs. Raises TransportError only
        when no base URL gave any HTTP answer. No next base URL is tried once the clock has
        passed `until` (the request's deadline). The body of a big client request
        (`LARGE_BODY`) is serialised in a worker thread, a slice at a time, and sent in parts."""
        data: bytes | list[bytes] = (await in_worker(dumps_parts, body) if LARGE_BODY.get()
                                     else orjson.dumps(body))
        headers = self.headers(access_token)
        t = timeouts or self._timeouts()
        last: UpstreamResponse | None = None
        last_error: TransportError | None = None
        bases = self._base_urls()
        for i, base in enumerate(bases):
            if i and until is not None and self.clock() >= until:
                break
            url = f"{base}:{method}" + (f"?{query}" if query else "")
            try:
                resp = await self.transport.send(UpstreamRequest("POST", url, headers, data, t))
            except TransportError as e:
                last_error = e
                continue
            if (resp.status in _FAILOVER_STATUSES or resp.status >= 500) and i < len(bases) - 1:
                if last is not None:
                    last.close()
                last = resp
                # Keep the body of the last failure so the caller can read its reasons.
                body_bytes = await resp.read()
                last = _replay(resp, body_bytes)
                continue
            if last is not None:
                last.close()
            return resp
        if last is not None:
            return last
        raise last_error or TransportError("no Cloud Code base URL is configured" if not bases
                                           else "the request's deadline passed")

    async def json_call(self, method: str, access_token: str, body: dict[str, Any]) -> tuple[int, Any, bytes]:
        resp = await self.call(method, access_token, body, timeouts=Timeouts(connect=10.0, read=30.0))
        raw = await resp.read()
        try:
            data = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            data = None
        return resp.status, data, raw

    # -- helpers for account set-up ----------------------------------------------------------
    async def load_code_assist(self, access_token: str) -> tuple[int, Any, bytes]:
        return await self.json_call("loadCodeAssist", access_token, {"metadata": dict(CLIENT_METADATA)})

    async def onboard_user(self, access_token: str, tier_id: str, project: str | None = None) -> tuple[int, Any, bytes]:
        """One `onboardUser` call: a long-running operation `{name, done, response?}`; call it
        again until `done` (the free tier takes no project)."""
        body: dict[str, Any] = {"tierId": tier_id, "metadata": dict(CLIENT_METADATA)}
        if project:
            body["cloudaicompanionProject"] = project
        return await self.json_call("onboardUser", access_token, body)

    async def fetch_available_models(self, access_token: str, project: str | None) -> tuple[int, Any, bytes]:
        return await self.json_call("fetchAvailableModels", access_token, {"project": project} if project else {})

    # -- generation --------------------------------------------------------------------------
    @staticmethod
    def envelope(
        *, project: str, model: str, request: dict[str, Any], request_id: str, request_type: str = "agent"
    ) -> dict[str, Any]:
        return {
            "project": project,
            "model": model,
            "request": request,
            "requestId": request_id,
            "userAgent": "antigravity",
            "requestType": request_type,
        }

    async def stream_generate(self, access_token: str, envelope: dict[str, Any], *,
                              until: float | None = None) -> UpstreamResponse:
        return await self.call("streamGenerateContent", access_token, envelope, query="alt=sse", until=until)

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

    return UpstreamResponse(resp.status, resp.headers, chunks())
