"""Both quota windows of an account (pure): the 5-hour and the weekly bucket per model group, read
from `retrieveUserQuotaSummary`, and what they mean for one model.

`fetchAvailableModels`' per-model `remainingFraction` is the 5-hour window only; it can read
100 % while the weekly bucket is empty, and then every request answers 429 with a reset days
away (upstream-as-it-is §7). Both windows apply to a request: either one empty means the model
cannot answer on that account until that window resets.

1. `parse_quota_summary`: the answer (`{"groups": [...]}`, or wrapped in `"response"` or
   `"quotaSummary"`, or bare `buckets`) -> one QuotaWindow per bucket. Groups name families, not
   ids ("Gemini Models", "Claude and GPT models"); a bucket's window is its `window` field in any
   case peers have seen (`weekly` / `5h`, `WEEKLY` / `FIVE_HOUR`), else its id's suffix
   (`gemini-weekly`, `3p-5h`), else its display name. A missing `remainingFraction` is unknown
   (None), never zero.
2. `family_of(model)`: the group a model counts against (Gemini, or Claude and GPT-OSS).
3. `spent_until`: when an account's windows say a model cannot answer, until when; `may_end_rest`:
   whether a quota rest may end early (both windows have quota, or the weekly one is unknown and
   the rest is no longer than a 5-hour window).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from trayproxy.accounts.catalog import parse_time
from trayproxy.accounts.store import QuotaWindow

__all__ = ["parse_quota_summary", "family_of", "windows_of", "spent_until", "may_end_rest", "learn_spent",
           "FIVE_HOURS"]

FIVE_HOURS = 5 * 3600.0
_WINDOW_WORDS = {"weekly": "weekly", "week": "weekly", "7d": "weekly", "5h": "5h", "five_hour": "5h",
                 "fivehour": "5h", "5_hour": "5h", "5hour": "5h", "five_hours": "5h"}


def family_of(model: str) -> str:
    """'gemini' for Gemini models, '3p' for Claude and GPT-OSS (they share one group)."""
    return "gemini" if "gemini" in model.lower() else "3p"


def _window(bucket: dict[str, Any]) -> str | None:
    w = bucket.get("window")
    if isinstance(w, str) and w.strip().lower().replace("-", "_").replace(" ", "_") in _WINDOW_WORDS:
        return _WINDOW_WORDS[w.strip().lower().replace("-", "_").replace(" ", "_")]
    bid = str(bucket.get("bucketId") or bucket.get("bucket_id") or "").lower()
    for suffix, window in (("-weekly", "weekly"), ("_weekly", "weekly"), ("-5h", "5h"), ("_5h", "5h")):
        if bid.endswith(suffix):
            return window
    name = str(bucket.get("displayName") or "").lower()
    if "week" in name:
        return "weekly"
    if "five hour" in name or "5 hour" in name or "5-hour" in name or "5h" in name:
        return "5h"
    return None


def _family(group: dict[str, Any], bucket: dict[str, Any]) -> str | None:
    bid = str(bucket.get("bucketId") or bucket.get("bucket_id") or "").lower()
    if bid.startswith("gemini"):
        return "gemini"
    if bid.startswith(("3p", "claude", "gpt")):
        return "3p"
    text = f"{group.get('displayName') or ''} {bucket.get('displayName') or ''}".lower()
    if "claude" in text or "gpt" in text:
        return "3p"
    if "gemini" in text:
        return "gemini"
    return None


def parse_quota_summary(data: Any) -> list[QuotaWindow]:
    """The windows in a retrieveUserQuotaSummary answer; anything malformed is skipped."""
    if not isinstance(data, dict):
        return []
    for key in ("response", "quotaSummary"):
        if isinstance(data.get(key), dict):
            data = data[key]
            break
    groups = data.get("groups")
    if not isinstance(groups, list):
        groups = [{"buckets": data.get("buckets")}] if isinstance(data.get("buckets"), list) else []
    out: list[QuotaWindow] = []
    for g in groups:
        if not isinstance(g, dict) or not isinstance(g.get("buckets"), list):
            continue
        for b in g["buckets"]:
            if not isinstance(b, dict) or b.get("disabled") is True:
                continue
            window, family = _window(b), _family(g, b)
            if window is None or family is None:
                continue
            rf = b.get("remainingFraction", b.get("remaining_fraction"))
            remaining = float(rf) if isinstance(rf, (int, float)) and not isinstance(rf, bool) else None
            name = g.get("displayName")
            out.append(QuotaWindow(family, window, remaining, parse_time(b.get("resetTime") or b.get("reset_time")),
                                   name if isinstance(name, str) else ""))
    return out


def windows_of(windows: Iterable[QuotaWindow], model: str) -> list[QuotaWindow]:
    fam = family_of(model)
    return [w for w in windows if w.family == fam]


def spent_until(windows: Iterable[QuotaWindow], model: str, now: float) -> float | None:
    """The time until which a window of `model`'s group is known to be empty (the latest, when
    both are), or None."""
    ends = [w.reset_time for w in windows_of(windows, model)
            if w.remaining is not None and w.remaining <= 0 and w.reset_time is not None and w.reset_time > now]
    return max(ends) if ends else None


def may_end_rest(windows: Iterable[QuotaWindow], model: str, rest_left: float) -> bool:
    """Whether a quota rest of `model` may end now that its 5-hour number shows quota: only when
    both windows have quota. A weekly window nobody reported cannot say so; then only a rest no
    longer than a 5-hour window ends (a longer one was the weekly window's)."""
    mine = windows_of(windows, model)
    if any(w.remaining is not None and w.remaining <= 0 for w in mine):
        return False
    weekly = [w for w in mine if w.window == "weekly" and w.remaining is not None]
    return bool(weekly) or rest_left <= FIVE_HOURS


def learn_spent(windows: list[QuotaWindow], model: str, until: float) -> list[QuotaWindow]:
    """A 429 with a reset longer than the 5-hour window says the weekly bucket is empty: the
    windows with that learned, so no sibling id of the group is tried on the account until then."""
    fam = family_of(model)
    out = [w for w in windows if not (w.family == fam and w.window == "weekly")]
    old = next((w for w in windows if w.family == fam and w.window == "weekly"), None)
    out.append(QuotaWindow(fam, "weekly", 0.0, until, old.group if old is not None else ""))
    return out
