"""What the fake upstream answers: scripted `Reply` objects and the Gemini chunks they render to.

A `Reply` is a description ("three chunks of text", "a 429 with a 30 s reset", "hang until the
test releases it"); `render()` turns it into concrete `GenerateContentResponse` dicts for one
request, so replies can echo what they were sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import orjson

__all__ = [
    "Gate", "Reply", "Call", "google_error", "rfc3339", "estimate_tokens", "prompt_tokens", "parse_duration",
    "merge_chunks", "png", "is_image_model",
    "STATUS_NAMES", "VERSION_REFUSAL", "LEVEL_THOUGHT_TOKENS",
]

STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
    500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
DEFAULT_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
         "other valid authentication credential. See "
         "https://developers.google.com/identity/sign-in/web/devconsole-project.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    408: "Request timed out.",
    429: "Resource has been exhausted (e.g. check quota).",
    499: "Client Closed Request",
    500: "Internal error encountered.",
    502: "Bad Gateway",
    503: "The service is currently unavailable.",
    504: "The request timed out. Please try again.",
}
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
HELP = "type.googleapis.com/google.rpc.Help"
# What a refused client version reads inside a 200 (AM #3193, CPA #4139: the Apr-Jul 2026 wording).
VERSION_REFUSAL = "This version of Antigravity is no longer supported. Please upgrade to receive the latest features."
# Reasoning tokens a tiered Flash spends per thinkingLevel (tuxevil-rotator PR #21: LOW none, MEDIUM ~1.8 k,
# HIGH ~3.9 k); no level: the adaptive default (medium).
LEVEL_THOUGHT_TOKENS = {"LOW": 0, "MEDIUM": 1800, "HIGH": 3900}
DOMAIN = "cloudcode-pa.googleapis.com"


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(value: str | float | int) -> float:
    """`30s`, `1.5s`, `510ms`, `2h1m1s` or a number of seconds -> seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    total, num = 0.0, ""
    i = 0
    while i < len(value):
        c = value[i]
        if c.isdigit() or c == ".":
            num += c
        elif value.startswith("ms", i):
            total += float(num) / 1000
            num, i = "", i + 1
        else:
            total += float(num) * {"h": 3600, "m": 60, "s": 1}[c]
            num = ""
        i += 1
    return total + (float(num) if num else 0.0)


def format_duration(seconds: float) -> str:
    return f"{seconds:g}s"


