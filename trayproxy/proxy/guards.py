"""Request guards: API-key auth (four modes), CORS, Origin and Host checks.

- Auth modes: `off`, `strict` (every route, health too), `all_except_health`, `auto` (off when
  local-only, all_except_health with LAN access). The key is accepted from
  `Authorization: Bearer K`, a bare `Authorization: K`, `x-api-key`, `x-goog-api-key`, and
  `?key=K` on Gemini routes; comparison is constant-time.
- When no key is required, a web page must not be able to use the proxy: requests carrying a
  non-loopback `Origin` are refused, and with LAN access off the `Host` must be a loopback name
  (DNS rebinding).
- Every refusal notes `REFUSAL` = (kind, origin) on its response, so the monitor counts it per
  kind and origin instead of writing one log row per refused request.
- Client keys (clientkeys/): a key that is not the owner's is looked up by its hash in the
  ring (one dict lookup); a known key is returned to the front, which notes it on the Exchange
  and asks the limiter (`admit_key`). A key at a limit gets 429 with Retry-After in its
  client's shape, an expired one 401, a model it may not use 403 (`check_model`, once the
  model is known). The owner's key is never counted or limited.
"""

from __future__ import annotations

import hmac
import inspect
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from aiohttp import web

from trayproxy.clientkeys.limits import Limiter, Verdict
from trayproxy.clientkeys.record import ClientKey
from trayproxy.clientkeys.store import KeyRing
from trayproxy.monitor.redact import utf8_safe
from trayproxy.proxy.errors import Protocol, ProxyError, error_response

__all__ = ["GuardSettings", "HEALTH_PATHS", "REFUSAL", "extract_keys", "check", "cors_headers", "is_loopback_host",
           "admit_key", "check_model", "limit_error"]

HEALTH_PATHS = frozenset({"/healthz", "/health", "/readyz"})
ACCEPTED_HEADERS_HINT = (
    "Send the trayproxy API key as 'Authorization: Bearer <key>', 'x-api-key: <key>' or "
    "'x-goog-api-key: <key>' (Gemini routes also accept ?key=<key>). "
    "'trayproxy key show' prints it."
)

# on a refusal response: (kind, origin), kind "host" (not a loopback Host with LAN off),
# "origin" (a web page) or "auth"
REFUSAL = web.ResponseKey("trayproxy_refusal", tuple)


@dataclass(frozen=True)
class GuardSettings:
    auth_mode: str  # effective: off | strict | all_except_health
    allow_lan: bool
    api_key: str
    ring: KeyRing | None = None  # the client keys (None or empty: only the owner's key)


@lru_cache(maxsize=256)  # every request asks; the Host values a machine sees are few
def is_loopback_host(host: str) -> bool:
    """localhost, or a literal loopback address (127.0.0.0/8, ::1), with or without a port.
    Names that merely start with "127." (127.attacker.example) are not loopback."""
    h = host.strip().lower()
    if h.startswith("["):
        h = h[1 : h.find("]")] if "]" in h else h[1:]
    elif h.count(":") == 1:
        h = h.split(":", 1)[0]
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _origin_is_loopback(origin: str) -> bool:
    if origin == "null":
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and is_loopback_host(parts.netloc)


def extract_keys(request: web.Request, *, allow_query: bool) -> list[str]:
    keys: list[str] = []
    auth = request.headers.get("Authorization")
    if auth:
        scheme, _, rest = auth.strip().partition(" ")
        keys.append(rest.strip() if scheme.lower() == "bearer" and rest else auth.strip())
    for h in ("x-api-key", "x-goog-api-key"):
        v = request.headers.get(h)
        if v:
            keys.append(v.strip())
    if allow_query:
        q = request.query.get("key")
        if q:
            keys.append(q.strip())
    return keys


def _key_matches(keys: list[str], expected: str) -> bool:
    if not expected:
        return False
    exp = expected.encode()
    ok = False
    for k in keys:
        # Evaluate every candidate: constant time per comparison, no early exit on a match.
        ok |= hmac.compare_digest(k.encode("utf-8", "surrogateescape"), exp)
    return ok


