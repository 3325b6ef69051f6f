"""What a Google error answer says, read without judging it (pure).

Google's errors are `{"error": {"code", "message", "status", "details": [...]}}`; the details
carry `google.rpc.ErrorInfo` (`reason`, `domain`, `metadata`), `google.rpc.RetryInfo`
(`retryDelay`), `google.rpc.QuotaFailure` (`violations[].quotaId`, e.g. `RequestsPerDay-limit`)
and `google.rpc.Help` (links). Some paths wrap the object in a list, some send plain text.
`parse_error` turns any of them into one `UpstreamError`; `accounts.triage` decides what it
means. `is_capacity` tells, from the body alone, an answer about Google's capacity (worth
another host) from one about the account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

__all__ = ["UpstreamError", "parse_error", "parse_duration", "upstream_message", "is_capacity"]

_DUR_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_MSG_RESET_RE = re.compile(
    r"(?:reset after|try again in|retry after|retry in|wait)\s+((?:\d+(?:\.\d+)?(?:ms|h|m|s)\s*)+)", re.I
)
_URL_RE = re.compile(r"https://[^\s\"'<>)\]]+")


def parse_duration(text: str) -> float | None:
    """'1h16m0.667s' -> 4560.667, '510.79ms' -> 0.51079, '42s' -> 42.0, '30' -> 30.0."""
    t = text.strip().lower().replace(" ", "")
    if not t:
        return None
    try:
        return float(t)
    except ValueError:
        pass
    total, pos = 0.0, 0
    for m in _DUR_RE.finditer(t):
        if m.start() != pos:
            return None
        value, unit = float(m.group(1)), m.group(2)
        total += value * {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}[unit]
        pos = m.end()
    return total if pos == len(t) and pos > 0 else None


@dataclass(frozen=True)
class UpstreamError:
    """One non-2xx answer. Delays are seconds from `now`; None when the upstream said nothing."""

    status: int
    message: str
    status_name: str = ""  # e.g. RESOURCE_EXHAUSTED
    reason: str = ""  # ErrorInfo.reason, e.g. QUOTA_EXHAUSTED
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    retry_delay: float | None = None  # RetryInfo.retryDelay
    reset_delay: float | None = None  # metadata quotaResetDelay / quotaResetTimeStamp
    retry_after: float | None = None  # the Retry-After header
    message_delay: float | None = None  # "reset after 1h2m" in the message
    links: tuple[str, ...] = ()  # https links in the metadata, Help details or the message
    quota_ids: tuple[str, ...] = ()  # QuotaFailure violations' quotaId (RequestsPerDay-limit, ...)

    @property
    def hint(self) -> float | None:
        """The upstream's own idea of when to try again: header, then details, then message."""
        for d in (self.retry_after, self.reset_delay, self.retry_delay, self.message_delay):
            if d is not None:
                return d
        return None

    @property
    def has_hint(self) -> bool:
        return self.hint is not None

    def meta(self, *keys: str) -> str | None:
        for k in keys:
            v = self.metadata.get(k)
            if v:
                return v
        return None


