"""accounts/quota_windows.py and the pool: both quota windows (5 hours, weekly) per model group,
read from retrieveUserQuotaSummary in every shape peers have seen, and what they mean for picking
an account and for ending a quota rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.accounts.test_pool import make_pool
from trayproxy.accounts.pool import Unavailable
from trayproxy.accounts.quota_windows import (
    family_of,
    learn_spent,
    may_end_rest,
    parse_quota_summary,
    spent_until,
)
from trayproxy.accounts.store import Account, ModelQuota, QuotaWindow

T0 = 1_000_000.0


def bucket(bid: str, window: str | None, rf: float | None, reset: str = "2026-09-25T23:03:46Z",
           name: str = "") -> dict[str, Any]:
    b: dict[str, Any] = {"bucketId": bid, "resetTime": reset}
    if window is not None:
        b["window"] = window
    if rf is not None:
        b["remainingFraction"] = rf
    if name:
        b["displayName"] = name
    return b


CAPTURE = {"groups": [
    {"displayName": "Gemini Models", "description": "Models within this group: Gemini Flash, Gemini Pro",
     "buckets": [bucket("gemini-weekly", "weekly", 0.9849711), bucket("gemini-5h", "5h", 0.96553755)]},
    {"displayName": "Claude and GPT models", "buckets": [bucket("3p-weekly", "weekly", 0.0), bucket("3p-5h", "5h", None)]},
], "description": "..."}


def test_the_captured_answer() -> None:
    ws = parse_quota_summary(CAPTURE)
    got = {(w.family, w.window): w.remaining for w in ws}
    assert got == {("gemini", "weekly"): 0.9849711, ("gemini", "5h"): 0.96553755, ("3p", "weekly"): 0.0,
                   ("3p", "5h"): None}  # an omitted fraction is unknown, never zero
    assert ws[0].group == "Gemini Models" and ws[0].reset_time is not None


@pytest.mark.parametrize("shape", ["upper", "none", "names", "response", "quotaSummary", "bare"])
def test_every_shape_peers_have_seen(shape: str) -> None:
    if shape == "upper":  # opencode-agy-auth
        data: Any = {"groups": [{"displayName": "Gemini Models", "buckets": [
            bucket("gemini-weekly", "WEEKLY", 0.5), bucket("gemini-5h", "FIVE_HOUR", 0.25)]}]}
    elif shape == "none":  # no window field (OmniRoute): the id's suffix says it
        data = {"groups": [{"displayName": "Gemini Models", "buckets": [
            bucket("gemini-weekly", None, 0.5), bucket("gemini-5h", None, 0.25)]}]}
    elif shape == "names":  # no window, odd ids: the display names say it
        data = {"groups": [{"displayName": "Gemini Models", "buckets": [
            bucket("a", None, 0.5, name="Weekly Limit"), bucket("b", None, 0.25, name="Five Hour Limit")]}]}
    elif shape in ("response", "quotaSummary"):  # the IDE's language server; 9router / OmniRoute
        data = {shape: {"groups": [{"displayName": "Gemini Models", "buckets": [
            bucket("gemini-weekly", "weekly", 0.5), bucket("gemini-5h", "5h", 0.25)]}]}}
    else:
        data = {"buckets": [bucket("gemini-weekly", "weekly", 0.5), bucket("gemini-5h", "5h", 0.25)]}
    got = {(w.family, w.window): w.remaining for w in parse_quota_summary(data)}
    assert got == {("gemini", "weekly"): 0.5, ("gemini", "5h"): 0.25}


@pytest.mark.parametrize("junk", [None, [], "x", {"groups": "x"}, {"groups": [{"buckets": [1, {"bucketId": "?"}]}]}])
def test_junk_is_skipped(junk: Any) -> None:
    assert parse_quota_summary(junk) == []


def test_families_and_what_the_windows_mean() -> None:
    assert family_of("gemini-3.8-flash-tiered") == "gemini" and family_of("claude-sonnet-4-6") == "3p"
    assert family_of("gpt-oss-120b-medium") == "3p"
    ws = [QuotaWindow("gemini", "5h", 1.0, T0 + 3600), QuotaWindow("gemini", "weekly", 0.0, T0 + 150 * 3600),
          QuotaWindow("3p", "5h", 0.0, T0 + 3600), QuotaWindow("3p", "weekly", None, T0 + 100 * 3600)]
    assert spent_until(ws, "gemini-3-flash", T0) == T0 + 150 * 3600  # 5 h at 100 %, weekly empty: spent
    assert spent_until(ws, "claude-sonnet-4-6", T0) == T0 + 3600
    assert spent_until(ws, "gemini-3-flash", T0 + 151 * 3600) is None  # the reset has passed
    assert not may_end_rest(ws, "gemini-3-flash", 10.0)
    fresh = [QuotaWindow("gemini", "5h", 0.8, T0), QuotaWindow("gemini", "weekly", 0.7, T0)]
    assert may_end_rest(fresh, "gemini-3-flash", 150 * 3600)
    assert may_end_rest([], "gemini-3-flash", 3600) and not may_end_rest([], "gemini-3-flash", 100 * 3600)
    learned = learn_spent(fresh, "gemini-3-flash", T0 + 160 * 3600)
    assert spent_until(learned, "gemini-3.1-pro-low", T0) == T0 + 160 * 3600
    assert len(learned) == 2 and not any(w.family == "3p" for w in learned)


def test_a_weekly_spent_account_is_not_picked_until_its_reset(tmp_path: Path) -> None:
    pool, accs, clock = make_pool(tmp_path, 2)
    clock.t = T0
    for a in accs:
        a.models = {"gemini-3-flash": ModelQuota(remaining=1.0), "claude-sonnet-4-6": ModelQuota(remaining=1.0)}
    accs[0].quota_windows = [QuotaWindow("gemini", "5h", 1.0, T0 + 3600), QuotaWindow("gemini", "weekly", 0.0, T0 + 90_000)]
    picks = set()
    for i in range(10):
        a = pool.select("gemini-3-flash", session=f"s{i}")
        assert isinstance(a, Account)
        pool.release(a.id)
        picks.add(a.id)
    assert picks == {"acc-1"}
    assert "gemini-3-flash" in pool.resting(accs[0]) and "claude-sonnet-4-6" not in pool.resting(accs[0])
    only = pool.select("gemini-3-flash", models={"acc-0": "gemini-3-flash"})
    assert isinstance(only, Unavailable) and only.status == 429 and 89_000 < (only.retry_after or 0) <= 90_000
    clock.t = T0 + 90_001
    assert isinstance(pool.select("gemini-3-flash", models={"acc-0": "gemini-3-flash"}), Account)


def test_unknown_quota_is_not_used_up(tmp_path: Path) -> None:
    pool, accs, clock = make_pool(tmp_path, 1)
    accs[0].models = {"claude-sonnet-4-6": ModelQuota(remaining=None, reset_time=clock.t + 3600)}
    accs[0].quota_windows = [QuotaWindow("3p", "5h", None, clock.t + 3600), QuotaWindow("3p", "weekly", None, None)]
    assert isinstance(pool.select("claude-sonnet-4-6"), Account)


def test_credits_may_pay_for_a_quota_rest_but_not_for_other_rests(tmp_path: Path) -> None:
    pool, accs, _ = make_pool(tmp_path, 3)
    pool.cool_down("acc-0", "m", 3600, "out of quota", kind="quota")
    pool.cool_down("acc-1", "m", 3600, "out of quota", kind="quota")
    pool.cool_down("acc-2", "m", 30, "server", kind="server")
    assert isinstance(pool.select("m"), Unavailable)
    pool.no_credits("acc-1", 3600)
    a = pool.select("m", paying=True)
    assert isinstance(a, Account) and a.id == "acc-0"
    pool.release(a.id)
    accs[0].credits = 0  # loadCodeAssist reported none
    assert isinstance(pool.select("m", paying=True), Unavailable)
