"""Upstream error triage: what a Google error answer means for the account that got it and for
the request (pure). Status + `ErrorInfo.reason` + retry hints + message in, a `Verdict` out.

| answer                                   | verdict                                                  |
|------------------------------------------|----------------------------------------------------------|
| 429 QUOTA_EXHAUSTED (+ quotaResetDelay)  | quota: cool account+model until the reset, fail over      |
| 429 RATE_LIMIT_EXCEEDED, delay <= 3 s    | rate_limit: wait, retry the same account, then cool+move  |
| 429 RATE_LIMIT_EXCEEDED, longer          | rate_limit: cool account+model for the delay, fail over   |
| 429 no reason, no hint (bare)            | bare_429: one quick retry, short flat cooldown, bounded   |
| 429/503 MODEL_CAPACITY_EXHAUSTED/EXCEEDED| capacity: back off, retry; Google's capacity, no cooldown |
|   or "No capacity available"             |   (upstream/cloudcode.py tried the other hosts first)     |
| 429 INSUFFICIENT_G1_CREDITS_BALANCE      | credits: no Google One AI credits left, fail over         |
| 429 "limit: 0"                           | not_found: the account has no quota at all for the model  |
| 429 QuotaFailure per day (quotaId)       | quota: cool account+model until the next Pacific midnight |
| 429 QuotaFailure per minute              | rate_limit: a minute's rest, fail over                    |
| 499 Client Closed Request                | server: retry once, fail over (gemini-cli: retryable)     |
| 5xx, 408                                 | server: brief rest of account+model, fail over            |
| 401                                      | auth: (token refreshed first) short rest, fail over       |
| 403 VALIDATION_REQUIRED                  | verify: pause the account, keep the link, fail over       |
| 403 SERVICE_DISABLED / licence / terms   | disabled: disable with the reason and the link            |
| 403 anything else                        | forbidden: cooldown (sometimes transient), fail over      |
| 404 (or 400 "entity was not found")      | not_found: cool account+model, fail over, refresh catalog |
| 400 invalid thinking signature           | bad_signature: retry once without earlier thinking        |
| other 4xx                                | client: the request's own fault, to the client            |

Baseline: what the peers learned (see shared/reference/upstream-as-it-is.md §2 and §7, and
gemini-cli's googleQuotaErrors.ts for the order the 429 variants are read in).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from trayproxy.accounts.cooldown import (
    BARE_COOLDOWN,
    BARE_RETRY_DELAY,
    MAX_COOLDOWN,
    MAX_QUOTA_COOLDOWN,
    RETRY_SAME_MAX,
    bounded,
)
from trayproxy.upstream.errors import UpstreamError, parse_error

__all__ = ["Verdict", "Kind", "classify", "classify_error", "LIMIT_KINDS", "OUTAGE_KINDS"]

Kind = Literal[
    "quota", "rate_limit", "bare_429", "capacity", "server", "auth", "verify", "disabled", "forbidden",
    "not_found", "bad_signature", "client", "credits",
]
_ZERO_LIMIT_RE = re.compile(r"limit:\s*0(?![.\d])")
_PACIFIC_STANDARD = timezone(timedelta(hours=-8))
LIMIT_KINDS = frozenset({"quota", "rate_limit"})  # "really rate-limited or out of quota"
OUTAGE_KINDS = frozenset({"server", "capacity", "network"})


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    message: str  # the upstream's own words
    summary: str  # a short reason for the account's state, for people
    cooldown: float | None = None  # rest for (account, model) or the whole account
    model_scoped: bool = True
    retry_same: float | None = None  # wait this long and retry the same account (once per request)
    failover: bool = False  # worth trying another account for this request
    pause: bool = False  # needs the person: verification
    disable: bool = False  # out of rotation until the person acts
    link: str | None = None  # where the person acts (verification, API activation)
    link_text: str | None = None
    refresh_catalog: bool = False
    strip_thinking: bool = False
    explicit: bool = False  # the delay came from the upstream
    group_quota: bool = False  # QUOTA_EXHAUSTED: the quota of the model's group (its 5-hour / weekly window)

    @property
    def limit(self) -> bool:
        return self.kind in LIMIT_KINDS


def _contains(text: str, *needles: str) -> bool:
    return any(n in text for n in needles)


def classify(status: int, headers: dict[str, str], body: bytes, *, now: float, repeats: int = 0) -> Verdict:
    """Classify a non-2xx upstream answer. `repeats` counts earlier failures of this
    account+model, so defaults without a hint grow (bare 429s excepted)."""
    return classify_error(parse_error(status, headers, body, now=now), repeats=repeats, now=now)


def until_pacific_midnight(now: float) -> float:
    """Seconds until Google's daily quotas reset (midnight Pacific time; standard time, so at most
    an hour late in summer)."""
    t = datetime.fromtimestamp(now, _PACIFIC_STANDARD)
    midnight = (t + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - t).total_seconds()


def classify_error(e: UpstreamError, *, repeats: int = 0, now: float | None = None) -> Verdict:
    status, msg, reason = e.status, e.message, e.reason.upper()
    low = msg.lower()
    model = e.meta("model")
    on = f" for {model}" if model else ""

    capacity = reason in ("MODEL_CAPACITY_EXHAUSTED", "MODEL_CAPACITY_EXCEEDED") or _contains(
        low, "no capacity available", "capacity exhausted", "capacity exceeded")
    if capacity and status in (429, 503, 529):
        d, explicit = bounded(e.hint, 1.0, 10.0, repeats, floor=0.2)
        return Verdict("capacity", msg, f"Google has no capacity{on} right now", retry_same=d, failover=True,
                       explicit=explicit)

    if status == 429:
        if reason == "INSUFFICIENT_G1_CREDITS_BALANCE":
            return Verdict("credits", msg, "no Google One AI credits left on this account", failover=True)
        if _ZERO_LIMIT_RE.search(low):  # a quota of zero: the model is not available to this account
            return Verdict("not_found", msg, f"Google gives this account no quota{on} (\"limit: 0\")",
                           cooldown=6 * 3600.0, failover=True)
        if any("perday" in q.lower() or "daily" in q.lower() for q in e.quota_ids):
            hint = until_pacific_midnight(now) if now is not None and e.hint is None else e.hint
            d, explicit = bounded(hint, 3600.0, MAX_QUOTA_COOLDOWN, repeats)
            return Verdict("quota", msg, f"the day's quota is spent{on}", cooldown=d, failover=True,
                           explicit=explicit)
        if e.hint is None and (any("perminute" in q.lower() for q in e.quota_ids)
                               or "perminute" in (e.meta("quota_limit") or "").lower()):
            return Verdict("rate_limit", msg, f"rate-limited{on} (per minute)", cooldown=60.0, failover=True,
                           explicit=True)
        if reason == "QUOTA_EXHAUSTED" or (not reason and (e.reset_delay is not None
                                                           or "exhausted your capacity" in low)):
            d, explicit = bounded(e.reset_delay if e.reset_delay is not None else e.hint, 60.0,
                                  MAX_QUOTA_COOLDOWN, repeats)
            return Verdict("quota", msg, f"out of quota{on}", cooldown=d, failover=True, explicit=explicit,
                           group_quota=True)
        if reason == "RATE_LIMIT_EXCEEDED" or (not reason and e.has_hint):
            hint = e.hint
            if hint is not None and hint <= RETRY_SAME_MAX:
                d = max(0.2, hint)
                return Verdict("rate_limit", msg, f"rate-limited{on}", cooldown=max(1.0, d), retry_same=d,
                               failover=True, explicit=True)
            d, explicit = bounded(hint, 5.0, MAX_COOLDOWN, repeats)
            return Verdict("rate_limit", msg, f"rate-limited{on}", cooldown=d, failover=True, explicit=explicit)
        # No reason and no hint: "Resource has been exhausted (e.g. check quota)." Often Google
        # refusing this request's content, not a quota. Quick retry, short flat rest, bounded.
        return Verdict("bare_429", msg, "Google answered 'resource exhausted' without details",
                       cooldown=BARE_COOLDOWN, retry_same=BARE_RETRY_DELAY, failover=True)

    if status == 401:
        return Verdict("auth", msg, "the access token was refused", cooldown=60.0, model_scoped=False, failover=True)

    if status == 403:
        return _forbidden(e, low, reason, repeats)

    if status == 404 or (status == 400 and "requested entity was not found" in low):
        return Verdict("not_found", msg, f"the account does not serve {model or 'this model'}", cooldown=300.0,
                       failover=True, refresh_catalog=True)

    if status == 400 and "signature" in low and _contains(low, "thinking", "thought"):
        return Verdict("bad_signature", msg, "a thinking signature from another model or session",
                       strip_thinking=True)

    if status == 499:  # "Client Closed Request": Google gave up on its side; worth one more try
        d, explicit = bounded(e.hint, 5.0, 60.0, repeats)
        return Verdict("server", msg, "Google cancelled the request (HTTP 499)", cooldown=d, retry_same=1.0,
                       failover=True, explicit=explicit)

    if status == 408 or status >= 500:
        d, explicit = bounded(e.hint, 5.0, 60.0, repeats)
        return Verdict("server", msg, f"Google's server answered HTTP {status}", cooldown=d, failover=True,
                       explicit=explicit)

    return Verdict("client", msg, f"the request was refused (HTTP {status})")


def _forbidden(e: UpstreamError, low: str, reason: str, repeats: int) -> Verdict:
    msg = e.message
    if reason == "VALIDATION_REQUIRED" or _contains(low, "validation_required", "verify your account"):
        link = e.meta("validation_url", "validationUrl", "validation_link", "appeal_url") or (
            e.links[0] if e.links else None)
        text = e.meta("validation_error_message", "validationErrorMessage") or "Google asks you to verify this account"
        return Verdict("verify", msg, text, pause=True, model_scoped=False, failover=True, link=link,
                       link_text=e.meta("validation_url_link_text", "validationUrlLinkText") or "Verify your account")
    if reason == "SERVICE_DISABLED" or _contains(low, "has not been used in project", "it is disabled"):
        service = e.meta("serviceTitle", "service") or "The Cloud Code API"
        project = e.meta("consumer")
        where = f" for {project}" if project else ""
        link = e.meta("activationUrl", "activation_url") or (e.links[0] if e.links else None)
        return Verdict("disabled", msg, f"{service} is turned off{where}: turn it on, then press Retry",
                       disable=True, model_scoped=False, failover=True, link=link, link_text="Turn the API on")
    if _contains(low, "license", "licence"):
        return Verdict("disabled", msg, "this account has no Gemini Code Assist licence: use another account or "
                       "get a licence, then press Retry", disable=True, model_scoped=False, failover=True,
                       link=e.links[0] if e.links else None, link_text="Details")
    if reason in ("TOS_VIOLATION", "ACCOUNT_DISABLED", "USER_DISABLED") or _contains(low, "terms of service"):
        return Verdict("disabled", msg, "Google refuses this account (terms of service): check the account in "
                       "Antigravity or Gemini Code Assist, then press Retry", disable=True, model_scoped=False,
                       failover=True, link=e.links[0] if e.links else None, link_text="Details")
    d, explicit = bounded(e.hint, 60.0, 1800.0, repeats)
    return Verdict("forbidden", msg, "Google refused this account (HTTP 403)", cooldown=d, model_scoped=False,
                   failover=True, explicit=explicit)
