"""The account pool: which account serves the next request, and which must rest.

- Candidates: enabled, onboarded accounts that serve the model (when the caller says which
  model each account would serve: `models`, account id -> upstream id, from the catalogs), are
  not cooling down for it (or as a whole), and whose last quota snapshot does not say it is
  used up. An account absent from `models` is never picked for that request.
- Conversations stick to their account while it is healthy (session key -> account), so the
  upstream's prompt cache keeps hitting. New conversations go to the best tier, then to the
  account with most remaining quota for the model (in 10 % steps), then to the least loaded.
  `performance_first` ignores stickiness and round-robins; `cache_first` keeps new
  conversations on the most recently used account while it can serve.
- Cooldowns are per account+model (quota, rate limit, 5xx) or per account (auth), with the
  durations decided in accounts.cooldown from the upstream's own hints.

No I/O here: the clock is injected, state is in memory; the record changes (disable) are
written through the AccountStore by the caller.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from trayproxy.accounts.store import Account, AccountStore

__all__ = ["AccountPool", "Unavailable", "TIER_RANK"]

TIER_RANK = {"ultra": 3, "pro": 2, "standard": 1, "free": 0}
_SESSION_TTL = 3600.0
_MAX_SESSIONS = 10_000


def tier_rank(tier: str | None) -> int:
    t = (tier or "").lower()
    for name, rank in TIER_RANK.items():
        if name in t:
            return rank
    return 0


@dataclass
class Unavailable:
    """Why no account can serve: `retry_after` is set when some will be free again soon."""

    reason: str
    retry_after: float | None = None


@dataclass
class _Runtime:
    cooldowns: dict[str, float] = field(default_factory=dict)  # model ("" = whole account) -> until
    cooldown_reason: dict[str, str] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # model -> consecutive failures
    inflight: int = 0
    served: int = 0


class AccountPool:
    def __init__(
        self,
        store: AccountStore,
        *,
        clock: Callable[[], float] = time.time,
        scheduling: str = "balance",
    ) -> None:
        self.store = store
        self.clock = clock
        self.scheduling = scheduling
        self._rt: dict[str, _Runtime] = {}
        self._sessions: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.RLock()
        self._rr = 0
        self._last_used: str | None = None

    # -- state -------------------------------------------------------------------------------
    def _runtime(self, account_id: str) -> _Runtime:
        rt = self._rt.get(account_id)
        if rt is None:
            rt = self._rt[account_id] = _Runtime()
        return rt

    def accounts(self) -> list[Account]:
        return self.store.all()

    def usable(self) -> list[Account]:
        return [a for a in self.store.all() if not a.disabled and a.onboarded]

    def active_count(self) -> int:
        return len(self.usable())

    def cooldown_left(self, account_id: str, model: str | None = None) -> float:
        """Seconds until the account (for `model`, or as a whole) may serve again."""
        now = self.clock()
        rt = self._rt.get(account_id)
        if rt is None:
            return 0.0
        until = rt.cooldowns.get("", 0.0)
        if model is not None:
            until = max(until, rt.cooldowns.get(model, 0.0))
        return max(0.0, until - now)

    def cooldowns(self, account_id: str) -> dict[str, tuple[float, str]]:
        """Active cooldowns of an account: model ('' for the whole account) -> (until, reason)."""
        with self._lock:
            now = self.clock()
            rt = self._rt.get(account_id)
            if rt is None:
                return {}
            return {m: (u, rt.cooldown_reason.get(m, "")) for m, u in list(rt.cooldowns.items()) if u > now}

    def _quota_exhausted(self, acc: Account, model: str) -> float | None:
        """If the last quota snapshot says the model is used up, seconds until its reset."""
        q = acc.models.get(model)
        if q is None or q.remaining is None or q.remaining > 0:
            return None
        now = self.clock()
        if q.reset_time is None or q.reset_time <= now:
            return None  # reset has passed (or unknown): worth trying again
        return q.reset_time - now

    def ready(self, acc: Account, model: str) -> bool:
        """Whether the account could take a request for `model` now (no cooldown, quota left)."""
        with self._lock:
            return (not acc.disabled and acc.onboarded and self.cooldown_left(acc.id, model) <= 0
                    and self._quota_exhausted(acc, model) is None)

    def resting(self, acc: Account) -> frozenset[str]:
        """The account's ids that cannot answer now: cooling down, or out of quota until a reset."""
        with self._lock:
            now = self.clock()
            rt = self._rt.get(acc.id)
            cooling = {m for m, until in rt.cooldowns.items() if m and until > now} if rt else set()
            empty = {m for m, q in acc.models.items()
                     if q.remaining is not None and q.remaining <= 0 and q.reset_time is not None and q.reset_time > now}
            return frozenset(cooling | empty)

    # -- selection ---------------------------------------------------------------------------
    def select(self, model: str, *, session: str | None = None, exclude: frozenset[str] = frozenset(),
               models: Mapping[str, str] | None = None) -> Account | Unavailable:
        """An account for `model`; with `models`, only those accounts, each for its own id."""
        with self._lock:
            now = self.clock()
            all_accounts = self.store.all()
            if models is not None:
                all_accounts = [a for a in all_accounts if a.id in models]
            candidates: list[Account] = []
            waits: list[float] = []
            for a in all_accounts:
                if a.disabled or not a.onboarded:
                    continue
                own = models[a.id] if models is not None else model
                left = self.cooldown_left(a.id, own)
                exhausted = self._quota_exhausted(a, own)
                if left > 0 or exhausted is not None:
                    waits.append(max(left, exhausted or 0.0))
                    continue
                if a.id not in exclude:
                    candidates.append(a)
            if not candidates:
                return self._why_none(all_accounts, model, waits, exclude)

            chosen: Account | None = None
            if session and self.scheduling != "performance_first":
                bound = self._sessions.get(session)
                if bound is not None and bound[1] > now:
                    chosen = next((a for a in candidates if a.id == bound[0]), None)
            if chosen is None:
                chosen = self._pick_new(candidates, model, models)
            if session and self.scheduling != "performance_first":
                self._sessions[session] = (chosen.id, now + _SESSION_TTL)
                self._sessions.move_to_end(session)
                while len(self._sessions) > _MAX_SESSIONS:
                    self._sessions.popitem(last=False)
            rt = self._runtime(chosen.id)
            rt.inflight += 1
            rt.served += 1
            self._last_used = chosen.id
            chosen.last_used = now
            return chosen

    def _pick_new(self, candidates: list[Account], model: str, models: Mapping[str, str] | None = None) -> Account:
        if self.scheduling == "performance_first":
            self._rr += 1
            return sorted(candidates, key=lambda a: a.id)[self._rr % len(candidates)]
        if self.scheduling == "cache_first" and self._last_used:
            last = next((a for a in candidates if a.id == self._last_used), None)
            if last is not None:
                return last
        bound_counts: dict[str, int] = {}
        now = self.clock()
        for acc_id, until in self._sessions.values():
            if until > now:
                bound_counts[acc_id] = bound_counts.get(acc_id, 0) + 1

        def score(a: Account) -> tuple[int, int, int, int, str]:
            q = a.models.get(models[a.id] if models is not None else model)
            remaining = 10 if q is None or q.remaining is None else int(q.remaining * 10)
            rt = self._runtime(a.id)
            return (-tier_rank(a.tier), -remaining, rt.inflight + bound_counts.get(a.id, 0), rt.served, a.id)

        return min(candidates, key=score)

    def _why_none(self, accounts: list[Account], model: str, waits: list[float], exclude: frozenset[str]) -> Unavailable:
        if not accounts:
            return Unavailable("No account has been added. Add one with 'trayproxy accounts login' or in Settings.")
        usable = [a for a in accounts if not a.disabled and a.onboarded]
        if waits and len(waits) == len(usable):
            soonest = min(waits)
            return Unavailable(
                f"All accounts that can serve {model} are rate-limited or out of quota; "
                f"the first is available again in {int(soonest + 0.999)} s.",
                retry_after=soonest,
            )
        disabled = [a for a in accounts if a.disabled]
        not_onboarded = [a for a in accounts if not a.disabled and not a.onboarded]
        parts = []
        if disabled:
            parts.append(
                f"{len(disabled)} disabled ("
                + "; ".join(f"{a.email}: {a.disabled_reason or 'disabled'}" for a in disabled[:3])
                + ")"
            )
        if not_onboarded:
            parts.append(
                f"{len(not_onboarded)} not onboarded for Gemini Code Assist ("
                + ", ".join(a.email for a in not_onboarded[:3])
                + ")"
            )
        if exclude and not parts:
            return Unavailable(f"Every account failed for this request ({len(exclude)} tried).")
        return Unavailable("No usable account: " + ", ".join(parts) + ". Sign the account in again or add another.")

    def release(self, account_id: str) -> None:
        with self._lock:
            rt = self._runtime(account_id)
            rt.inflight = max(0, rt.inflight - 1)

    # -- feedback from the upstream ----------------------------------------------------------
    def report_success(self, account_id: str, model: str) -> None:
        with self._lock:
            rt = self._runtime(account_id)
            rt.failures.pop(model, None)
            rt.failures.pop("", None)

    def failures(self, account_id: str, model: str) -> int:
        with self._lock:
            return self._runtime(account_id).failures.get(model, 0)

    def cool_down(self, account_id: str, model: str | None, seconds: float, reason: str) -> None:
        """Keep the account (model=None: entirely) out of rotation for `seconds`."""
        with self._lock:
            rt = self._runtime(account_id)
            key = model or ""
            until = self.clock() + seconds
            if until > rt.cooldowns.get(key, 0.0):
                rt.cooldowns[key] = until
                rt.cooldown_reason[key] = reason
            rt.failures[key] = rt.failures.get(key, 0) + 1
            # Conversations bound to it move on; they come back only by chance.
            for s, (acc, _) in list(self._sessions.items()):
                if acc == account_id:
                    del self._sessions[s]

    def clear_cooldowns(self, account_id: str | None = None, model: str | None = None) -> None:
        with self._lock:
            for aid, rt in self._rt.items():
                if account_id is not None and aid != account_id:
                    continue
                if model is None:
                    rt.cooldowns.clear()
                else:
                    rt.cooldowns.pop(model, None)

    def disable(self, account_id: str, reason: str) -> None:
        """Take an account out of rotation for good (until the user fixes it); saved to disk."""
        with self._lock:
            acc = self.store.get(account_id)
            if acc is None:
                return
            acc.disabled = True
            acc.disabled_reason = reason[:800]
            acc.disabled_at = self.clock()
            self.store.save()
            for s, (aid, _) in list(self._sessions.items()):
                if aid == account_id:
                    del self._sessions[s]

    def session_account(self, session: str) -> str | None:
        with self._lock:
            b = self._sessions.get(session)
            return b[0] if b and b[1] > self.clock() else None
