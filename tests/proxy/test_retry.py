"""proxy/retry.py: one request's retry state as a value."""

from __future__ import annotations

from trayproxy.proxy.retry import MAX_REPLANS, Failure, Retry


def test_a_new_plan_skips_the_tried_target_and_starts_its_account_budget_afresh() -> None:
    r = Retry()
    r.excluded.add("acc-a")
    r.failures.append(Failure("HTTP 429: quota", 429, kind="quota"))
    r.bare, r.stripped, r.empty_retries = 1, True, 1
    r.replanned("gemini-3.8-flash-high")
    assert r.tried_targets == {"gemini-3.8-flash-high"} and r.replans == 1
    assert not r.excluded and not r.failures and (r.bare, r.stripped, r.empty_retries) == (0, False, 0)
    r.replanned(None)  # a catalog was re-read: same targets, one more plan
    assert r.tried_targets == {"gemini-3.8-flash-high"} and r.replans == 2


def test_replans_are_bounded() -> None:
    r = Retry()
    for _ in range(MAX_REPLANS):
        assert r.may_replan()
        r.replanned(None)
    assert not r.may_replan()


def test_two_requests_share_nothing() -> None:
    a, b = Retry(), Retry()
    a.excluded.add("x")
    a.replanned("t")
    assert not b.excluded and not b.tried_targets
