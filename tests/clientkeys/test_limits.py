"""One instance's counting: fixed windows on the clock, rpm counted at admission, tokens when
the answer's usage is known, Retry-After until the window ends."""

from __future__ import annotations

from trayproxy.clientkeys.limits import LocalLimiter
from trayproxy.clientkeys.record import ClientKey, generate

T0 = 20834 * 86400.0  # a UTC day boundary (and so a minute boundary)


def key(**limits: int) -> ClientKey:
    return ClientKey.new("k", generate(), **limits)  # type: ignore[arg-type]


def test_rpm_is_exact_in_a_minute_and_resets_at_the_next() -> None:
    lim, k = LocalLimiter(), key(rpm=3)
    assert [lim.admit(k, T0 + i).ok for i in range(5)] == [True, True, True, False, False]
    v = lim.admit(k, T0 + 20)
    assert not v.ok and v.limit == "rpm" and v.retry_after == 40 and "3 requests per minute" in v.message
    assert lim.admit(k, T0 + 60).ok


def test_tokens_per_minute_and_per_day() -> None:
    lim, k = LocalLimiter(), key(tpm=100, daily_tokens=250)
    assert lim.admit(k, T0).ok
    lim.spend(k, 120, T0 + 1)  # the request that crosses the limit is not cut off
    v = lim.admit(k, T0 + 2)
    assert not v.ok and v.limit == "tpm" and v.retry_after == 58
    assert lim.admit(k, T0 + 60).ok
    lim.spend(k, 140, T0 + 61)
    v = lim.admit(k, T0 + 3600)
    assert not v.ok and v.limit == "daily_tokens" and v.retry_after == 86400 - 3600
    assert lim.admit(k, T0 + 86400).ok
    assert lim.usage(k.id, T0 + 86400)["tokens_today"] == 0


def test_seeded_tokens_count_after_a_restart() -> None:
    lim, k = LocalLimiter(), key(daily_tokens=100)
    lim.seed(k.id, 150, T0 + 10)
    assert not lim.admit(k, T0 + 20).ok
