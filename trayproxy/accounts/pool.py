"""The account pool: which account serves the next request, and which must rest.

- Candidates: enabled, onboarded accounts that serve the model (when the caller says which
  model each account would serve: `models`, account id -> upstream id, from the catalogs), are
  not cooling down for it (or as a whole), not paused for verification, and whose last quota
  snapshot does not say it is used up. An account absent from `models` is never picked for that request.
- Conversations stick to their account while it is healthy (session key -> account), so the
  upstream's prompt cache keeps hitting. New conversations go to the best tier, then to the
  account with most remaining quota for the model (in 10 % steps; the lower of the model's own
  number and its group's windows), then to the least loaded.
  `performance_first` ignores stickiness and round-robins; `cache_first` keeps new
  conversations on the most recently used account while it can serve.
- Quota comes in two windows (accounts/quota_windows.py): an account whose 5-hour or weekly
  bucket for the model's group is known to be empty is not picked until that bucket resets, and
  no request is spent to find out.
- With Google One AI credits allowed (`paying`), accounts resting only for quota are candidates
  again, except those Google said have no credits left (`no_credits`).
- Cooldowns are per account+model (quota, rate limit, 5xx, 404) or per account (auth, 403),
  each with the kind of error that caused it (accounts.triage), so "why can nobody serve" is
  answered truly: 429 only when every account is really limited, 503 naming an outage, 403 with
  the link when the only accounts left need verification.
- Account states a person sees and fixes (paused for verification, disabled by Google or by
  hand) live on the Account record and are saved through the AccountStore.

No I/O here: the clock is injected, runtime state is in memory, and the store's save is written
by a worker thread. Like the store, the pool belongs to the engine loop (the proxy's requests,
the Controller's changes and reads all run there), so nothing here locks.

Shared mode (#30) hooks in through one seam, `mirror` (a `PoolMirror`, None in the embedded
default): the pool tells it of each rest begun or ended, each new session binding and each
account paused, disabled or resumed, and it must not block (shared/redis_pool.py queues the
write and returns). What other instances learned comes back through the `apply_*` methods,
which change memory only and never tell the mirror again; `remote_inflight` is the other
instances' in-flight count per account, which balancing adds to this one's. The hot path
still reads memory only.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from trayproxy.accounts.cooldown import VERIFY_PAUSE
from trayproxy.accounts.quota_windows import family_of, spent_until, windows_of
from trayproxy.accounts.store import Account, AccountStore

__all__ = ["AccountPool", "Unavailable", "Cooldown", "PoolMirror", "TIER_RANK", "account_state"]

TIER_RANK = {"ultra": 3, "pro": 2, "standard": 1, "free": 0}
_SESSION_TTL = 3600.0
_MAX_SESSIONS = 10_000
_REBIND_AFTER = 300.0  # a binding kept alive is told to the mirror again after this long


def session_id(session: str) -> str:
    """What the pool keeps of a conversation key (which may be a header a client sent): a digest,
    the same on every instance, so shared mode can send it without the key itself."""
    return hashlib.blake2b(session.encode(), digest_size=16).hexdigest()


def tier_rank(tier: str | None) -> int:
    t = (tier or "").lower()
    for name, rank in TIER_RANK.items():
        if name in t:
            return rank
    return 0


@dataclass
class Unavailable:
    """Why no account can serve, in the terms the client gets: `status` 429 (all limited,
    `retry_after` set), 403 (only accounts needing verification, `link`), 503 (outage or no
    usable account)."""

    reason: str
    retry_after: float | None = None
    status: int = 503
    code: str = "no_account"
    link: str | None = None


@dataclass(frozen=True)
class Cooldown:
    until: float
    reason: str
    kind: str  # accounts.triage kind ("quota", "rate_limit", "bare_429", "server", "network", ...)


class PoolMirror(Protocol):
    """Where the pool's live state goes in shared mode (called on the engine loop; must not block)."""

    def rested(self, account_id: str, model: str, cooldown: Cooldown) -> None:
        """A rest began or grew (`model` "" = the whole account)."""

    def rests_ended(self, account_id: str, models: list[str]) -> None:
        """Rests ended early (a quota came back, the person pressed Retry)."""

    def bound(self, session: str, account_id: str, until: float) -> None:
        """A conversation (its `session_id`) was bound to an account (new, moved, or kept alive)."""

    def account_changed(self, account_id: str) -> None:
        """The account was paused for verification, disabled or resumed (its record changed)."""

    def no_credits(self, account_id: str, until: float) -> None:
        """Google said the account has no AI credits left, until `until`."""


