"""How long an account (or one of its models) rests after an upstream error (pure policy).

The upstream's own hint wins when there is one, floored at a fraction of a second and capped
so that one odd value cannot bench an account for months. Without a hint, defaults are short and
grow on repeats, except for the bare 429 ("Resource has been exhausted" with no reason), which
is often Google refusing one request's content rather than a quota: it never grows.
"""

from __future__ import annotations

__all__ = [
    "MAX_QUOTA_COOLDOWN", "MAX_COOLDOWN", "RETRY_SAME_MAX", "BARE_RETRY_DELAY", "BARE_COOLDOWN",
    "BARE_FANOUT", "VERIFY_PAUSE", "QUOTA_RECHECK", "bounded",
]

# QUOTA_EXHAUSTED resets have been seen up to ~160 h (weekly buckets); honour a week, and let
# the quota re-check (fetchAvailableModels) free the account if the reset comes early.
MAX_QUOTA_COOLDOWN = 7 * 24 * 3600.0
MAX_COOLDOWN = 3600.0  # any other explicit hint
RETRY_SAME_MAX = 3.0  # RATE_LIMIT_EXCEEDED with a delay up to this: wait and retry the same account
BARE_RETRY_DELAY = 0.5  # bare 429: one quick retry on the same account ...
BARE_COOLDOWN = 5.0  # ... then this short rest, never doubled
BARE_FANOUT = 2  # a request stops after this many accounts answered it with a bare 429
VERIFY_PAUSE = 600.0  # an account that needs verification is tried again after this (or on "Retry")
QUOTA_RECHECK = 600.0  # re-read the quota of accounts cooling down for quota this often


def bounded(hint: float | None, default: float, cap: float, repeats: int = 0, *, grow: bool = True,
            floor: float = 1.0) -> tuple[float, bool]:
    """(seconds, explicit): the hint clamped to [floor, cap], or the default (doubled per repeat
    when `grow`, capped too)."""
    if hint is None:
        d = default * (2 ** min(repeats, 6)) if grow else default
        return min(d, cap), False
    return max(floor, min(hint, cap)), True
