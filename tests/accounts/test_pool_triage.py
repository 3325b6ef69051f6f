"""The pool's account states and its answer when nobody can serve: 429 only when every account
is really limited, 503 for an outage or short rests, 403 with the link when only accounts that
need verification are left, 404 when no account serves the model. Never an e-mail."""

from __future__ import annotations

from pathlib import Path

from tests.accounts.test_pool import make_pool
from trayproxy.accounts.cooldown import VERIFY_PAUSE
from trayproxy.accounts.pool import Unavailable
from trayproxy.accounts.store import Account, AccountStore

URL = "https://accounts.google.com/signin/continue?x=1"


def unavailable(pool, model: str = "m", **kw) -> Unavailable:  # type: ignore[no-untyped-def]
    r = pool.select(model, **kw)
    assert isinstance(r, Unavailable), r
    assert "@example.com" not in r.reason, r.reason
    return r


def test_429_only_when_every_account_is_really_limited(tmp_path: Path) -> None:
    pool, accs, _ = make_pool(tmp_path, 3)
    pool.cool_down("acc-0", "m", 50, "out of quota", kind="quota")
    pool.cool_down("acc-1", "m", 20, "rate-limited", kind="rate_limit")
    pool.cool_down("acc-2", "m", 5, "bare", kind="bare_429")
    r = unavailable(pool)
    assert r.status == 503 and r.retry_after == 5  # one is only resting after a bare 429
    pool.cool_down("acc-2", "m", 35, "out of quota", kind="quota")
    r = unavailable(pool)
    assert r.status == 429 and r.retry_after == 20 and r.code == "rate_limit_exceeded"
    assert isinstance(pool.select("other-model"), Account)  # cooldowns are per model


def test_outage_is_a_503_naming_it(tmp_path: Path) -> None:
    pool, _, _ = make_pool(tmp_path, 2)
    pool.cool_down("acc-0", "m", 5, "Google's server answered HTTP 503: unavailable", kind="server")
    pool.cool_down("acc-1", "m", 50, "out of quota", kind="quota")
    r = unavailable(pool)
    assert r.status == 503 and "failing" in r.reason and "HTTP 503" in r.reason


def test_verification_pause_link_retry_and_expiry(tmp_path: Path) -> None:
    pool, accs, clock = make_pool(tmp_path, 2)
    pool.pause_for_verification("acc-0", link=URL, link_text="Verify", message="verify please")
    assert all(pool.select("m").id == "acc-1" for _ in range(3))  # type: ignore[union-attr]
    saved = AccountStore(pool.store.path, pool.store.secrets).get("acc-0")
    assert saved is not None and saved.verify_url == URL and saved.verify_at == clock.t  # kept on disk
    pool.pause_for_verification("acc-1", link=URL, link_text=None, message="verify")
    r = unavailable(pool)
    assert r.status == 403 and r.link == URL and URL in r.reason and "acc-0" in r.reason
    clock.t += VERIFY_PAUSE + 1  # tried again by itself after the pause
    assert isinstance(pool.select("m"), Account)
    pool.resume("acc-0")
    assert pool.store.get("acc-0").verify_at is None  # type: ignore[union-attr]


def test_success_ends_a_verification_pause(tmp_path: Path) -> None:
    pool, _, clock = make_pool(tmp_path, 1)
    pool.pause_for_verification("acc-0", link=URL, link_text=None, message="verify")
    clock.t += VERIFY_PAUSE + 1
    acc = pool.select("m")
    assert isinstance(acc, Account)
    pool.report_success(acc.id, "m")
    assert acc.verify_at is None


def test_disable_enable_and_who(tmp_path: Path) -> None:
    pool, _, _ = make_pool(tmp_path, 1)
    changes: list[int] = []
    pool.on_change = lambda: changes.append(1)
    pool.disable("acc-0", "Gemini for Google Cloud API is turned off", link="https://console.example/x", by="google")
    acc = pool.store.get("acc-0")
    assert acc is not None and acc.disabled and acc.disabled_by == "google" and acc.disabled_link
    r = unavailable(pool)
    assert r.status == 503 and "acc-0: Gemini for Google Cloud API is turned off" in r.reason
    pool.resume("acc-0")  # Retry without enable leaves a disable alone
    assert acc.disabled
    pool.resume("acc-0", enable=True)
    assert not acc.disabled and acc.disabled_by is None and acc.disabled_link is None
    assert changes == [1, 1]


def test_not_found_everywhere_is_a_404(tmp_path: Path) -> None:
    pool, _, _ = make_pool(tmp_path, 2)
    for a in ("acc-0", "acc-1"):
        pool.cool_down(a, "m", 300, "the account does not serve m", kind="not_found")
    r = unavailable(pool)
    assert r.status == 404 and r.code == "model_not_found"


def test_quota_cooldowns_listed_for_the_recheck(tmp_path: Path) -> None:
    pool, _, clock = make_pool(tmp_path, 2)
    pool.cool_down("acc-0", "m", 3600, "out of quota", kind="quota")
    pool.cool_down("acc-1", "m", 10, "rate-limited", kind="rate_limit")
    assert pool.quota_cooldowns() == {"acc-0": ["m"]}
    clock.t += 3601
    assert pool.quota_cooldowns() == {}
