"""What one request's attempts have learned so far, as one value passed along the request path
(like Envoy's retry state: the hosts tried and the budgets left, in one place).

1. `tried_targets`: upstream ids whose whole group of accounts failed (or were re-planned away
   from); the next plan skips them. `replans` counts how often the request was planned again.
2. `excluded`: accounts that failed this request for the current target; the pool skips them.
3. `failures`: what each failed attempt ran into, for the final error the client hears.
4. Budgets: `MAX_ATTEMPTS` accounts per plan, `MAX_REPLANS` plans, one retry without earlier
   thinking (`stripped`), one retry of an empty answer (`empty_retries`), `BARE_FANOUT` accounts
   answering a bare 429, one round with Google One AI credits paying (`paying`) after every
   account's quota was spent (`quota_spent`).
5. Time: `deadline`, the clock time (`ProxyContext.clock`) by which the whole request must be
   done (`request_deadline` after it began, `budget` seconds): across every account, host and
   plan, the answer's stream included. A new plan keeps it.

Nothing here does I/O; the pipeline reads and updates it, the generic handler owns it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Retry", "Failure", "MAX_ATTEMPTS", "MAX_REPLANS"]

MAX_ATTEMPTS = 8  # accounts tried for one plan
MAX_REPLANS = 4  # how often one request may be planned again


class Failure(Exception):
    """This account failed this request; `kind` is the triage kind (or "network"/"auth")."""

    def __init__(self, message: str, status: int = 502, kind: str = "server", link: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.kind = kind
        self.link = link


@dataclass(slots=True)
class Retry:
    tried_targets: frozenset[str] = frozenset()
    replans: int = 0
    excluded: set[str] = field(default_factory=set)
    failures: list[Failure] = field(default_factory=list)
    bare: int = 0  # accounts that answered a bare 429
    stripped: bool = False  # the thinking-signature retry was used
    empty_retries: int = 0
    paying: bool = False  # every account's quota was spent: Google One AI credits pay (use_ai_credits)
    quota_spent: set[str] = field(default_factory=set)  # accounts that answered "quota spent"
    deadline: float = math.inf
    budget: float = math.inf  # seconds from the start to the deadline (for what the client hears)

    @classmethod
    def starting(cls, now: float, budget: float) -> Retry:
        """A request's retry state as it begins, `budget` seconds before its deadline."""
        return cls(deadline=now + budget, budget=budget)

    def past(self, now: float) -> bool:
        return now >= self.deadline

    def may_replan(self) -> bool:
        return self.replans < MAX_REPLANS

    def replanned(self, tried: str | None) -> None:
        """Plan again, skipping `tried` from now on (None: a catalog was re-read, same targets).
        What was learned about accounts belongs to the old plan: a new plan starts its account
        budgets afresh (an account excluded for the old target may serve the new one)."""
        self.replans += 1
        if tried:
            self.tried_targets = self.tried_targets | {tried}
        self.excluded = set()
        self.failures = []
        self.bare = 0
        self.stripped = False
        self.empty_retries = 0
        self.paying = False
        self.quota_spent = set()