def google_error(status: int, message: str | None = None, details: list[dict[str, Any]] | None = None,
                 status_name: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {
        "code": status,
        "message": message if message is not None else DEFAULT_MESSAGES.get(status, "Unknown error."),
        "status": status_name or STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        err["details"] = details
    return {"error": err}


def estimate_tokens(value: Any) -> int:
    """Deterministic token estimate: ceil(characters of text / 4), at least 1.

    Counts every string in the request (texts, function names/args/responses, schemas), and
    258 tokens per inline or file image, like Gemini does for a small image."""
    chars = 0
    media = 0

    def walk(v: Any, key: str = "") -> None:
        nonlocal chars, media
        if isinstance(v, dict):
            if "mimeType" in v and ("data" in v or "fileUri" in v):
                media += 1
                return
            for k, x in v.items():
                if k in ("thoughtSignature", "thought_signature", "role", "thought"):
                    continue
                walk(x, k)
        elif isinstance(v, list):
            for x in v:
                walk(x, key)
        elif isinstance(v, str):
            chars += len(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and key not in ("temperature", "topP"):
            chars += len(str(v))

    walk(value)
    return max(1, math.ceil(chars / 4) + 258 * media)


def prompt_tokens(request: dict[str, Any]) -> int:
    """The prompt size of a GenerateContentRequest: contents, system instruction and tools."""
    return estimate_tokens([request.get(k) for k in ("contents", "systemInstruction", "system_instruction", "tools")
                            if request.get(k)])


def is_image_model(model: str) -> bool:
    """Image models (`gemini-3-pro-image`, `gemini-3.1-flash-image`, ...) answer with images."""
    return "image" in model.lower()


def png(rgb: tuple[int, int, int], size: int = 2) -> bytes:
    """A valid size x size PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Gate:
    """A thread-safe latch a test uses to release a hanging reply.

    `entered` is set when the fake starts hanging on this gate (so a test can wait for that
    without sleeping); `release()` lets the reply continue."""

    def __init__(self) -> None:
        self._released = threading.Event()
        self.entered = threading.Event()

    def release(self) -> None:
        self._released.set()

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def wait_entered(self, timeout: float = 10) -> bool:
        return self.entered.wait(timeout)

    async def wait(self, closing: threading.Event, limit: float | None = None) -> bool:
        """Wait (polling, so no cross-thread loop handles) until released, the server closes
        or `limit` seconds pass. True when released."""
        self.entered.set()
        deadline = None if limit is None else time.monotonic() + limit
        while not self._released.is_set() and not closing.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return self._released.is_set()


@dataclass
class Call:
    """The facts a reply is rendered from: one validated generation request."""

    model: str
    request: dict[str, Any]
    thinking: bool  # the model thinks (so it signs function calls)
    include_thoughts: bool
    sign: Callable[[], str]  # issues a new thought signature for this model family
    response_id: str
    now: float
    level: str | None = None  # thinkingLevel asked of a model that takes levels (upper case)
    shows_thoughts: bool = True  # False: thinks, but returns no thought parts (tiered Flash)
    credits: dict[str, Any] | None = None  # consumedCredits / remainingCredits, when AI credits paid
    redirect: Callable[[str], str] = lambda url: url  # a real URL -> Google's grounding redirect link to it

    @property
    def searches(self) -> bool:
        """The request carries Google Search grounding (a googleSearch tool)."""
        return any(isinstance(t, dict) and ("googleSearch" in t or "google_search" in t)
                   for t in self.request.get("tools") or [])

    def last_user_text(self) -> str:
        for content in reversed(self.request.get("contents") or []):
            if content.get("role", "user") != "user":
                continue
            texts = [p["text"] for p in content.get("parts", []) if isinstance(p.get("text"), str)]
            if texts:
                return " ".join(texts)
            for p in content.get("parts", []):
                fr = p.get("functionResponse") or p.get("function_response")
                if fr:
                    return f"functionResponse {fr.get('name')} {orjson.dumps(fr.get('response')).decode()}"
            return ""
        return ""

    def describe(self) -> str:
        """A one-line account of what arrived: system, tools, media, function responses, config."""
        req = self.request
        sys_parts = (req.get("systemInstruction") or req.get("system_instruction") or {}).get("parts", [])
        system = " ".join(p.get("text", "") for p in sys_parts if isinstance(p, dict))
        tools = [
            d.get("name")
            for t in req.get("tools") or []
            for d in (t.get("functionDeclarations") or t.get("function_declarations") or [])
        ]
        builtin = [k for t in req.get("tools") or [] for k in t if k not in ("functionDeclarations", "function_declarations")]
        media: list[str] = []
        responses: list[str] = []
        for c in req.get("contents") or []:
            for p in c.get("parts", []):
                blob = p.get("inlineData") or p.get("inline_data")
                if blob:
                    media.append(f"{blob.get('mimeType') or blob.get('mime_type')}:{len(blob.get('data', ''))}b64")
                fd = p.get("fileData") or p.get("file_data")
                if fd:
                    media.append(f"{fd.get('mimeType') or fd.get('mime_type')}:{fd.get('fileUri') or fd.get('file_uri')}")
                fr = p.get("functionResponse") or p.get("function_response")
                if fr:
                    responses.append(str(fr.get("name")))
        gen = req.get("generationConfig") or req.get("generation_config") or {}
        bits = [
            f"model={self.model}",
            f"system={system[:80]!r}" if system else "system=none",
            f"tools={','.join(str(t) for t in tools + builtin) or 'none'}",
            f"media={','.join(media) or 'none'}",
            f"function_responses={','.join(responses) or 'none'}",
            f"turns={len(req.get('contents') or [])}",
            f"generation_config={','.join(sorted(gen)) or 'none'}",
        ]
        return "[received " + " ".join(bits) + "]"


def _split(text: str, n: int) -> list[str]:
    """Split text into at most n contiguous, non-empty pieces, at word boundaries when there are
    enough words (so chunks read naturally), else by characters."""
    if not text or n <= 1:
        return [text]
    words = re.findall(r"\S+\s*|\s+", text)
    units = words if len(words) >= n else list(text)
    n = min(n, len(units))
    pieces, start = [], 0
    for i in range(n):
        end = round((i + 1) * len(units) / n)
        pieces.append("".join(units[start:end]))
        start = end
    return [p for p in pieces if p]


@dataclass
class Reply:
    """A scripted answer. Build with the class methods; `render()` makes the chunks."""

    status: int = 200
    body: Any = None  # error / raw JSON body
    headers: dict[str, str] = field(default_factory=dict)
    body_text: str | None = None
    echo_input: bool = False
    describe_input: bool = False
    chunks: int = 3
    thoughts: str | None = None  # explicit thought text; None = derived when the model thinks
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finish_reason: str | None = "STOP"
    cached_tokens: int | None = None
    events: list[dict[str, Any]] | None = None  # raw frames (already-rendered responses)
    cut_after: int | None = None  # send this many frames, then drop the connection
    error_event: dict[str, Any] | None = None  # `data: {"error": ...}` frame after the chunks
    drop: bool = False  # close the connection without any response
    gate: Gate | None = None  # hang until released
    hang_after_headers: bool = False
    hang_limit: float | None = None
    then: Reply | None = None  # what to send after a hang is released
    delay_ms: float = 0.0  # pause between frames (benchmarks)
    error_reason: str | None = None
    reset_delay: float | None = None
    error_message: str | None = None
    sources: list[tuple[str, str]] | None = None  # grounded answer: (real URL, title) per search result
    queries: list[str] | None = None  # the search queries Google says it ran

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def text(cls, text: str, chunks: int = 3, *, thoughts: str | None = None,
                   finish_reason: str = "STOP", cached_tokens: int | None = None) -> Reply:
        return cls(body_text=text, chunks=chunks, thoughts=thoughts, finish_reason=finish_reason,
                   cached_tokens=cached_tokens)

    @classmethod
    def grounded(cls, text: str, sources: list[tuple[str, str]], *, queries: list[str] | None = None,
                 chunks: int = 2) -> Reply:
        """A Google Search grounded answer: `text`, and on its last chunk `groundingMetadata` with
        the queries, one grounding chunk per source (its URI a grounding-api-redirect link to the
        real URL, its title the site's domain), and a support per sentence of `text` (UTF-8 byte
        offsets) citing the sources in turn."""
        return cls(body_text=text, chunks=chunks, sources=list(sources), queries=queries)

    @classmethod
    def echo(cls, *, describe: bool = False, chunks: int = 3) -> Reply:
        """`Echo: <last user text>`, plus a `[received ...]` summary when `describe`."""
        return cls(echo_input=True, describe_input=describe, chunks=chunks)

    @classmethod
    def tool_call(cls, name: str, args: dict[str, Any] | None = None, *, text: str | None = None,
                  thoughts: str | None = None) -> Reply:
        return cls(calls=[(name, args or {})], body_text=text, chunks=1, thoughts=thoughts)

    @classmethod
    def tool_calls(cls, calls: list[tuple[str, dict[str, Any]]], *, text: str | None = None) -> Reply:
        return cls(calls=list(calls), body_text=text, chunks=1)

    @classmethod
    def error(cls, status: int, *, reason: str | None = None, message: str | None = None,
              reset_delay: str | float | None = None, retry_after: int | None = None,
              validation_url: str | None = None, help_link: bool = False) -> Reply:
        """Google's error JSON for `status`. 429/503 take `reason` (QUOTA_EXHAUSTED,
        RATE_LIMIT_EXCEEDED, MODEL_CAPACITY_EXHAUSTED, MODEL_CAPACITY_EXCEEDED,
        INSUFFICIENT_G1_CREDITS_BALANCE) and `reset_delay` ("30s": quotaResetDelay + RetryInfo for
        quota, RetryInfo alone for rate limits); 403 takes `reason` VALIDATION_REQUIRED (+
        `validation_url`; `help_link`: the link in a google.rpc.Help detail instead of the metadata,
        as gemini-cli reads it), SERVICE_DISABLED, LICENSE or TOS. `retry_after` adds the header.
        499 is Google's "Client Closed Request"."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body: dict[str, Any] | None = {"validation_url": validation_url} if validation_url else None
        if help_link:
            body = {**(body or {}), "help": True}
        return cls(status=status, headers=headers, error_reason=reason, error_message=message, body=body,
                   reset_delay=None if reset_delay is None else parse_duration(reset_delay))

    @classmethod
    def zero_limit(cls, model: str = "gemini-3-pro") -> Reply:
        """429 whose message says "limit: 0": this account has a quota of zero for the model (it
        is not available to it), with no details (gemini-cli googleQuotaErrors.ts)."""
        return cls.raw(429, google_error(
            429, "Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, "
                 f"limit: 0, model: {model}\nPlease retry in 59.906331105s."))

    @classmethod
    def daily_quota(cls) -> Reply:
        """429 with a per-day QuotaFailure violation: the day's quota is spent."""
        return cls.raw(429, google_error(429, "Quota exceeded", [{"@type": QUOTA_FAILURE, "violations": [
            {"subject": "user", "description": "daily limit", "quotaId": "RequestsPerDay-limit"}]}]))

    @classmethod
    def per_minute_quota(cls) -> Reply:
        """429 with a per-minute QuotaFailure violation: retry after a minute."""
        return cls.raw(429, google_error(429, "Quota exceeded", [{"@type": QUOTA_FAILURE, "violations": [
            {"subject": "user", "description": "per minute",
             "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]}]))

    @classmethod
    def refusal(cls, text: str = VERSION_REFUSAL) -> Reply:
        """A refusal as Google sends it: an ordinary 200 stream with this text, a STOP and little
        usage (a blocked client version, a retired model); none of the peers detects it."""
        return cls(body_text=text, chunks=3, thoughts="")

    @classmethod
    def bare_429(cls) -> Reply:
        """`429 Resource has been exhausted (e.g. check quota).` with no reason and no hint: what
        Google answers to content it refuses for one request (identity lines, billing headers)."""
        return cls(status=429, error_reason="__bare__")

    @classmethod
    def bad_signature(cls) -> Reply:
        """Claude behind Cloud Code refusing a thinking block signed elsewhere."""
        return cls(status=400, error_reason="__raw__", body=google_error(
            400, "messages.1.content.0: Invalid `signature` in `thinking` block"))

    @classmethod
    def raw(cls, status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        """Any status with a literal body (bytes/str sent as is, other values as JSON)."""
        return cls(status=status, body=body, headers=dict(headers or {}), error_reason="__raw__")

    @classmethod
    def frames(cls, events: list[dict[str, Any]]) -> Reply:
        """Literal SSE frames: each dict is sent as `data: {"response": <dict>}`."""
        return cls(events=list(events))

    @classmethod
    def fail_after(cls, n: int, text: str = "This reply will be cut off before it ends") -> Reply:
        return cls(body_text=text, chunks=max(n + 2, 3), cut_after=n)

    @classmethod
    def error_after(cls, n: int, status: int = 500, message: str | None = None) -> Reply:
        """n chunks of text, then an in-stream `data: {"error": ...}` frame, then the end."""
        return cls(body_text="Partial answer before an error", chunks=max(n, 1), cut_after=n,
                   error_event=google_error(status, message)["error"])

    @classmethod
    def hang(cls, gate: Gate | None = None, *, after_headers: bool = False, seconds: float | None = None,
             then: Reply | None = None) -> Reply:
        """Accept and send nothing (or only the 200 headers) until `gate.release()`, the server
        stops, or `seconds` pass; then send `then` (default: the normal reply) unless the
        time limit ran out, in which case the connection is closed."""
        return cls(gate=gate or Gate(), hang_after_headers=after_headers, hang_limit=seconds, then=then)

    @classmethod
    def empty(cls) -> Reply:
        """HTTP 200 SSE that ends without a single event."""
        return cls(events=[])

    @classmethod
    def malformed_function_call(cls) -> Reply:
        return cls(body_text="", finish_reason="MALFORMED_FUNCTION_CALL", chunks=1)

    @classmethod
    def stream(cls, n_chunks: int = 20, delay_ms: float = 0.0, word: str = "lorem") -> Reply:
        """A paced stream for benchmarks: n_chunks text chunks, `delay_ms` apart."""
        return cls(body_text=" ".join([word] * n_chunks), chunks=n_chunks, delay_ms=delay_ms)

    @classmethod
    def drop_connection(cls) -> Reply:
        return cls(drop=True)

    # -- modifiers ---------------------------------------------------------------------------
    def paced(self, delay_ms: float) -> Reply:
        return replace(self, delay_ms=delay_ms)

    def with_headers(self, **headers: str) -> Reply:
        return replace(self, headers={**self.headers, **{k.replace("_", "-"): v for k, v in headers.items()}})

    # -- rendering ---------------------------------------------------------------------------
    @property
    def is_error(self) -> bool:
        return self.status >= 400 or self.error_reason == "__raw__"

    def error_body(self, model: str, now: float) -> Any:
        if self.error_reason == "__raw__":
            return self.body
        status = self.status
        if self.error_reason == "__bare__":
            return google_error(status, DEFAULT_MESSAGES[429])
        reason = self.error_reason
        if status == 429 and reason is None:
            reason = "QUOTA_EXHAUSTED" if self.reset_delay is not None else "RATE_LIMIT_EXCEEDED"
        message = self.error_message
        details: list[dict[str, Any]] = []
        if reason in ("QUOTA_EXHAUSTED", "RATE_LIMIT_EXCEEDED", "MODEL_CAPACITY_EXHAUSTED", "MODEL_CAPACITY_EXCEEDED"):
            meta: dict[str, Any] = {"model": model}
            if self.reset_delay is not None and reason != "RATE_LIMIT_EXCEEDED":
                meta["quotaResetDelay"] = format_duration(self.reset_delay)
                meta["quotaResetTimeStamp"] = rfc3339(now + self.reset_delay)
            details.append({"@type": ERROR_INFO, "reason": reason, "domain": DOMAIN, "metadata": meta})
            if self.reset_delay is not None:
                details.append({"@type": RETRY_INFO, "retryDelay": format_duration(self.reset_delay)})
            if message is None:
                if reason == "QUOTA_EXHAUSTED":
                    after = format_duration(self.reset_delay) if self.reset_delay is not None else "a while"
                    message = f"You have exhausted your capacity on this model. Your quota will reset after {after}."
                elif reason in ("MODEL_CAPACITY_EXHAUSTED", "MODEL_CAPACITY_EXCEEDED"):
                    message = f"No capacity available for model {model} on the server"
        elif reason == "VALIDATION_REQUIRED":
            url = (self.body or {}).get("validation_url") or "https://accounts.google.com/signin/continue"
            if (self.body or {}).get("help"):  # the link in a google.rpc.Help detail (gemini-cli)
                details.append({"@type": ERROR_INFO, "reason": reason, "domain": DOMAIN, "metadata": {}})
                details.append({"@type": HELP, "links": [
                    {"description": "Verify your account to continue.", "url": url},
                    {"description": "Learn more", "url": "https://support.google.com/accounts?p=al_alert"}]})
                message = message or "Validation required to continue."
            else:
                details.append({"@type": ERROR_INFO, "reason": reason, "domain": DOMAIN, "metadata": {
                    "validation_url": url, "validation_url_link_text": "Verify your account",
                    "validation_error_message": "To continue, verify your account in a browser."}})
            if message is None:
                message = "Verify your account to continue."
        elif reason == "SERVICE_DISABLED":
            project = (self.body or {}).get("project_number", "681255809395")
            url = f"https://console.developers.google.com/apis/api/cloudaicompanion.googleapis.com/overview?project={project}"
            details.append({"@type": ERROR_INFO, "reason": reason, "domain": "googleapis.com", "metadata": {
                "service": "cloudaicompanion.googleapis.com", "consumer": f"projects/{project}",
                "serviceTitle": "Gemini for Google Cloud API", "containerInfo": str(project), "activationUrl": url}})
            details.append({"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                            "message": f"Gemini for Google Cloud API has not been used in project {project} before "
                                       f"or it is disabled. Enable it by visiting {url} then retry."})
            details.append({"@type": "type.googleapis.com/google.rpc.Help", "links": [
                {"description": "Google developers console API activation", "url": url}]})
            if message is None:
                message = (f"Gemini for Google Cloud API has not been used in project {project} before or it is "
                           f"disabled. Enable it by visiting {url} then retry. If you enabled this API recently, "
                           "wait a few minutes for the action to propagate to our systems and retry.")
        elif reason == "LICENSE":
            message = message or "The caller does not have permission. You lack a Gemini Code Assist license."
        elif reason == "TOS":
            message = message or ("This account is not allowed to use Gemini Code Assist: it has not accepted the "
                                  "terms of service.")
        elif reason is not None:
            details.append({"@type": ERROR_INFO, "reason": reason, "domain": DOMAIN, "metadata": {}})
        return google_error(status, message, details or None)

    def render(self, call: Call) -> list[dict[str, Any]]:
        """The GenerateContentResponse chunks of this reply for `call` (empty for errors)."""
        if self.events is not None:
            return [dict(e) for e in self.events]
        if is_image_model(call.model) and not self.calls:
            return self._render_images(call)
        text = self.body_text or ""
        if self.echo_input:
            text = f"Echo: {call.last_user_text()}"
            if self.describe_input:
                text += " " + call.describe()
        thoughts = self.thoughts
        if thoughts is None and call.thinking:
            thoughts = f"Thinking about: {call.last_user_text()[:60]}"
        show_thoughts = bool(thoughts) and call.thinking and call.include_thoughts and call.shows_thoughts
        signature = call.sign() if call.thinking else None

        chunk_parts: list[list[dict[str, Any]]] = []
        if show_thoughts and thoughts:
            pieces = _split(thoughts, 2)
            for i, piece in enumerate(pieces):
                part: dict[str, Any] = {"text": piece, "thought": True}
                if i == len(pieces) - 1 and signature:
                    part["thoughtSignature"] = signature
                chunk_parts.append([part])
        if text or not self.calls:
            if text or self.finish_reason == "STOP":
                for piece in _split(text, self.chunks):
                    chunk_parts.append([{"text": piece}])
            if signature and not self.calls and not show_thoughts and chunk_parts:
                chunk_parts[-1][-1]["thoughtSignature"] = signature
        if self.calls:
            call_parts: list[dict[str, Any]] = []
            for name, args in self.calls:
                fc: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
                if signature:
                    fc["thoughtSignature"] = signature
                call_parts.append(fc)
            chunk_parts.append(call_parts)

        out_text = text + "".join(orjson.dumps(a).decode() + n for n, a in self.calls)
        usage: dict[str, Any] = {
            "promptTokenCount": prompt_tokens(call.request),
            "candidatesTokenCount": math.ceil(len(out_text) / 4),
        }
        if call.thinking and not call.shows_thoughts:  # tiered Flash: tokens by thinkingLevel, no text
            spent = LEVEL_THOUGHT_TOKENS.get(call.level or "MEDIUM", 0)
            if spent:
                usage["thoughtsTokenCount"] = spent
        elif call.thinking and thoughts:
            usage["thoughtsTokenCount"] = math.ceil(len(thoughts) / 4)
        usage["totalTokenCount"] = sum(usage.values())
        if self.cached_tokens is not None:
            usage["cachedContentTokenCount"] = self.cached_tokens

        chunks: list[dict[str, Any]] = []
        for parts in chunk_parts or [[]]:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
            chunks.append({"candidates": [candidate], "modelVersion": call.model, "responseId": call.response_id})
        last = chunks[-1]["candidates"][0]
        if self.finish_reason == "MALFORMED_FUNCTION_CALL":
            last.pop("content")
            last["finishMessage"] = "Malformed function call: the model produced an invalid function call."
        if self.finish_reason:
            last["finishReason"] = self.finish_reason
        chunks[-1]["usageMetadata"] = usage
        if self.sources is not None:
            last["groundingMetadata"] = self._grounding(call, text)
        return chunks

    def _grounding(self, call: Call, text: str) -> dict[str, Any]:
        queries = self.queries if self.queries is not None else [call.last_user_text()[:80]]
        chunks = [{"web": {"uri": call.redirect(url), "title": title, "domain": title}} for url, title in self.sources or []]
        supports = []
        data = text.encode()
        for i, m in enumerate(re.finditer(rb"[^.!?]+[.!?]?\s*", data)):
            seg = m.group(0).rstrip()
            if not seg.strip() or not chunks:
                continue
            begin = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
            supports.append({"segment": {"startIndex": begin, "endIndex": m.start() + len(seg),
                                         "text": data[begin:m.start() + len(seg)].decode()},
                             "groundingChunkIndices": [i % len(chunks)]})
        entry = "".join(f'<a class="chip" href="https://www.google.com/search?q={q}">{q}</a>' for q in queries)
        return {"webSearchQueries": queries, "searchEntryPoint": {"renderedContent": f"<div>{entry}</div>"},
                "groundingChunks": chunks, "groundingSupports": supports, "retrievalMetadata": {}}


    def _render_images(self, call: Call) -> list[dict[str, Any]]:
        """An image model's answer: `candidateCount` candidates, each a short text and one PNG whose
        colour comes from the prompt and the candidate's index (so tests can tell them apart)."""
        gen = call.request.get("generationConfig") or call.request.get("generation_config") or {}
        count = gen.get("candidateCount") or gen.get("candidate_count") or 1
        prompt = call.last_user_text()
        cands = []
        for i in range(int(count)):
            digest = hashlib.sha256(f"{prompt}#{i}".encode()).digest()
            data = base64.b64encode(png((digest[0], digest[1], digest[2]))).decode()
            parts = [{"text": f"Here is an image of {prompt[:40]}."}, {"inlineData": {"mimeType": "image/png", "data": data}}]
            cands.append({"index": i, "content": {"role": "model", "parts": parts}, "finishReason": self.finish_reason or "STOP"})
        usage = {"promptTokenCount": prompt_tokens(call.request), "candidatesTokenCount": 1290 * len(cands)}
        usage["totalTokenCount"] = sum(usage.values())
        return [{"candidates": cands, "usageMetadata": usage, "modelVersion": call.model, "responseId": call.response_id}]


def merge_chunks(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """One non-streaming GenerateContentResponse from stream chunks (adjacent texts joined)."""
    if not chunks:
        return {"candidates": []}
    parts: list[dict[str, Any]] = []
    for ch in chunks:
        for cand in ch.get("candidates", [])[:1]:
            for p in cand.get("content", {}).get("parts", []):
                prev = parts[-1] if parts else None
                if (prev is not None and "text" in p and "text" in prev and bool(p.get("thought")) == bool(prev.get("thought"))
                        and "thoughtSignature" not in prev):
                    prev["text"] += p["text"]
                    if "thoughtSignature" in p:
                        prev["thoughtSignature"] = p["thoughtSignature"]
                else:
                    parts.append(dict(p))
    last = chunks[-1]
    cand = dict(last.get("candidates", [{}])[0]) if last.get("candidates") else {}
    if parts or "content" in cand:
        cand["content"] = {"role": "model", "parts": parts}
    out = {k: v for k, v in last.items() if k != "candidates"}
    out["candidates"] = [cand] if cand else []
    return out
