"""Errors in the caller's own protocol.

OpenAI `{"error":{"message","type","code"}}`, Anthropic `{"type":"error","error":{"type","message"}}`,
Gemini `{"error":{"code","message","status"}}`, each with the status its SDK maps to the right
exception class. The protocol is chosen from the route (and, for unknown routes, the headers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson
from aiohttp import web

from trayproxy.monitor.redact import utf8_safe

__all__ = ["Protocol", "protocol_for", "error_body", "error_response", "ProxyError"]

Protocol = Literal["openai", "anthropic", "gemini"]

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    408: "DEADLINE_EXCEEDED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


_OPENAI_PREFIXES = tuple(
    f"{p}/{r}" for p in ("/v1", "/v1/v1", "") for r in ("chat/", "completions", "responses", "models", "embeddings", "images/")
)


def protocol_for(path: str, headers: Mapping[str, str] | None = None) -> Protocol:
    """Which client protocol a request speaks, from its path, else from its headers."""
    if path.startswith("/v1/messages") or path.startswith("/messages") or path.startswith("/v1/v1/messages"):
        return "anthropic"
    if path.startswith("/v1beta/") or (path.startswith("/v1/models/") and ":" in path):
        return "gemini"
    if path.startswith(_OPENAI_PREFIXES):
        return "openai"
    if headers is not None:
        if "anthropic-version" in headers or ("x-api-key" in headers and "authorization" not in headers):
            return "anthropic"
        if "x-goog-api-key" in headers or "x-goog-api-client" in headers:
            return "gemini"
    return "openai"


def error_body(protocol: Protocol, status: int, message: str, *, code: str | None = None) -> dict[str, Any]:
    if protocol == "anthropic":
        etype = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": etype, "message": message}}
    if protocol == "gemini":
        gstatus = _GEMINI_STATUS.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
        return {"error": {"code": status, "message": message, "status": gstatus}}
    otype = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": otype, "code": code, "param": None}}


def error_response(
    protocol: Protocol,
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    h = {"Content-Type": "application/json"}
    if headers:
        h.update(headers)
    if retry_after is not None:
        h["Retry-After"] = str(max(1, int(retry_after + 0.999)))
    message = utf8_safe(message)  # it may quote header bytes that were not UTF-8
    return web.Response(status=status, body=orjson.dumps(error_body(protocol, status, message, code=code)), headers=h)


class ProxyError(Exception):
    """Raised anywhere below a handler; the error middleware renders it in the caller's protocol."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.retry_after = retry_after
        self.headers = dict(headers or {})
