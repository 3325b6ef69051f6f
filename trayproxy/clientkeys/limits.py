"""Counting a client key's requests and tokens against its limits, on one instance.

Windows are fixed and aligned to the clock: the minute (rpm, tpm) and the UTC day (tokens per
day). A request is admitted when the key is under every limit, and then counted in the minute;
its tokens are counted when the answer's usage is known (`spend`). So tpm and tokens per day
can be passed by the request that crosses them, never by the next one. With Redis (shared
mode) the same rules run in one Lua script across every instance (shared/redis_limits.py);
this one is what each instance uses alone, or while Redis is unreachable.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from trayproxy.clientkeys.record import ClientKey

__all__ = ["Verdict", "Limiter", "LocalLimiter", "ADMITTED", "refusal", "MINUTE", "DAY"]

MINUTE = 60
DAY = 86400


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    limit: str = ""  # rpm | tpm | daily_tokens
    retry_after: float = 0.0
    message: str = ""


ADMITTED = Verdict(True)


class Limiter(Protocol):
    def admit(self, key: ClientKey, now: float) -> Verdict | Awaitable[Verdict]:
        """Whether one more request may go now; counted when it may."""
        ...

    def spend(self, key: ClientKey, tokens: int, now: float) -> None:
        """Tokens an answer used (never blocks: a shared limiter sends them in the background)."""
        ...


def refusal(key: ClientKey, limit: str, now: float) -> Verdict:
    """The 429's words and Retry-After for a key at one of its limits."""
    if limit == "daily_tokens":
        wait = DAY - now % DAY
        what = f"its {key.daily_tokens:,} tokens for today (UTC)"
    elif limit == "tpm":
        wait = MINUTE - now % MINUTE
        what = f"its {key.tpm:,} tokens per minute"
    else:
        wait = MINUTE - now % MINUTE
        what = f"its {key.rpm:,} requests per minute"
    return Verdict(False, limit, wait, f"The key {key.name!r} has used {what}; try again in {int(wait + 0.999)} s.")


class LocalLimiter:
    """Counters in memory, on the engine loop (no lock: only the loop touches them)."""

    def __init__(self) -> None:
        # key id -> [minute, requests this minute, tokens this minute, day, tokens today]
        self._c: dict[str, list[int]] = {}

    def _counts(self, key_id: str, now: float) -> list[int]:
        minute, day = int(now // MINUTE), int(now // DAY)
        c = self._c.get(key_id)
        if c is None:
            c = self._c[key_id] = [minute, 0, 0, day, 0]
        if c[0] != minute:
            c[0], c[1], c[2] = minute, 0, 0
        if c[3] != day:
            c[3], c[4] = day, 0
        return c

    def admit(self, key: ClientKey, now: float) -> Verdict:
        c = self._counts(key.id, now)
        if key.rpm is not None and c[1] >= key.rpm:
            return refusal(key, "rpm", now)
        if key.tpm is not None and c[2] >= key.tpm:
            return refusal(key, "tpm", now)
        if key.daily_tokens is not None and c[4] >= key.daily_tokens:
            return refusal(key, "daily_tokens", now)
        c[1] += 1
        return ADMITTED

    def spend(self, key: ClientKey, tokens: int, now: float) -> None:
        if tokens > 0:
            c = self._counts(key.id, now)
            c[2] += tokens
            c[4] += tokens

    def seed(self, key_id: str, tokens_today: int, now: float) -> None:
        """Tokens a key used earlier today (from the request log, after a restart)."""
        self._counts(key_id, now)[4] = max(0, tokens_today)

    def usage(self, key_id: str, now: float) -> dict[str, int]:
        c = self._counts(key_id, now)
        return {"requests_this_minute": c[1], "tokens_this_minute": c[2], "tokens_today": c[4]}
