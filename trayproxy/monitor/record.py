"""One row of the request log."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RequestRecord", "COLUMNS"]


@dataclass(slots=True)
class RequestRecord:
    """The field order is part of the interface: the request path (proxy/pipeline.py `record`)
    builds one per request positionally."""

    id: str
    ts: float  # request start, epoch seconds
    method: str
    route: str  # path only: the query string can hold ?key=
    protocol: str  # openai | anthropic | gemini | other
    client_model: str | None
    upstream_model: str | None
    account_id: str | None
    upstream: str | None  # google | zai | None
    status: int
    outcome: str  # ok | error | client_disconnect | shutdown | rejected
    duration_ms: float
    ttfb_ms: float | None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    stream: bool = False
    error: str | None = None
    user_agent: str | None = None
    request_body: bytes | None = None
    response_body: bytes | None = None
    key_id: str | None = None  # the client key that sent it (clientkeys/); None: the owner's key


COLUMNS = (
    "id", "ts", "method", "route", "protocol", "client_model", "upstream_model", "account_id", "upstream",
    "status", "outcome", "duration_ms", "ttfb_ms", "input_tokens", "output_tokens", "cached_tokens",
    "reasoning_tokens", "stream", "error", "user_agent", "key_id",
)
