"""What an upstream error means for the account that got it. Pure: status, headers and body in,
a verdict out.

The upstream's own hints win: `Retry-After`, `RetryInfo.retryDelay`, `ErrorInfo.metadata.
quotaResetDelay` / `quotaResetTimeStamp`, and "reset after 1h2m3s" in the message. Without a
hint, short defaults that grow on repeats. Everything is floored at 1 s and capped, so one odd
header can never bench an account for days (after the cap the account is simply tried again).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

__all__ = ["Verdict", "classify", "parse_duration", "MAX_COOLDOWN", "upstream_message"]

Kind = Literal["quota", "rate_limit", "capacity", "server", "auth", "forbidden", "not_found", "client"]

MAX_COOLDOWN = 3600.0  # an explicit quota reset is honoured up to an hour, then re-probed
MAX_INFERRED = 300.0

_DUR_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_MSG_RESET_RE = re.compile(
    r"(?:reset after|try again in|retry after|retry in|wait)\s+((?:\d+(?:\.\d+)?(?:ms|h|m|s)\s*)+)", re.I
)


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
class Verdict:
    kind: Kind
    cooldown: float | None  # seconds to keep (account, model) or the account out of rotation
    model_scoped: bool  # True: only this model on this account; False: the whole account
    failover: bool  # worth trying another account for this request
    explicit: bool  # the delay came from the upstream
    message: str


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


def _hint(headers: dict[str, str], err: dict[str, Any], now: float) -> float | None:
    ra = headers.get("retry-after")
    if ra:
        d = parse_duration(ra)
        if d is None:
            try:
                from email.utils import parsedate_to_datetime

                d = parsedate_to_datetime(ra).timestamp() - now
            except (TypeError, ValueError):
                d = None
        if d is not None:
            return d
    best: float | None = None
    for det in err.get("details") or []:
        if not isinstance(det, dict):
            continue
        raw_meta = det.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        for cand in (meta.get("quotaResetDelay"), det.get("retryDelay")):
            if isinstance(cand, str):
                d = parse_duration(cand)
                if d is not None:
                    best = d if best is None else max(best, d)
        ts = meta.get("quotaResetTimeStamp")
        if best is None and isinstance(ts, str):
            try:
                best = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() - now
            except ValueError:
                pass
    if best is not None:
        return best
    m = _MSG_RESET_RE.search(str(err.get("message", "")))
    if m:
        return parse_duration(m.group(1))
    return None


def _reason(err: dict[str, Any]) -> str:
    for det in err.get("details") or []:
        if isinstance(det, dict) and isinstance(det.get("reason"), str):
            return str(det["reason"])
    return ""


def classify(
    status: int, headers: dict[str, str], body: bytes, *, now: float, repeats: int = 0
) -> Verdict:
    """Classify a non-2xx upstream answer. `repeats` counts earlier failures of the same kind
    for this account+model, so defaults grow (5 s, 10 s, 20 s ...)."""
    err = _error_obj(body)
    msg = upstream_message(body)
    low = msg.lower()
    hint = _hint({k.lower(): v for k, v in headers.items()}, err, now)

    def bounded(d: float | None, default: float, cap: float) -> tuple[float, bool]:
        if d is None:
            return min(default * (2 ** min(repeats, 6)), cap), False
        return max(1.0, min(d, cap)), True

    if status == 429 or (status == 503 and "capacity" in low):
        reason = _reason(err)
        if reason == "QUOTA_EXHAUSTED" or (not reason and ("quota" in low or "exhausted your capacity" in low)):
            d, explicit = bounded(hint, 60.0, MAX_COOLDOWN)
            return Verdict("quota", d, True, True, explicit, msg)
        if reason == "MODEL_CAPACITY_EXHAUSTED" or (not reason and "capacity" in low):
            d, explicit = bounded(hint, 5.0, 60.0)
            return Verdict("capacity", d, True, True, explicit, msg)
        d, explicit = bounded(hint, 5.0, MAX_INFERRED if hint is None else MAX_COOLDOWN)
        return Verdict("rate_limit", d, True, True, explicit, msg)
    if status == 401:
        return Verdict("auth", 60.0, False, True, False, msg)
    if status == 403:
        return Verdict("forbidden", None, False, True, False, msg)
    if status == 404:
        return Verdict("not_found", None, True, False, False, msg)
    if status == 408 or status >= 500:
        d, explicit = bounded(hint, 8.0, 60.0)
        return Verdict("server", d, True, True, explicit, msg)
    return Verdict("client", None, True, False, False, msg)
