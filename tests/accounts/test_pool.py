from __future__ import annotations

from pathlib import Path

from tests.conftest import MemoryKeyring
from trayproxy.accounts.pool import AccountPool, Unavailable
from trayproxy.accounts.store import Account, AccountStore, ModelQuota
from trayproxy.secrets import SecretStore


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def make_pool(tmp_path: Path, n: int = 3, **kw) -> tuple[AccountPool, list[Account], Clock]:
    store = AccountStore(tmp_path / "accounts.json", SecretStore(tmp_path / "s.json", backend=MemoryKeyring()))
    accs = []
    for i in range(n):
        a = Account(id=f"acc-{i}", email=f"{i}@example.com", project=f"p{i}", tier="PRO")
        store.put(a, refresh_token=f"rt{i}")
        accs.append(a)
    clock = Clock()
    return AccountPool(store, clock=clock, **kw), accs, clock


def test_sessions_stick_and_spread(tmp_path: Path) -> None:
    pool, accs, _ = make_pool(tmp_path)
    first = {}
    for i in range(30):
        a = pool.select("gemini-3-flash", session=f"s{i}")
        assert isinstance(a, Account)
        first[f"s{i}"] = a.id
    counts = {a.id: list(first.values()).count(a.id) for a in accs}
    assert all(c == 10 for c in counts.values()), counts
    for s, acc_id in first.items():
        a = pool.select("gemini-3-flash", session=s)
        assert isinstance(a, Account) and a.id == acc_id


def test_cooldown_skips_until_reset_then_returns(tmp_path: Path) -> None:
    pool, accs, clock = make_pool(tmp_path, 2)
    pool.cool_down("acc-0", "m", 30, "quota")
    def pick(model: str) -> str:
        a = pool.select(model)
        assert isinstance(a, Account)
        pool.release(a.id)
        return a.id

    assert {pick("m") for _ in range(5)} == {"acc-1"}
    # other models on the same account are still fine
    assert {pick("other") for _ in range(12)} == {"acc-0", "acc-1"}
    clock.t += 31
    assert "acc-0" in {pick("m") for _ in range(12)}


def test_all_cooling_gives_shortest_wait(tmp_path: Path) -> None:
    pool, _, _ = make_pool(tmp_path, 3)
    pool.cool_down("acc-0", "m", 40, "q")
    pool.cool_down("acc-1", "m", 12, "q")
    pool.cool_down("acc-2", None, 25, "auth")
    r = pool.select("m")
    assert isinstance(r, Unavailable) and r.retry_after == 12


def test_disabled_and_not_onboarded_explained(tmp_path: Path) -> None:
    pool, accs, _ = make_pool(tmp_path, 2)
    pool.disable("acc-0", "invalid_grant: Token has been expired or revoked.")
    accs[1].project = None
    r = pool.select("m")
    assert isinstance(r, Unavailable) and r.retry_after is None
    assert "invalid_grant" in r.reason and "not onboarded" in r.reason
    assert pool.store.get("acc-0").disabled  # type: ignore[union-attr]


def test_quota_snapshot_and_tier_order(tmp_path: Path) -> None:
    pool, accs, clock = make_pool(tmp_path, 3)
    accs[0].tier = "FREE"
    accs[1].models["m"] = ModelQuota(remaining=0.0, reset_time=clock.t + 100)
    accs[2].models["m"] = ModelQuota(remaining=0.9)
    picks = {pool.select("m").id for _ in range(5)}  # type: ignore[union-attr]
    assert picks == {"acc-2"}
    clock.t += 101  # reset time passed: worth trying again
    pool.cool_down("acc-2", "m", 50, "q")
    assert pool.select("m").id == "acc-1"  # type: ignore[union-attr]


def test_performance_first_round_robins(tmp_path: Path) -> None:
    pool, _, _ = make_pool(tmp_path, 3, scheduling="performance_first")
    ids = [pool.select("m", session="same").id for _ in range(6)]  # type: ignore[union-attr]
    assert len(set(ids)) == 3


def test_what_other_instances_learned_moves_the_pools_version(tmp_path: Path) -> None:
    """Plans are remembered per pool version (proxy/resolve.py): a rest, its end, an account's
    pause and a spent credit learned from another instance (shared mode) must move it like
    this instance's own, or a remembered plan keeps sending to a resting account."""
    from trayproxy.accounts.pool import Cooldown

    pool, accs, clock = make_pool(tmp_path)
    v = pool.version
    assert pool.apply_rest(accs[0].id, "gemini-3-flash", Cooldown(clock() + 60, "quota", "quota"))
    assert pool.version > v
    v = pool.version
    pool.apply_rests_ended(accs[0].id, ["gemini-3-flash"])
    assert pool.version > v
    v = pool.version
    assert pool.apply_account_state(accs[1].id, {"disabled": True, "disabled_reason": "off elsewhere"})
    assert pool.version > v
    v = pool.version
    assert pool.apply_no_credits(accs[2].id, clock() + 60)
    assert pool.version > v
    v = pool.version
    assert not pool.apply_rest(accs[0].id, "gemini-3-flash", Cooldown(clock() - 1, "over", "quota"))  # ended already
    assert pool.version == v