def cors_headers(request: web.Request) -> dict[str, str]:
    origin = request.headers.get("Origin", "*")
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, HEAD, OPTIONS",
        "Access-Control-Allow-Headers": request.headers.get(
            "Access-Control-Request-Headers",
            "authorization, content-type, x-api-key, x-goog-api-key, anthropic-version, anthropic-beta",
        ),
        "Access-Control-Max-Age": "3600",
        "Vary": "Origin",
    }


def check(request: web.Request, s: GuardSettings, protocol: Protocol) -> web.Response | ClientKey | None:
    """The refusal for this request, or None when it may go on, or the client key it came with
    (it may go on too, once its limits are checked). A refusal notes (kind, origin) in
    `request.refused` terms: the caller counts it instead of logging a row."""
    path = request.path
    is_health = path in HEALTH_PATHS or (path == "/" and request.method in ("HEAD", "GET"))
    key_required = s.auth_mode == "strict" or (s.auth_mode == "all_except_health" and not is_health)
    origin = request.headers.get("Origin")
    if not s.allow_lan and not is_loopback_host(request.host or ""):
        return _refuse("host", origin or request.host, error_response(
            protocol,
            403,
            f"Host {request.host!r} is not allowed: trayproxy only answers to localhost while LAN "
            "access is off (this blocks DNS-rebinding attacks from web pages).",
        ))
    if origin and utf8_safe(origin) != origin:  # bytes that are not UTF-8: no browser sends that
        return _refuse("origin", origin, error_response(
            protocol, 403, "The Origin header is not a valid origin (it is not UTF-8 text)."))
    if origin and not key_required and not _origin_is_loopback(origin):
        return _refuse("origin", origin, error_response(
            protocol,
            403,
            f"Requests from the web page at {origin} are refused: no API key is required in this "
            "auth mode, so only local pages may call trayproxy. Set auth_mode to strict to allow it.",
        ))
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=cors_headers(request))
    ring = s.ring
    if key_required or ring:
        keys = extract_keys(request, allow_query=protocol == "gemini")
        if keys and ring and not _key_matches(keys, s.api_key):
            client = ring.match(keys)
            if client is not None:
                if client.expires_at is not None and time.time() >= client.expires_at:
                    return _refuse("auth", origin, error_response(
                        protocol, 401, f"The key {client.name!r} expired on "
                        f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(client.expires_at))}; ask the owner of "
                        "this trayproxy for a new one.", code="invalid_api_key",
                        headers=cors_headers(request) if origin else None))
                return client
        if key_required and not _key_matches(keys, s.api_key):
            what = "The API key is wrong." if keys else "No API key was sent."
            return _refuse("auth", origin, error_response(
                protocol,
                401,
                f"{what} {ACCEPTED_HEADERS_HINT}",
                code="invalid_api_key",
                headers=cors_headers(request) if origin else None,
            ))
    return None


def _refuse(kind: str, origin: str | None, resp: web.Response) -> web.Response:
    resp[REFUSAL] = (kind, origin)
    return resp


async def admit_key(limiter: Limiter, key: ClientKey, now: float) -> Verdict | None:
    """The limiter's verdict for one more request with this key (None: nothing to count)."""
    if not key.limited:
        return None
    v = limiter.admit(key, now)
    if inspect.isawaitable(v):
        v = await v
    return v


def limit_error(v: Verdict) -> ProxyError:
    return ProxyError(429, v.message, code="rate_limit_exceeded", retry_after=v.retry_after)


def check_model(key: ClientKey, name: str, target: Callable[[], str | None]) -> None:
    """Raise 403 when the key may not use the model asked for (by the name the client sent, or
    the upstream id it resolves to)."""
    if not key.models or key.allows_model(name):
        return
    try:
        resolved = target()
    except ProxyError:
        resolved = None
    if resolved and key.allows_model(resolved):
        return
    raise ProxyError(403, f"The key {key.name!r} may not use the model {name!r}; it may use: "
                          f"{', '.join(key.models)}.", code="model_not_allowed")