@dataclass
class _Runtime:
    cooldowns: dict[str, Cooldown] = field(default_factory=dict)  # model ("" = whole account)
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
        self._rr = 0
        self._last_used: str | None = None
        # bumped at every change of what `resting` and `ready` read besides the clock and the
        # Account records (cooldowns; pauses and disables change the records too): a plan
        # remembered at one version holds until the next (proxy/resolve.py)
        self.version = 0
        self._no_credits: dict[str, float] = {}  # account id -> until when Google said it has none
        self.mirror: PoolMirror | None = None
        self.remote_inflight: dict[str, int] = {}  # account id -> in flight on other instances
        # called after an account's state changed: paused, disabled, resumed
        self.on_change: Callable[[], None] | None = None

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # a listener's trouble is not the request's
                pass

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

    def paused(self, acc: Account) -> bool:
        """Waiting for the person to verify the account; tried again after VERIFY_PAUSE."""
        return acc.verify_at is not None and self.clock() < acc.verify_at + VERIFY_PAUSE

    def active_count(self) -> int:
        return len(self.usable())

    def cooldown_left(self, account_id: str, model: str | None = None) -> float:
        """Seconds until the account (for `model`, or as a whole) may serve again."""
        now = self.clock()
        c = self._cooldown(account_id, model)
        return max(0.0, c.until - now) if c is not None else 0.0

    def _cooldown(self, account_id: str, model: str | None) -> Cooldown | None:
        """The cooldown that keeps the account from serving `model` longest (None: free)."""
        rt = self._rt.get(account_id)
        if rt is None:
            return None
        now = self.clock()
        found = [c for c in (rt.cooldowns.get(""), rt.cooldowns.get(model) if model is not None else None)
                 if c is not None and c.until > now]
        return max(found, key=lambda c: c.until) if found else None

    def cooldowns(self, account_id: str) -> dict[str, Cooldown]:
        """Active cooldowns of an account: model ('' for the whole account) -> Cooldown."""
        now = self.clock()
        rt = self._rt.get(account_id)
        if rt is None:
            return {}
        return {m: c for m, c in list(rt.cooldowns.items()) if c.until > now}

    def _quota_exhausted(self, acc: Account, model: str) -> float | None:
        """If the last quota snapshot says the model is used up (its own number, or a window of
        its group), seconds until the reset."""
        now = self.clock()
        ends: list[float] = []
        q = acc.models.get(model)
        if q is not None and q.remaining is not None and q.remaining <= 0 and q.reset_time is not None \
                and q.reset_time > now:  # a reset that has passed (or is unknown): worth trying again
            ends.append(q.reset_time)
        spent = spent_until(acc.quota_windows, model, now) if acc.quota_windows else None
        if spent is not None:
            ends.append(spent)
        return max(ends) - now if ends else None

    def ready(self, acc: Account, model: str) -> bool:
        """Whether the account could take a request for `model` now (no cooldown, quota left)."""
        return (not acc.disabled and acc.onboarded and self.cooldown_left(acc.id, model) <= 0
                and self._quota_exhausted(acc, model) is None)

    def resting(self, acc: Account) -> frozenset[str]:
        """The account's ids that cannot answer now: cooling down, or out of quota until a reset."""
        now = self.clock()
        rt = self._rt.get(acc.id)
        cooling = {m for m, c in rt.cooldowns.items() if m and c.until > now} if rt else set()
        empty = {m for m, q in acc.models.items()
                 if q.remaining is not None and q.remaining <= 0 and q.reset_time is not None and q.reset_time > now}
        spent = {w.family for w in acc.quota_windows if w.remaining is not None and w.remaining <= 0
                 and w.reset_time is not None and w.reset_time > now}
        if spent:  # a group's window is spent: none of its ids answers on this account
            empty |= {m for m in acc.models if family_of(m) in spent}
        return frozenset(cooling | empty)

    def next_change(self, accounts: list[Account]) -> float:
        """When `resting` or `ready` may next answer differently for these accounts with nothing
        else changing: the earliest end of a cooldown, or reset of a used-up quota or quota
        window, still ahead (inf: none)."""
        now = self.clock()
        soonest = float("inf")
        for acc in accounts:
            rt = self._rt.get(acc.id)
            if rt is not None:
                for c in rt.cooldowns.values():
                    if now < c.until < soonest:
                        soonest = c.until
            for q in acc.models.values():
                if q.remaining is not None and q.remaining <= 0 and q.reset_time is not None \
                        and now < q.reset_time < soonest:
                    soonest = q.reset_time
            for w in acc.quota_windows:
                if w.remaining is not None and w.remaining <= 0 and w.reset_time is not None \
                        and now < w.reset_time < soonest:
                    soonest = w.reset_time
        return soonest

    # -- selection ---------------------------------------------------------------------------
    def select(self, model: str, *, session: str | None = None, exclude: frozenset[str] = frozenset(),
               models: Mapping[str, str] | None = None, paying: bool = False) -> Account | Unavailable:
        """An account for `model`; with `models`, only those accounts, each for its own id. With
        `paying`, Google One AI credits pay for the request: a spent quota does not count, an
        account without credits does."""
        now = self.clock()
        all_accounts = self.store.all()
        if models is not None:
            all_accounts = [a for a in all_accounts if a.id in models]
        candidates: list[Account] = []
        waits: list[float] = []
        for a in all_accounts:
            if a.disabled or not a.onboarded or self.paused(a):
                continue
            own = models[a.id] if models is not None else model
            if paying:
                if not self.may_pay(a):
                    continue
                left, exhausted = self._left_besides_quota(a.id, own), None
            else:
                left = self.cooldown_left(a.id, own)
                exhausted = self._quota_exhausted(a, own)
            if left > 0 or exhausted is not None:
                waits.append(max(left, exhausted or 0.0))
                continue
            if a.id not in exclude:
                candidates.append(a)
        if not candidates:
            return self._why_none(all_accounts, model, waits, exclude, models)

        chosen: Account | None = None
        sid = session_id(session) if session and self.scheduling != "performance_first" else None
        if sid is not None:
            bound = self._sessions.get(sid)
            if bound is not None and bound[1] > now:
                chosen = next((a for a in candidates if a.id == bound[0]), None)
        if chosen is None:
            chosen = self._pick_new(candidates, model, models)
        if sid is not None:
            before = self._sessions.get(sid)
            if self.mirror is not None and (before is None or before[0] != chosen.id
                                            or before[1] < now + _SESSION_TTL - _REBIND_AFTER):
                self.mirror.bound(sid, chosen.id, now + _SESSION_TTL)
            self._sessions[sid] = (chosen.id, now + _SESSION_TTL)
            self._sessions.move_to_end(sid)
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
            own = models[a.id] if models is not None else model
            q = a.models.get(own)
            known = [x for x in [q.remaining if q is not None else None,
                                 *(w.remaining for w in windows_of(a.quota_windows, own))] if x is not None]
            remaining = int(min(known) * 10) if known else 10
            rt = self._runtime(a.id)
            load = rt.inflight + self.remote_inflight.get(a.id, 0) + bound_counts.get(a.id, 0)
            return (-tier_rank(a.tier), -remaining, load, rt.served, a.id)

        return min(candidates, key=score)

    def _why_none(self, accounts: list[Account], model: str, waits: list[float], exclude: frozenset[str],
                  models: Mapping[str, str] | None = None) -> Unavailable:
        """No candidate: say why, in the status the client should get. Accounts are named by
        their short id (label), never by e-mail: this text goes to API clients. With `models`,
        each account is judged for the id it would serve."""

        def own(a: Account) -> str:
            return models.get(a.id, model) if models is not None else model

        if not accounts:
            return Unavailable("No account has been added. Add one with 'trayproxy accounts login' or in Settings.")
        usable = [a for a in accounts if not a.disabled and a.onboarded]
        paused = [a for a in usable if self.paused(a)]
        serving = [a for a in usable if not self.paused(a)]
        cools = {a.id: self._cooldown(a.id, own(a)) for a in serving}
        limited = [a for a in serving if (c := cools[a.id]) is not None and c.kind in ("quota", "rate_limit")
                   or (c is None and self._quota_exhausted(a, own(a)) is not None)]
        if serving and len(limited) == len(serving):
            soonest = min(max(self.cooldown_left(a.id, own(a)), self._quota_exhausted(a, own(a)) or 0.0)
                          for a in limited)
            extra = f" ({len(paused)} more need verification)" if paused else ""
            return Unavailable(
                f"All accounts that can serve {model} are rate-limited or out of quota{extra}; "
                f"the first is available again in {int(soonest + 0.999)} s.",
                retry_after=soonest, status=429, code="rate_limit_exceeded",
            )
        if serving and all((c := cools[a.id]) is not None and c.kind == "not_found" for a in serving):
            return Unavailable(
                f"No account serves the model {model!r} (the upstream answered 'not found' on every account). "
                "Check the model name or add a model_mapping entry.",
                status=404, code="model_not_found",
            )
        note = f" ({len(paused)} more need verification: see the Accounts tab)" if paused else ""
        outage = [a for a in serving if (c := cools[a.id]) is not None and c.kind in ("server", "network", "capacity")]
        if outage:
            c0 = cools[outage[0].id]
            assert c0 is not None
            soonest = min(self.cooldown_left(a.id, own(a)) for a in outage)
            return Unavailable(
                f"Google's Cloud Code is failing for {model}: {len(outage)} of {len(serving)} accounts are resting "
                f"after {c0.reason[:200]}{note}; trying again in {int(soonest + 0.999)} s.",
                retry_after=soonest, status=503, code="upstream_unavailable",
            )
        if paused and not waits:
            first = paused[0]
            return Unavailable(
                ("The only account" if len(paused) == 1 else "The only accounts") + " left ("
                + ", ".join(a.label for a in paused[:3]) + ") need verification: Google asks the person who "
                "owns " + ("it" if len(paused) == 1 else "them") + " to verify in a browser"
                + (f": {first.verify_url}" if first.verify_url else "")
                + ". Then press Retry in trayproxy's Accounts tab (or `trayproxy accounts retry "
                + first.label + "`).",
                status=403, code="account_verification_required", link=first.verify_url,
            )
        if serving and waits:
            soonest = min(waits)
            return Unavailable(
                f"Every account that can serve {model} is resting after upstream errors{note}; the first is "
                f"available again in {int(soonest + 0.999)} s.",
                retry_after=soonest, status=503, code="upstream_unavailable",
            )
        disabled = [a for a in accounts if a.disabled]
        not_onboarded = [a for a in accounts if not a.disabled and not a.onboarded]
        parts = []
        if disabled:
            parts.append(f"{len(disabled)} disabled ("
                         + "; ".join(f"{a.label}: {(a.disabled_reason or 'disabled')[:160]}" for a in disabled[:3]) + ")")
        if not_onboarded:
            parts.append(f"{len(not_onboarded)} not onboarded for Gemini Code Assist ("
                         + ", ".join(a.label for a in not_onboarded[:3]) + ")")
        if exclude and not parts:
            return Unavailable(f"Every account failed for this request ({len(exclude)} tried).")
        return Unavailable("No usable account: " + ", ".join(parts)
                           + ". See trayproxy's Accounts tab or `trayproxy accounts list` for what to do.")

    def _left_besides_quota(self, account_id: str, model: str) -> float:
        """Seconds the account rests for `model` for reasons other than its quota."""
        rt = self._rt.get(account_id)
        if rt is None:
            return 0.0
        now = self.clock()
        rests = [c.until - now for key, c in rt.cooldowns.items()
                 if key in ("", model) and c.until > now and c.kind != "quota"]
        return max(rests, default=0.0)

    def may_pay(self, acc: Account) -> bool:
        """Whether Google One AI credits may be tried on this account (none reported as zero, and
        Google has not answered INSUFFICIENT_G1_CREDITS_BALANCE lately)."""
        return acc.credits != 0 and self._no_credits.get(acc.id, 0.0) <= self.clock()

    def no_credits(self, account_id: str, seconds: float) -> None:
        """Google said this account has no AI credits: not tried with credits for `seconds`."""
        self._no_credits[account_id] = self.clock() + seconds
        if self.mirror is not None:
            self.mirror.no_credits(account_id, self._no_credits[account_id])

    def release(self, account_id: str) -> None:
        rt = self._runtime(account_id)
        rt.inflight = max(0, rt.inflight - 1)

    # -- feedback from the upstream ----------------------------------------------------------
    def report_success(self, account_id: str, model: str) -> None:
        rt = self._runtime(account_id)
        rt.failures.pop(model, None)
        rt.failures.pop("", None)
        acc = self.store.get(account_id)
        if acc is not None and acc.verify_at is not None:  # verified meanwhile: it served
            self.resume(account_id)

    def failures(self, account_id: str, model: str) -> int:
        return self._runtime(account_id).failures.get(model, 0)

    def cool_down(self, account_id: str, model: str | None, seconds: float, reason: str,
                  kind: str = "rate_limit") -> None:
        """Keep the account (model=None: entirely) out of rotation for `seconds`."""
        rt = self._runtime(account_id)
        key = model or ""
        until = self.clock() + seconds
        cur = rt.cooldowns.get(key)
        if cur is None or until > cur.until or cur.until <= self.clock():
            rt.cooldowns[key] = Cooldown(until, reason, kind)
            if self.mirror is not None:
                self.mirror.rested(account_id, key, rt.cooldowns[key])
        rt.failures[key] = rt.failures.get(key, 0) + 1
        self._unbind(account_id)
        self.version += 1

    def _unbind(self, account_id: str) -> None:
        # Conversations bound to it move on; they come back only by chance.
        for s, (acc, _) in list(self._sessions.items()):
            if acc == account_id:
                del self._sessions[s]

    def clear_cooldowns(self, account_id: str | None = None, model: str | None = None,
                        kinds: frozenset[str] | None = None) -> None:
        """End cooldowns (of one account / one model; with `kinds`, only cooldowns of those kinds,
        e.g. a quota that came back early ends a quota rest but not a model-not-found one)."""
        self.version += 1
        for aid, rt in self._rt.items():
            if account_id is not None and aid != account_id:
                continue
            keys = list(rt.cooldowns) if model is None else [model]
            ended = []
            for key in keys:
                cur = rt.cooldowns.get(key)
                if kinds is not None and (cur is None or cur.kind not in kinds):
                    continue
                if rt.cooldowns.pop(key, None) is not None:
                    ended.append(key)
                rt.failures.pop(key, None)
            if model is None and kinds is None:
                rt.failures.clear()
            if ended and self.mirror is not None:
                self.mirror.rests_ended(aid, ended)

    def quota_cooldowns(self) -> dict[str, list[str]]:
        """account id -> models cooling down for quota (to re-check against the live quota)."""
        now = self.clock()
        return {aid: [m for m, c in rt.cooldowns.items() if c.kind == "quota" and c.until > now and m]
                for aid, rt in self._rt.items()
                if any(c.kind == "quota" and c.until > now for c in rt.cooldowns.values())}

    def disable(self, account_id: str, reason: str, *, link: str | None = None, by: str = "google") -> None:
        """Take an account out of rotation until the person fixes it; saved to disk. `by`: who
        decided ("google" for an upstream refusal, "sign-in" for a revoked token, "user")."""
        acc = self.store.get(account_id)
        if acc is None:
            return
        acc.disabled = True
        acc.disabled_reason = reason[:800]
        acc.disabled_at = self.clock()
        acc.disabled_by = by
        acc.disabled_link = link
        self.store.save()
        self._unbind(account_id)
        self.version += 1
        self._tell_changed(account_id)

    def _tell_changed(self, account_id: str) -> None:
        if self.mirror is not None:
            self.mirror.account_changed(account_id)
        self._changed()

    def pause_for_verification(self, account_id: str, *, link: str | None, link_text: str | None,
                               message: str) -> None:
        """Google wants the person to verify the account: out of rotation (re-tried after
        VERIFY_PAUSE or on Retry), with Google's link kept to show; saved to disk."""
        acc = self.store.get(account_id)
        if acc is None:
            return
        acc.verify_url = link or acc.verify_url
        acc.verify_text = link_text
        acc.verify_message = message[:500]
        acc.verify_at = self.clock()
        self.store.save()
        self._unbind(account_id)
        self.version += 1
        self._tell_changed(account_id)

    def resume(self, account_id: str, *, enable: bool = False) -> Account | None:
        """The person acted (or an account answered fine): clear the verification pause and the
        cooldowns; `enable` also lifts a disable. Saved to disk."""
        acc = self.store.get(account_id)
        if acc is None:
            return None
        changed = acc.verify_at is not None
        acc.verify_at = acc.verify_url = acc.verify_text = acc.verify_message = None
        if enable and acc.disabled:
            acc.disabled, acc.disabled_reason, acc.disabled_at = False, None, None
            acc.disabled_by = acc.disabled_link = None
            changed = True
        if changed:
            self.store.save()
        self.clear_cooldowns(account_id)  # a new version
        if changed:
            self._tell_changed(account_id)
        return acc

    def session_account(self, session: str) -> str | None:
        b = self._sessions.get(session_id(session))
        return b[0] if b and b[1] > self.clock() else None

    # -- what other instances learned (shared mode: memory only, never told to the mirror) ----
    def apply_rest(self, account_id: str, model: str, cooldown: Cooldown) -> bool:
        """Another instance's rest: kept unless this one already rests longer. Whether it changed."""
        if cooldown.until <= self.clock():
            return False
        rt = self._runtime(account_id)
        cur = rt.cooldowns.get(model)
        if cur is not None and cur.until >= cooldown.until:
            return False
        rt.cooldowns[model] = cooldown
        self._unbind(account_id)
        self.version += 1  # a plan remembered before it is stale (proxy/resolve.py)
        return True

    def apply_rests_ended(self, account_id: str, models: list[str]) -> None:
        rt = self._rt.get(account_id)
        if rt is not None:
            for m in models:
                rt.cooldowns.pop(m, None)
                rt.failures.pop(m, None)
            self.version += 1

    def apply_no_credits(self, account_id: str, until: float) -> bool:
        if until <= self.clock() or self._no_credits.get(account_id, 0.0) >= until:
            return False
        self._no_credits[account_id] = until
        self.version += 1
        return True

    def credits_out(self) -> dict[str, float]:
        """Accounts Google said have no AI credits: account id -> until when."""
        now = self.clock()
        return {aid: until for aid, until in self._no_credits.items() if until > now}

    def apply_binding(self, session: str, account_id: str, until: float) -> None:
        """Another instance bound the conversation `session` (a `session_id`) to the account."""
        if until > self.clock() and self.store.get(account_id) is not None:
            self._sessions[session] = (account_id, until)
            self._sessions.move_to_end(session)
            while len(self._sessions) > _MAX_SESSIONS:
                self._sessions.popitem(last=False)

    def apply_account_state(self, account_id: str, state: Mapping[str, object]) -> bool:
        """Another instance paused, disabled or resumed the account: its fields here, saved.
        Whether anything changed."""
        acc = self.store.get(account_id)
        if acc is None:
            return False
        changed = False
        for name, value in state.items():
            if name in _STATE_FIELDS and getattr(acc, name) != value:
                setattr(acc, name, value)
                changed = True
        if changed:
            self.store.save()
            if acc.disabled or acc.verify_at is not None:
                self._unbind(account_id)
            self.version += 1
            self._changed()
        return changed

    def bindings(self) -> dict[str, tuple[str, float]]:
        """Live session bindings: session id -> (account id, until)."""
        now = self.clock()
        return {s: b for s, b in self._sessions.items() if b[1] > now}

    def inflight(self) -> dict[str, int]:
        """This instance's requests in flight, per account."""
        return {aid: rt.inflight for aid, rt in self._rt.items() if rt.inflight}


# What `apply_account_state` may set: the fields a pause, a disable or a resume changes.
_STATE_FIELDS = ("disabled", "disabled_reason", "disabled_at", "disabled_by", "disabled_link",
                 "verify_url", "verify_text", "verify_message", "verify_at")


def account_state(acc: Account) -> dict[str, object]:
    """The fields `apply_account_state` carries, as they are on `acc`."""
    return {name: getattr(acc, name) for name in _STATE_FIELDS}