def _error_obj(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return data["error"]
    return {}


def upstream_message(body: bytes) -> str:
    err = _error_obj(body)
    msg = err.get("message")
    if isinstance(msg, str) and msg:
        return msg
    text = body.decode("utf-8", "replace").strip()
    return text[:500] if text else "(empty body)"


def _retry_after(headers: dict[str, str], now: float) -> float | None:
    ra = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not ra:
        return None
    d = parse_duration(ra)
    if d is None:
        try:
            d = parsedate_to_datetime(ra).timestamp() - now
        except (TypeError, ValueError):
            return None
    return d


def _ts(value: str, now: float) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() - now
    except ValueError:
        return None


def parse_error(status: int, headers: dict[str, str], body: bytes, *, now: float) -> UpstreamError:
    err = _error_obj(body)
    message = upstream_message(body)
    reason = domain = ""
    metadata: dict[str, str] = {}
    retry_delay = reset_delay = None
    for det in err.get("details") or []:
        if not isinstance(det, dict):
            continue
        if isinstance(det.get("reason"), str) and not reason:
            reason = str(det["reason"])
            domain = str(det.get("domain") or "")
        meta = det.get("metadata")
        if isinstance(meta, dict):
            for k, v in meta.items():
                if isinstance(v, (str, int, float)) and str(k) not in metadata:
                    metadata[str(k)] = str(v)
        rd = det.get("retryDelay")
        if isinstance(rd, str):
            d = parse_duration(rd)
            if d is not None:
                retry_delay = d if retry_delay is None else max(retry_delay, d)
    if "quotaResetDelay" in metadata:
        reset_delay = parse_duration(metadata["quotaResetDelay"])
    if reset_delay is None and "quotaResetTimeStamp" in metadata:
        reset_delay = _ts(metadata["quotaResetTimeStamp"], now)
    m = _MSG_RESET_RE.search(message)
    message_delay = parse_duration(m.group(1)) if m else None
    quota_ids = tuple(str(v["quotaId"]) for det in err.get("details") or [] if isinstance(det, dict)
                      for v in det.get("violations") or [] if isinstance(v, dict) and v.get("quotaId"))
    links: list[str] = []
    for k in ("validation_url", "validationUrl", "validation_link", "appeal_url", "activationUrl",
              "activation_url", "helpUrl"):
        if metadata.get(k, "").startswith("https://"):
            links.append(metadata[k])
    for det in err.get("details") or []:  # google.rpc.Help
        if isinstance(det, dict) and isinstance(det.get("links"), list):
            links.extend(str(lk["url"]) for lk in det["links"]
                         if isinstance(lk, dict) and str(lk.get("url", "")).startswith("https://"))
    links.extend(u.rstrip(".,;") for u in _URL_RE.findall(message))
    status_name = err.get("status")
    return UpstreamError(
        status=status,
        message=message,
        status_name=status_name if isinstance(status_name, str) else "",
        reason=reason,
        domain=domain,
        metadata=metadata,
        retry_delay=retry_delay,
        reset_delay=reset_delay,
        retry_after=_retry_after(headers, now),
        message_delay=message_delay,
        links=tuple(dict.fromkeys(links)),
        quota_ids=quota_ids,
    )


_CAPACITY_REASONS = (b"MODEL_CAPACITY_EXHAUSTED", b"MODEL_CAPACITY_EXCEEDED")


def is_capacity(status: int, body: bytes) -> bool:
    """Whether an error answer is about Google's capacity for the model (no account is to blame:
    another host or a moment later may have it): MODEL_CAPACITY_EXHAUSTED / _EXCEEDED or "No
    capacity available" on a 429 or 503."""
    if status not in (429, 503, 529):
        return False
    return any(r in body for r in _CAPACITY_REASONS) or b"o capacity available" in body.lower()


def describe_network_error(exc: BaseException) -> str:
    """A network failure in plain words, with what to check: DNS, TLS, refused, timeout, proxy.
    Looks through the exception's causes (the transport wraps aiohttp's and the OS's errors)."""
    import socket
    import ssl

    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in chain and len(chain) < 8:
        chain.append(e)
        e = e.__cause__ or e.__context__
    text = str(exc)
    names = " ".join(type(c).__name__ for c in chain)
    low = " ".join(str(c) for c in chain).lower()
    if any(isinstance(c, ssl.SSLError) for c in chain) or "certificate" in low or "ssl" in names.lower():
        return (f"{text} (a TLS/certificate problem: a proxy or antivirus that intercepts HTTPS, or a wrong "
                "system clock, can cause it)")
    if any(isinstance(c, socket.gaierror) for c in chain) or "name or service not known" in low \
            or "nodename nor servname" in low or "temporary failure in name resolution" in low:
        return f"{text} (DNS lookup failed: check the internet connection or DNS settings)"
    if any(isinstance(c, ConnectionRefusedError) for c in chain) or "connection refused" in low \
            or "connect call failed" in low:
        return f"{text} (connection refused: check upstream_proxy and firewall settings)"
    if getattr(exc, "timeout", False) or any(isinstance(c, TimeoutError) for c in chain):
        return f"{text} (timed out: the network or Google is slow or unreachable)"
    return f"{text} (check the internet connection, the upstream_proxy setting and any firewall)"
