"""The account view the page, tray and CLI share: status, reason, what to do, cooldowns,
quota "unknown" (None) where Google reported nothing."""

from __future__ import annotations

from trayproxy.accounts.pool import Cooldown
from trayproxy.accounts.state import account_view, short_left
from trayproxy.accounts.store import Account, ModelQuota

NOW = 1_000_000.0


def acc(**kw) -> Account:  # type: ignore[no-untyped-def]
    a = Account(id="0123456789abcdef", email="a@example.com", project="p", tier="PRO")
    for k, v in kw.items():
        setattr(a, k, v)
    return a


def test_statuses_and_what_to_do() -> None:
    assert account_view(acc(), {}, NOW)["status"] == "active"
    v = account_view(acc(verify_at=NOW, verify_url="https://x.example/v", verify_message="verify it"), {}, NOW)
    assert v["status"] == "verify" and v["verify"]["url"] == "https://x.example/v" and "Retry" in v["todo"]
    assert v["verify"]["retry_at"] > NOW and not v["active"]
    d = account_view(acc(disabled=True, disabled_reason="invalid_grant: revoked", disabled_by="sign-in"), {}, NOW)
    assert d["status"] == "disabled" and "Sign in again" in d["todo"] and d["state"].endswith(": invalid_grant: revoked")
    u = account_view(acc(disabled=True, disabled_reason="disabled by you", disabled_by="user"), {}, NOW)
    assert u["todo"] == "Enable it to use it again."
    assert account_view(acc(project=None), {}, NOW)["status"] == "not_onboarded"
    ne = account_view(acc(project=None, setup_problem="Google offers a@example.com no tier: not eligible"), {}, NOW)
    assert ne["status"] == "not_eligible" and ne["setup_problem"].endswith("not eligible")
    assert "another Google account" in ne["todo"] and "not eligible" in ne["state"]
    c = account_view(acc(), {"": Cooldown(NOW + 30, "HTTP 403", "forbidden")}, NOW)
    assert c["status"] == "cooling" and c["state"].startswith("Resting until ") and "HTTP 403" in c["state"]
    assert c["label"] == "01234567"


def test_cooldowns_and_unknown_quota() -> None:
    a = acc(models={"m": ModelQuota(remaining=0.5, reset_time=NOW + 60), "n": ModelQuota()})
    v = account_view(a, {"m": Cooldown(NOW + 90, "rate-limited", "rate_limit"),
                         "gone": Cooldown(NOW + 10, "not served", "not_found")}, NOW)
    assert v["status"] == "active"
    assert [c["model"] for c in v["cooldowns"]] == ["gone", "m"]
    assert v["models"]["m"]["cooldown_kind"] == "rate_limit" and v["models"]["n"]["remaining"] is None
    assert v["models"]["gone"]["remaining"] is None


def test_short_left() -> None:
    assert [short_left(s) for s in (0.2, 59, 600, 7200, 3 * 86400)] == ["1 s", "59 s", "10 min", "2 h 00 min", "3 d 0 h"]
